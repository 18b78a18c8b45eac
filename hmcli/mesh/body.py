"""Body models as linear-blend-skinned (LBS) kinematic trees, evaluated in torch.

Every body model hm fits (SMPL / SMPL-X through their files, the open Anny model, the
synthetic test model) is reduced to the same pieces:

* a kinematic tree of K joints (``parents``; SMPL's 24-joint tree for all of them),
* :meth:`BodyModel.rest` -- for a shape vector ``betas`` the rest-pose joint positions and
  the rest positions of the few vertices that hm's H36M-17 keypoints are read from,
* :func:`forward_kinematics` and :func:`skin_points` -- posed joints and posed keypoint
  vertices from per-joint local rotations, without touching the other vertices,
* :meth:`BodyModel.vertices` -- the full mesh, once, at the end (through smplx for SMPL).

Conventions: rotations are local (relative to the parent), in the body's world-aligned rest
frame (SMPL's convention: a joint's rotation turns everything below it about the joint's
rest position); world axes of the body model are Y up, X to the body's left, Z forward,
metres. ``canon`` rotations turn a body model's rest bone directions into the canonical
T-pose's, so that a pose prior learned on one tree serves every model (identity for SMPL,
whose rest pose *is* a T-pose).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "H36M_FROM_SMPL",
    "RestBody",
    "KeypointMap",
    "BodyModel",
    "forward_kinematics",
    "skin_points",
    "posed_keypoints",
    "keypoint_offsets",
    "leg_length",
]

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)

# H36M-17 joint -> SMPL kinematic joint, for the H36M joints that a kinematic joint stands
# for (approximately: H36M's hips sit a little lower and wider than SMPL's, its thorax at
# the neck base). Nose and head (top) come from vertices; see each model's KeypointMap.
H36M_FROM_SMPL: dict[int, int] = {
    0: 0,    # pelvis
    1: 2,    # right hip
    2: 5,    # right knee
    3: 8,    # right ankle
    4: 1,    # left hip
    5: 4,    # left knee
    6: 7,    # left ankle
    7: 6,    # spine      ~ spine2 (mid back)
    8: 12,   # thorax     ~ neck (base of the neck)
    11: 16,  # left shoulder
    12: 18,  # left elbow
    13: 20,  # left wrist
    14: 17,  # right shoulder
    15: 19,  # right elbow
    16: 21,  # right wrist
}


@dataclass(frozen=True)
class KeypointMap:
    """How H36M-17 keypoints are read off a posed body.

    keypoint = joint_w @ posed_joints + vert_w @ posed_vertices[vert_idx]
               + G[offset_joint] @ offset * leg_length

    joint_w: (17, K) weights over kinematic joints; vert_idx: (M,) vertex ids;
    vert_w: (17, M) weights over those vertices. Each row of [joint_w | vert_w] sums to 1.
    offset: optional (17, 3) calibrated offsets (:mod:`hmcli.mesh.calibration`) in the rest
    frame of joint ``offset_joint`` (17,), in units of the body's rest leg length (hip ->
    knee -> ankle of joints ``leg`` (3,)), so they follow the joint's rotation and scale
    with the body. None: no offsets.
    """

    joint_w: torch.Tensor   # (17, K)
    vert_idx: torch.Tensor  # (M,) long
    vert_w: torch.Tensor    # (17, M)
    offset: torch.Tensor | None = None          # (17, 3) leg lengths, rest frame of offset_joint
    offset_joint: torch.Tensor | None = None    # (17,) long
    leg: tuple[int, int, int] = (1, 4, 7)       # hip, knee, ankle joint ids (SMPL tree)


def leg_length(joints: torch.Tensor, leg: tuple[int, int, int]) -> torch.Tensor:
    """Rest leg length (hip -> knee -> ankle) of joints (B, K, 3) -> (B,)."""
    h, k, a = leg
    return (joints[:, k] - joints[:, h]).norm(dim=-1) + (joints[:, a] - joints[:, k]).norm(dim=-1)


def keypoint_offsets(km: KeypointMap, rest_joints: torch.Tensor, glob: torch.Tensor) -> torch.Tensor | None:
    """The calibrated offsets of a keypoint map on a posed body (B, 17, 3), or None.
    rest_joints: (B or 1, K, 3); glob: (B, K, 3, 3) global rotations."""
    if km.offset is None or km.offset_joint is None:
        return None
    off = km.offset.to(glob.dtype) * leg_length(rest_joints, km.leg)[:, None, None]   # (B or 1, 17, 3)
    return (glob[:, km.offset_joint] @ off.unsqueeze(-1)).squeeze(-1)                  # (B, 17, 3)


@dataclass(frozen=True)
class RestBody:
    """A body of one shape in its rest pose: what fitting needs per iteration."""

    joints: torch.Tensor      # (B, K, 3) rest joint positions, metres
    kp_verts: torch.Tensor    # (B, M, 3) rest positions of the keypoint vertices


class BodyModel(ABC):
    """Interface every body model implements (see the module docstring).

    Attributes set by subclasses:
      name: 'smpl', 'smplx', 'anny', 'synthetic'
      parents: (K,) tuple, -1 for the root; parents[k] < k
      joint_names: (K,) tuple
      num_betas: size of the shape vector (betas = 0 is the model's mean/average body)
      faces: (Fc, 3) int64 numpy array of triangle vertex ids
      num_vertices: V
      keypoints: KeypointMap
      kp_weights: (M, K) skinning weights of the keypoint vertices
      canon: (K, 3, 3) rest-to-canonical rotations (identity for T-pose models)
      hinge_axes: dict joint index -> (3,) unit axis (rest frame) about which the joint
        flexes positively (knees, elbows), used by the IK's twist rule and the joint limits
    """

    name: str
    parents: tuple[int, ...]
    joint_names: tuple[str, ...]
    num_betas: int
    faces: np.ndarray
    num_vertices: int
    keypoints: KeypointMap
    kp_weights: torch.Tensor
    canon: torch.Tensor
    hinge_axes: dict[int, torch.Tensor]

    @abstractmethod
    def rest(self, betas: torch.Tensor) -> RestBody:
        """betas (B, S) -> rest joints (B, K, 3) and keypoint vertices (B, M, 3); differentiable."""

    def kp_pose_offsets(self, betas: torch.Tensor, rotmats: torch.Tensor) -> torch.Tensor | None:
        """Pose-dependent corrective offsets of the keypoint vertices (B, M, 3), or None."""
        return None

    @abstractmethod
    def vertices(self, betas: torch.Tensor, rotmats: torch.Tensor) -> torch.Tensor:
        """Full posed mesh (B, V, 3) in the body frame, root joint at its rest position
        (add the translation yourself). betas (B, S) or (1, S), rotmats (B, K, 3, 3)."""

    @property
    def num_joints(self) -> int:
        return len(self.parents)


def forward_kinematics(rotmats: torch.Tensor, rest_joints: torch.Tensor,
                       parents: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Posed joints and global rotations of a kinematic tree.

    rotmats: (B, K, 3, 3) local rotations; rest_joints: (B, K, 3) or (1, K, 3).
    Returns (posed joints (B, K, 3) with the root at its rest position, global rotations
    (B, K, 3, 3)).
    """
    B, K = rotmats.shape[:2]
    rest = rest_joints.expand(B, K, 3)
    glob: list[torch.Tensor] = [rotmats[:, 0]]          # (B, 3, 3) each
    pos: list[torch.Tensor] = [rest[:, 0]]              # (B, 3) each
    for k in range(1, K):
        p = parents[k]
        off = (rest[:, k] - rest[:, p]).unsqueeze(-1)   # (B, 3, 1)
        pos.append(pos[p] + (glob[p] @ off).squeeze(-1))
        glob.append(glob[p] @ rotmats[:, k])
    return torch.stack(pos, 1), torch.stack(glob, 1)    # (B, K, 3), (B, K, 3, 3)


def skin_points(points: torch.Tensor, weights: torch.Tensor, glob: torch.Tensor,
                posed_joints: torch.Tensor, rest_joints: torch.Tensor) -> torch.Tensor:
    """Linear blend skinning of a few rest points.

    points: (B or 1, M, 3) rest positions (pose correctives already added); weights: (M, K);
    glob: (B, K, 3, 3) global rotations; posed_joints / rest_joints: (B, K, 3) / (B or 1, K, 3).
    Each joint's transform maps x -> G_k (x - rest_k) + posed_k. Returns (B, M, 3).
    """
    # per joint: x' = G x + (posed - G rest)
    t = posed_joints - (glob @ rest_joints.expand_as(posed_joints).unsqueeze(-1)).squeeze(-1)  # (B, K, 3)
    A = torch.einsum("mk,bkij->bmij", weights, glob)      # (B, M, 3, 3)
    b = torch.einsum("mk,bki->bmi", weights, t)           # (B, M, 3)
    return (A @ points.expand(glob.shape[0], -1, -1).unsqueeze(-1)).squeeze(-1) + b


def posed_keypoints(model: BodyModel, rest: RestBody, rotmats: torch.Tensor,
                    betas: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """H36M-17 keypoints and all kinematic joints of a posed body, root at its rest position.

    rotmats: (B, K, 3, 3). Returns (keypoints (B, 17, 3), joints (B, K, 3)). Only the M
    keypoint vertices are skinned, so the cost does not grow with the mesh.
    """
    joints, glob = forward_kinematics(rotmats, rest.joints, model.parents)   # (B, K, 3), (B, K, 3, 3)
    km = model.keypoints
    kp = km.joint_w @ joints                                                  # (B, 17, 3)
    if km.vert_idx.numel():
        pts = rest.kp_verts
        if betas is not None:
            off = model.kp_pose_offsets(betas, rotmats)
            if off is not None:
                pts = pts + off
        v = skin_points(pts, model.kp_weights, glob, joints, rest.joints)    # (B, M, 3)
        kp = kp + km.vert_w @ v
    off = keypoint_offsets(km, rest.joints, glob)
    if off is not None:
        kp = kp + off
    return kp, joints


# Canonical T-pose bone directions (hm body axes: Y up, X = body's left, Z forward), by the
# joint a bone starts at, towards its main child.
CANONICAL_BONES: dict[str, tuple[str, tuple[float, float, float]]] = {
    "left_hip": ("left_knee", (0.0, -1.0, 0.0)),
    "right_hip": ("right_knee", (0.0, -1.0, 0.0)),
    "left_knee": ("left_ankle", (0.0, -1.0, 0.0)),
    "right_knee": ("right_ankle", (0.0, -1.0, 0.0)),
    "left_ankle": ("left_foot", (0.0, 0.0, 1.0)),
    "right_ankle": ("right_foot", (0.0, 0.0, 1.0)),
    "spine1": ("spine2", (0.0, 1.0, 0.0)),
    "spine2": ("spine3", (0.0, 1.0, 0.0)),
    "spine3": ("neck", (0.0, 1.0, 0.0)),
    "neck": ("head", (0.0, 1.0, 0.0)),
    "left_collar": ("left_shoulder", (1.0, 0.0, 0.0)),
    "right_collar": ("right_shoulder", (-1.0, 0.0, 0.0)),
    "left_shoulder": ("left_elbow", (1.0, 0.0, 0.0)),
    "right_shoulder": ("right_elbow", (-1.0, 0.0, 0.0)),
    "left_elbow": ("left_wrist", (1.0, 0.0, 0.0)),
    "right_elbow": ("right_wrist", (-1.0, 0.0, 0.0)),
    "left_wrist": ("left_hand", (1.0, 0.0, 0.0)),
    "right_wrist": ("right_hand", (-1.0, 0.0, 0.0)),
}

# Flexion axes of the hinge-like joints in the canonical T-pose (positive = anatomical bend).
CANONICAL_HINGES: dict[str, tuple[float, float, float]] = {
    "left_knee": (1.0, 0.0, 0.0),
    "right_knee": (1.0, 0.0, 0.0),
    "left_elbow": (0.0, -1.0, 0.0),
    "right_elbow": (0.0, 1.0, 0.0),
}


def canonical_rotations(rest_joints: torch.Tensor, joint_names: tuple[str, ...]) -> torch.Tensor:
    """(K, 3, 3) rotations C_k turning each rest bone (k -> main child) onto its canonical
    T-pose direction (identity for joints without one). A local rotation L of the model is
    the canonical local ``C_parent L C_k^T`` (see :func:`to_canonical`)."""
    from hmcli.mesh.rotations import rotation_between

    K = len(joint_names)
    idx = {n: i for i, n in enumerate(joint_names)}
    out = torch.eye(3, dtype=rest_joints.dtype).repeat(K, 1, 1)
    for name, (child, d) in CANONICAL_BONES.items():
        if name in idx and child in idx:
            bone = rest_joints[idx[child]] - rest_joints[idx[name]]
            out[idx[name]] = rotation_between(bone, torch.tensor(d, dtype=rest_joints.dtype))
    return out


def to_canonical(rotmats: torch.Tensor, canon: torch.Tensor, parents: tuple[int, ...]) -> torch.Tensor:
    """Model local rotations (..., K, 3, 3) -> canonical T-pose locals: C_p L_k C_k^T
    (the root keeps its parent frame: C_root L_root C_root^T with C_root = I)."""
    par = torch.tensor([p if p >= 0 else 0 for p in parents])
    cp = canon[par].clone()                                                    # (K, 3, 3)
    cp[torch.tensor([p < 0 for p in parents])] = torch.eye(3, dtype=canon.dtype)
    return cp @ rotmats @ canon.transpose(-1, -2)


# Median proportions of the lifter's training skeleton (CMU motion capture, training
# subjects, H36M-17 as hmcli.data.cmu defines it), in units of the leg length (hip -> knee ->
# ankle, 836 mm): the pelvis sits 105 mm above the midpoint of the hips (137 mm from each,
# hips 175 mm apart), the spine 177 mm and the thorax 353 mm from the pelvis, the head 280 mm
# from the thorax; the nose is 9 cm in front of the skull base.
CMU_PELVIS_ABOVE_HIPS = 105.0 / 836.0
CMU_SPINE_OVER_LEG = 177.0 / 836.0
CMU_THORAX_OVER_LEG = 353.0 / 836.0


def _point_at(a: torch.Tensor, b: torch.Tensor, origin: torch.Tensor, dist: float, t_max: float = 1.0) -> float | None:
    """t in [0, t_max] with |(1 - t) a + t b - origin| = dist (distance growing along a -> b), or None."""
    def d(t: float) -> float:
        return float(((1 - t) * a + t * b - origin).norm())

    if d(t_max) < dist:
        return None
    lo, hi = 0.0, t_max
    if d(lo) >= dist:
        return 0.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if d(mid) < dist else (lo, mid)
    return 0.5 * (lo + hi)


def _on_chain(j: torch.Tensor, chain: list[int], origin: torch.Tensor, dist: float) -> tuple[int, int, float]:
    for a, b in zip(chain[:-1], chain[1:]):
        t = _point_at(j[a], j[b], origin, dist, 1.0 if b != chain[-1] else 1.5)
        if t is not None:
            return a, b, t
    return chain[-2], chain[-1], 1.5


def adapt_keypoints_to_cmu(model: BodyModel) -> BodyModel:
    """Place a body model's H36M pelvis, spine and thorax keypoints where the lifter's
    training data (CMU) has them, at CMU's median distances relative to the leg length
    (constants above), as blends of two joints of the pelvis -> spine -> neck chain. Nose and
    head stay surface points: moving them towards the head joint (CMU's "head" is the end of
    its head bone) left the head's orientation to the nose alone and made round-trip head
    errors worse (Anny: 48-106 mm), so they are down-weighted in the fit instead.

    Why: body models put their root at the hips and their neck joint high in the neck, while
    CMU's pelvis is 10 cm above the hip joints and its thorax at the base of the neck. Mapped
    joint-to-joint, every fitted
    spine bends and every leg is 10 cm off. The IK treats the blends as points carried by the
    shallower joint (the root's pose then comes from a Kabsch fit with translation). In
    place; returns the model."""
    names = {n: i for i, n in enumerate(model.joint_names)}
    need = ("pelvis", "spine1", "spine2", "neck", "left_hip", "right_hip", "left_knee", "left_ankle")
    if any(n not in names for n in need):
        return model
    rest = model.rest(torch.zeros(1, model.num_betas))
    j = rest.joints[0].detach()
    km = model.keypoints
    jw, vw = km.joint_w.clone(), km.vert_w.clone()

    leg = float((j[names["left_knee"]] - j[names["left_hip"]]).norm() + (j[names["left_ankle"]] - j[names["left_knee"]]).norm())
    hips_mid = 0.5 * (j[names["left_hip"]] + j[names["right_hip"]])
    chain = [names[n] for n in ("pelvis", "spine1", "spine2", "spine3", "neck") if n in names]

    def set_blend(row: int, a: int, b: int, t: float) -> torch.Tensor:
        jw[row] = 0
        vw[row] = 0
        jw[row, a], jw[row, b] = 1 - t, t
        return (1 - t) * j[a] + t * j[b]

    pelvis = set_blend(0, *_on_chain(j, chain, hips_mid, CMU_PELVIS_ABOVE_HIPS * leg))
    set_blend(7, *_on_chain(j, chain, pelvis, CMU_SPINE_OVER_LEG * leg))
    set_blend(8, *_on_chain(j, chain, pelvis, CMU_THORAX_OVER_LEG * leg))
    model.keypoints = KeypointMap(jw, km.vert_idx, vw, km.offset, km.offset_joint, km.leg)
    return model


adapt_torso_keypoints = adapt_keypoints_to_cmu
