"""Typed containers passed between pipeline stages (detect -> lift -> mesh -> write):
``Keypoints2D``, ``Pose3DResult``, and the result of ``hm mesh``, ``MeshResult`` (a body model
fitted to a lifted clip) with its pinhole ``Camera``.

Several persons: ``MultiKeypoints2D`` holds P tracked persons over the same F frames as
arrays with a leading person axis, ``(P, F, J, C)``, a validity mask ``detected (P, F)`` and
the tracker's ``track_ids (P,)``; ``person(p)`` is person p as a one-person ``Keypoints2D``, so
every single-person stage runs on it unchanged. ``MultiPose3DResult`` and ``MultiMeshResult``
are the per-person results of those stages with the same track ids. A one-person clip is the
case P = 1 (``from_single``)."""

from __future__ import annotations

from collections.abc import Sequence
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

    def span(self) -> tuple[int, int] | None:
        """``(first, stop)``: from the first to one past the last frame with a person; None if none."""
        idx = np.flatnonzero(np.asarray(self.detected, bool))
        return (int(idx[0]), int(idx[-1]) + 1) if idx.size else None

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


# ------------------------------------------------------------------ several persons


def _track_ids(track_ids, p: int) -> np.ndarray:
    ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
    if ids.shape != (p,):
        raise ValueError(f"track_ids must be ({p},), got {ids.shape}")
    if len(set(ids.tolist())) != p:
        raise ValueError(f"track_ids must be distinct, got {ids.tolist()}")
    return ids


@dataclass
class MultiKeypoints2D:
    """2D keypoints of P tracked persons over the same F frames.

    xy: (P, F, J, 2) float32 pixels; conf: (P, F, J) float32 in [0, 1];
    detected: (P, F) bool, person p seen in frame f (xy/conf are 0 where not);
    track_ids: (P,) int64, the tracker's id of each row (distinct);
    timestamps: (F,) float64 seconds. Rows are ordered by first appearance, then track id.
    """

    xy: np.ndarray
    conf: np.ndarray
    detected: np.ndarray
    track_ids: np.ndarray
    joint_set: str
    timestamps: np.ndarray
    width: int
    height: int
    detector: str = "unknown"
    source: str | None = None
    source_hash: str | None = None

    def __post_init__(self) -> None:
        if self.xy.ndim != 4 or self.xy.shape[3] != 2:
            raise ValueError(f"xy must be (P, F, J, 2), got {self.xy.shape}")
        p, f = self.xy.shape[:2]
        if self.conf.shape != self.xy.shape[:3]:
            raise ValueError(f"conf must be {self.xy.shape[:3]}, got {self.conf.shape}")
        if self.detected.shape != (p, f):
            raise ValueError(f"detected must be ({p}, {f}), got {self.detected.shape}")
        if self.timestamps.shape != (f,):
            raise ValueError(f"timestamps must be ({f},), got {self.timestamps.shape}")
        self.track_ids = _track_ids(self.track_ids, p)

    @property
    def num_persons(self) -> int:
        return int(self.xy.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[1])

    @property
    def fps(self) -> float:
        return self.person_or_empty().fps

    def person_or_empty(self) -> Keypoints2D:
        """Person 0, or an all-undetected one-person view when there are no persons."""
        if self.num_persons:
            return self.person(0)
        f, j = self.num_frames, self.xy.shape[2]
        return Keypoints2D(np.zeros((f, j, 2), np.float32), np.zeros((f, j), np.float32), self.joint_set,
                           self.timestamps, self.width, self.height, np.zeros(f, bool), self.detector,
                           self.source, self.source_hash)  # fmt: skip

    def person(self, p: int) -> Keypoints2D:
        """Row ``p`` (not the track id) as a one-person ``Keypoints2D``."""
        return Keypoints2D(self.xy[p], self.conf[p], self.joint_set, self.timestamps, self.width, self.height,
                           self.detected[p], self.detector, self.source, self.source_hash)  # fmt: skip

    def persons(self) -> list[Keypoints2D]:
        return [self.person(p) for p in range(self.num_persons)]

    def index_of(self, track_id: int) -> int:
        """Row of ``track_id``; ValueError when no person has it."""
        hits = np.flatnonzero(self.track_ids == int(track_id))
        if not hits.size:
            raise ValueError(f"no person with track id {track_id} (ids: {self.track_ids.tolist()})")
        return int(hits[0])

    def first(self, n: int | None) -> MultiKeypoints2D:
        if n is None or self.num_frames <= n:
            return self
        return replace(self, xy=self.xy[:, :n], conf=self.conf[:, :n], detected=self.detected[:, :n],
                       timestamps=self.timestamps[:n])  # fmt: skip

    @classmethod
    def from_single(cls, kp: Keypoints2D, track_id: int = 0) -> MultiKeypoints2D:
        return cls.from_persons([kp], [track_id])

    @classmethod
    def from_persons(cls, persons: Sequence[Keypoints2D], track_ids: Sequence[int] | np.ndarray,
                     *, template: Keypoints2D | None = None) -> MultiKeypoints2D:  # fmt: skip
        """Stack one-person sequences (same frames, size and layout). ``template`` gives the
        frames and metadata when ``persons`` is empty (P = 0)."""
        base = persons[0] if persons else template
        if base is None:
            raise ValueError("from_persons needs at least one person or a template")
        for k in persons:
            if (k.num_frames, k.joint_set, k.width, k.height) != (base.num_frames, base.joint_set, base.width,
                                                                   base.height):  # fmt: skip
                raise ValueError("persons must share frames, joint set and image size")
        f, j = base.xy.shape[:2]
        return cls(
            xy=np.stack([k.xy for k in persons]).astype(np.float32) if persons else np.zeros((0, f, j, 2), np.float32),
            conf=np.stack([k.conf for k in persons]).astype(np.float32) if persons else np.zeros((0, f, j), np.float32),
            detected=np.stack([np.asarray(k.detected, bool) for k in persons]) if persons else np.zeros((0, f), bool),
            track_ids=np.asarray(track_ids, np.int64),
            joint_set=base.joint_set, timestamps=base.timestamps, width=base.width, height=base.height,
            detector=base.detector, source=base.source, source_hash=base.source_hash,
        )  # fmt: skip


