"""Detector protocol, the loop that runs a detector over frames, and the backend registry.

A detector turns one BGR frame into one person's 2D keypoints. ``run_detector``
calls it on every frame and stacks the results into ``Keypoints2D``; frames
without a person are kept (conf 0, ``detected`` False) so that frame indices
and timestamps stay aligned with the video.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

import numpy as np

from hmcli.io.atomic import HMError
from hmcli.types import Keypoints2D

__all__ = [
    "Detector",
    "OnFrame",
    "run_detector",
    "detect_video",
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
    from hmcli.io.video import iter_frames, probe_video, sha256_file

    camera = isinstance(source, int) and not isinstance(source, bool)
    camera = camera or (isinstance(source, str) and source.isdigit() and not os.path.exists(source))
    num_frames = None
    src_name = f"camera:{int(source)}" if camera else str(source)
    src_hash = None
    if not camera:
        info = probe_video(source)  # type: ignore[arg-type]
        num_frames = info.num_frames if max_frames is None else min(info.num_frames, max_frames)
        src_hash = sha256_file(source)  # type: ignore[arg-type]
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


# ---------------------------------------------------------------- registry

_INSTALL_HINT = {
    "mediapipe": "install with pip install -c constraints.txt -e '.[mediapipe]'",
    "mmpose": "mmpose is opt-in and needs a manual install (mmpose>=1.3, mmcv, mmdet); see hmcli/detect/README.md",
}

# name -> (module, factory attribute, python package the backend needs, install-hint key)
_BUILTIN: dict[str, tuple[str, str, str, str]] = {
    "mediapipe": ("hmcli.detect.mediapipe_pose", "MediaPipePose", "mediapipe", "mediapipe"),
    "mmpose": ("hmcli.detect.mmpose_backend", "MMPoseTopDown", "mmpose", "mmpose"),
}
_ALIASES = {"blazepose": "mediapipe", "mediapipe_pose": "mediapipe"}
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
