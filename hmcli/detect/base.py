"""Detector protocol, the loop that runs a detector over frames, and the backend registry.

A detector turns one BGR frame into one person's 2D keypoints. ``run_detector``
calls it on every frame and stacks the results into ``Keypoints2D``; frames
without a person are kept (conf 0, ``detected`` False) so that frame indices
and timestamps stay aligned with the video.

A multi-person detector (``MultiDetector``) returns a list of persons per frame;
``run_detector_multi`` gives them track ids (:mod:`hmcli.track`) and assembles a
``MultiKeypoints2D``. Any one-person detector runs there too, through ``as_multi``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from hmcli.io.atomic import HMError
from hmcli.types import Keypoints2D, MultiKeypoints2D

if TYPE_CHECKING:
    from hmcli.track import TrackerConfig

__all__ = [
    "count_persons",
    "Detector",
    "MultiDetector",
    "SingleAsMulti",
    "as_multi",
    "OnFrame",
    "run_detector",
    "run_detector_multi",
    "detect_video",
    "detect_video_multi",
    "get_multi_detector",
    "get_detector",
    "register_detector",
    "available_detectors",
]

# on_frame(i, n): called after frame i (0-based) is done; n is the total frame count
# when known (a video file) and None otherwise (a camera).
OnFrame = Callable[[int, int | None], None]


@runtime_checkable
class Detector(Protocol):
    """One-person 2D keypoint detector.

    ``name`` identifies the model (stored in the output), ``joint_set`` names the
    keypoint layout ('coco17', 'blazepose33', 'halpe26', 'h36m17').
    ``detect`` returns ``(xy (J, 2) pixels, conf (J,) in [0, 1], found)``; when
    ``found`` is False the arrays' contents are ignored.
    """

    name: str
    joint_set: str

    def detect(self, frame_bgr: np.ndarray, timestamp: float) -> tuple[np.ndarray, np.ndarray, bool]: ...

    def close(self) -> None: ...


def run_detector(
    detector: Detector,
    frames: Iterable[tuple[int, float, np.ndarray]],
    on_frame: OnFrame | None = None,
    *,
    num_frames: int | None = None,
    source: str | None = None,
    source_hash: str | None = None,
) -> Keypoints2D:
    """Run ``detector`` on ``(index, timestamp, frame_bgr)`` items (e.g. ``iter_frames``).

    Every frame gives one output row; frames where the detector finds nobody get
    xy 0, conf 0 and ``detected`` False. The detector is not closed here.
    Raises ``HMError`` if ``frames`` is empty or a frame's size changes.
    """
    if num_frames is None and hasattr(frames, "__len__"):
        num_frames = len(frames)  # type: ignore[arg-type]
    xys: list[np.ndarray] = []
    confs: list[np.ndarray] = []
    times: list[float] = []
    found_flags: list[bool] = []
    size: tuple[int, int] | None = None
    n_joints: int | None = None
    for i, (_, t, frame) in enumerate(frames):
        h, w = frame.shape[:2]
        if size is None:
            size = (w, h)
        elif size != (w, h):
            raise HMError(f"frame {i} is {w}x{h} but earlier frames are {size[0]}x{size[1]}")
        xy, conf, found = detector.detect(frame, float(t))
        xy = np.asarray(xy, dtype=np.float32)
        conf = np.asarray(conf, dtype=np.float32)
        if n_joints is None:
            n_joints = xy.shape[0]
        if xy.shape != (n_joints, 2) or conf.shape != (n_joints,):
            raise ValueError(
                f"detector {detector.name!r} returned xy {xy.shape} / conf {conf.shape} at frame {i}, "
                f"expected ({n_joints}, 2) / ({n_joints},)"
            )
        found = bool(found)
        if found:
            xy = np.nan_to_num(xy, nan=0.0, posinf=0.0, neginf=0.0)
            conf = np.clip(np.nan_to_num(conf, nan=0.0), 0.0, 1.0)
        else:
            xy = np.zeros((n_joints, 2), np.float32)
            conf = np.zeros((n_joints,), np.float32)
        xys.append(xy)
        confs.append(conf)
        times.append(float(t))
        found_flags.append(found)
        if on_frame is not None:
            on_frame(i, num_frames)
    if size is None or n_joints is None:
        raise HMError("no frames to run the detector on")
    return Keypoints2D(
        xy=np.stack(xys).astype(np.float32),
        conf=np.stack(confs).astype(np.float32),
        joint_set=detector.joint_set,
        timestamps=np.asarray(times, dtype=np.float64),
        width=int(size[0]),
        height=int(size[1]),
        detected=np.asarray(found_flags, dtype=bool),
        detector=detector.name,
        source=source,
        source_hash=source_hash,
    )


@runtime_checkable
class MultiDetector(Protocol):
    """Multi-person 2D keypoint detector.

    ``detect_multi`` returns one ``(xy (J, 2) pixels, conf (J,) in [0, 1])`` per person found in
    the frame (an empty list when nobody is), in no particular order; identities across
    frames are the tracker's job. Frames are given in order.
    """

    name: str
    joint_set: str

    def detect_multi(self, frame_bgr: np.ndarray, timestamp: float) -> list[tuple[np.ndarray, np.ndarray]]: ...

    def close(self) -> None: ...


class DetectorWrapper:
    """Base of detectors that wrap another: its ``name`` and ``joint_set``, and ``close`` closes it."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector

    @property
    def name(self) -> str:
        return self.detector.name

    @property
    def joint_set(self) -> str:
        return self.detector.joint_set

    def close(self) -> None:
        self.detector.close()


