"""The open Anny body model (NAVER LABS, Apache-2.0), reduced to hm's 24-joint SMPL-like tree.

What Anny is (package ``anny`` 0.6.2, read from its source):

* Mesh: MakeHuman's base mesh, 13,718 vertices, 27,420 triangles (its ``anny`` topology is
  already triangulated, nudity edits applied); only this own topology is used here -- the
  ``smpl``/``smplx`` topologies download a non-commercial zip.
* Axes and units: anny works in a Blender-like frame, **Z up, the body facing -Y, X = the
  body's left, metres** (MakeHuman's Y-up decimetres turned by +90 deg about X and scaled by
  0.1 at load). hm's axes are Y up, X left, Z forward: ``x_hm = S x_anny`` with
  ``S = [[1,0,0],[0,0,1],[0,-1,0]]`` (a -90 deg turn about X), applied once when the
  reduced arrays are built (:data:`ANNY_TO_HM`).
* Shape: 6 phenotype values in [0, 1] (gender, age, muscle, weight, height, proportions;
  race fixed at 1/3 each, cup size and firmness at 0.5). Each is turned into piecewise-linear
  "hat" coefficients over its anchors (age: newborn -1/3, baby 0, child 1/3, young 2/3, old 1;
  the others evenly spaced in [0, 1]); each of anny's 624 MakeHuman macro targets gets the
  product of the coefficients of the variations it combines, and those 624 weights are
  projected (``@ projection`` (624, 136)) onto a compact orthonormal basis of 136 blendshapes
  of the vertices and of the bone heads. The rest mesh and rest bone heads are therefore
  *linear* in the 136 coefficients and differentiable (piecewise) in the phenotypes; plain
  torch, float64. Bone heads are their own blendshapes (precomputed means of MakeHuman vertex
  groups), so the rest joints need no vertex blending at all.
* Rig: the ``anny`` rig = MakeHuman's default 163-bone rig pruned to 104 bones (tongue, breast,
  facial-expression and zero-weight bones removed, their weights merged into their ancestors).
  Chain: root -> spine05..spine01 -> neck01..neck03 -> head (-> eye.L/R); root -> pelvis.L ->
  upperleg01 -> upperleg02 (twist) -> lowerleg01 -> lowerleg02 (twist) -> foot -> 5 toes x 2-3
  phalanges; spine01 -> clavicle -> shoulder01 (scapula) -> upperarm01 -> upperarm02 (twist)
  -> lowerarm01 -> lowerarm02 (twist) -> wrist -> thumb (finger1-*) and metacarpal1..4 ->
  fingers 2..5.
* Rest orientations: every bone has a rest frame ``P_c = [R_c | h_c]`` (``bone_orientation=
  'cached'``: R_c = special Procrustes of a covariance matrix that is itself a blendshape, so
  R_c depends on the phenotype) and a fixed *reference* orientation ``U_c`` (anny's
  ``reference_bone_orientations``, 0.3-5.7 deg away from the average body's R_c).
* Pose: per-bone 4x4 delta transforms (B, 104, 4, 4), rotation *and* translation. The default
  ``'local-ref'`` parameterization is, bone by bone, ``W_c = W_p [U_p^T D_c U_c | U_p^T (d_c
  + q_c - q_p)]`` with ``q_c - q_p = U_p R_p^T (h_c - h_p)`` and the root's ``W_0 = [U_0^T D_0
  U_0 | U_0^T d_0]``; identity deltas give anny's *reference* pose with the root at the origin,
  not the rest mesh. :func:`anny_local_ref_deltas` inverts this.
* Skinning: plain linear blend skinning, ``v = sum_c w_vc T_c v_rest`` with ``T_c = W_c
  P_c^-1`` and normalized sparse weights (up to 9 bones a vertex) -- anny's ``'lbs'`` and
  ``'warp_lbs'`` methods; no pose correctives. Since ``T_c`` only depends on the posed and
  rest frames' *ratio*, the rest orientations R_c cancel out of the deformation: a bone that
  keeps its rest frame relative to its parent (``W_p^-1 W_c = P_p^-1 P_c``) moves rigidly
  with it, and merging its weights into that parent is exact.
* Cache: anny builds its model data from MakeHuman's target files once (about 90 s on a fast
  machine, 220 s on 2 cores) into ``ANNY_CACHE_DIR`` (default ``~/.cache/anny``), about
  830 MB of safetensors under ``v14/``; later loads take a few seconds.

The reduction (:func:`reduce_anny`): each SMPL joint owns one anny bone (the joint is that
bone's head) or, for ``left_foot``/``right_foot`` and ``left_hand``/``right_hand``, a group of
sibling bones (the joint is the mean of their heads: the toe bases, the knuckles of fingers
2-5). Every other anny bone goes with its nearest owned ancestor (``JOINT_BONES``)::

    pelvis      root (+ spine05, pelvis.L/R)     left_hip   upperleg01.L (+ upperleg02.L)
    spine1      spine04 (+ spine03)              left_knee  lowerleg01.L (+ lowerleg02.L)
    spine2      spine02                          left_ankle foot.L
    spine3      spine01                          left_foot  toe*-1.L (mean; + all toes)
    neck        neck01 (+ neck02, neck03)        left_collar    clavicle.L (+ shoulder01.L)
    head        head (+ eyes)                    left_shoulder  upperarm01.L (+ upperarm02.L)
    left_elbow  lowerarm01.L (+ lowerarm02.L)    left_wrist     wrist.L (+ metacarpals, thumb)
    left_hand   finger2-1..finger5-1.L (mean; + their phalanges)           (right: same, .R)

Plain LBS over these 24 joints with the merged weights reproduces anny's own forward pass to
float precision for any pose of the 24 joints (the other bones rigid with their owner):
measured max vertex error 3e-6 m, hm's float32 against anny's float64 forward driven through
:func:`hm_pose_to_anny` (the tests allow 2e-5 m). No conversion is needed inside
:meth:`AnnyBody.vertices`: hm's rotations are world-aligned about the rest joints and anny's
skinning transforms ``T_c`` don't see its bone frames. :func:`hm_pose_to_anny` expresses an
hm pose in anny's own ``'local-ref'`` deltas, to drive anny itself (the foot and hand groups'
bones get a translation too: they turn about a point that is not their own head; for the
other bones the delta of an hm rest pose is ``A_p A_c^T``, A = U R^T, not the identity,
because anny's reference frames differ from its rest frames).

Shape: ``betas`` (B, 6) are unconstrained; ``phenotype = sigmoid(betas)`` (gender, age,
muscle, weight, height, proportions), so ``betas = 0`` is anny's neutral body (all 0.5: half
male/female, age halfway child-young, 1.63 m). Ages below "baby" (anny age < 0) are out of
reach.

Keypoints (H36M-17, lifter order), through :data:`hmcli.mesh.body.H36M_FROM_SMPL` but for 9/10::

    0 pelvis        root bone head (anny's pelvis centre; between the hips, 1 cm above them)
    1/4 r/l hip     upperleg01 heads (approx.: anny's hips sit high, ~1 cm below the root)
    2/5 knees, 3/6 ankles, 12/15 elbows, 13/16 wrists, 11/14 shoulders: bone heads
    7 spine         spine2 = spine02 head (approx. mid back)
    8 thorax        neck = neck01 head (approx. base of the neck)
    9 nose          vertices: anny's own COCO-17 'nose' regressor (317 weighted vertices)
    10 head (top)   vertex: the top of the skull (highest vertex of the neutral body, 881)

``canon`` (24, 3, 3): for each joint with a main child, the smallest rotation taking the
neutral body's rest bone (joint -> main child) onto the canonical T-pose direction
(:data:`CANONICAL_DIRECTIONS`; legs -Y, arms +-X, spine/neck +Y, ankle -> foot +Z); identity
for the root and the leaves. Anny's rest is an A-pose with the upper arms ~48 deg below
horizontal and the elbows bent ~44 deg forward, so shoulders, elbows and collars get large
canon rotations. ``hinge_axes``: the T-pose axis (knees +X, left elbow -Y, right elbow +Y)
taken back into the model's rest frame with the *parent's* canon, ``canon[parent]^T a``: the
elbow's axis is fixed in the upper arm (hm's IK reads it in the parent's rest frame), and
with anny's bent rest elbow ``canon[elbow]^T a`` would be ~24 deg off the true hinge (the
normal of the upper-arm / forearm plane), while ``canon[shoulder]^T a`` is within ~4 deg.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from hmcli.io.atomic import HMError, atomic_write
from hmcli.mesh.body import (
    H36M_FROM_SMPL,
    SMPL_JOINT_NAMES,
    SMPL_PARENTS,
    BodyModel,
    KeypointMap,
    RestBody,
    forward_kinematics,
    skin_points,
)
from hmcli.mesh.rotations import rotation_between

__all__ = [
    "ANNY_TO_HM",
    "JOINT_BONES",
    "CANONICAL_DIRECTIONS",
    "MAIN_CHILD",
    "T_POSE_HINGES",
    "PHENOTYPE_NAMES",
    "MISSING_ANNY",
    "AnnyArrays",
    "AnnyBody",
    "anny_cache_dir",
    "assign_bones",
    "interp_coefficients",
    "target_variation_table",
    "phenotype_weights",
    "canonical_rotations",
    "hinge_axes_from_canon",
    "anny_local_ref_deltas",
    "hm_pose_to_anny",
    "build_anny_model",
    "reduce_anny",
    "load_anny",
]

MISSING_ANNY = 'the Anny body model needs the mesh extra: pip install -c constraints.txt -e ".[mesh]"'

# x_hm = ANNY_TO_HM @ x_anny: anny is Z up / facing -Y, hm is Y up / facing +Z (X left in both).
ANNY_TO_HM = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

PHENOTYPE_NAMES: tuple[str, ...] = ("gender", "age", "muscle", "weight", "height", "proportions")

# The anny bone(s) each SMPL joint owns; the joint is the (mean) head of its bones. Every other
# anny bone moves with its nearest owned ancestor.
JOINT_BONES: dict[str, tuple[str, ...]] = {
    "pelvis": ("root",),
    "left_hip": ("upperleg01.L",),
    "right_hip": ("upperleg01.R",),
    "spine1": ("spine04",),
    "left_knee": ("lowerleg01.L",),
    "right_knee": ("lowerleg01.R",),
    "spine2": ("spine02",),
    "left_ankle": ("foot.L",),
    "right_ankle": ("foot.R",),
    "spine3": ("spine01",),
    "left_foot": tuple(f"toe{i}-1.L" for i in range(1, 6)),
    "right_foot": tuple(f"toe{i}-1.R" for i in range(1, 6)),
    "neck": ("neck01",),
    "left_collar": ("clavicle.L",),
    "right_collar": ("clavicle.R",),
    "head": ("head",),
    "left_shoulder": ("upperarm01.L",),
    "right_shoulder": ("upperarm01.R",),
    "left_elbow": ("lowerarm01.L",),
    "right_elbow": ("lowerarm01.R",),
    "left_wrist": ("wrist.L",),
    "right_wrist": ("wrist.R",),
    "left_hand": tuple(f"finger{i}-1.L" for i in range(2, 6)),
    "right_hand": tuple(f"finger{i}-1.R" for i in range(2, 6)),
}

# Main child of each joint (-1: none, canon = identity) and the canonical T-pose direction of
# the bone joint -> main child, hm axes.
MAIN_CHILD: tuple[int, ...] = (
    -1, 4, 5, 6, 7, 8, 9, 10, 11, 12, -1, -1, 15, 16, 17, -1, 18, 19, 20, 21, 22, 23, -1, -1,
)
_UP, _DOWN, _LEFT, _RIGHT, _FWD = (0.0, 1.0, 0.0), (0.0, -1.0, 0.0), (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)
CANONICAL_DIRECTIONS: tuple[tuple[float, float, float] | None, ...] = (
    None, _DOWN, _DOWN, _UP, _DOWN, _DOWN, _UP, _FWD, _FWD, _UP, None, None, _UP,
    _LEFT, _RIGHT, None, _LEFT, _RIGHT, _LEFT, _RIGHT, _LEFT, _RIGHT, None, None,
)
# Flexion axes of the canonical T-pose (knees bend the shin back, elbows bring the hand forward).
T_POSE_HINGES: dict[int, tuple[float, float, float]] = {
    4: (1.0, 0.0, 0.0), 5: (1.0, 0.0, 0.0), 18: (0.0, -1.0, 0.0), 19: (0.0, 1.0, 0.0),
}

_FORMAT = 1          # bump when the reduced arrays change meaning
_HEAD_TOP_NAME = "head_top"
_ANNY_RIG = "anny"
_ANNY_TOPOLOGY = "anny"


# --------------------------------------------------------------------------- pure helpers


def anny_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where anny's and hm's Anny caches live: ``cache_dir``, else env ``HM_ANNY_CACHE``,
    else ``~/.cache/hm/anny``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("HM_ANNY_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "hm" / "anny"


def assign_bones(bone_labels: list[str], bone_parents: list[int],
                 joint_bones: dict[str, tuple[str, ...]] = JOINT_BONES,
                 joint_names: tuple[str, ...] = SMPL_JOINT_NAMES,
                 parents: tuple[int, ...] = SMPL_PARENTS) -> tuple[np.ndarray, np.ndarray]:
    """Which reduced joint each anny bone moves with, and the joints as means of bone heads.

    Returns (assign (Nb,) int64: the joint of each bone, its nearest owned ancestor-or-self;
    head_regressor (K, Nb) float64: joint = head_regressor @ bone_heads). Raises ValueError
    if a bone is missing or the owned bones do not form hm's tree (``parents``).
    """
    index = {label: i for i, label in enumerate(bone_labels)}
    owner = np.full(len(bone_labels), -1, dtype=np.int64)
    reg = np.zeros((len(joint_names), len(bone_labels)))
    for k, name in enumerate(joint_names):
        bones = joint_bones[name]
        for b in bones:
            if b not in index:
                raise ValueError(f"anny bone {b!r} (for {name}) is not in the rig")
            owner[index[b]] = k
            reg[k, index[b]] = 1.0 / len(bones)
    assign = np.empty(len(bone_labels), dtype=np.int64)
    for i in range(len(bone_labels)):
        c = i
        while c >= 0 and owner[c] < 0:
            c = bone_parents[c]
        if c < 0:
            raise ValueError(f"anny bone {bone_labels[i]!r} has no owned ancestor")
        assign[i] = owner[c]
    # the owned bones' nearest owned strict ancestor must be the SMPL parent
    for k, name in enumerate(joint_names):
        for b in joint_bones[name]:
            p = bone_parents[index[b]]
            got = -1 if p < 0 else int(assign[p])
            if got != parents[k]:
                raise ValueError(f"anny bone {b!r} hangs below joint {got}, not {parents[k]} ({name})")
    return assign, reg


def interp_coefficients(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear ("hat") coefficients of values ``x`` (B,) over increasing ``anchors``
    (n,) -> (B, n); x is clamped to the anchors' range. A value on an inner anchor takes the
    interval to its left, so the gradient stays non-zero (one-sided) there."""
    n = anchors.shape[0]
    x = torch.where(x < anchors[0], anchors[0], x)
    x = torch.where(x > anchors[-1], anchors[-1], x)
    hi = torch.searchsorted(anchors, x.detach().contiguous(), side="left").clamp(1, n - 1)  # (B,)
    lo_a, hi_a = anchors[hi - 1], anchors[hi]
    t = (x - lo_a) / (hi_a - lo_a)                                   # (B,)
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    return eye[hi - 1] * (1 - t).unsqueeze(-1) + eye[hi] * t.unsqueeze(-1)   # (B, n)


