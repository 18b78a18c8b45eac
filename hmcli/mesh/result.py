"""The typed result of ``hm mesh``: a body model fitted to a lifted clip."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hmcli.types import Pose3DResult

__all__ = ["Camera", "MeshResult"]


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