class SingleAsMulti(DetectorWrapper):
    """A one-person ``Detector`` seen as a ``MultiDetector``: ``detect_multi`` returns ``[]``
    or the one person. ``close`` closes the wrapped detector."""

    def detect_multi(self, frame_bgr: np.ndarray, timestamp: float) -> list[tuple[np.ndarray, np.ndarray]]:
        xy, conf, found = self.detector.detect(frame_bgr, timestamp)
        return [(xy, conf)] if found else []


def as_multi(detector: Detector | MultiDetector) -> MultiDetector:
    """``detector`` itself when it has ``detect_multi``, else wrapped in :class:`SingleAsMulti`."""
    if callable(getattr(detector, "detect_multi", None)):
        return detector  # type: ignore[return-value]
    if callable(getattr(detector, "detect", None)):
        return SingleAsMulti(detector)  # type: ignore[arg-type]
    raise TypeError(f"{type(detector).__name__} has neither detect_multi nor detect")


def _joint_count(joint_set: str) -> int | None:
    from hmcli.skeleton.joints import JOINT_SETS

    js = JOINT_SETS.get(joint_set)
    return None if js is None else len(js.joints)


def run_detector_multi(
    detector: Detector | MultiDetector,
    frames: Iterable[tuple[int, float, np.ndarray]],
    on_frame: OnFrame | None = None,
    *,
    num_frames: int | None = None,
    source: str | None = None,
    source_hash: str | None = None,
    tracker: TrackerConfig | None = None,
    max_persons: int | None = None,
    min_track_length: int = 1,
) -> MultiKeypoints2D:
    """Run a (multi- or one-person) ``detector`` on ``(index, timestamp, frame_bgr)`` items,
    track the persons (:class:`hmcli.track.KeypointTracker` with ``tracker``, default
    :class:`~hmcli.track.TrackerConfig`) and assemble them (:func:`hmcli.track.assemble_tracks`):
    tracks seen in fewer than ``min_track_length`` frames are dropped, then at most
    ``max_persons`` (the ones seen in the most frames) are kept.

    Every frame gives one column (F); frames where nobody is found are kept. Non-finite
    coordinates become 0 and conf is clipped to [0, 1]. The detector is not closed here.
    Raises ``HMError`` if ``frames`` is empty or a frame's size changes.
    """
    from hmcli.track import KeypointTracker

    if max_persons is not None and max_persons < 1:
        raise HMError(f"max_persons must be at least 1, got {max_persons}")
    if min_track_length < 1:
        raise HMError(f"min_track_length must be at least 1, got {min_track_length}")
    if num_frames is None and hasattr(frames, "__len__"):
        num_frames = len(frames)  # type: ignore[arg-type]
    det = as_multi(detector)
    trk = KeypointTracker(tracker)
    n_joints = _joint_count(det.joint_set)
    detections: list[tuple[np.ndarray, np.ndarray]] = []  # per frame: xy (N_f, J, 2), conf (N_f, J)
    ids: list[np.ndarray] = []  # per frame: (N_f,) track ids
    times: list[float] = []
    size: tuple[int, int] | None = None
    for i, (_, t, frame) in enumerate(frames):
        h, w = frame.shape[:2]
        if size is None:
            size = (w, h)
        elif size != (w, h):
            raise HMError(f"frame {i} is {w}x{h} but earlier frames are {size[0]}x{size[1]}")
        people = det.detect_multi(frame, float(t))
        xys, confs = [], []
        for xy, conf in people:
            xy = np.asarray(xy, dtype=np.float32)  # (J, 2)
            conf = np.asarray(conf, dtype=np.float32)  # (J,)
            if n_joints is None:
                n_joints = xy.shape[0]
            if xy.shape != (n_joints, 2) or conf.shape != (n_joints,):
                raise ValueError(
                    f"detector {det.name!r} returned xy {xy.shape} / conf {conf.shape} at frame {i}, "
                    f"expected ({n_joints}, 2) / ({n_joints},)"
                )
            xys.append(np.nan_to_num(xy, nan=0.0, posinf=0.0, neginf=0.0))
            confs.append(np.clip(np.nan_to_num(conf, nan=0.0), 0.0, 1.0))
        j = n_joints if n_joints is not None else 1
        fxy = np.stack(xys) if xys else np.zeros((0, j, 2), np.float32)  # (N_f, J, 2)
        fconf = np.stack(confs) if confs else np.zeros((0, j), np.float32)  # (N_f, J)
        ids.append(trk.update(fxy, fconf))
        detections.append((fxy, fconf))
        times.append(float(t))
        if on_frame is not None:
            on_frame(i, num_frames)
    if size is None:
        raise HMError("no frames to run the detector on")
    j = n_joints if n_joints is not None else 1
    # frames before the joint count was known (nobody found, unknown joint set) get the right J
    detections = [(d if d[0].shape[1] == j else (np.zeros((0, j, 2), np.float32), np.zeros((0, j), np.float32)))
                  for d in detections]  # fmt: skip
    f = len(times)
    template = Keypoints2D(
        xy=np.zeros((f, j, 2), np.float32),
        conf=np.zeros((f, j), np.float32),
        joint_set=det.joint_set,
        timestamps=np.asarray(times, dtype=np.float64),
        width=int(size[0]),
        height=int(size[1]),
        detected=np.zeros(f, dtype=bool),
        detector=det.name,
        source=source,
        source_hash=source_hash,
    )
    from hmcli.track import assemble_tracks

    return assemble_tracks(detections, ids, template, max_persons=max_persons, min_track_length=min_track_length)


