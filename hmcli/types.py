"""Typed containers passed between pipeline stages (detect -> lift -> write)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Keypoints2D:
    """2D keypoints of one person over a sequence of frames.

    xy: (F, J, 2) float32 pixels (x right, y down, origin top-left of the image).
    conf: (F, J) float32 in [0, 1]; 0 for joints not seen (and for whole frames without a person).
    timestamps: (F,) float64 seconds from the start of the video.
    detected: (F,) bool, False where no person was found in that frame.
    """

    xy: np.ndarray
    conf: np.ndarray
    joint_set: str
    timestamps: np.ndarray
    width: int
    height: int
    detected: np.ndarray
    detector: str = "unknown"
    source: str | None = None
    source_hash: str | None = None

    def __post_init__(self) -> None:
        f = self.xy.shape[0]
        if self.xy.ndim != 3 or self.xy.shape[2] != 2:
            raise ValueError(f"xy must be (F, J, 2), got {self.xy.shape}")
        if self.conf.shape != self.xy.shape[:2]:
            raise ValueError(f"conf must be {self.xy.shape[:2]}, got {self.conf.shape}")
        if self.timestamps.shape != (f,) or self.detected.shape != (f,):
            raise ValueError("timestamps and detected must be (F,)")

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])

    @property
    def fps(self) -> float:
        """Median frame rate from the timestamps (nan for fewer than two frames)."""
        if self.num_frames < 2:
            return float("nan")
        d = np.diff(self.timestamps)
        d = d[d > 0]
        return float(1.0 / np.median(d)) if d.size else float("nan")


@dataclass
class Pose3DResult:
    """Output of lifting: H36M-17 joints.

    kpts2d: the H36M-17 2D input (pixels + confidence) the lifter saw.
    joints3d: (F, 17, 3) float32 metres, root-relative (pelvis at 0), camera axes
    (x right, y down, z forward away from the camera).
    """

    kpts2d: Keypoints2D
    joints3d: np.ndarray
    model_id: str
    model_hash: str
    extra: dict = field(default_factory=dict)
