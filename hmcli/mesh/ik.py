"""Analytic inverse kinematics (HybrIK-style), batched over frames in torch.

Given target positions for some points of a body (kinematic joints, or vertices rigidly
attached to a joint such as the nose and the top of the head) the rotations are solved down
the kinematic tree, parent before child, in closed form:

* a joint's *handles* are the targeted points below it that it moves rigidly while the
  joints between are at rest: its targeted children, through untargeted children their
  targeted descendants, and the points (vertices, joint blends) attached to itself or to a
  child -- not deeper, so the head's points steer the neck and the head but not the spine;
* two or more handles (pelvis: hips + spine; spine2: neck + shoulders; neck: nose + head
  top) -> the rotation by SVD (Kabsch, reflection fixed) between the rest offsets and the
  target offsets expressed in the parent's accumulated frame;
* one handle (hips, knees, shoulders, elbows, spine1, collars) -> swing x twist: the
  smallest rotation turning the rest bone onto the target bone, times a twist about the
  rest bone. The twist is given (``twists``), or -- for a joint whose child is a hinge
  (hip -> knee, shoulder -> elbow) -- chosen so the child bends about its hinge axis only
  (the *hinge rule*), or zero;
* no handle (ankles, wrists, feet, hands) -> identity.

Untargeted joints between targets (spine1, spine3, collars, head with H36M targets) take
the correction left by their parent, so bends are shared along the chain. What H36M-17 does
not observe (forearm and shin twist, hands, feet) stays at rest for the refinement and the
pose prior to settle (``hmcli.mesh.fit``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from hmcli.mesh.rotations import kabsch, rotation_about, rotation_between

__all__ = ["IKSpec", "IKResult", "solve_ik", "twist_angles", "spec_for_keypoints"]


@dataclass(frozen=True)
class IKSpec:
    """Which body points are targeted, and where they sit at rest.

    parents: (K,) kinematic tree; joint_target: (K,) target index of each joint or -1;
    point_target / point_owner: (P,) target index and owning joint of vertex-like handles
    (rest positions are passed to :func:`solve_ik`); hinges: joint -> rest-frame flexion axis.
    """

    parents: tuple[int, ...]
    joint_target: tuple[int, ...]
    point_target: tuple[int, ...] = ()
    point_owner: tuple[int, ...] = ()
    hinges: dict[int, tuple[float, float, float]] = field(default_factory=dict)

    def handles(self, k: int) -> tuple[list[int], list[int]]:
        """(targeted joints, handle points) that joint ``k`` moves rigidly (see module doc)."""
        children = [[] for _ in self.parents]
        for j, p in enumerate(self.parents):
            if p >= 0:
                children[p].append(j)
        joints: list[int] = []
        points = [i for i, o in enumerate(self.point_owner) if o == k]

        def descend(j: int, level: int) -> None:
            for c in children[j]:
                if self.joint_target[c] >= 0:
                    joints.append(c)
                else:
                    if level == 0:  # a point serves its own joint and that joint's parent only
                        points.extend(i for i, o in enumerate(self.point_owner) if o == c)
                    descend(c, level + 1)

        descend(k, 0)
        return joints, points


@dataclass
class IKResult:
    rotmats: torch.Tensor   # (F, K, 3, 3) local rotations
    glob: torch.Tensor      # (F, K, 3, 3) global rotations
    joints: torch.Tensor    # (F, K, 3) anchor positions used (targets where given, else FK)


def _twist_sign_rule(t_ab: torch.Tensor, e: torch.Tensor, h: torch.Tensor, t_bc: torch.Tensor) -> torch.Tensor:
    """Twist about rest bone ``t_ab`` (3,) making the child's bend a pure hinge about ``h``.

    e: (F, 3) the child bone's target direction in joint a's swung frame; t_bc: (3,) the
    child's rest bone. Returns (F,) angles; fades to 0 as the limb straightens.
    """
    t = torch.nn.functional.normalize(t_ab, dim=0)
    h = torch.nn.functional.normalize(h, dim=0)
    e_hat = torch.nn.functional.normalize(e, dim=-1)
    hp = h - (h @ t) * t                               # part of h that the twist turns
    q = torch.linalg.cross(t, hp, dim=0)
    # twisting by phi turns h into (h.t) t + cos(phi) hp + sin(phi) q; a pure hinge keeps the
    # child's component along h: (T h) . e_hat = h . t_bc_hat
    x, y = e_hat @ hp, e_hat @ q                       # (F,)
    rhs = h @ torch.nn.functional.normalize(t_bc, dim=0) - (h @ t) * (e_hat @ t)
    r = torch.sqrt(x * x + y * y).clamp_min(1e-12)
    alpha = torch.atan2(y, x)
    delta = torch.acos(torch.clamp(rhs / r, -1.0, 1.0))
    best = None
    best_score = None
    for cand in (alpha + delta, alpha - delta):
        cand = torch.remainder(cand + torch.pi, 2 * torch.pi) - torch.pi
        T = rotation_about(t.expand_as(e), cand)      # (F, 3, 3)
        d = (T.transpose(-1, -2) @ e_hat.unsqueeze(-1)).squeeze(-1)   # child target in a's frame
        bend = (torch.linalg.cross(t_bc.expand_as(d), d, dim=-1) @ h)  # > 0: flexes the right way
        score = bend - 1e-3 * cand.abs()
        if best is None:
            best, best_score = cand, score
        else:
            take = score > best_score
            best = torch.where(take, cand, best)
            best_score = torch.where(take, score, best_score)
    # straight limb: the hinge plane is undefined; fade the twist out smoothly
    perp = (e - (e @ t).unsqueeze(-1) * t).norm(dim=-1) / e.norm(dim=-1).clamp_min(1e-9)
    fade = torch.clamp(perp / 0.1, 0, 1)
    return best * fade


def solve_ik(targets: torch.Tensor, spec: IKSpec, rest_joints: torch.Tensor,
             rest_points: torch.Tensor | None = None, twists: torch.Tensor | None = None,
             weights: torch.Tensor | None = None, hinge_rule: bool = True) -> IKResult:
    """Local rotations placing a body's targeted points on ``targets``.

    targets: (F, T, 3) positions (any frame; the root's rotation is found too);
    rest_joints: (K, 3); rest_points: (P, 3) rest positions of the point handles;
    twists: (F, K) twist angles for single-handle joints (overrides the hinge rule);
    weights: (F, T) per-target weights for the SVD fits (e.g. detector confidence).
    Joints are solved in index order (parents[k] < k).
    """
    F = targets.shape[0]
    K = len(spec.parents)
    dt = targets.dtype
    rest_points = rest_points if rest_points is not None else torch.zeros(0, 3, dtype=dt)
    w_all = weights if weights is not None else torch.ones(targets.shape[:2], dtype=dt)
    eye = torch.eye(3, dtype=dt).expand(F, 3, 3)
    local: list[torch.Tensor] = [eye] * K
    glob: list[torch.Tensor] = [eye] * K
    anchor: list[torch.Tensor] = [torch.zeros(F, 3, dtype=dt)] * K
    handles = [spec.handles(k) for k in range(K)]
    for k in range(K):
        p = spec.parents[k]
        Gp = glob[p] if p >= 0 else eye
        if spec.joint_target[k] >= 0:
            anchor[k] = targets[:, spec.joint_target[k]]
        elif p >= 0:
            anchor[k] = anchor[p] + torch.einsum("fij,j->fi", Gp, rest_joints[k] - rest_joints[p])
        hj, hp = handles[k]
        src = [rest_joints[c] - rest_joints[k] for c in hj] + [rest_points[i] - rest_joints[k] for i in hp]
        if not src:
            R = eye
        else:
            tgt_idx = [spec.joint_target[c] for c in hj] + [spec.point_target[i] for i in hp]
            dst = targets[:, tgt_idx] - anchor[k].unsqueeze(1)                 # (F, H, 3) world
            dst = torch.einsum("fji,fhj->fhi", Gp, dst)                         # parent frame: Gp^T d
            if k == 0 and spec.joint_target[0] < 0 and len(src) >= 3:
                # untargeted root: its position too, by a centred (weighted) Kabsch fit
                S = torch.stack(src).expand(F, -1, -1)                                # (F, H, 3)
                wt = w_all[:, tgt_idx]
                Dw = targets[:, tgt_idx]                                               # world targets
                ws = wt / wt.sum(-1, keepdim=True).clamp_min(1e-9)
                ms, md = (ws.unsqueeze(-1) * S).sum(1), (ws.unsqueeze(-1) * Dw).sum(1)
                R = kabsch(S - ms.unsqueeze(1), Dw - md.unsqueeze(1), wt)
                anchor[0] = md - (R @ ms.unsqueeze(-1)).squeeze(-1)
            elif len(src) >= 2:
                R = kabsch(torch.stack(src).expand(F, -1, -1), dst, w_all[:, tgt_idx])
            else:
                t = src[0]
                d = dst[:, 0]
                S = rotation_between(t.expand_as(d), d)                          # (F, 3, 3)
                phi = None
                if twists is not None:
                    phi = twists[:, k]
                elif hinge_rule and len(hj) == 1 and hj[0] in spec.hinges:
                    b = hj[0]
                    bj, bp = handles[b]
                    if len(bj) == 1 and not bp:
                        c = bj[0]
                        e_world = targets[:, spec.joint_target[c]] - targets[:, spec.joint_target[b]]
                        e = torch.einsum("fji,fj->fi", Gp @ S, e_world)       # (Gp S)^T e_world
                        h = torch.tensor(spec.hinges[b], dtype=dt)
                        phi = _twist_sign_rule(t, e, h, rest_joints[c] - rest_joints[b])
                R = S if phi is None else S @ rotation_about(
                    torch.nn.functional.normalize(t, dim=0).expand(F, 3), phi)
        local[k] = R
        glob[k] = Gp @ R
    return IKResult(torch.stack(local, 1), torch.stack(glob, 1), torch.stack(anchor, 1))


def twist_angles(rotmats: torch.Tensor, rest_joints: torch.Tensor, spec: IKSpec) -> torch.Tensor:
    """The twists that :func:`solve_ik` needs to reproduce ``rotmats`` (F, K, 3, 3) exactly:
    for each single-handle joint, R = swing(t -> R t) @ twist(t, phi); phi (F, K), 0 elsewhere."""
    F, K = rotmats.shape[:2]
    out = torch.zeros(F, K, dtype=rotmats.dtype)
    for k in range(K):
        hj, hp = spec.handles(k)
        if len(hj) + len(hp) != 1 or not hj:
            continue
        t = torch.nn.functional.normalize(rest_joints[hj[0]] - rest_joints[k], dim=0)
        R = rotmats[:, k]
        d = R @ t                                                   # (F, 3)
        S = rotation_between(t.expand_as(d), d)
        Tw = S.transpose(-1, -2) @ R                                # rotation about t
        # angle of Tw about t: take a vector perpendicular to t and measure its turn
        ref = torch.linalg.cross(t, torch.tensor([1.0, 0, 0], dtype=t.dtype) if abs(float(t[0])) < 0.9
                                 else torch.tensor([0, 1.0, 0], dtype=t.dtype), dim=0)
        ref = ref / ref.norm()
        r2 = (Tw @ ref)
        out[:, k] = torch.atan2(torch.linalg.cross(ref.expand_as(r2), r2, dim=-1) @ t, r2 @ ref)
    return out


def _depth(parents: tuple[int, ...], k: int) -> int:
    d = 0
    while parents[k] >= 0:
        k, d = parents[k], d + 1
    return d


def spec_for_keypoints(model, rest) -> tuple[IKSpec, torch.Tensor]:
    """IK spec for a body model's H36M-17 keypoints (``model.keypoints``), and the rest
    positions (P, 3) of its vertex-derived keypoints. ``rest``: the model's RestBody (B = 1)."""
    km = model.keypoints
    K = model.num_joints
    jw, vw = km.joint_w, km.vert_w                                 # (17, K), (17, M)
    joint_target = [-1] * K
    point_target: list[int] = []
    point_owner: list[int] = []
    point_rest: list[torch.Tensor] = []
    for i in range(jw.shape[0]):
        vsum = float(vw[i].abs().sum()) if vw.numel() else 0.0
        top = int(jw[i].argmax())
        if vsum < 1e-6 and abs(float(jw[i, top]) - 1.0) < 1e-6:
            joint_target[top] = i
        else:
            pos = jw[i] @ rest.joints[0] + (vw[i] @ rest.kp_verts[0] if vw.numel() else 0)
            if vsum < 1e-6:
                # a blend of joints moves with the shallowest of them (the others hang below it)
                support = [k for k in range(K) if abs(float(jw[i, k])) > 1e-9]
                depth = [_depth(model.parents, k) for k in support]
                owner = support[depth.index(min(depth))]
            else:
                owner = int((vw[i] @ model.kp_weights).argmax())
            point_target.append(i)
            point_owner.append(owner)
            point_rest.append(pos)
    hinges = {k: tuple(float(x) for x in v) for k, v in model.hinge_axes.items()}
    spec = IKSpec(tuple(model.parents), tuple(joint_target), tuple(point_target), tuple(point_owner), hinges)
    pts = torch.stack(point_rest) if point_rest else torch.zeros(0, 3)
    return spec, pts
