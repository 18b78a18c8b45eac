"""BlazePose (33 landmarks) through MediaPipe's legacy ``solutions.pose`` API.

Runs fully offline with the models bundled in the ``mediapipe`` wheel
(``pose_detection.tflite`` + ``pose_landmark_full.tflite``, i.e. model_complexity=1).
Install with ``pip install -c constraints.txt -e '.[mediapipe]'`` (see README.md here).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import cv2
import numpy as np

from hmcli.io.atomic import HMError
from hmcli.skeleton.joints import BLAZEPOSE33

__all__ = ["MediaPipePose", "BLAZEPOSE33_NAMES"]

BLAZEPOSE33_NAMES = BLAZEPOSE33.joints

# model_complexity -> landmark model file the wheel must contain (others are downloaded
# by mediapipe on first use, which fails offline).
_LANDMARK_MODEL = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}


def _mediapipe_dir() -> Path:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        raise HMError(
            "detector 'mediapipe' needs the 'mediapipe' package, which is not installed; "
            "install with pip install -c constraints.txt -e '.[mediapipe]'"
        )
    return Path(spec.origin).parent


class MediaPipePose:
    """One-person BlazePose detector; ``detect`` returns 33 landmarks in pixels.

    conf is the landmark visibility. With ``static_image_mode=False`` (default)
    MediaPipe tracks the person from frame to frame and smooths landmarks, so
    frames must be given in order; ``timestamp`` is not used by this API.
    """

    joint_set = "blazepose33"

    def __init__(
        self,
        model_complexity: int = 1,
        static_image_mode: bool = False,
        smooth_landmarks: bool = True,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        if model_complexity not in _LANDMARK_MODEL:
            raise HMError(f"model_complexity must be 0, 1 or 2, got {model_complexity}")
        root = _mediapipe_dir()
        model = root / "modules" / "pose_landmark" / _LANDMARK_MODEL[model_complexity]
        if not model.is_file():
            raise HMError(
                f"mediapipe model_complexity={model_complexity} needs {model.name}, which is not bundled "
                "with mediapipe (it would be downloaded); use model_complexity=1"
            )
        # Quiet the C++ (glog/absl) INFO lines unless the user configured logging.
        os.environ.setdefault("GLOG_minloglevel", "2")
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except ImportError as e:
            raise HMError(f"mediapipe is installed but cannot be imported ({e}); reinstall the '.[mediapipe]' extra") from None
        import mediapipe

        self.name = f"mediapipe-{getattr(mediapipe, '__version__', '?')}/blazepose-{model.stem.rsplit('_', 1)[-1]}"
        self._pose = mp_pose.Pose(
            static_image_mode=static_image_mode,
            model_complexity=model_complexity,
            smooth_landmarks=smooth_landmarks,
            enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        self.last_world: np.ndarray | None = None  # (33, 3) metres, hip-centred, from the last found frame

    def detect(self, frame_bgr: np.ndarray, timestamp: float = 0.0) -> tuple[np.ndarray, np.ndarray, bool]:
        if self._pose is None:
            raise RuntimeError("detector is closed")
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got {frame_bgr.shape} {frame_bgr.dtype}")
        h, w = frame_bgr.shape[:2]
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        rgb.flags.writeable = False
        result = self._pose.process(rgb)
        if result.pose_landmarks is None:
            self.last_world = None
            return np.zeros((33, 2), np.float32), np.zeros((33,), np.float32), False
        lms = result.pose_landmarks.landmark
        arr = np.array([(lm.x, lm.y, lm.visibility) for lm in lms], dtype=np.float32)
        xy = arr[:, :2] * np.array([w, h], dtype=np.float32)
        conf = np.clip(arr[:, 2], 0.0, 1.0)
        self.last_world = None  # never a stale earlier frame's
        if result.pose_world_landmarks is not None:
            self.last_world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark], np.float32)
        return xy, conf, True

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def __enter__(self) -> MediaPipePose:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
