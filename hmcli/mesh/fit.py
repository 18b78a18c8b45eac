"""Fitting a body model to a lifted clip: analytic IK, then batched refinement.

Stages (all batched over the clip's frames, torch, CPU):

1. **Shape from bone lengths** -- one shape for the clip: the body's rest keypoint bone
   lengths are matched to the median bone lengths of the lifted joints (plus a shape
   regulariser). Skipped when a shape is given.
2. **Analytic IK** (:mod:`hmcli.mesh.ik`) from the root-relative lifted joints, or the
   rotations of ``--init`` (an image-based estimator's SMPL parameters).
3. **Translation** by linear least squares per frame: the lifted (metric) joints placed so
   they project onto the detector's 2D keypoints through the camera (confidence-weighted).
4. **Refinement** with Adam over per-frame poses (continuous 6D rotations), the clip's shape
   and the per-frame camera-space translation, minimising

   * ``w_3d``: robust (Geman-McClure, scale ``sigma_3d`` m) distance of the body's
     root-relative H36M keypoints to the lifted joints;
   * ``w_2d``: robust confidence-weighted reprojection error onto the 2D keypoints, in units
     of the person's height in the image (scale ``sigma_2d``);
   * ``w_prior``: the Gaussian-mixture pose prior (:mod:`hmcli.mesh.prior`);
   * ``w_limits``: knees and elbows bend only forward and about their hinge;
   * ``w_shape``: ``|betas|^2``;
   * ``w_smooth``: squared acceleration of the camera-space keypoints (per frame at 30 fps).
   * ``w_twist``: the knees' and elbows' twist about the shin / forearm (no keypoint sees it)
     pulled toward the initial value.

   What no keypoint observes at all (wrists, hands, ankles, feet with H36M targets;
   :func:`unseen_joints`) is not refined (``freeze_unseen``): the IK sets it to the pose
   prior's mean (``prior_fill``) and it stays there, instead of drifting wherever the prior's
   gradient through the other joints pushes it.

Only the keypoints enter the loss, so each iteration skins the handful of keypoint vertices,
never the whole mesh; full vertices are computed once, at the end, if asked for.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from hmcli.mesh.body import (CANONICAL_HINGES, BodyModel, RestBody, canonical_rotations, forward_kinematics,
                             keypoint_offsets, posed_keypoints, to_canonical)
from hmcli.mesh.ik import solve_ik, spec_for_keypoints
from hmcli.mesh.prior import GMMPrior
from hmcli.types import Camera
from hmcli.mesh.rotations import matrix_to_axis_angle, matrix_to_rot6d, rot6d_to_matrix

__all__ = ["unseen_joints", "FitOptions", "FitTargets", "FitOutput", "fit_body", "ik_only", "H36M_BONES",
           "solve_translation", "fit_shape_to_bones", "W2D_JOINT", "W2D_JOINT_CMU"]

# H36M-17 bones used for the shape fit (parent, child).
H36M_BONES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10),
    (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16),
)


# Per-joint weights (H36M-17 order). The lifter's 3D nose follows its CMU training data (a
# point 9 cm in front of the skull base), not a nose tip, so it is trusted little in 3D and
# only sets the head's heading in the IK; its "head" is the end of CMU's head bone, below the
# top of the skull where the body models' head point is, so it counts 0.3 in 3D; the detector's 2D "head" is the midpoint of the
# eyes (BlazePose/COCO), which no body keypoint matches (ours is the top of the head), so it
# is left out of the reprojection; the detector's hips sit higher and wider than joint
# centres, so they count half.
W3D_JOINT = (1.0,) * 9 + (0.2, 0.3) + (1.0,) * 6
# With calibrated keypoint offsets (:mod:`hmcli.mesh.calibration`) the body's nose and head are
# the lifter's, and every keypoint counts fully; the upper body's (spine, thorax, nose, head,
# shoulders, elbows) twice the legs' and wrists': chosen on the validation subjects (02, 55) of the
# full chain, fitted joints 38.7 -> 37.7 mm with 120 iterations (lifted 36.1), where the legs and
# wrists follow the 2D and the smoothness as well as the lifter's 3D.
W3D_JOINT_CALIBRATED = (1.0,) * 7 + (2.0,) * 6 + (1.0,) + (2.0,) * 2 + (1.0,)
W2D_JOINT = (1.0, 0.5, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
# With calibrated keypoints *and* 2D at CMU's definitions (the learned BlazePose map, or real
# H36M-17 2D: ``FitTargets.cmu_2d``) the body's nose and head are the 2D's, and the face counts
# 5 in 2D: the image is where the head sits on the body. The lifter gets the face's depth wrong
# when the camera is not at its training cameras' height (issue 33: on the sample clip, filmed
# from below, the lifted nose is 6-7 cm higher above the thorax than CMU's and 65 mm from the
# head where a rigid head has 128), and the 3D term (10, the face 2) kept the head where the
# lift put it: the skull top 7 px (up to 22) under the person's silhouette. Chosen on the three
# real clips' silhouettes (MediaPipe segmentation): the face at 1 / 3 / 5 / 10 leaves the skull
# top 5.2 / 2.9 / 1.4 / 0.5 px under the person's on the sample clip (13.4 / 9.5 / 8.0 / 6.8 on
# the squats) and trades it against the other joints' reprojection there (5.3 / 5.8 / 6.4 /
# 6.7 px); the above-shoulder overlap is 0.725 / 0.738 / 0.739 / 0.733. The validation chain
# does not see it (37.66 mm, 37.67 with the face as before). Tried and dropped: fading the lifted
# nose out of the 3D term where its distance to the lifted head departs from the body's (it
# helped with the shared prior, not with Anny's own: skull top +1.8 against +1.4 px without).
W2D_JOINT_CMU = W2D_JOINT[:9] + (5.0, 5.0) + W2D_JOINT[11:]
WIK_JOINT = (1.0,) * 9 + (0.05,) + (1.0,) * 7


@dataclass(frozen=True)
class FitOptions:
    """Loss weights and schedule of the refinement (see the module docstring)."""

    # iters 240, lr 0.06, w_3d 10 (were 120, 0.03, 3), tuned on the validation chain (noisy 2D ->
    # lifter -> fit, subjects 02/55, Anny): fitted joints 38.58 -> 37.73 mm (lifted: 37.28);
    # then test (09/49): 48.69 -> 48.49 mm (lifted: 48.58). More iterations alone gave 37.91,
    # w_3d 10 alone 38.48, stronger smoothing was worse (w_smooth 40 / 80: 38.89 / 39.40).
    iters: int = 240
    lr: float = 0.03
    w_3d: float = 10.0
    w_2d: float = 0.3
    w_prior: float = 0.002
    w_limits: float = 1.0
    w_shape: float = 0.005
    w_smooth: float = 20.0
    w_init: float = 0.0
    sigma_3d: float = 0.05
    sigma_2d: float = 0.03
    fit_shape: bool = True
    shape_iters: int = 80
    hinge_rule: bool = True
    prior_fill: bool = True           # the IK sets unseen joints to the prior's mean (not the rest pose)
    freeze_unseen: bool = True        # rotations that move no keypoint stay at their initial value
    w_twist: float = 1.0              # pull of the knees' and elbows' twist (unseen) toward the init
    w3d_joint: tuple[float, ...] | None = None   # per-keypoint 3D weights (None: W3D_JOINT, or
                                                 # W3D_JOINT_CALIBRATED for a calibrated body)
    w2d_joint: tuple[float, ...] | None = None   # per-keypoint 2D weights (None: W2D_JOINT, or
                                                 # W2D_JOINT_CMU for a calibrated body and CMU 2D)


@dataclass
class FitTargets:
    """What a body is fitted to. F frames, H36M-17 joints.

    joints3d: (F, 17, 3) lifted joints, metres, root-relative, camera axes (NaN allowed).
    kpts2d: (F, 17, 2) pixels and conf2d: (F, 17) confidence (0 = not seen).
    valid: (F,) frames with a person. fps: frame rate (for the smoothness scale).
    cmu_2d: the 2D nose and head are CMU's (the learned BlazePose map, or H36M-17 2D), not a
    COCO-style conversion's eye midpoint (:func:`hmcli.skeleton.h36m_from_midpoints`); with a
    calibrated body the face then counts in 2D (:data:`W2D_JOINT_CMU`).
    """

    joints3d: np.ndarray
    kpts2d: np.ndarray
    conf2d: np.ndarray
    valid: np.ndarray
    camera: Camera
    fps: float = 30.0
    cmu_2d: bool = False


@dataclass
class FitOutput:
    rotmats: torch.Tensor        # (F, K, 3, 3)
    betas: torch.Tensor          # (S,)
    transl: torch.Tensor         # (F, 3)
    keypoints: torch.Tensor      # (F, 17, 3) camera space
    quality: dict = field(default_factory=dict)


def _fill_invalid(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Replace frames where ``ok`` is False by linear interpolation of the valid ones."""
    x = np.array(x, np.float64, copy=True)
    idx = np.flatnonzero(ok)
    if idx.size == len(ok):
        return x
    flat = x.reshape(len(ok), -1)
    for c in range(flat.shape[1]):
        flat[:, c] = np.interp(np.arange(len(ok)), idx, flat[idx, c])
    return flat.reshape(x.shape)