def _open_source(source: str | os.PathLike | int, max_frames: int | None) -> tuple[str, str | None, int | None]:
    """(source name, SHA-256 or None, frame count or None) of a video file or camera index."""
    from hmcli.io.video import probe_video, sha256_file

    camera = isinstance(source, int) and not isinstance(source, bool)
    camera = camera or (isinstance(source, str) and source.isdigit() and not os.path.exists(source))
    if camera:
        return f"camera:{int(source)}", None, None
    info = probe_video(source)  # type: ignore[arg-type]
    num_frames = info.num_frames if max_frames is None else min(info.num_frames, max_frames)
    return str(source), sha256_file(source), num_frames  # type: ignore[arg-type]


def detect_video(
    source: str | os.PathLike | int,
    detector: str | Detector = "mediapipe",
    on_frame: OnFrame | None = None,
    *,
    max_frames: int | None = None,
    **detector_kw,
) -> Keypoints2D:
    """Convenience: open a video file (or camera index), run a detector, close it.

    ``detector`` is a registry name (see ``get_detector``) or a detector object
    (which is then left open for the caller).
    """
    from hmcli.io.video import iter_frames

    src_name, src_hash, num_frames = _open_source(source, max_frames)
    own = isinstance(detector, str)
    det = get_detector(detector, **detector_kw) if own else detector
    try:
        return run_detector(
            det,
            iter_frames(source, max_frames=max_frames),
            on_frame,
            num_frames=num_frames,
            source=src_name,
            source_hash=src_hash,
        )
    finally:
        if own:
            det.close()


def count_persons(frames: Iterable[np.ndarray], detector: MultiDetector) -> list[int]:
    """How many persons ``detector`` finds in each of ``frames`` (fed in order with timestamps one
    second apart, so a tracking detector does not carry one frame's persons to the next as motion)."""
    return [len(detector.detect_multi(frame, float(k))) for k, frame in enumerate(frames)]


