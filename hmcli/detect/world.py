"""The detector's own 3D: BlazePose's world landmarks, recorded frame by frame.

MediaPipe's pose graph returns, beside the 2D landmarks, ``pose_world_landmarks``: the same 33
landmarks in metres, origin at the midpoint of the hips, axes like the camera's (x right, y
down, z away from the camera), one model's 3D estimate. Both MediaPipe backends keep the last
frame's in ``last_world`` (:class:`~hmcli.detect.mediapipe_pose.MediaPipePose`: ``(33, 3)`` or
None; the Tasks backend: a list per person), so recording them costs nothing on the normal
path: :class:`WorldRecorder` wraps a one-person detector, reads ``last_world`` after each
``detect`` and stacks them.

::

    kp, world = detect_video_world("clip.mp4")      # Keypoints2D, (F, 33, 3) metres (nan: no person)
"""

from __future__ import annotations

import os

import numpy as np

from hmcli.detect.base import DetectorWrapper
from hmcli.io.atomic import HMError
from hmcli.types import Keypoints2D

__all__ = ["WorldRecorder", "detect_video_world"]


class WorldRecorder(DetectorWrapper):
    """A one-person detector that also records its world landmarks.

    ``detect`` is the wrapped detector's; after it, ``last_world`` ((J, 3) metres, or None) is
    appended to ``frames`` (nan for frames where nobody was found or the detector had no world
    landmarks). ``world`` stacks them: (F, J, 3) float32. ``close`` closes the wrapped detector.
    Raises HMError for a detector that keeps no ``last_world`` (only the MediaPipe backends do).
    """

    def __init__(self, detector) -> None:
        if not hasattr(detector, "last_world") or not callable(getattr(detector, "detect", None)):
            raise HMError(f"detector {getattr(detector, 'name', type(detector).__name__)!r} gives no 3D world "
                          "landmarks (the mediapipe detector does)")  # fmt: skip
        super().__init__(detector)
        self.frames: list[np.ndarray | None] = []

    def detect(self, frame_bgr: np.ndarray, timestamp: float = 0.0) -> tuple[np.ndarray, np.ndarray, bool]:
        xy, conf, found = self.detector.detect(frame_bgr, timestamp)
        w = self.detector.last_world if found else None
        if isinstance(w, list):  # the Tasks backend: per person; detect() took the most confident one
            w = None if len(w) != 1 else w[0]
        self.frames.append(None if w is None else np.asarray(w, np.float32).copy())
        return xy, conf, found

    @property
    def world(self) -> np.ndarray:
        """(F, J, 3) float32 metres; nan rows where there was none."""
        shapes = {w.shape for w in self.frames if w is not None}
        if len(shapes) > 1:
            raise HMError(f"world landmarks changed shape between frames: {sorted(shapes)}")
        shape = shapes.pop() if shapes else (33, 3)
        nan = np.full(shape, np.nan, np.float32)
        if not self.frames:
            return np.zeros((0, *shape), np.float32)
        return np.stack([nan if w is None else w for w in self.frames])


def detect_video_world(
    source: str | os.PathLike | int,
    detector="mediapipe",
    on_frame=None,
    *,
    max_frames: int | None = None,
    **detector_kw,
) -> tuple[Keypoints2D, np.ndarray]:
    """:func:`hmcli.detect.detect_video` that also returns the detector's world landmarks
    ``(F, 33, 3)`` (metres, hip-centred, camera-like axes; nan where nobody was found).
    ``detector``: a registry name or a detector object with ``last_world`` (left open)."""
    from hmcli.detect.base import detect_video, get_detector

    own = isinstance(detector, str)
    det = get_detector(detector, **detector_kw) if own else detector
    try:
        rec = WorldRecorder(det)
        kp = detect_video(source, rec, on_frame, max_frames=max_frames)
        return kp, rec.world
    finally:
        if own:
            det.close()