def _gmof(r2: torch.Tensor, sigma: float) -> torch.Tensor:
    """Geman-McClure of squared residuals, scaled so it is r^2 for small r (units of sigma^2)."""
    s2 = sigma * sigma
    return s2 * r2 / (r2 + s2)


def fit_shape_to_bones(model: BodyModel, lifted: torch.Tensor, iters: int = 80, w_shape: float = 0.005,
                       betas0: torch.Tensor | None = None) -> torch.Tensor:
    """betas (S,) whose rest keypoints have the clip's median bone lengths. lifted: (F, 17, 3)."""
    a, b = zip(*H36M_BONES)
    target = (lifted[:, list(b)] - lifted[:, list(a)]).norm(dim=-1).median(0).values   # (E,)
    betas = (betas0.clone() if betas0 is not None else torch.zeros(model.num_betas)).requires_grad_(True)
    opt = torch.optim.Adam([betas], lr=0.1)
    eye = torch.eye(3).expand(1, model.num_joints, 3, 3)
    for _ in range(iters):
        opt.zero_grad()
        rest = model.rest(betas[None])
        kp, _ = posed_keypoints(model, rest, eye)
        lens = (kp[0, list(b)] - kp[0, list(a)]).norm(dim=-1)
        loss = ((lens - target) ** 2).mean() + w_shape * 1e-2 * (betas ** 2).mean()
        loss.backward()
        opt.step()
    return betas.detach()