def detect_video_multi(
    source: str | os.PathLike | int,
    detector: str | Detector | MultiDetector = "mediapipe",
    on_frame: OnFrame | None = None,
    *,
    max_frames: int | None = None,
    max_persons: int | None = 4,
    min_track_length: int = 1,
    tracker: TrackerConfig | None = None,
    **detector_kw,
) -> MultiKeypoints2D:
    """Multi-person :func:`detect_video`: ``detector`` is a registry name (created with
    :func:`get_multi_detector`, so 'mediapipe' with ``max_persons > 1`` is the Tasks backend) or
    a detector object (left open for the caller)."""
    from hmcli.io.video import iter_frames

    src_name, src_hash, num_frames = _open_source(source, max_frames)
    own = isinstance(detector, str)
    det = get_multi_detector(detector, max_persons, **detector_kw) if own else detector
    try:
        return run_detector_multi(det, iter_frames(source, max_frames=max_frames), on_frame, num_frames=num_frames,
                                  source=src_name, source_hash=src_hash, tracker=tracker, max_persons=max_persons,
                                  min_track_length=min_track_length)  # fmt: skip
    finally:
        if own:
            det.close()


# ---------------------------------------------------------------- registry

_INSTALL_HINT = {
    "mediapipe": "install with pip install -c constraints.txt -e '.[mediapipe]'",
    "mmpose": "mmpose is opt-in and needs a manual install (mmpose>=1.3, mmcv, mmdet); see hmcli/detect/README.md",
}

# name -> (module, factory attribute, python package the backend needs, install-hint key)
_BUILTIN: dict[str, tuple[str, str, str, str]] = {
    "mediapipe": ("hmcli.detect.mediapipe_pose", "MediaPipePose", "mediapipe", "mediapipe"),
    "mediapipe-multi": ("hmcli.detect.mediapipe_tasks", "MediaPipeTasksPose", "mediapipe", "mediapipe"),
    "mmpose": ("hmcli.detect.mmpose_backend", "MMPoseTopDown", "mmpose", "mmpose"),
}
_ALIASES = {"blazepose": "mediapipe", "mediapipe_pose": "mediapipe", "mediapipe_tasks": "mediapipe-multi"}
# single-person backend -> its multi-person backend, used when max_persons > 1
_MULTI_OF = {"mediapipe": "mediapipe-multi"}
_CUSTOM: dict[str, Callable[..., Detector]] = {}


def register_detector(name: str, factory: Callable[..., Detector]) -> None:
    """Make ``get_detector(name, **kw)`` return ``factory(**kw)``."""
    _CUSTOM[name.lower()] = factory


def available_detectors() -> dict[str, bool]:
    """Detector names -> whether the backend's dependency is importable."""
    out = {name: importlib.util.find_spec(pkg) is not None for name, (_, _, pkg, _) in _BUILTIN.items()}
    out.update({name: True for name in _CUSTOM})
    return out


def get_detector(name: str, **kw) -> Detector:
    """Create a detector by name ('mediapipe' a.k.a. 'blazepose', 'mmpose', or a registered one).

    Raises ``HMError`` for an unknown name or a backend whose package is not installed.
    """
    key = _ALIASES.get(name.lower(), name.lower())
    if key in _CUSTOM:
        return _CUSTOM[key](**kw)
    if key not in _BUILTIN:
        names = ", ".join(sorted(set(_BUILTIN) | set(_CUSTOM)))
        raise HMError(f"unknown detector {name!r}; available: {names}")
    module, attr, pkg, hint = _BUILTIN[key]
    if importlib.util.find_spec(pkg) is None:
        raise HMError(f"detector {key!r} needs the '{pkg}' package, which is not installed; {_INSTALL_HINT[hint]}")
    factory = getattr(importlib.import_module(module), attr)
    return factory(**kw)


def get_multi_detector(name: str, max_persons: int | None = 4, **kw) -> MultiDetector:
    """A detector for :func:`run_detector_multi` by name. With ``max_persons`` > 1 (or None: no
    cap, 4 per frame), a backend that has a multi-person variant gets it ('mediapipe' ->
    'mediapipe-multi', created with ``max_persons``); otherwise the named detector, wrapped by
    :func:`as_multi` when it only finds one person."""
    if max_persons is not None and max_persons < 1:
        raise HMError(f"max_persons must be at least 1, got {max_persons}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _CUSTOM and (max_persons is None or max_persons > 1) and key in _MULTI_OF:
        key = _MULTI_OF[key]
    if key == "mediapipe-multi":
        kw.setdefault("max_persons", 4 if max_persons is None else max_persons)
    return as_multi(get_detector(key, **kw))