@dataclass
class MultiPose3DResult:
    """Lifted results of P tracked persons over the same frames: ``persons[p]`` is row p's
    :class:`Pose3DResult` (joints3d NaN where that person has no estimate), ``track_ids (P,)``."""

    persons: list[Pose3DResult]
    track_ids: np.ndarray
    kpts2d_template: Keypoints2D | None = None  # frames and metadata when P = 0

    def __post_init__(self) -> None:
        self.track_ids = _track_ids(self.track_ids, len(self.persons))
        if not self.persons and self.kpts2d_template is None:
            raise ValueError("a result without persons needs kpts2d_template (its frames)")
        nf = {r.joints3d.shape[0] for r in self.persons}
        if len(nf) > 1:
            raise ValueError(f"persons must share the frames, got frame counts {sorted(nf)}")

    @property
    def num_persons(self) -> int:
        return len(self.persons)

    @property
    def num_frames(self) -> int:
        return self.persons[0].joints3d.shape[0] if self.persons else self.kpts2d_template.num_frames

    @property
    def kpts2d(self) -> MultiKeypoints2D:
        return MultiKeypoints2D.from_persons([r.kpts2d for r in self.persons], self.track_ids,
                                             template=self.kpts2d_template)  # fmt: skip

    @property
    def joints3d(self) -> np.ndarray:
        """(P, F, K, 3) float32 metres."""
        if not self.persons:
            return np.zeros((0, self.num_frames, 17, 3), np.float32)
        return np.stack([r.joints3d for r in self.persons]).astype(np.float32)

    def person(self, p: int) -> Pose3DResult:
        return self.persons[p]

    @classmethod
    def from_single(cls, res: Pose3DResult, track_id: int = 0) -> MultiPose3DResult:
        return cls([res], np.asarray([track_id], np.int64))

    def first(self, n: int | None) -> MultiPose3DResult:
        tmpl = None if self.kpts2d_template is None else self.kpts2d_template.first(n)
        return MultiPose3DResult([r.first(n) for r in self.persons], self.track_ids, tmpl)


@dataclass
class MultiMeshResult:
    """``hm mesh`` results of P tracked persons over the same frames: ``persons[p]`` is row p's
    :class:`MeshResult` (one body shape per person), ``track_ids (P,)``."""

    persons: list[MeshResult]
    track_ids: np.ndarray

    def __post_init__(self) -> None:
        self.track_ids = _track_ids(self.track_ids, len(self.persons))
        if not self.persons:
            raise ValueError("a mesh result needs at least one person")

    @property
    def num_persons(self) -> int:
        return len(self.persons)

    @property
    def num_frames(self) -> int:
        return self.persons[0].num_frames

    def person(self, p: int) -> MeshResult:
        return self.persons[p]

    @classmethod
    def from_single(cls, res: MeshResult, track_id: int = 0) -> MultiMeshResult:
        return cls([res], np.asarray([track_id], np.int64))