def solve_translation(rel3d: torch.Tensor, kp2d: torch.Tensor, conf: torch.Tensor, camera: Camera) -> torch.Tensor:
    """Per-frame camera-space position of the root so that root-relative joints ``rel3d``
    (F, J, 3) project onto ``kp2d`` (F, J, 2) px, weighted by ``conf`` (F, J). Returns (F, 3).

    Linear in the translation t: f (X + tx) - (u - cx)(Z + tz) = 0, and the same for y.
    """
    f = camera.focal
    u = kp2d[..., 0] - camera.cx
    v = kp2d[..., 1] - camera.cy
    X, Y, Z = rel3d.unbind(-1)
    w = conf.clamp_min(0).sqrt()
    zeros = torch.zeros_like(u)
    ax = torch.stack([torch.full_like(u, f), zeros, -u], -1)        # (F, J, 3)
    ay = torch.stack([zeros, torch.full_like(v, f), -v], -1)
    A = torch.cat([ax, ay], 1) * torch.cat([w, w], 1).unsqueeze(-1)  # (F, 2J, 3)
    rhs = torch.cat([u * Z - f * X, v * Z - f * Y], 1) * torch.cat([w, w], 1)   # (F, 2J)
    # a weak pull to 3 m in front of the camera keeps frames with too few joints solvable
    reg = 1e-3 * f
    A = torch.cat([A, reg * torch.eye(3).expand(A.shape[0], 3, 3)], 1)
    rhs = torch.cat([rhs, reg * torch.tensor([0.0, 0.0, 3.0]).expand(A.shape[0], 3)], 1)
    return torch.linalg.lstsq(A, rhs.unsqueeze(-1)).solution.squeeze(-1)


