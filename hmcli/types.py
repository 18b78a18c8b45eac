"""Typed containers passed between pipeline stages (detect -> lift -> mesh -> write):
``Keypoints2D``, ``Pose3DResult``, and the result of ``hm mesh``, ``MeshResult`` (a body model
fitted to a lifted clip) with its pinhole ``Camera``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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
        if self.xy.ndim != 3 or self.xy.shape[2] != 2:
            raise ValueError(f"xy must be (F, J, 2), got {self.xy.shape}")
        f = self.xy.shape[0]
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

    def first(self, n: int | None) -> Keypoints2D:
        """The first ``n`` frames (all of them for ``n`` None or not fewer than there are)."""
        if n is None or self.num_frames <= n:
            return self
        return replace(self, xy=self.xy[:n], conf=self.conf[:n], timestamps=self.timestamps[:n],
                       detected=self.detected[:n])  # fmt: skip


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

    def first(self, n: int | None) -> Pose3DResult:
        """The first ``n`` frames (all of them for ``n`` None or not fewer than there are)."""
        if n is None or self.joints3d.shape[0] <= n:
            return self
        return replace(self, joints3d=self.joints3d[:n], kpts2d=self.kpts2d.first(n))


@dataclass(frozen=True)
class Camera:
    """Pinhole camera of the video: x right, y down, z forward; pixels."""

    focal: float   # px (same for x and y)
    cx: float      # px
    cy: float      # px

    def project(self, pts: np.ndarray) -> np.ndarray:
        """(..., 3) camera-space metres -> (..., 2) pixels."""
        z = np.maximum(pts[..., 2:3], 1e-6)
        return pts[..., :2] / z * self.focal + np.array([self.cx, self.cy], dtype=pts.dtype)


@dataclass
class MeshResult:
    """Per-frame body model parameters in camera space.

    pose: (F, K, 3) float32 axis-angle, local joint rotations of the body model's kinematic
      tree (``joint_names``/``parents``); joint 0's rotation is the global orientation in
      camera axes (x right, y down, z forward).
    betas: (S,) float32, one shape for the clip.
    transl: (F, 3) float32 metres, added to every vertex (SMPL's convention): camera-space
      vertices = body_model.vertices(betas, pose) + transl.
    joints3d: (F, 17, 3) float32 camera-space H36M-17 keypoints of the fitted body, metres.
    valid: (F,) bool, False on frames without a person (parameters there are interpolated).
    vertices: (F, V, 3) float32 camera-space metres, or None when not kept.
    faces: (Fc, 3) int32.
    quality: fit figures (see ``hmcli.mesh.fit``), floats.
    root_rest: (3,) the root joint's rest position for ``betas`` (needed to re-express the
      pose in another world frame, e.g. AMASS's Y-up).
    lift: the lifted input (2D keypoints, root-relative 3D joints, timestamps, provenance).
    """

    body_model: str
    gender: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    joints3d: np.ndarray
    valid: np.ndarray
    faces: np.ndarray
    camera: Camera
    lift: Pose3DResult
    vertices: np.ndarray | None = None
    quality: dict = field(default_factory=dict)
    root_rest: np.ndarray | None = None  # (3,) joint 0's rest position for ``betas``, body-model frame

    @property
    def num_frames(self) -> int:
        return int(self.pose.shape[0])

    @property
    def timestamps(self) -> np.ndarray:
        return self.lift.kpts2d.timestamps

    @property
    def fps(self) -> float:
        return self.lift.kpts2d.fps