def target_variation_table(mask: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(T, NV) bool mask of the variations each macro target combines -> (T, L) int64 table of
    those variations' columns, padded with NV (a column of ones)."""
    m = torch.as_tensor(np.asarray(mask)).bool()
    T, NV = m.shape
    L = int(m.sum(1).max())
    table = torch.full((T, L), NV, dtype=torch.int64)
    for t in range(T):
        cols = torch.nonzero(m[t]).flatten()
        table[t, : cols.numel()] = cols
    return table


def phenotype_weights(phen: torch.Tensor, anchors: list[torch.Tensor], var_index: torch.Tensor,
                      var_const: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Weights of anny's macro targets for phenotypes ``phen`` (B, 6) in [0, 1].

    anchors: 6 tensors, the anchors of each phenotype; var_const: (C0,) values of the fixed
    variations (race, cup size, firmness); var_index: (NV,) each variation's column in
    [hat coefficients of the 6 phenotypes..., var_const...]; table: (T, L) the variations each
    target combines (:func:`target_variation_table`). Returns (B, T): the product of each
    target's variation values.
    """
    B = phen.shape[0]
    cols = [interp_coefficients(phen[:, f], a.to(phen)) for f, a in enumerate(anchors)]     # (B, n_f)
    cols.append(var_const.to(phen).expand(B, -1))
    values = torch.cat(cols, 1)[:, var_index.to(phen.device)]         # (B, NV)
    values = torch.cat([values, torch.ones_like(values[:, :1])], 1)   # (B, NV + 1)
    table = table.to(phen.device)
    w = values[:, table[:, 0]]                                        # (B, T)
    for i in range(1, table.shape[1]):                                # a product of columns
        w = w * values[:, table[:, i]]                                # (cheaper backward than prod)
    return w


def canonical_rotations(rest_joints: torch.Tensor, main_child: tuple[int, ...] = MAIN_CHILD,
                        directions: tuple = CANONICAL_DIRECTIONS) -> torch.Tensor:
    """(K, 3) rest joints -> (K, 3, 3): the smallest rotation turning each rest bone
    (joint -> main child) onto its canonical direction; identity without a main child."""
    K = rest_joints.shape[0]
    out = torch.eye(3, dtype=rest_joints.dtype).repeat(K, 1, 1)     # (K, 3, 3)
    for k in range(K):
        c, d = main_child[k], directions[k]
        if c < 0 or d is None:
            continue
        out[k] = rotation_between(rest_joints[c] - rest_joints[k], torch.tensor(d, dtype=rest_joints.dtype))
    return out


def hinge_axes_from_canon(canon: torch.Tensor, parents: tuple[int, ...] = SMPL_PARENTS,
                          t_pose: dict[int, tuple[float, float, float]] = T_POSE_HINGES) -> dict[int, torch.Tensor]:
    """Each hinge joint's T-pose flexion axis in the model's rest frame: canon[parent]^T a."""
    return {k: canon[parents[k]].T @ torch.tensor(a, dtype=canon.dtype) for k, a in t_pose.items()}


def _rigid(R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3), (..., 3) -> (..., 4, 4)."""
    H = torch.zeros(R.shape[:-2] + (4, 4), dtype=R.dtype, device=R.device)
    H[..., :3, :3] = R
    H[..., :3, 3] = t
    H[..., 3, 3] = 1.0
    return H


def anny_local_ref_deltas(world: torch.Tensor, rest: torch.Tensor, reference: torch.Tensor,
                          bone_parents: list[int]) -> torch.Tensor:
    """Anny's ``'local-ref'`` pose parameters giving posed bone frames ``world``.

    world: (B, Nb, 4, 4) posed frames W_c; rest: (B, Nb, 4, 4) rest frames P_c = [R_c | h_c];
    reference: (Nb, 3, 3) reference orientations U_c; all anny axes. Inverts anny's chain
    W_c = W_p [U_p^T D_c U_c | U_p^T (d_c + A_p (h_c - h_p))], A_p = U_p R_p^T (A_root = I),
    W_0 = [U_0^T D_0 U_0 | U_0^T d_0]. Returns the deltas [D_c | d_c] (B, Nb, 4, 4).
    """
    par = torch.tensor([0] + list(bone_parents[1:]), device=world.device)
    U = reference.to(world)                                          # (Nb, 3, 3)
    R, h = rest[..., :3, :3], rest[..., :3, 3]                       # (B, Nb, 3, 3), (B, Nb, 3)
    WR, w = world[..., :3, :3], world[..., :3, 3]
    A = U.unsqueeze(0) @ R.transpose(-1, -2)                         # (B, Nb, 3, 3)
    A = torch.cat([torch.eye(3, dtype=A.dtype, device=A.device).expand_as(A[:, :1]), A[:, 1:]], 1)
    q_off = (A[:, par] @ (h - h[:, par]).unsqueeze(-1)).squeeze(-1)  # (B, Nb, 3)
    LR = WR[:, par].transpose(-1, -2) @ WR                           # (B, Nb, 3, 3) W_p^-1 W_c
    Lt = (WR[:, par].transpose(-1, -2) @ (w - w[:, par]).unsqueeze(-1)).squeeze(-1)
    Up = U[par]
    D = Up @ LR @ U.transpose(-1, -2)                                # (B, Nb, 3, 3)
    d = (Up @ Lt.unsqueeze(-1)).squeeze(-1) - q_off                  # (B, Nb, 3)
    D0 = U[0] @ WR[:, 0] @ U[0].T
    d0 = (U[0] @ w[:, 0].unsqueeze(-1)).squeeze(-1)
    D = torch.cat([D0.unsqueeze(1), D[:, 1:]], 1)
    d = torch.cat([d0.unsqueeze(1), d[:, 1:]], 1)
    return _rigid(D, d)


def hm_pose_to_anny(rotmats: torch.Tensor, rest_joints: torch.Tensor, assign: torch.Tensor,
                    rest_bone_poses: torch.Tensor, reference: torch.Tensor,
                    bone_parents: list[int], parents: tuple[int, ...] = SMPL_PARENTS) -> torch.Tensor:
    """An hm pose of the reduced tree as anny ``'local-ref'`` pose parameters.

    rotmats: (B, K, 3, 3) hm local rotations (world-aligned, about the rest joints, hm axes);
    rest_joints: (B or 1, K, 3) hm axes; assign: (Nb,) joint of each anny bone;
    rest_bone_poses: (B or 1, Nb, 4, 4) anny's rest frames (anny axes, from its
    ``get_rest_model``); reference: (Nb, 3, 3). Every anny bone takes its joint's rigid motion
    x -> G_k (x - rest_k) + posed_k (root at its rest position). Returns (B, Nb, 4, 4).
    """
    B = rotmats.shape[0]
    S = torch.as_tensor(ANNY_TO_HM, dtype=rotmats.dtype, device=rotmats.device)
    joints = rest_joints.expand(B, -1, -1)
    posed, glob = forward_kinematics(rotmats, joints, parents)      # (B, K, 3), (B, K, 3, 3)
    t = posed - (glob @ joints.unsqueeze(-1)).squeeze(-1)            # (B, K, 3) hm
    Ga = S.T @ glob @ S                                              # (B, K, 3, 3) anny axes
    ta = t @ S                                                       # (B, K, 3): S^T t
    T = _rigid(Ga, ta)[:, assign]                                    # (B, Nb, 4, 4)
    rest = rest_bone_poses.to(rotmats).expand(B, -1, -1, -1)
    return anny_local_ref_deltas(T @ rest, rest, reference, bone_parents)


# --------------------------------------------------------------------------- reduced arrays


@dataclass(frozen=True)
class AnnyArrays:
    """What hm keeps of anny (hm axes, metres; float32 unless noted), cached as npz.

    Phenotype -> target weights w (B, T) -> basis coefficients c = w @ projection (B, C);
    rest vertices = template + c @ basis; rest joints = joints_template + c @ joints_basis.
    """

    anny_version: str
    faces: np.ndarray            # (F, 3) int64
    template: np.ndarray         # (V, 3)
    basis: np.ndarray            # (C, V, 3)
    projection: np.ndarray       # (T, C)
    target_mask: np.ndarray      # (T, NV) bool
    var_index: np.ndarray        # (NV,) int64
    var_const: np.ndarray        # (C0,)
    anchors: np.ndarray          # (6, 5) anchors, padded with nan
    joints_template: np.ndarray  # (K, 3)
    joints_basis: np.ndarray     # (C, K, 3)
    weights: np.ndarray          # (V, K) merged skinning weights
    kp_idx: np.ndarray           # (M,) int64 keypoint vertices (nose regressor, head top)
    kp_vert_w: np.ndarray        # (17, M)
    assign: np.ndarray           # (Nb,) int64 joint of each anny bone
    bone_labels: np.ndarray      # (Nb,) str

    def save(self, path: Path) -> None:
        with atomic_write(path, "wb") as f:
            np.savez(f, **{fl.name: np.asarray(getattr(self, fl.name)) for fl in fields(self)})

    @classmethod
    def load(cls, path: Path) -> AnnyArrays:
        with np.load(path, allow_pickle=False) as z:
            kw = {fl.name: z[fl.name] for fl in fields(cls)}
        kw["anny_version"] = str(kw["anny_version"])
        return cls(**kw)


def build_anny_model(cache_dir: str | os.PathLike | None = None):
    """anny's own model (``anny.Anny``, float64, plain LBS) with hm's cache directory; slow the
    first time (fills the cache). For checks against anny and for :func:`reduce_anny`."""
    try:
        import anny
        import anny.paths
    except ImportError as e:
        raise HMError(MISSING_ANNY) from e
    d = anny_cache_dir(cache_dir)
    d.mkdir(parents=True, exist_ok=True)
    previous = anny.paths.get_anny_cache_path()
    anny.paths.set_anny_cache_path(d)
    try:
        return anny.Anny(rig=_ANNY_RIG, topology=_ANNY_TOPOLOGY, skinning_method="lbs")
    finally:
        anny.paths.set_anny_cache_path(previous)


def _variation_tables(model) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(var_index, var_const, anchors) describing anny's phenotype variations (see
    :func:`phenotype_weights`)."""
    from anny.models.model_data import PHENOTYPE_VARIATIONS

    anchors = [model.anchors[name].detach().cpu().numpy() for name in PHENOTYPE_NAMES]
    if list(model.phenotype_labels) != list(PHENOTYPE_NAMES):
        raise ValueError(f"unexpected anny phenotypes {model.phenotype_labels}")
    offsets = np.cumsum([0] + [len(a) for a in anchors])
    const: list[float] = []
    index: list[int] = []
    for feature, variations in PHENOTYPE_VARIATIONS.items():
        if feature in PHENOTYPE_NAMES:
            f = PHENOTYPE_NAMES.index(feature)
            index.extend(int(offsets[f]) + i for i in range(len(variations)))
        elif feature == "race":          # not exposed: 0.5 each, normalized
            for _ in variations:
                index.append(int(offsets[-1]) + len(const))
                const.append(1.0 / len(variations))
        else:                            # cup size, firmness: 0.5
            a = torch.as_tensor(model.anchors[feature], dtype=torch.float64)
            c = interp_coefficients(torch.tensor([0.5], dtype=torch.float64), a)[0].numpy()
            for i in range(len(variations)):
                index.append(int(offsets[-1]) + len(const))
                const.append(float(c[i]))
    return np.array(index, dtype=np.int64), np.array(const), anchors


def reduce_anny(model) -> AnnyArrays:
    """anny model -> hm's reduced arrays (hm axes), with a self-check of the phenotype tables."""
    import anny
    from anny.models.phenotype import phenotype_blendshape_weights

    f64 = torch.float64
    S = torch.as_tensor(ANNY_TO_HM, dtype=f64)
    labels, bparents = list(model.bone_labels), [int(p) for p in model.bone_parents]
    assign, head_reg = assign_bones(labels, bparents)

    template = model.template_vertices.to(f64) @ S.T                         # (V, 3)
    basis = model.blendshapes.to(f64) @ S.T                                  # (C, V, 3)
    heads_t = model.template_bone_heads.to(f64) @ S.T                        # (Nb, 3)
    heads_b = model.bone_heads_blendshapes.to(f64) @ S.T                     # (C, Nb, 3)
    reg = torch.as_tensor(head_reg, dtype=f64)
    joints_t = reg @ heads_t                                                 # (K, 3)
    joints_b = torch.einsum("kn,cnd->ckd", reg, heads_b)                     # (C, K, 3)

    dense = torch.zeros(template.shape[0], len(labels), dtype=f64)
    dense.scatter_add_(1, model.vertex_bone_indices.long(), model.vertex_bone_weights.to(f64))
    merged = torch.zeros(template.shape[0], len(SMPL_JOINT_NAMES), dtype=f64)
    merged.index_add_(1, torch.as_tensor(assign), dense)                    # (V, K)

    var_index, var_const, anchors = _variation_tables(model)
    mask = model.stacked_phenotype_blend_shapes_mask.detach().cpu().numpy() > 0.5
    projection = model.phenotype_blendshape_projection.to(f64)
    # self-check against anny's own phenotype weights
    g = torch.Generator().manual_seed(0)
    phen = torch.cat([torch.full((1, 6), 0.5, dtype=f64), torch.rand(7, 6, generator=g, dtype=f64)])
    mine = phenotype_weights(phen, [torch.as_tensor(a) for a in anchors], torch.as_tensor(var_index),
                             torch.as_tensor(var_const), target_variation_table(mask))
    theirs = phenotype_blendshape_weights(phen, list(model.phenotype_labels), model.anchors,
                                          model.stacked_phenotype_blend_shapes_mask, extrapolate=False)
    if not torch.allclose(mine, theirs, atol=1e-10):
        raise ValueError("anny's phenotype weighting changed; hm's Anny reduction needs an update")

    # keypoint vertices: anny's COCO nose regressor, the top of the neutral head
    coco = torch.load(Path(anny.__file__).parent / "data" / "keypoints" / "coco.pth", weights_only=True)
    nose_w = coco["nose"][model.base_mesh_vertex_indices].to(f64)
    nose_idx = torch.nonzero(nose_w > 0).flatten()
    coeff0 = mine[:1] @ projection                                           # (1, C)
    rest0 = template + torch.einsum("bc,cvd->bvd", coeff0, basis)[0]         # (V, 3)
    top = int(torch.argmax(rest0[:, 1]))
    kp_idx = torch.cat([nose_idx, torch.tensor([top])])
    M = kp_idx.numel()
    kp_vert_w = torch.zeros(17, M, dtype=f64)
    kp_vert_w[9, : nose_idx.numel()] = nose_w[nose_idx] / nose_w[nose_idx].sum()
    kp_vert_w[10, -1] = 1.0

    pad = np.full((len(anchors), max(len(a) for a in anchors)), np.nan)
    for i, a in enumerate(anchors):
        pad[i, : len(a)] = a
    f32 = np.float32
    return AnnyArrays(
        anny_version=str(anny.__version__),
        faces=model.faces.detach().cpu().numpy().astype(np.int64),
        template=template.numpy().astype(f32),
        basis=basis.numpy().astype(f32),
        projection=projection.numpy().astype(f32),
        target_mask=mask,
        var_index=var_index,
        var_const=var_const.astype(f32),
        anchors=pad.astype(f32),
        joints_template=joints_t.numpy().astype(f32),
        joints_basis=joints_b.numpy().astype(f32),
        weights=merged.numpy().astype(f32),
        kp_idx=kp_idx.numpy().astype(np.int64),
        kp_vert_w=kp_vert_w.numpy().astype(f32),
        assign=assign,
        bone_labels=np.array(labels),
    )


# --------------------------------------------------------------------------- the body model


class AnnyBody(BodyModel):
    """Anny reduced to hm's 24-joint tree (see the module docstring). float32, CPU tensors;
    inputs of another dtype/device get converted copies of the (small) arrays they touch."""

    def __init__(self, arrays: AnnyArrays) -> None:
        a = arrays
        self.arrays = a
        self.name = "anny"
        self.parents = SMPL_PARENTS
        self.joint_names = SMPL_JOINT_NAMES
        self.num_betas = len(PHENOTYPE_NAMES)
        self.faces = a.faces
        self.num_vertices = int(a.template.shape[0])
        self.anny_version = a.anny_version
        self.assign = torch.as_tensor(a.assign)                                   # (Nb,)
        self.bone_labels = tuple(str(s) for s in a.bone_labels)
        self._template = torch.as_tensor(a.template)                              # (V, 3)
        self._basis = torch.as_tensor(a.basis).reshape(a.basis.shape[0], -1)      # (C, V*3)
        self._projection = torch.as_tensor(a.projection)                          # (T, C)
        self._table = target_variation_table(a.target_mask)                       # (T, L)
        self._var_index = torch.as_tensor(a.var_index)
        self._var_const = torch.as_tensor(a.var_const)
        self._anchors = [torch.as_tensor(r[~np.isnan(r)]) for r in a.anchors]
        self._weights = torch.as_tensor(a.weights)                                # (V, K)
        K, M = len(SMPL_PARENTS), int(a.kp_idx.shape[0])
        self._M = M
        # rest joints and keypoint vertices together, straight from the target weights:
        # (T, (K + M) * 3) = projection @ [joints_basis | basis at the keypoint vertices]
        kp_t = a.template[a.kp_idx]                                              # (M, 3)
        kp_b = a.basis[:, a.kp_idx]                                              # (C, M, 3)
        small_b = np.concatenate([a.joints_basis, kp_b], 1).reshape(a.basis.shape[0], -1).astype(np.float64)
        self._small_t = torch.as_tensor(np.concatenate([a.joints_template, kp_t], 0))  # (K+M, 3)
        self._small_b = torch.as_tensor((a.projection.astype(np.float64) @ small_b).astype(np.float32))  # (T, (K+M)*3)
        jw = torch.zeros(17, K)
        for h, s in H36M_FROM_SMPL.items():
            jw[h, s] = 1.0
        self.keypoints = KeypointMap(joint_w=jw, vert_idx=torch.as_tensor(a.kp_idx),
                                     vert_w=torch.as_tensor(a.kp_vert_w))
        self.kp_weights = self._weights[torch.as_tensor(a.kp_idx)]                # (M, K)
        with torch.no_grad():
            j0 = self.rest(torch.zeros(1, self.num_betas, dtype=torch.float64)).joints[0]   # (K, 3)
        self.canon = canonical_rotations(j0).float()                               # (K, 3, 3)
        self.hinge_axes = {k: v.float() for k, v in hinge_axes_from_canon(canonical_rotations(j0)).items()}

    def _on(self, name: str, ref: torch.Tensor) -> torch.Tensor:
        """Array ``name`` in ``ref``'s dtype (floating arrays) and device, converted once."""
        t = getattr(self, name)
        dtype = ref.dtype if t.is_floating_point() else t.dtype
        if t.dtype == dtype and t.device == ref.device:
            return t
        key = (name, dtype, ref.device)
        memo = self.__dict__.setdefault("_memo", {})
        if key not in memo:
            memo[key] = t.to(device=ref.device, dtype=dtype)
        return memo[key]

    # -- shape

    @staticmethod
    def phenotypes(betas: torch.Tensor) -> torch.Tensor:
        """betas (B, 6) -> anny phenotypes (B, 6) in (0, 1): sigmoid (betas = 0 -> 0.5)."""
        return torch.sigmoid(betas)

    def target_weights(self, betas: torch.Tensor) -> torch.Tensor:
        """betas (B, 6) -> weights of anny's macro targets (B, T)."""
        anchors = [a.to(betas) for a in self._anchors]
        return phenotype_weights(self.phenotypes(betas), anchors, self._on("_var_index", betas),
                                 self._on("_var_const", betas), self._on("_table", betas))

    def basis_coefficients(self, betas: torch.Tensor) -> torch.Tensor:
        """betas (B, 6) -> coefficients of the compact blendshape basis (B, C)."""
        return self.target_weights(betas) @ self._on("_projection", betas)

    def rest(self, betas: torch.Tensor) -> RestBody:
        B, K = betas.shape[0], len(self.parents)
        w = self.target_weights(betas)                                            # (B, T)
        small = self._on("_small_t", betas) + (w @ self._on("_small_b", betas)).view(B, -1, 3)  # (B, K+M, 3)
        return RestBody(joints=small[:, :K], kp_verts=small[:, K:])

    def rest_vertices(self, betas: torch.Tensor) -> torch.Tensor:
        """betas (B, 6) -> the full rest mesh (B, V, 3)."""
        c = self.basis_coefficients(betas)                                        # (B, C)
        return self._on("_template", betas) + (c @ self._on("_basis", betas)).view(betas.shape[0], -1, 3)

    # -- pose

    def vertices(self, betas: torch.Tensor, rotmats: torch.Tensor) -> torch.Tensor:
        B = rotmats.shape[0]
        betas = betas.to(rotmats)
        rest = self.rest(betas)
        verts = self.rest_vertices(betas)                                         # (B or 1, V, 3)
        joints, glob = forward_kinematics(rotmats, rest.joints, self.parents)    # (B, K, 3), (B, K, 3, 3)
        W = self._on("_weights", rotmats)
        out = []
        step = 32                                                                 # bounds the (b, V, 3, 3) blend
        for s in range(0, B, step):
            e = min(B, s + step)
            v = verts if verts.shape[0] == 1 else verts[s:e]
            rj = rest.joints if rest.joints.shape[0] == 1 else rest.joints[s:e]
            out.append(skin_points(v, W, glob[s:e], joints[s:e], rj.expand(e - s, -1, -1)))
        return torch.cat(out, 0)                                                  # (B, V, 3)


# --------------------------------------------------------------------------- loading


def _reduced_path(d: Path, anny_version: str) -> Path:
    return d / f"hm_anny_reduced_v{_FORMAT}_anny-{anny_version}.npz"


def _anny_cache_filled(d: Path) -> bool:
    return any(d.glob("v*/build_compact_model_data_*.safetensors"))


def load_anny(cache_dir: str | os.PathLike | None = None,
              on_status: Callable[[str], None] | None = None) -> AnnyBody:
    """The Anny body model, reduced to hm's tree.

    Caches (directory: ``cache_dir``, else env ``HM_ANNY_CACHE``, else ``~/.cache/hm/anny``):
    anny's own model data (built once from MakeHuman's files: about 90 s and 830 MB; anny
    is pointed there instead of its ``~/.cache/anny`` while building) and hm's reduced arrays
    (``hm_anny_reduced_v<format>_anny-<version>.npz``, ~30 MB), after which a load reads one
    npz. ``on_status(message)`` is called before a slow first build. Raises HMError when
    anny is not installed or the cache directory is not writable.
    """
    try:
        import anny
    except ImportError as e:
        raise HMError(MISSING_ANNY) from e
    d = anny_cache_dir(cache_dir)
    path = _reduced_path(d, str(anny.__version__))
    if path.is_file():
        try:
            return AnnyBody(AnnyArrays.load(path))
        except (OSError, ValueError, KeyError):
            pass                                                # stale or damaged: rebuild
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise HMError(f"cannot create the Anny cache directory {d}: {e.strerror or e}") from e
    if on_status is not None and not _anny_cache_filled(d):
        on_status(f"building the Anny body model (first use only: 1.5-4 minutes on a 2-core CPU; cached in {d})")
    arrays = reduce_anny(build_anny_model(d))
    try:
        arrays.save(path)
    except OSError as e:
        print(f"hm: could not cache the reduced Anny model in {path}: {e}", file=sys.stderr)
    return AnnyBody(arrays)