def ik_only(model: BodyModel, joints3d: torch.Tensor, betas: torch.Tensor, hinge_rule: bool = True,
            offset_passes: int = 2, prior: GMMPrior | None = None):
    """Analytic IK of root-relative H36M-17 joints (F, 17, 3) on the body of shape betas (S,).
    Returns (rotmats (F, K, 3, 3), rest).

    With calibrated keypoint offsets (:class:`hmcli.mesh.body.KeypointMap`) the IK solves
    for the keypoints without them: each pass takes the offsets as the previous pass posed
    them off the targets, ``offset_passes`` times after a first pass that ignores them.
    With a ``prior`` the joints no keypoint moves (hands, feet; wrists and ankles with H36M
    targets) take the prior's mean (:func:`prior_fill`), else the model's rest pose."""
    rest = model.rest(betas[None])
    spec, pts = spec_for_keypoints(model, rest)
    w = torch.tensor(WIK_JOINT, dtype=joints3d.dtype).expand(joints3d.shape[0], 17)
    res = solve_ik(joints3d, spec, rest.joints[0], pts, hinge_rule=hinge_rule, weights=w)
    fill = prior_fill(model, rest, prior)
    R = res.rotmats if fill is None else _filled(res.rotmats, fill)
    if model.keypoints.offset is not None:
        for _ in range(offset_passes):
            _, glob = forward_kinematics(R, rest.joints, model.parents)              # (F, K, 3, 3)
            off = keypoint_offsets(model.keypoints, rest.joints, glob)              # (F, 17, 3)
            res = solve_ik(joints3d - off, spec, rest.joints[0], pts, hinge_rule=hinge_rule, weights=w)
            R = res.rotmats if fill is None else _filled(res.rotmats, fill)
    return R, rest


def prior_fill(model: BodyModel, rest: RestBody, prior: GMMPrior | None) -> tuple[list[int], torch.Tensor] | None:
    """The unseen joints (:func:`unseen_joints`) and the local rotations (U, 3, 3) of the pose
    prior's mean there (its components' weighted mean, canonical -> the model's frames:
    ``C_parent^T A C_k``), or None without a matching prior."""
    if prior is None or tuple(prior.joint_names) != tuple(model.joint_names[1:]):
        return None
    u = unseen_joints(model)
    if not u:
        return None
    from hmcli.mesh.rotations import axis_angle_to_matrix

    w = torch.softmax(prior.log_weights.float(), 0)                               # (C,)
    mean = (w[:, None] * prior.means.float()).sum(0).reshape(-1, 3)                 # (K-1, 3) canonical
    canon = canonical_rotations(rest.joints[0].detach(), model.joint_names)    # (K, 3, 3)
    A = axis_angle_to_matrix(mean[[k - 1 for k in u]])                           # (U, 3, 3)
    cp = torch.stack([canon[model.parents[k]] if model.parents[k] >= 0 else torch.eye(3) for k in u])
    return u, cp.transpose(-1, -2) @ A @ canon[u]


def _filled(R: torch.Tensor, fill: tuple[list[int], torch.Tensor]) -> torch.Tensor:
    u, L = fill
    R = R.clone()
    R[:, u] = L.to(R.dtype)
    return R


def unseen_joints(model: BodyModel) -> list[int]:
    """Joints whose rotation moves none of the H36M-17 keypoints (hands, feet, and with H36M
    targets the wrists and ankles): nothing in the data can set them, only the prior."""
    km = model.keypoints
    K = model.num_joints
    anc = [set() for _ in range(K)]                 # anc[k]: k and its ancestors
    for k in range(K):
        p = model.parents[k]
        anc[k] = {k} | (anc[p] if p >= 0 else set())
    moved: set[int] = set()
    for i in range(km.joint_w.shape[0]):
        for j in torch.nonzero(km.joint_w[i].abs() > 1e-9).flatten().tolist():
            moved |= anc[j] - {j}                   # a joint's position: its ancestors' rotations
        if km.vert_idx.numel():
            skin = (km.vert_w[i].abs() > 1e-9).float() @ (model.kp_weights > 1e-6).float()   # (K,)
            for j in torch.nonzero(skin > 0).flatten().tolist():
                moved |= anc[j]
        if km.offset is not None and km.offset_joint is not None and float(km.offset[i].abs().sum()) > 0:
            moved |= anc[int(km.offset_joint[i])]
    return [k for k in range(K) if k not in moved]


