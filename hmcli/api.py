"""hm's Python API: video -> 2D keypoints -> 3D joints (HumMUSS).

::

    from hmcli import api

    res = api.lift_video("clip.mp4")                      # Pose3DResult (bidirectional model)
    kp = api.detect("clip.mp4")                           # Keypoints2D only
    kp, world = api.detect_world("clip.mp4")              # + BlazePose's own 3D (F, 33, 3) metres
    mkp = api.detect_multi("clip.mp4", max_persons=3)     # MultiKeypoints2D: tracked persons
    lifter = api.load_lifter()                            # models/hummuss-small-cmu.pt
    res = api.lift(kp, lifter)                            # whole sequence, one pass
    res = api.lift_file("kpts.json")                      # COCO/tfjs/OpenPose/mmpose/NPZ/.h5/hm JSON
    for rec in api.stream(0, api.load_lifter(causal=True)):   # webcam, frame by frame
        print(rec["index"], rec["joints3d"][0])
    t = api.Timings()
    res = api.run_offline(lifter, "clip.mp4", timings=t)  # detect + lift, seconds per stage in t

Whole runs, as the commands do them, with the seconds each stage took (:class:`Timings`):
:func:`read_keypoints` (a keypoint file or its bytes, first N frames), :func:`run_offline`
(video or keypoints -> result), :func:`run_stream` (frame by frame, each record handed out as
soon as its frame is lifted), :func:`lift_input` (any input file -> lifted clip; an ``hm
lift`` result is read, not lifted again) and :func:`input_keypoints` (any input file -> 2D
keypoints). Their progress goes to ``on_progress(stage, done, total)``.

Nothing here prints; long steps take optional progress callbacks ``on_frame(i, n)`` (frame
``i`` done, ``n`` total or None) / ``on_progress(done, total)``. User-fixable problems raise
:class:`hmcli.io.atomic.HMError` (model problems :class:`hmcli.io.checkpoint.CheckpointError`)
with a one-line message.

Results carry provenance: ``result.model_id`` and ``result.model_hash`` (SHA-256 of the
checkpoint), and in ``result.kpts2d``: ``detector``, ``source``, ``source_hash``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hmcli.io.atomic import HMError
from hmcli.io.checkpoint import LoadedModel
from hmcli.io.keypoints import (
    keypoints_frame_records,
    keypoints_header_record,
    read_keypoints_bytes,
    save_keypoints,
    write_keypoints_json,
)
from hmcli.lift import (
    DEFAULT_CAUSAL_MODEL,
    DEFAULT_MODEL,
    FrameLifter,
    frame_timing,
    lift_keypoints,
)
from hmcli.lift import load_lifter as _load_lifter
from hmcli.types import Keypoints2D, MultiKeypoints2D, MultiPose3DResult, Pose3DResult

if TYPE_CHECKING:
    from hmcli.track import TrackerConfig

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_CAUSAL_MODEL",
    "detect",
    "detect_world",
    "detect_multi",
    "detect_file_multi",
    "load_lifter",
    "lift",
    "lift_video",
    "lift_file",
    "stream",
    "stream_persons",
    "frame_timing",
    "keypoints_header_record",
    "keypoints_frame_records",
    "write_keypoints_json",
    "save_keypoints",
    "read_keypoints_bytes",
    "Timings",
    "read_keypoints",
    "detect_file",
    "run_offline",
    "run_stream",
    "lift_input",
    "input_keypoints",
    "DEFAULT_MAX_PERSONS",
    "DEFAULT_MIN_TRACK_LENGTH",
    "detect_persons",
    "probe_persons",
    "PROBE_FRAMES",
    "probe_samples",
    "read_keypoints_persons",
    "select_person",
    "lift_persons",
    "run_offline_persons",
    "run_stream_persons",
    "lift_input_persons",
    "input_keypoints_persons",
]

Source = str | os.PathLike | int
OnFrame = Callable[[int, int | None], None]
#: ``on_progress(stage, done, total)`` of a whole run: stage "detect" or "lift", total None when unknown.
OnStage = Callable[[str, int, int | None], None]


# ------------------------------------------------------------------ detection


def detect(
    source: Source,
    detector: Any = "mediapipe",
    max_frames: int | None = None,
    on_frame: OnFrame | None = None,
) -> Keypoints2D:
    """2D keypoints of one person in every frame of a video file (or ``max_frames`` frames of a
    camera). ``detector``: registry name ('mediapipe', ...) or a detector object. Frames
    without a person are kept with conf 0 and ``detected`` False."""
    from hmcli.detect import detect_video

    if max_frames is not None and max_frames < 1:
        raise HMError(f"max_frames must be at least 1, got {max_frames}")
    return detect_video(source, detector, on_frame, max_frames=max_frames)


def detect_world(
    source: Source,
    detector: Any = "mediapipe",
    max_frames: int | None = None,
    on_frame: OnFrame | None = None,
) -> tuple[Keypoints2D, np.ndarray]:
    """:func:`detect` plus the detector's own 3D: BlazePose's world landmarks, ``(F, 33, 3)``
    float32 metres, origin at the midpoint of the hips, camera-like axes (x right, y down, z away
    from the camera); nan in frames without a person. Only detectors that keep them
    (``last_world``: the MediaPipe backends) qualify; others raise HMError. Map them to
    H36M-17 with :func:`hmcli.skeleton.blazepose_map.world_to_h36m`."""
    from hmcli.detect.world import detect_video_world

    if max_frames is not None and max_frames < 1:
        raise HMError(f"max_frames must be at least 1, got {max_frames}")
    return detect_video_world(source, detector, on_frame, max_frames=max_frames)


def detect_multi(
    source: Source,
    detector: Any = "mediapipe",
    max_persons: int = 4,
    min_track_length: int = 1,
    tracker: TrackerConfig | None = None,
    max_frames: int | None = None,
    on_frame: OnFrame | None = None,
) -> MultiKeypoints2D:
    """2D keypoints of up to ``max_persons`` tracked persons in every frame of a video file (or
    ``max_frames`` frames of a camera).

    ``detector``: registry name or a detector object. 'mediapipe' with ``max_persons > 1`` is the
    multi-person MediaPipe Tasks backend ('mediapipe-multi', which tiles wide frames); with
    ``max_persons=1`` it is the one-person backend of :func:`detect`. Other one-person backends
    give at most one person per frame. Persons are tracked with :class:`hmcli.track.KeypointTracker`
    (``tracker``: its settings); tracks seen in fewer than ``min_track_length`` frames are
    dropped, and at most ``max_persons`` tracks (those seen in the most frames) are kept."""
    from hmcli.detect import detect_video_multi

    _check_multi_args(max_frames, max_persons, min_track_length)
    return detect_video_multi(source, detector, on_frame, max_frames=max_frames, max_persons=max_persons,
                              min_track_length=min_track_length, tracker=tracker)  # fmt: skip


def _check_multi_args(max_frames: int | None, max_persons: int, min_track_length: int) -> None:
    if max_frames is not None and max_frames < 1:
        raise HMError(f"max_frames must be at least 1, got {max_frames}")
    if max_persons < 1:
        raise HMError(f"max_persons must be at least 1, got {max_persons}")
    if min_track_length < 1:
        raise HMError(f"min_track_length must be at least 1, got {min_track_length}")


# ------------------------------------------------------------------ lifting


def load_lifter(model: str | os.PathLike | LoadedModel | None = None, causal: bool = False) -> LoadedModel:
    """Load a lifter checkpoint by path or name (default ``DEFAULT_MODEL``, with ``causal``
    ``DEFAULT_CAUSAL_MODEL``): HumMUSS, or a DSTformer / MixSTE / P-STMO baseline from ``hm
    train --arch``. ``causal=True`` refuses bidirectional models."""
    return _load_lifter(model if model is None or isinstance(model, LoadedModel) else str(model), causal)


def lift(
    keypoints: Keypoints2D,
    lifter: LoadedModel,
    fps: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    one_pass: bool = False,
    flip: bool = True,
    refiner: Any = None,
) -> Pose3DResult:
    """Lift 2D keypoints to H36M-17 3D joints (metres, root-relative, camera axes).

    Timing comes from ``keypoints.timestamps`` (uniform -> ``dt_scale = train_fps / fps``;
    irregular -> per-step Δ); ``fps`` overrides them (uniform at that rate, and the result's
    timestamps become ``index / fps``). The model sees overlapping, cross-faded windows of
    the clip length it was trained on (81 frames for the shipped models); ``one_pass`` runs
    the whole sequence at once instead (see :mod:`hmcli.lift`). ``flip``: average with the
    estimate of the mirrored input, mirrored back (test-time flip; ``False`` for the model's
    single estimate). ``refiner``: repair the 2D over time first (:func:`load_refiner`, :mod:`hmcli.refine`)."""
    return lift_keypoints(keypoints, lifter, fps, one_pass=one_pass, flip=flip, on_progress=on_progress, refiner=refiner)


def load_refiner(name: str | os.PathLike | None = None):
    """The temporal 2D refiner (a path or shipped name; default ``refine2d-cmu``): see :mod:`hmcli.refine`."""
    from hmcli.refine.checkpoint import load_refiner as _load

    return _load(name)


def refine_keypoints(keypoints: Keypoints2D, refiner: Any = None, fps: float | None = None) -> Keypoints2D:
    """One person's 2D keypoints repaired over time (jitter, swaps, missed joints): H36M-17 out, as the
    lifter sees it (BlazePose input goes through the same map first, and the confidences are the lifter's:
    :data:`hmcli.lift.CONFIDENCE_FLOOR` applied, filled joints at the refiner's ``fill_conf``), so lifting
    the result gives what :func:`lift` with ``refiner`` gives. ``refiner``: a :func:`load_refiner` model or
    name (default the shipped one)."""
    from dataclasses import replace

    from hmcli.lift import BLAZEPOSE_MAP, refine_h36m
    from hmcli.skeleton import to_h36m

    lr = refiner if refiner is not None and not isinstance(refiner, (str, os.PathLike)) else load_refiner(refiner)
    k = np.concatenate([np.asarray(keypoints.xy, np.float32), np.asarray(keypoints.conf, np.float32)[..., None]], -1)
    try:
        h = np.asarray(to_h36m(k, keypoints.joint_set, BLAZEPOSE_MAP), np.float32)  # (F, 17, 3)
    except ValueError as e:
        raise HMError(str(e)) from None
    det = np.asarray(keypoints.detected, bool)
    if keypoints.num_frames == 0 or not det.any():
        return replace(keypoints, xy=h[..., :2].copy(), conf=h[..., 2].copy(), joint_set="h36m17")
    xy, _, c_lifter = refine_h36m(lr, h[..., :2], h[..., 2], det, np.asarray(keypoints.timestamps, np.float64),
                                  keypoints.joint_set, fps)
    return replace(keypoints, xy=xy, conf=c_lifter, joint_set="h36m17")


def refine_persons(mk: MultiKeypoints2D, refiner: Any = None, fps: float | None = None) -> MultiKeypoints2D:
    """:func:`refine_keypoints` for every person of ``mk``, each over its own span (first to last
    detected frame; outside it the person stays absent). H36M-17 out."""
    from dataclasses import replace

    lr = refiner if refiner is not None and not isinstance(refiner, (str, os.PathLike)) else load_refiner(refiner)
    p, f = mk.num_persons, mk.num_frames
    xy = np.zeros((p, f, 17, 2), np.float32)  # (P, F, 17, 2)
    conf = np.zeros((p, f, 17), np.float32)  # (P, F, 17)
    for i in range(p):
        kp = mk.person(i)
        span = kp.span()
        if span is None:
            continue
        a, b = span
        part = replace(kp, xy=kp.xy[a:b], conf=kp.conf[a:b], timestamps=kp.timestamps[a:b], detected=kp.detected[a:b])
        r = refine_keypoints(part, lr, fps)
        xy[i, a:b], conf[i, a:b] = r.xy, r.conf
    return replace(mk, xy=xy, conf=conf, joint_set="h36m17")


def lift_video(
    source: Source,
    model: str | os.PathLike | LoadedModel | None = None,
    causal: bool = False,
    detector: Any = "mediapipe",
    fps: float | None = None,
    on_frame: OnFrame | None = None,
    max_frames: int | None = None,
) -> Pose3DResult:
    """detect + lift. The model is loaded first, so a model problem fails before detection."""
    lifter = load_lifter(model, causal)
    kp = detect(source, detector, max_frames=max_frames, on_frame=on_frame)
    return lift(kp, lifter, fps)


def lift_file(
    path: str | os.PathLike,
    model: str | os.PathLike | LoadedModel | None = None,
    causal: bool = False,
    fps: float | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Pose3DResult:
    """Lift a keypoint file (COCO/tfjs/OpenPose/mmpose JSON, our NPZ/.h5/JSON; see
    :func:`hmcli.io.keypoints.load_keypoints`). ``width``/``height``: image size for formats
    that do not record it. ``fps``: frame rate for formats without timestamps (and overrides
    the file's timestamps)."""
    from hmcli.io.keypoints import load_keypoints

    lifter = load_lifter(model, causal)
    kp = load_keypoints(path, fps=fps, width=width, height=height)
    return lift(kp, lifter, fps)


# ------------------------------------------------------------------ streaming


def _iter_video(source: Source, max_frames: int | None):
    from hmcli.io.video import is_camera, iter_frames, probe_video

    nominal = None
    if not is_camera(source):
        nominal = probe_video(source).fps
    return iter_frames(source, max_frames=max_frames), nominal


def _stream_source(source: Any, max_frames: int | None, nominal_fps: float | None):
    """(frames, nominal fps, source name, SHA-256, frame count) of what :func:`stream` reads: a
    video path or camera index is opened here; any other iterable of frames is taken as is."""
    if not isinstance(source, (str, os.PathLike, int)) or isinstance(source, bool):
        return source, nominal_fps, None, None, None
    from hmcli.io.video import is_camera, probe_video, sha256_file

    frames, nominal = _iter_video(source, max_frames)
    if is_camera(source):
        return frames, nominal, f"camera:{int(source)}", None, None
    total = probe_video(source).num_frames
    return frames, nominal, str(source), sha256_file(source), total if max_frames is None else min(total, max_frames)


def stream(
    source: Any,
    lifter: LoadedModel | str | os.PathLike | None = None,
    detector: Any = "mediapipe",
    *,
    fps: float | None = None,
    max_frames: int | None = None,
    header: bool = False,
    on_frame: OnFrame | None = None,
    nominal_fps: float | None = None,
    one_pass: bool = False,
    flip: bool = True,
) -> Iterator[dict]:
    """Lift frame by frame as frames arrive (causal model): O(1) time and memory per frame.

    ``source``: a video path, a camera index (int or "0"), an iterable of ``(index,
    timestamp_s, frame_bgr)`` (e.g. :func:`hmcli.io.video.iter_frames`), or a
    :class:`Keypoints2D` (no detector is run). Yields one JSON-able frame record per frame
    (:func:`hmcli.io.jsonio.frame_record`: index, t, detected, kpts2d (H36M-17 x, y, conf),
    joints3d (17 x [x, y, z] metres)); with ``header=True`` the first item is the header
    record (:func:`hmcli.io.jsonio.header_record`), built once the first frame is known.
    Δ for each step is the real time since the previous frame (``fps``: fixed 1/fps).
    A detector given by name is created here and closed when the generator finishes.
    ``nominal_fps``: the frame rate of a frame iterable, if known (sets the first frame's Δ;
    a video file's own rate is read from the file). The model's memory is bounded by its
    trained clip length (see :class:`hmcli.lift.FrameLifter`); ``one_pass`` lifts it.
    ``flip``: test-time flip (the frame and its mirror image stepped as a batch of 2).
    """
    from hmcli.io.jsonio import frame_record, header_record

    lm = load_lifter(lifter if lifter is not None else None, causal=True)
    if max_frames is not None and max_frames < 1:
        raise HMError(f"max_frames must be at least 1, got {max_frames}")

    def _head(width, height, det_name, src, src_hash, nominal):
        rate = fps or nominal or float("nan")
        return header_record(fps=rate, width=width, height=height, joint_set="h36m17", model_id=lm.model_id,
                             model_hash=lm.sha256, detector=det_name, source=src, source_hash=src_hash)  # fmt: skip

    if isinstance(source, Keypoints2D):
        kp = source
        n = kp.num_frames if max_frames is None else min(kp.num_frames, max_frames)
        fl = FrameLifter(lm, kp.joint_set, kp.width, kp.height, nominal_fps=kp.fps, fps=fps, one_pass=one_pass, flip=flip)
        if header:
            yield _head(kp.width, kp.height, kp.detector, kp.source, kp.source_hash, kp.fps)
        for i in range(n):
            t = float(kp.timestamps[i]) if fps is None else i / float(fps)
            found = bool(kp.detected[i])
            hxy, hc, j3 = fl.step(kp.xy[i], kp.conf[i], t, found)
            yield frame_record(i, t, found, hxy, hc, j3)
            if on_frame is not None:
                on_frame(i, n)
        return

    frames, nominal, src_name, src_hash, total = _stream_source(source, max_frames, nominal_fps)
    own = isinstance(detector, str)
    det = None if own else detector
    try:
        fl = None
        for i, (index, t, frame) in enumerate(frames):
            if max_frames is not None and i >= max_frames:
                break
            h, w = frame.shape[:2]
            if fl is None:
                if det is None:  # created once the source has given a frame (a bad source fails fast)
                    from hmcli.detect import get_detector

                    det = get_detector(detector)
                size = (w, h)
                fl = FrameLifter(lm, det.joint_set, w, h, nominal_fps=nominal, fps=fps, one_pass=one_pass, flip=flip)
                if header:
                    yield _head(w, h, det.name, src_name, src_hash, nominal)
            elif (w, h) != size:
                raise HMError(f"frame {i} is {w}x{h} but earlier frames are {size[0]}x{size[1]}")
            xy, conf, found = det.detect(frame, float(t))
            xy = np.nan_to_num(np.asarray(xy, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
            conf = np.clip(np.nan_to_num(np.asarray(conf, np.float32), nan=0.0), 0.0, 1.0)
            tt = float(t) if fps is None else i / float(fps)
            hxy, hc, j3 = fl.step(xy, conf, tt, bool(found))
            yield frame_record(i, tt, bool(found), hxy, hc, j3)
            if on_frame is not None:
                on_frame(i, total)
        if fl is None:
            raise HMError("no frames to lift")
    finally:
        if own and det is not None:
            det.close()


def _multi_detections(det: Any, frame: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """A frame's persons from a detector: ``detect_multi`` when it has one, else its one
    person (if found) -> xy (N, J, 2), conf (N, J), non-finite values cleaned."""
    multi = getattr(det, "detect_multi", None)
    if multi is not None:
        people = list(multi(frame, t))
    else:
        xy, conf, found = det.detect(frame, t)
        people = [(xy, conf)] if found else []
    if not people:
        return np.zeros((0, 0, 2), np.float32), np.zeros((0, 0), np.float32)
    xy = np.nan_to_num(np.stack([np.asarray(p[0], np.float32) for p in people]), nan=0.0, posinf=0.0, neginf=0.0)
    conf = np.clip(np.nan_to_num(np.stack([np.asarray(p[1], np.float32) for p in people]), nan=0.0), 0.0, 1.0)
    return xy, conf  # (N, J, 2), (N, J)


def stream_persons(
    source: Any,
    lifter: LoadedModel | str | os.PathLike | None = None,
    detector: Any = "mediapipe",
    *,
    max_persons: int = 4,
    tracker: Any = None,
    fps: float | None = None,
    max_frames: int | None = None,
    header: bool = False,
    on_frame: OnFrame | None = None,
    nominal_fps: float | None = None,
    one_pass: bool = False,
    flip: bool = True,
) -> Iterator[dict]:
    """Like :func:`stream`, for every person: one causal state per track
    (:class:`hmcli.lift.MultiFrameLifter`). Yields, per frame, one record per lifted person
    (:func:`hmcli.io.jsonio.frame_record` plus ``"track_id"``), or ``{"index", "t",
    "persons": 0}`` when nobody is lifted in that frame, so consumers see time advance.
    ``source``: as for :func:`stream`, or a :class:`MultiKeypoints2D` (its track ids are
    kept; no tracker runs). ``detector``: a name or an object; its ``detect_multi(frame, t)``
    is used when it has one, else its one person. ``tracker``: a
    :class:`hmcli.track.TrackerConfig`; ``max_persons`` caps the live states."""
    from hmcli.io.jsonio import empty_frame_record, frame_record, header_record
    from hmcli.lift import MultiFrameLifter
    from hmcli.types import MultiKeypoints2D

    lm = load_lifter(lifter if lifter is not None else None, causal=True)
    if max_frames is not None and max_frames < 1:
        raise HMError(f"max_frames must be at least 1, got {max_frames}")
    if max_persons < 1:
        raise HMError(f"max_persons must be at least 1, got {max_persons}")

    def _head(width, height, det_name, src, src_hash, nominal):
        rate = fps or nominal or float("nan")
        return header_record(fps=rate, width=width, height=height, joint_set="h36m17", model_id=lm.model_id,
                             model_hash=lm.sha256, detector=det_name, source=src, source_hash=src_hash)  # fmt: skip

    def _records(i, t, people):
        if not people:
            return [empty_frame_record(i, t)]
        return [frame_record(i, t, True, o.xy, o.conf, o.joints3d, track_id=o.track_id) for o in people]

    def _make(joint_set, w, h, nominal):
        return MultiFrameLifter(lm, joint_set, w, h, nominal_fps=nominal, fps=fps, one_pass=one_pass, flip=flip,
                                tracker=tracker, max_persons=max_persons)  # fmt: skip

    if isinstance(source, MultiKeypoints2D):
        mk = source
        n = mk.num_frames if max_frames is None else min(mk.num_frames, max_frames)
        ml = _make(mk.joint_set, mk.width, mk.height, mk.fps)
        if header:
            yield _head(mk.width, mk.height, mk.detector, mk.source, mk.source_hash, mk.fps)
        for i in range(n):
            t = float(mk.timestamps[i]) if fps is None else i / float(fps)
            rows = np.flatnonzero(mk.detected[:, i])
            yield from _records(i, t, ml.step(mk.xy[rows, i], mk.conf[rows, i], t, mk.track_ids[rows]))
            if on_frame is not None:
                on_frame(i, n)
        return

    frames, nominal, src_name, src_hash, total = _stream_source(source, max_frames, nominal_fps)
    own = isinstance(detector, str)
    det = None if own else detector
    try:
        ml = None
        for i, (_, t, frame) in enumerate(frames):
            if max_frames is not None and i >= max_frames:
                break
            h, w = frame.shape[:2]
            if ml is None:
                if det is None:
                    from hmcli.detect import get_multi_detector

                    det = get_multi_detector(detector, max_persons)
                size = (w, h)
                ml = _make(det.joint_set, w, h, nominal)
                if header:
                    yield _head(w, h, det.name, src_name, src_hash, nominal)
            elif (w, h) != size:
                raise HMError(f"frame {i} is {w}x{h} but earlier frames are {size[0]}x{size[1]}")
            tt = float(t) if fps is None else i / float(fps)
            xy, conf = _multi_detections(det, frame, float(t))
            yield from _records(i, tt, ml.step(xy, conf, tt))
            if on_frame is not None:
                on_frame(i, total)
        if ml is None:
            raise HMError("no frames to lift")
    finally:
        if own and det is not None:
            det.close()


# ------------------------------------------------------------------ whole runs, with timings


@dataclass
class Timings:
    """Seconds per stage of a run, filled in by the functions below."""

    load: float = 0.0  # loading the model
    decode: float = 0.0  # reading keypoints, or decoding video frames
    detect: float = 0.0  # the 2D detector
    lift: float = 0.0  # the lifter
    write: float = 0.0  # records handed to ``on_record`` (run_stream); the caller adds its own files


def _stage(on_progress: OnStage | None, stage: str) -> Callable[[int, int | None], None]:
    """``on_progress`` bound to one stage."""
    if on_progress is None:
        return lambda done, total=None: None
    return lambda done, total=None: on_progress(stage, done, total)


def read_keypoints(source: str | os.PathLike | bytes, fps: float | None = None, width: int | None = None,
                   height: int | None = None, max_frames: int | None = None) -> Keypoints2D:  # fmt: skip
    """The first ``max_frames`` frames of a keypoint file (see :func:`hmcli.io.keypoints.load_keypoints`),
    or of a keypoint file's bytes (e.g. stdin; :func:`read_keypoints_bytes`)."""
    from hmcli.io.keypoints import load_keypoints

    if isinstance(source, bytes):
        kp = read_keypoints_bytes(source, fps=fps, width=width, height=height)
    else:
        kp = load_keypoints(source, fps=fps, width=width, height=height)
    return kp.first(max_frames)


def detect_file(path: str | os.PathLike, detector: Any = "mediapipe", *, info: Any = None,
                max_frames: int | None = None, timings: Timings | None = None, on_progress: OnStage | None = None,
                read_ahead: int = 0) -> Keypoints2D:  # fmt: skip
    """2D keypoints of a video file (``max_frames`` frames at most; ``info``: its
    :func:`hmcli.io.video.probe_video`, if already known), as :func:`run_offline` detects them;
    ``timings`` gets the seconds spent decoding and detecting. ``read_ahead``: frames decoded ahead
    in a thread while the detector works on the current one (0: decode in turn). The detector
    (a name or an object) is closed when done."""
    from hmcli.detect import run_detector
    from hmcli.detect.timed import TimedDetector
    from hmcli.io.video import iter_frames, probe_video, read_ahead as ahead, sha256_file

    timings = timings if timings is not None else Timings()
    info = info if info is not None else probe_video(path)
    t0 = time.perf_counter()
    total = info.num_frames if max_frames is None else min(info.num_frames, max_frames)
    src_hash = sha256_file(path)
    det = TimedDetector(detector)
    report = _stage(on_progress, "detect")
    report(0, total)
    frames = ahead(iter_frames(path, max_frames=max_frames), read_ahead)
    try:
        kp = run_detector(det, frames, lambda i, n: report(i + 1, n), num_frames=total, source=os.path.abspath(path),
                          source_hash=src_hash)  # fmt: skip
    finally:
        frames.close()
        det.close()
    timings.detect = det.seconds
    timings.decode = time.perf_counter() - t0 - det.seconds
    return kp


def detect_file_multi(path: str | os.PathLike, detector: Any = "mediapipe", *, max_persons: int = 4,
                      min_track_length: int = 1, tracker: TrackerConfig | None = None, info: Any = None,
                      max_frames: int | None = None, timings: Timings | None = None,
                      on_progress: OnStage | None = None, read_ahead: int = 0) -> MultiKeypoints2D:  # fmt: skip
    """:func:`detect_file` for several persons (see :func:`detect_multi` for ``detector``,
    ``max_persons``, ``min_track_length`` and ``tracker``): ``timings.detect`` gets the seconds
    in the detector, ``timings.decode`` the rest (decoding, tracking, assembling). The detector
    (a name or an object) is closed when done."""
    from hmcli.detect import get_multi_detector, run_detector_multi
    from hmcli.detect.timed import TimedDetector
    from hmcli.io.video import iter_frames, probe_video, read_ahead as ahead, sha256_file

    _check_multi_args(max_frames, max_persons, min_track_length)
    timings = timings if timings is not None else Timings()
    info = info if info is not None else probe_video(path)
    t0 = time.perf_counter()
    total = info.num_frames if max_frames is None else min(info.num_frames, max_frames)
    src_hash = sha256_file(path)
    spec = (lambda: get_multi_detector(detector, max_persons)) if isinstance(detector, str) else detector
    det = TimedDetector(spec)
    report = _stage(on_progress, "detect")
    report(0, total)
    frames = ahead(iter_frames(path, max_frames=max_frames), read_ahead)
    try:
        kp = run_detector_multi(det, frames, lambda i, n: report(i + 1, n), num_frames=total, source=os.path.abspath(path),
                                source_hash=src_hash, tracker=tracker, max_persons=max_persons,
                                min_track_length=min_track_length)  # fmt: skip
    finally:
        frames.close()
        det.close()
    timings.detect = det.seconds
    timings.decode = time.perf_counter() - t0 - det.seconds
    return kp


def run_offline(lifter: LoadedModel, source: Keypoints2D | str | os.PathLike, *, info: Any = None,
                detector: Any = "mediapipe", fps: float | None = None, max_frames: int | None = None,
                timings: Timings | None = None, on_progress: OnStage | None = None, one_pass: bool = False,
                flip: bool = True, read_ahead: int = 0) -> Pose3DResult:  # fmt: skip
    """Lift keypoints, or a video file (detected first, ``max_frames`` frames at most; ``info``: its
    :func:`hmcli.io.video.probe_video`, if already known), as :func:`lift` does. ``timings`` gets
    the seconds spent decoding, detecting and lifting. ``read_ahead``: see :func:`detect_file`."""

    timings = timings if timings is not None else Timings()
    if isinstance(source, Keypoints2D):
        kp = source
    else:
        kp = detect_file(source, detector, info=info, max_frames=max_frames, timings=timings,
                         on_progress=on_progress, read_ahead=read_ahead)  # fmt: skip
    t0 = time.perf_counter()
    report = _stage(on_progress, "lift")
    report(0, kp.num_frames)
    result = lift(kp, lifter, fps, on_progress=report, one_pass=one_pass, flip=flip)
    timings.lift = time.perf_counter() - t0
    return result


def run_stream(lifter: LoadedModel, source: Keypoints2D | str | os.PathLike | int, *, info: Any = None,
               detector: Any = "mediapipe", fps: float | None = None, max_frames: int | None = None,
               on_record: Callable[[dict], None] | None = None, timings: Timings | None = None,
               on_progress: OnStage | None = None, one_pass: bool = False, flip: bool = True) -> Pose3DResult:  # fmt: skip
    """Causal streaming of keypoints, a video file or a webcam (an int) through :func:`stream`:
    each record (the header, then one per frame) goes to ``on_record`` as soon as its frame is
    lifted. Returns the whole result. A webcam capture ends at ``max_frames`` or Ctrl-C
    (KeyboardInterrupt), keeping the frames so far; ``info`` as in :func:`run_offline`.
    ``timings``: decoding, detection, lifting and the time spent in ``on_record`` (write)."""
    from hmcli.detect.timed import TimedDetector
    from hmcli.io.jsonio import result_from_records

    timings = timings if timings is not None else Timings()
    det = TimedDetector(detector) if not isinstance(source, Keypoints2D) else None

    def records(src, det_obj, nominal, on_frame):
        return stream(src, lifter, det_obj, fps=fps, max_frames=max_frames, header=True, on_frame=on_frame,
                      nominal_fps=nominal, one_pass=one_pass, flip=flip)  # fmt: skip

    header, recs = _run_records(source, det, records, info=info, max_frames=max_frames, on_record=on_record,
                                timings=timings, on_progress=on_progress)  # fmt: skip
    return result_from_records(header, recs)


def _run_records(source: Any, det: Any, records: Callable[..., Iterator[dict]], *, info: Any,
                 max_frames: int | None, on_record: Callable[[dict], None] | None, timings: Timings,
                 on_progress: OnStage | None) -> tuple[dict, list[dict]]:  # fmt: skip
    """Drive a streaming generator ``records(src, det, nominal_fps, on_frame)`` over keypoints (``det``
    None) or a video file / webcam (frames decoded here, ``det`` a :class:`TimedDetector`): each
    record goes to ``on_record`` as it comes; returns the header and the frame records and fills
    ``timings``. A webcam capture ends at ``max_frames`` or Ctrl-C, keeping the frames so far."""
    from hmcli.detect.timed import TimedFrames

    t_begin = time.perf_counter()
    camera = isinstance(source, int) and not isinstance(source, bool)
    frames = None
    if det is None:
        src, total, nominal = source, source.num_frames, None
    else:
        from hmcli.io.video import iter_frames, probe_video, sha256_file

        if not camera and info is None:
            info = probe_video(source)
        total = None if camera else (info.num_frames if max_frames is None else min(info.num_frames, max_frames))
        nominal = None if camera else info.fps
        src = frames = TimedFrames(iter_frames(source, max_frames=max_frames))
        src_name, src_hash = (f"camera:{source}", None) if camera else (os.path.abspath(source), sha256_file(source))
    report = _stage(on_progress, "lift")
    report(0, total)
    header, recs, write_s = None, [], 0.0
    gen = records(src, det, nominal, lambda i, n: report(i + 1, total))
    try:
        for rec in gen:
            if header is None:
                header = rec
                if det is not None:  # a frame iterator: the generator does not know where it came from
                    rec["source"], rec["source_hash"] = src_name, src_hash
                    if rec.get("fps") is None and nominal:
                        rec["fps"] = nominal
            else:
                recs.append(rec)
            if on_record is not None:
                t0 = time.perf_counter()
                on_record(rec)
                write_s += time.perf_counter() - t0
    except KeyboardInterrupt:
        if not camera:  # Ctrl-C is how a webcam capture ends: keep what was captured
            raise
    finally:
        gen.close()
        if det is not None:
            det.close()
    if header is None or not recs:
        raise HMError("no frames were captured")
    decode = frames.seconds if frames is not None else 0.0
    detect_s = det.seconds if det is not None else 0.0
    timings.decode += decode
    timings.write += write_s
    if det is not None:
        timings.detect = detect_s
    timings.lift = time.perf_counter() - t_begin - decode - detect_s - write_s
    return header, recs


def lift_input(path: str | os.PathLike, model: str | os.PathLike | LoadedModel | None = None, *,
               kind: str | None = None, detector: Any = "mediapipe", fps: float | None = None,
               max_frames: int | None = None, width: int | None = None, height: int | None = None,
               timings: Timings | None = None, on_progress: OnStage | None = None) -> tuple[Pose3DResult, LoadedModel | None]:  # fmt: skip
    """A lifted clip (first ``max_frames`` frames) from a video (detect + lift), a keypoint file
    (lift) or an ``hm lift`` / ``hm mesh`` HDF5 (read: nothing is detected or lifted again), with
    the lifter used (None for a read result). ``kind``: :func:`hmcli.io.paths.input_kind` (with
    ``lifted``) if already known. The input is checked before the model loads."""
    from hmcli.io.paths import input_kind

    timings = timings if timings is not None else Timings()
    path = Path(path)
    kind = kind or input_kind(path, lifted=True)
    if kind == "lifted":
        from hmcli.io.h5 import read_result

        t0 = time.perf_counter()
        res = read_result(path)
        timings.decode = time.perf_counter() - t0
        return res.first(max_frames), None
    info = kp = None
    if kind == "keypoints":
        kp = read_keypoints(path, fps, width, height, max_frames)
    else:
        from hmcli.io.video import probe_video

        info = probe_video(path)
    lifter = load_lifter(model)
    res = run_offline(lifter, kp if kp is not None else path, info=info, detector=detector, fps=fps,
                      max_frames=max_frames, timings=timings, on_progress=on_progress)  # fmt: skip
    return res, lifter


def input_keypoints(path: str | os.PathLike, *, fps: float | None = None, width: int | None = None,
                    height: int | None = None, max_frames: int | None = None, detector: str = "mediapipe",
                    on_progress: OnStage | None = None) -> Keypoints2D:  # fmt: skip
    """The first ``max_frames`` frames of 2D keypoints from a video (detected by ``detector``), a
    keypoint file, or an ``hm lift`` / ``hm mesh`` HDF5 (the 2D the lifter saw)."""
    from hmcli.io.paths import input_kind

    path = Path(path)
    kind = input_kind(path, lifted=True)
    if kind == "lifted":
        from hmcli.io.h5 import read_result

        kp = read_result(path).kpts2d
    elif kind == "keypoints":
        from hmcli.io.keypoints import load_keypoints

        kp = load_keypoints(path, fps=fps, width=width, height=height)
    else:
        report = _stage(on_progress, "detect")
        report(0, None)
        kp = detect(path, detector=detector, max_frames=max_frames, on_frame=lambda i, n: report(i + 1, n))
    return kp.first(max_frames)


# ------------------------------------------------------------------ whole runs, every person

from hmcli.track import DEFAULT_MAX_PERSONS, DEFAULT_MIN_TRACK_LENGTH  # noqa: E402


#: Frames :func:`detect_persons` looks at first to tell a one-person clip from a group: one
#: per second of video, at least PROBE_MIN and at most PROBE_FRAMES.
PROBE_FRAMES = 12
PROBE_MIN = 4


def probe_samples(num_frames: int, fps: float) -> int:
    """How many frames the quick look takes from a clip of ``num_frames`` at ``fps``."""
    seconds = num_frames / fps if fps and fps > 0 else num_frames / 30.0
    return int(min(PROBE_FRAMES, max(PROBE_MIN, math.ceil(seconds))))


def probe_persons(path: str | os.PathLike, detector: str = "mediapipe", max_persons: int = DEFAULT_MAX_PERSONS,
                  max_frames: int | None = None, samples: int | None = None) -> int:  # fmt: skip
    """The most persons the multi-person ``detector`` finds in at least two of ``samples`` frames
    spread over a video file (in the one sample when there is one): a person found twice in one
    frame (a duplicate across tiles) does not make a group. ``samples``: default
    :func:`probe_samples`; about 90 ms each at 720p on 2 cores, where wide frames take two tiles."""
    from hmcli.detect import count_persons, get_multi_detector
    from hmcli.io.video import probe_video, sample_frames

    if samples is None:
        info = probe_video(path)
        n = info.num_frames if max_frames is None else min(info.num_frames, max_frames)
        samples = probe_samples(n, info.fps)
    frames = sample_frames(path, samples, max_frames)
    det = get_multi_detector(detector, max_persons)
    try:
        counts = sorted(count_persons(frames, det), reverse=True)
    finally:
        det.close()
    return counts[1] if len(counts) > 1 else counts[0] if counts else 0


def detect_persons(path: str | os.PathLike | int, detector: Any = "mediapipe", *, max_persons: int = DEFAULT_MAX_PERSONS,
                   min_track_length: int = DEFAULT_MIN_TRACK_LENGTH, tracker: Any = None, info: Any = None,
                   max_frames: int | None = None, timings: Timings | None = None,
                   on_progress: OnStage | None = None, read_ahead: int = 0,
                   probe: bool = True) -> MultiKeypoints2D:  # fmt: skip
    """Every person's 2D keypoints in a video file, as the commands detect them.

    ``max_persons`` > 1: :func:`detect_file_multi` (tracked persons, track ids from 1, tracks
    shorter than ``min_track_length`` frames dropped; P may be 0). ``max_persons`` == 1: the
    one-person path (:func:`detect_file`, no tracking): P = 1 with track id 0, frames without
    a person flagged, exactly as a one-person run always was.

    ``probe`` (video files, a detector given by name): first look at a few frames spread over
    the clip (:func:`probe_persons`, one per second, 4 to 12); when none shows more than one person,
    take the one-person path, which detects 1.8-3.5x faster. Its time counts as detection.
    ``probe=False`` always tracks (e.g. to get track ids on a one-person clip). ``path`` may be a webcam index
    (an int; then ``max_frames`` frames, and ``timings.detect`` gets the detector's seconds)."""
    if isinstance(path, int) and not isinstance(path, bool):
        from hmcli.detect import get_multi_detector
        from hmcli.detect.timed import TimedDetector

        timings = timings if timings is not None else Timings()
        report = _stage(on_progress, "detect")
        on_frame = lambda i, n: report(i + 1, n)  # noqa: E731
        t0 = time.perf_counter()
        if max_persons == 1:
            det = TimedDetector(detector)
            try:
                mk = MultiKeypoints2D.from_single(detect(path, det, max_frames=max_frames, on_frame=on_frame))
            finally:
                det.close()
        else:
            det = TimedDetector((lambda: get_multi_detector(detector, max_persons)) if isinstance(detector, str)
                                else detector)  # fmt: skip
            try:
                mk = detect_multi(path, det, max_persons=max_persons, min_track_length=min_track_length,
                                  tracker=tracker, max_frames=max_frames, on_frame=on_frame)  # fmt: skip
            finally:
                det.close()
        timings.detect = det.seconds
        timings.decode = time.perf_counter() - t0 - det.seconds
        return mk
    probe_s = 0.0
    if max_persons > 1 and probe and isinstance(detector, str):
        t0 = time.perf_counter()
        if probe_persons(path, detector, max_persons, max_frames) <= 1:
            max_persons = 1
        probe_s = time.perf_counter() - t0
    if max_persons == 1:
        timings = timings if timings is not None else Timings()
        kp = detect_file(path, detector, info=info, max_frames=max_frames, timings=timings, on_progress=on_progress,
                         read_ahead=read_ahead)  # fmt: skip
        timings.detect += probe_s
        return MultiKeypoints2D.from_single(kp)
    timings = timings if timings is not None else Timings()
    mk = detect_file_multi(path, detector, max_persons=max_persons, min_track_length=min_track_length,
                           tracker=tracker, info=info, max_frames=max_frames, timings=timings,
                           on_progress=on_progress, read_ahead=read_ahead)  # fmt: skip
    timings.detect += probe_s
    return mk


def read_keypoints_persons(source: str | os.PathLike | bytes, fps: float | None = None, width: int | None = None,
                           height: int | None = None, max_frames: int | None = None) -> MultiKeypoints2D:  # fmt: skip
    """Every person of a keypoint file (or its bytes), first ``max_frames`` frames: our files keep
    their person axis; OpenPose / COCO / mmpose files with several people are tracked
    (:func:`hmcli.io.keypoints.load_keypoints_multi`)."""
    from hmcli.io.keypoints import load_keypoints_multi, read_keypoints_bytes_multi

    if isinstance(source, bytes):
        mk = read_keypoints_bytes_multi(source, fps=fps, width=width, height=height)
    else:
        mk = load_keypoints_multi(source, fps=fps, width=width, height=height)
    return mk.first(max_frames)


def select_person(mk: MultiKeypoints2D, person: int | None, what: str = "the input") -> MultiKeypoints2D:
    """Only the person with track id ``person`` (all persons for None); HMError naming the ids
    there are when none has it."""
    if person is None:
        return mk
    hits = np.flatnonzero(mk.track_ids == int(person))
    if not hits.size:
        ids = ", ".join(str(i) for i in mk.track_ids.tolist()) or "none"
        raise HMError(f"{what} has no person with track id {person} (track ids: {ids})")
    p = int(hits[0])
    return MultiKeypoints2D.from_persons([mk.person(p)], [int(person)])


def lift_persons(mk: MultiKeypoints2D, lifter: LoadedModel, fps: float | None = None, *, one_pass: bool = False,
                 flip: bool = True, on_progress: Callable[[int, int], None] | None = None,
                 refiner: Any = None) -> MultiPose3DResult:  # fmt: skip
    """Lift every person (:func:`hmcli.lift.lift_persons`: each over its own span). A one-person
    input with track id 0 (the one-person path, no tracker) is lifted over the whole clip, as
    :func:`lift` does, so frames without the person get the model's estimate from the others.
    ``refiner``: each person's 2D refined over time first (:func:`load_refiner`)."""
    from hmcli.lift import lift_persons as _lift_persons

    if mk.num_persons == 1 and int(mk.track_ids[0]) == 0:
        res = lift(mk.person(0), lifter, fps, on_progress=on_progress, one_pass=one_pass, flip=flip, refiner=refiner)
        return MultiPose3DResult.from_single(res)
    return _lift_persons(mk, lifter, fps, one_pass=one_pass, flip=flip, on_progress=on_progress, refiner=refiner)


def run_offline_persons(lifter: LoadedModel, source: MultiKeypoints2D | str | os.PathLike, *, info: Any = None,
                        detector: Any = "mediapipe", fps: float | None = None, max_frames: int | None = None,
                        timings: Timings | None = None, on_progress: OnStage | None = None, one_pass: bool = False,
                        flip: bool = True, read_ahead: int = 0, max_persons: int = DEFAULT_MAX_PERSONS,
                        min_track_length: int = DEFAULT_MIN_TRACK_LENGTH, tracker: Any = None,
                        probe: bool = True, refiner: Any = None) -> MultiPose3DResult:  # fmt: skip
    """:func:`run_offline` for every person: keypoints, or a video file detected with
    :func:`detect_persons` (``probe`` as there), then :func:`lift_persons` (each person's 2D first
    refined over time by ``refiner``, a :func:`load_refiner` model, when given)."""
    timings = timings if timings is not None else Timings()
    if isinstance(source, MultiKeypoints2D):
        mk = source
    else:
        mk = detect_persons(source, detector, max_persons=max_persons, min_track_length=min_track_length,
                            tracker=tracker, info=info, max_frames=max_frames, timings=timings,
                            on_progress=on_progress, read_ahead=read_ahead, probe=probe)  # fmt: skip
    t0 = time.perf_counter()
    report = _stage(on_progress, "lift")
    total = sum(b - a for a, b in (s for s in (k.span() for k in mk.persons()) if s is not None))
    report(0, total or mk.num_frames)
    result = lift_persons(mk, lifter, fps, one_pass=one_pass, flip=flip, on_progress=report, refiner=refiner)
    timings.lift = time.perf_counter() - t0
    return result


def run_stream_persons(lifter: LoadedModel, source: MultiKeypoints2D | str | os.PathLike | int, *, info: Any = None,
                       detector: Any = "mediapipe", fps: float | None = None, max_frames: int | None = None,
                       on_record: Callable[[dict], None] | None = None, timings: Timings | None = None,
                       on_progress: OnStage | None = None, one_pass: bool = False, flip: bool = True,
                       max_persons: int = DEFAULT_MAX_PERSONS, tracker: Any = None) -> MultiPose3DResult:  # fmt: skip
    """:func:`run_stream` for every person (:func:`stream_persons`: one causal state per track);
    each record goes to ``on_record`` as soon as its frame is lifted. ``max_persons`` == 1 (and a
    one-person input with track id 0) is the one-person stream of :func:`run_stream`."""
    from hmcli.detect.timed import TimedDetector
    from hmcli.io.jsonio import results_from_records

    if isinstance(source, MultiKeypoints2D) and source.num_persons == 1 and int(source.track_ids[0]) == 0:
        source, max_persons = source.person(0), 1
    if max_persons == 1 and not isinstance(source, MultiKeypoints2D):
        res = run_stream(lifter, source, info=info, detector=detector, fps=fps, max_frames=max_frames,
                         on_record=on_record, timings=timings, on_progress=on_progress, one_pass=one_pass, flip=flip)  # fmt: skip
        return MultiPose3DResult.from_single(res)
    timings = timings if timings is not None else Timings()
    det = None
    if not isinstance(source, MultiKeypoints2D):
        from hmcli.detect import get_multi_detector

        det = TimedDetector((lambda: get_multi_detector(detector, max_persons)) if isinstance(detector, str)
                            else detector)  # fmt: skip

    def records(src, det_obj, nominal, on_frame):
        return stream_persons(src, lifter, det_obj, max_persons=max_persons, tracker=tracker, fps=fps,
                              max_frames=max_frames, header=True, nominal_fps=nominal, one_pass=one_pass, flip=flip,
                              on_frame=on_frame)  # fmt: skip

    header, recs = _run_records(source, det, records, info=info, max_frames=max_frames, on_record=on_record,
                                timings=timings, on_progress=on_progress)  # fmt: skip
    return results_from_records(header, recs)


def lift_input_persons(path: str | os.PathLike, model: str | os.PathLike | LoadedModel | None = None, *,
                       kind: str | None = None, detector: Any = "mediapipe", fps: float | None = None,
                       max_frames: int | None = None, width: int | None = None, height: int | None = None,
                       timings: Timings | None = None, on_progress: OnStage | None = None,
                       max_persons: int = DEFAULT_MAX_PERSONS, min_track_length: int = DEFAULT_MIN_TRACK_LENGTH,
                       person: int | None = None, probe: bool = True) -> tuple[MultiPose3DResult, LoadedModel | None]:  # fmt: skip
    """:func:`lift_input` for every person (``person``: only that track id): a video is detected
    (:func:`detect_persons`, ``probe`` as there) and lifted, a keypoint file lifted with its persons, an ``hm lift`` /
    ``hm mesh`` file read with its persons."""
    from hmcli.io.paths import input_kind

    timings = timings if timings is not None else Timings()
    path = Path(path)
    kind = kind or input_kind(path, lifted=True)
    if kind == "lifted":
        from hmcli.io.h5 import read_results

        t0 = time.perf_counter()
        res = read_results(path).first(max_frames)
        timings.decode = time.perf_counter() - t0
        from hmcli.io.persons import only_person

        res = only_person(res, person, path)
        return res, None
    info = mk = None
    if kind == "keypoints":
        mk = select_person(read_keypoints_persons(path, fps, width, height, max_frames), person, str(path))
    else:
        from hmcli.io.video import probe_video

        info = probe_video(path)
    lifter = load_lifter(model)
    if mk is None:
        mk = select_person(detect_persons(path, detector, max_persons=max_persons, min_track_length=min_track_length,
                                          info=info, max_frames=max_frames, timings=timings, on_progress=on_progress,
                                          probe=probe),
                           person, str(path))  # fmt: skip
    res = run_offline_persons(lifter, mk, fps=fps, timings=timings, on_progress=on_progress)
    return res, lifter


def input_keypoints_persons(path: str | os.PathLike, *, fps: float | None = None, width: int | None = None,
                            height: int | None = None, max_frames: int | None = None, detector: str = "mediapipe",
                            on_progress: OnStage | None = None, max_persons: int = DEFAULT_MAX_PERSONS,
                            min_track_length: int = DEFAULT_MIN_TRACK_LENGTH,
                            person: int | None = None, probe: bool = True) -> MultiKeypoints2D:  # fmt: skip
    """:func:`input_keypoints` for every person (``person``: only that track id; ``probe`` as in
    :func:`detect_persons`)."""
    from hmcli.io.paths import input_kind

    path = Path(path)
    kind = input_kind(path, lifted=True)
    if kind == "lifted":
        from hmcli.io.h5 import read_results

        mk = read_results(path).kpts2d
    elif kind == "keypoints":
        mk = read_keypoints_persons(path, fps, width, height)
    else:
        mk = detect_persons(path, detector, max_persons=max_persons, min_track_length=min_track_length,
                            max_frames=max_frames, on_progress=on_progress, probe=probe)  # fmt: skip
    return select_person(mk.first(max_frames), person, str(path))
