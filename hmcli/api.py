"""hm's Python API: video -> 2D keypoints -> 3D joints (HumMUSS).

::

    from hmcli import api

    res = api.lift_video("clip.mp4")                      # Pose3DResult (bidirectional model)
    kp = api.detect("clip.mp4")                           # Keypoints2D only
    lifter = api.load_lifter()                            # models/hummuss-small-cmu.pt
    res = api.lift(kp, lifter)                            # whole sequence, one pass
    res = api.lift_file("kpts.json")                      # COCO/tfjs/OpenPose/mmpose/NPZ/.h5/hm JSON
    for rec in api.stream(0, api.load_lifter(causal=True)):   # webcam, frame by frame
        print(rec["index"], rec["joints3d"][0])

Nothing here prints; long steps take optional progress callbacks ``on_frame(i, n)`` (frame
``i`` done, ``n`` total or None) / ``on_progress(done, total)``. User-fixable problems raise
:class:`hmcli.io.atomic.HMError` (model problems :class:`hmcli.io.checkpoint.CheckpointError`)
with a one-line message.

Results carry provenance: ``result.model_id`` and ``result.model_hash`` (SHA-256 of the
checkpoint), and in ``result.kpts2d``: ``detector``, ``source``, ``source_hash``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hmcli.io.atomic import HMError, atomic_write
from hmcli.lift import (
    DEFAULT_CAUSAL_MODEL,
    DEFAULT_MODEL,
    FrameLifter,
    frame_timing,
    lift_keypoints,
)
from hmcli.lift import load_lifter as _load_lifter
from hmcli.io.checkpoint import LoadedModel
from hmcli.types import Keypoints2D, Pose3DResult

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_CAUSAL_MODEL",
    "detect",
    "load_lifter",
    "lift",
    "lift_video",
    "lift_file",
    "stream",
    "frame_timing",
    "keypoints_header_record",
    "keypoints_frame_records",
    "write_keypoints_json",
    "save_keypoints",
    "read_keypoints_bytes",
]

Source = str | os.PathLike | int
OnFrame = Callable[[int, int | None], None]

KEYPOINTS_SCHEMA = "hm.keypoints2d"
KEYPOINTS_SCHEMA_VERSION = 1


def _is_camera(source: Any) -> bool:
    if isinstance(source, bool):
        return False
    if isinstance(source, int):
        return True
    return isinstance(source, str) and source.isdigit() and not os.path.exists(source)


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
) -> Pose3DResult:
    """Lift 2D keypoints to H36M-17 3D joints (metres, root-relative, camera axes).

    Timing comes from ``keypoints.timestamps`` (uniform -> ``dt_scale = train_fps / fps``;
    irregular -> per-step Δ); ``fps`` overrides them (uniform at that rate, and the result's
    timestamps become ``index / fps``). The model sees overlapping, cross-faded windows of
    the clip length it was trained on (81 frames for the shipped models); ``one_pass`` runs
    the whole sequence at once instead (see :mod:`hmcli.lift`). ``flip``: average with the
    estimate of the mirrored input, mirrored back (test-time flip; ``False`` for the model's
    single estimate)."""
    return lift_keypoints(keypoints, lifter, fps, one_pass=one_pass, flip=flip, on_progress=on_progress)


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
    from hmcli.io.video import iter_frames, probe_video

    nominal = None
    if not _is_camera(source):
        nominal = probe_video(source).fps
    return iter_frames(source, max_frames=max_frames), nominal


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

    nominal = nominal_fps
    src_name, src_hash, total = None, None, None
    if isinstance(source, (str, os.PathLike, int)) and not isinstance(source, bool):
        frames, nominal = _iter_video(source, max_frames)
        if _is_camera(source):
            src_name = f"camera:{int(source)}"
        else:
            from hmcli.io.video import probe_video, sha256_file

            src_name = str(source)
            src_hash = sha256_file(source)
            total = probe_video(source).num_frames
            total = total if max_frames is None else min(total, max_frames)
    else:
        frames = source
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


# ------------------------------------------------------------------ keypoints JSON (hm detect)


def keypoints_header_record(kp_or_meta: Keypoints2D | dict) -> dict:
    """First record of our keypoints JSON (schema ``hm.keypoints2d``), also the document head.

    Read back by :func:`hmcli.io.keypoints.load_keypoints` (document or JSON lines)."""
    from hmcli import __version__

    if isinstance(kp_or_meta, Keypoints2D):
        kp = kp_or_meta
        m = dict(fps=kp.fps, width=kp.width, height=kp.height, joint_set=kp.joint_set, detector=kp.detector,
                 source=kp.source, source_hash=kp.source_hash)  # fmt: skip
    else:
        m = dict(kp_or_meta)
    fps = m.get("fps")
    return {
        "schema": KEYPOINTS_SCHEMA,
        "schema_version": KEYPOINTS_SCHEMA_VERSION,
        "hm_version": __version__,
        "fps": float(fps) if fps is not None and np.isfinite(fps) else None,
        "width": int(m["width"]),
        "height": int(m["height"]),
        "joint_set": str(m["joint_set"]),
        "units": {"kpts2d": "px (x right, y down, origin top-left) + confidence in [0, 1]", "t": "s"},
        "detector": m.get("detector"),
        "source": m.get("source"),
        "source_hash": m.get("source_hash"),
    }


def keypoints_frame_records(kp: Keypoints2D) -> Iterator[dict]:
    from hmcli.io.jsonio import frame_record

    for i in range(kp.num_frames):
        yield frame_record(i, kp.timestamps[i], bool(kp.detected[i]), kp.xy[i], kp.conf[i])


def write_keypoints_json(path: str | os.PathLike, kp: Keypoints2D) -> None:
    """Our keypoints JSON document (header keys + ``frames``, one frame per line), atomically."""
    from hmcli.io.jsonio import dumps_record

    head = json.dumps(keypoints_header_record(kp), allow_nan=False, ensure_ascii=False)
    body = ",\n".join(dumps_record(r) for r in keypoints_frame_records(kp))
    with atomic_write(path, "w") as f:
        f.write(head[:-1] + ', "frames": [\n' + body + "\n]}\n")


def save_keypoints(kp: Keypoints2D, path: str | os.PathLike) -> str:
    """Write 2D keypoints as .h5, .json or .npz (by suffix), atomically. Returns the format."""
    suffix = Path(path).suffix.lower()
    if suffix in (".h5", ".hdf5"):
        from hmcli.io.h5 import write_keypoints

        write_keypoints(path, kp)
        return "h5"
    if suffix == ".json":
        write_keypoints_json(path, kp)
        return "json"
    if suffix == ".npz":
        from hmcli.io.keypoints import save_keypoints_npz

        save_keypoints_npz(kp, path)
        return "npz"
    raise HMError(f"cannot tell the keypoint format from {Path(path).name!r}; use .h5, .json or .npz")


_MAGIC = ((b"PK\x03\x04", ".npz"), (b"\x89HDF\r\n\x1a\n", ".h5"))


def read_keypoints_bytes(data: bytes, fps: float | None = None, width: int | None = None,
                         height: int | None = None, name: str = "<stdin>") -> Keypoints2D:  # fmt: skip
    """Keypoints from a file's bytes (e.g. stdin): JSON (any supported layout, our JSON
    lines), NPZ or our HDF5, told apart by content."""
    import tempfile

    from hmcli.io.keypoints import load_keypoints
    from hmcli.io.video import sha256_file

    if not data:
        raise HMError(f"{name}: no input (expected keypoints as JSON or NPZ)")
    suffix = next((s for magic, s in _MAGIC if data.startswith(magic)), None)
    if suffix is None:
        if data.lstrip()[:1] in (b"{", b"["):
            suffix = ".json"
        else:
            raise HMError(f"{name}: unknown keypoint format (expected JSON or NPZ bytes)")
    with tempfile.TemporaryDirectory(prefix="hm-stdin-") as d:
        tmp = Path(d) / f"stdin{suffix}"
        tmp.write_bytes(data)
        try:
            kp = load_keypoints(tmp, fps=fps, width=width, height=height)
        except HMError as e:
            raise HMError(re.sub(re.escape(str(tmp)), name, str(e))) from None
        digest = sha256_file(tmp)
        if kp.source is None or kp.source == str(tmp):
            kp.source = None
            kp.source_hash = digest
    return kp