class _Losses:
    def __init__(self, model: BodyModel, prior: GMMPrior | None, targets: dict, opts: FitOptions):
        self.model = model
        self.opts = opts
        self.prior = prior if prior is not None and tuple(prior.joint_names) == tuple(model.joint_names[1:]) else None
        rest0 = model.rest(torch.zeros(1, model.num_betas))
        self.canon = canonical_rotations(rest0.joints[0].detach(), model.joint_names)
        idx = {n: i for i, n in enumerate(model.joint_names)}
        self.hinges = [(idx[n], torch.tensor(a)) for n, a in CANONICAL_HINGES.items() if n in idx]
        self.t = targets
        self.frozen = None
        if opts.freeze_unseen:
            u = unseen_joints(model)
            if u:
                self.frozen = torch.zeros(model.num_joints, dtype=torch.bool)
                self.frozen[u] = True
        # twist axes of the hinge joints (rest bone towards the child), for the twist pull
        j0 = rest0.joints[0].detach()
        kids = {k: [c for c, p in enumerate(model.parents) if p == k] for k, _ in self.hinges}
        self.twist_idx = [k for k, _ in self.hinges if kids[k]]
        self.twist_axis = (torch.stack([torch.nn.functional.normalize(j0[kids[k][0]] - j0[k], dim=0)
                                        for k in self.twist_idx]) if self.twist_idx else torch.zeros(0, 3))  # (H, 3)

    def rotations(self, rot6d: torch.Tensor) -> torch.Tensor:
        """(F, K, 6) -> (F, K, 3, 3); frozen joints keep the initial rotations."""
        R = rot6d_to_matrix(rot6d)                                      # (F, K, 3, 3)
        if self.frozen is not None and "R0" in self.t:
            R = torch.where(self.frozen[None, :, None, None], self.t["R0"], R)
        return R

    def __call__(self, rot6d: torch.Tensor, betas: torch.Tensor, transl: torch.Tensor) -> tuple[torch.Tensor, dict]:
        o, t, m = self.opts, self.t, self.model
        R = self.rotations(rot6d)                                       # (F, K, 3, 3)
        rest = m.rest(betas[None])
        kp, _ = posed_keypoints(m, rest, R, betas[None])                # (F, 17, 3) root at rest
        rel = kp - kp[:, :1]
        w = t["valid_w"]                                                # (F,)
        nv = w.sum().clamp_min(1)
        r3 = ((rel - t["j3"]) ** 2).sum(-1)                             # (F, 17)
        l3 = ((_gmof(r3, o.sigma_3d) * t["w3"]).sum(-1) / t["w3"].sum() * w).sum() / nv / (o.sigma_3d ** 2)
        cam = kp + transl.unsqueeze(1)                                  # (F, 17, 3)
        z = cam[..., 2:3].clamp_min(0.05)
        proj = cam[..., :2] / z * t["focal"] + t["centre"]
        r2 = (((proj - t["k2"]) / t["scale"]) ** 2).sum(-1)             # (F, 17) in person heights
        c = t["c2"]
        l2 = (_gmof(r2, o.sigma_2d) * c).sum() / c.sum().clamp_min(1) / (o.sigma_2d ** 2)
        loss = o.w_3d * l3 + o.w_2d * l2
        parts = {"3d": l3.detach(), "2d": l2.detach()}
        if o.w_prior > 0 or o.w_limits > 0:
            canon = to_canonical(R, self.canon, m.parents)
            aa = matrix_to_axis_angle(canon[:, 1:])                     # (F, K-1, 3)
            if self.prior is not None and o.w_prior > 0:
                lp = self.prior.nll(aa.reshape(aa.shape[0], -1)).mean()
                loss = loss + o.w_prior * lp
                parts["prior"] = lp.detach()
            if o.w_limits > 0 and self.hinges:
                ll = 0.0
                for k, h in self.hinges:
                    v = aa[:, k - 1]                                    # (F, 3)
                    flex = v @ h
                    bone = torch.linalg.cross(h, torch.tensor([0.0, 1.0, 0.0]) if abs(float(h[1])) < 0.5
                                              else torch.tensor([1.0, 0.0, 0.0]), dim=0)
                    side = v @ bone  # rotation about the axis perpendicular to hinge and bone
                    ll = ll + (torch.relu(-flex) ** 2 + 0.5 * side ** 2).mean()
                loss = loss + o.w_limits * ll
                parts["limits"] = ll.detach()
        if o.w_shape > 0:
            loss = loss + o.w_shape * (betas ** 2).mean()
        if o.w_init > 0 and "R0" in t:
            # what no keypoint observes (forearm / shin twist, hands, feet, the spine's split) stays
            # near the IK's answer instead of drifting to wherever the prior pulls it
            li = ((R - t["R0"]) ** 2).sum((-1, -2)).mean()
            loss = loss + o.w_init * li
            parts["init"] = li.detach()
        if o.w_twist > 0 and self.twist_idx and "R0" in t:
            D = t["R0"][:, self.twist_idx].transpose(-1, -2) @ R[:, self.twist_idx]   # (F, H, 3, 3) change
            skew = 0.5 * torch.stack([D[..., 2, 1] - D[..., 1, 2], D[..., 0, 2] - D[..., 2, 0],
                                      D[..., 1, 0] - D[..., 0, 1]], -1)                 # (F, H, 3) sin(a) axis
            lt = ((skew * self.twist_axis).sum(-1) ** 2).mean()
            loss = loss + o.w_twist * lt
            parts["twist"] = lt.detach()
        if o.w_smooth > 0 and cam.shape[0] > 2:
            acc = cam[2:] - 2 * cam[1:-1] + cam[:-2]                    # (F-2, 17, 3) camera space
            acc_rel = rel[2:] - 2 * rel[1:-1] + rel[:-2]                # (F-2, 17, 3) body motion itself
            ls = ((acc ** 2).sum(-1).mean() + (acc_rel ** 2).sum(-1).mean()) * t["smooth_scale"]
            loss = loss + o.w_smooth * ls
            parts["smooth"] = ls.detach()
        return loss, parts


def _person_scale(k2: np.ndarray, c2: np.ndarray, valid: np.ndarray, fallback: float) -> float:
    """Median height of the 2D skeleton's bounding box over the clip, pixels (frames with at
    least 4 joints seen)."""
    seen = (np.asarray(c2) > 0.1) & np.asarray(valid, bool)[:, None]          # (F, 17)
    y = np.asarray(k2, np.float64)[..., 1]                                     # (F, 17)
    ok = seen.sum(1) >= 4
    if not ok.any():
        return fallback
    hi = np.where(seen, y, -np.inf).max(1)
    lo = np.where(seen, y, np.inf).min(1)
    return float(np.median((hi - lo)[ok]))


def fit_body(model: BodyModel, targets: FitTargets, prior: GMMPrior | None = None,
             opts: FitOptions = FitOptions(), init_rotmats: torch.Tensor | None = None,
             init_betas: torch.Tensor | None = None, init_transl: torch.Tensor | None = None,
             on_progress: Callable[[str, int, int], None] | None = None) -> FitOutput:
    """Fit ``model`` to a clip (see the module docstring). Returns per-frame rotations, the
    clip's shape, camera-space translations, the fitted keypoints and quality figures."""
    t0 = time.perf_counter()
    F = targets.joints3d.shape[0]
    valid = np.asarray(targets.valid, bool) & np.isfinite(targets.joints3d).all(axis=(1, 2))
    if not valid.any():
        from hmcli.io.atomic import HMError
        raise HMError("no frame has a lifted person to fit a body to")
    j3 = torch.tensor(_fill_invalid(np.nan_to_num(targets.joints3d), valid), dtype=torch.float32)
    k2 = torch.tensor(_fill_invalid(np.nan_to_num(targets.kpts2d), valid), dtype=torch.float32)
    c2 = torch.tensor(np.where(valid[:, None] & np.isfinite(targets.kpts2d).all(-1), targets.conf2d, 0.0),
                      dtype=torch.float32).clamp(0, 1)
    calibrated = model.keypoints.offset is not None
    face_2d = calibrated and targets.cmu_2d
    c2_fit = c2 * torch.tensor(opts.w2d_joint or (W2D_JOINT_CMU if face_2d else W2D_JOINT))
    cam = targets.camera
    prog = on_progress or (lambda stage, i, n: None)

    # 1. shape
    if init_betas is not None:
        betas = init_betas.detach().float().reshape(-1)[: model.num_betas]
        betas = torch.cat([betas, torch.zeros(model.num_betas - betas.numel())])
    elif opts.fit_shape:
        prog("shape", 0, 1)
        betas = fit_shape_to_bones(model, j3[torch.from_numpy(valid)], opts.shape_iters, opts.w_shape)
    else:
        betas = torch.zeros(model.num_betas)

    # 2. pose
    prog("ik", 0, 1)
    t_ik = time.perf_counter()
    with torch.no_grad():
        if init_rotmats is not None:
            R0 = init_rotmats.float()
            rest = model.rest(betas[None])
        else:
            R0, rest = ik_only(model, j3, betas, opts.hinge_rule, prior=prior if opts.prior_fill else None)
        kp0, _ = posed_keypoints(model, rest, R0, betas[None])
    ik_s = time.perf_counter() - t_ik
    rel0 = kp0 - kp0[:, :1]

    # 3. translation: the root joint's camera position, minus its rest position
    with torch.no_grad():
        if init_transl is not None:
            transl0 = init_transl.float()
        else:
            root_cam = solve_translation(j3, k2, c2_fit, cam)                      # (F, 3) pelvis
            transl0 = root_cam - kp0[:, 0]
            transl0 = torch.tensor(_fill_invalid(transl0.numpy(), valid), dtype=torch.float32)

    scale = _person_scale(targets.kpts2d, targets.conf2d, valid, fallback=float(max(cam.cx, cam.cy)))
    tg = {
        "j3": j3, "k2": k2, "c2": c2_fit, "w3": torch.tensor(opts.w3d_joint or (W3D_JOINT_CALIBRATED if calibrated else W3D_JOINT)), "valid_w": torch.tensor(valid, dtype=torch.float32),
        "focal": cam.focal, "centre": torch.tensor([cam.cx, cam.cy]), "scale": max(scale, 1.0),
        "smooth_scale": (max(targets.fps, 1.0) / 30.0) ** 4,
    }
    tg["R0"] = R0
    losses = _Losses(model, prior, tg, opts)
    rot6d = matrix_to_rot6d(R0).clone().requires_grad_(True)
    b = betas.clone().requires_grad_(opts.fit_shape and init_betas is None)
    tr = transl0.clone().requires_grad_(True)
    params = [rot6d, tr] + ([b] if b.requires_grad else [])
    opt = torch.optim.Adam(params, lr=opts.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(opts.iters, 1), eta_min=opts.lr * 0.1)
    t_ref = time.perf_counter()
    parts = {}
    for i in range(opts.iters):
        opt.zero_grad(set_to_none=True)
        loss, parts = losses(rot6d, b, tr)
        loss.backward()
        opt.step()
        sched.step()
        prog("refine", i + 1, opts.iters)
    ref_s = time.perf_counter() - t_ref
    with torch.no_grad():
        R = losses.rotations(rot6d)
        rest = model.rest(b[None])
        kp, _ = posed_keypoints(model, rest, R, b[None])
        kp_cam = kp + tr.unsqueeze(1)
        q = _quality(kp, kp_cam, rel0, j3, k2, c2, valid, cam, scale, face_2d)
    q.update({"ik_seconds": ik_s, "refine_seconds": ref_s, "seconds": time.perf_counter() - t0,
              "iterations": float(opts.iters), "frames": float(F), "person_height_px": scale,
              **{f"final_loss_{k}": float(v) for k, v in parts.items()}})
    return FitOutput(R.detach(), b.detach(), tr.detach(), kp_cam.detach(), q)


def _quality(kp, kp_cam, rel0, j3, k2, c2, valid, cam: Camera, scale: float, face_2d: bool = False) -> dict:
    v = torch.from_numpy(valid)
    rel = kp - kp[:, :1]
    mpjpe = (rel - j3).norm(dim=-1)[v].mean()
    mpjpe_ik = (rel0 - j3).norm(dim=-1)[v].mean()
    proj = kp_cam[..., :2] / kp_cam[..., 2:3].clamp_min(0.05) * cam.focal + torch.tensor([cam.cx, cam.cy])
    seen = (c2 > 0.3) & v[:, None]
    err = (proj - k2).norm(dim=-1)                                   # (F, 17) px
    err2 = err[seen & (torch.tensor(W2D_JOINT) > 0)]   # the head is not compared (mid-eyes in COCO-style 2D)
    q = {
        "mpjpe_to_lift_mm": 1000 * float(mpjpe),
        "mpjpe_ik_to_lift_mm": 1000 * float(mpjpe_ik),
        "reproj_px": float(err2.mean()) if err2.numel() else math.nan,
        "reproj_pct_height": 100 * float(err2.mean()) / max(scale, 1.0) if err2.numel() else math.nan,
    }
    if face_2d:  # the body's nose and head are the 2D's: how far the face lands from them
        for j, name in ((9, "nose"), (10, "head")):
            e = err[:, j][seen[:, j]]
            q[f"reproj_{name}_px"] = float(e.mean()) if e.numel() else math.nan
    if rel.shape[0] > 2:
        def accel(x):
            return (x[2:] - 2 * x[1:-1] + x[:-2]).norm(dim=-1).mean()
        q["accel_fit_mm"] = 1000 * float(accel(rel))
        q["accel_lift_mm"] = 1000 * float(accel(j3))
    return q
