"""Evaluation metrics for 3D pose lifting.

All metric functions take torch tensors shaped ``(..., J, 3)`` (any number of
leading dims, typically ``(B, F, J, 3)`` or ``(F, J, 3)``) and return tensors.
Lengths come out in the units that went in (metres for the whole project);
:func:`evaluate` converts to millimetres / percent for reporting.

Common arguments
----------------
mask
    Optional ``(..., J)`` bool or float tensor, broadcastable to the joint axis of
    the inputs; joints with mask ``0``/``False`` are ignored (left out of the error
    *and*, for P-MPJPE / N-MPJPE, out of the alignment fit).
reduce
    ``True`` (default): one scalar, the mean over every valid joint of every frame
    (with a mask this is joint-weighted, i.e. frames with more valid joints count
    more). ``False``: per-frame values shaped ``(...,)`` (the leading dims), each
    the mean over that frame's valid joints; a frame without any valid joint gives
    ``nan``.

Protocols
---------
* MPJPE: mean Euclidean distance between corresponding joints.
* P-MPJPE: per-frame similarity Procrustes (rotation, isotropic scale,
  translation) of the prediction onto the ground truth, then MPJPE. The rotation
  is forced proper (``det = +1``), so a mirrored pose is *not* aligned away.
* N-MPJPE: per-frame optimal isotropic scale only (no rotation or translation);
  meant for root-relative inputs.
* PCK: fraction of joints whose error is ``<= threshold`` (metres).
* AUC: mean PCK over thresholds ``0 .. 0.150`` m in 31 steps.
* MPJVE: mean Euclidean error of the first differences along the frame axis
  (``dim=-3``), per frame or, with ``fps``, per second.
* Bone-length error: mean over bones (parent -> child of the joint set's tree) and
  frames of ``| |pred bone| - |true bone| |``: does the lift keep the person's body or
  impose the training subjects' one?
* Width ratios: predicted / true shoulder width (left to right shoulder) and hip width
  (left to right hip), each the mean predicted width over all frames divided by the mean
  true width (1 = right; the issue measured 1.75 and 1.26 on a narrower rig).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch import Tensor

from hmcli.skeleton.joints import H36M17

__all__ = [
    "mpjpe",
    "p_mpjpe",
    "n_mpjpe",
    "pck",
    "auc",
    "mpjve",
    "procrustes_align",
    "AUC_THRESHOLDS",
    "EvalReport",
    "evaluate",
    "markdown_table",
    "bone_length_error",
    "joint_distance",
]

#: Default AUC thresholds in metres: 0, 5, 10, ..., 150 mm (31 values).
AUC_THRESHOLDS: tuple[float, ...] = tuple(0.005 * i for i in range(31))

_EPS = 1e-12


# --------------------------------------------------------------------------- helpers


def _check_pair(pred: Tensor, gt: Tensor, min_dims: int = 2) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape, got {tuple(pred.shape)} and {tuple(gt.shape)}")
    if pred.dim() < min_dims or pred.shape[-1] != 3:
        want = "(..., F, J, 3)" if min_dims >= 3 else "(..., J, 3)"
        raise ValueError(f"expected {want}, got {tuple(pred.shape)}")


def _weights(mask: Tensor | None, shape: torch.Size, like: Tensor) -> Tensor | None:
    """Mask -> float weights broadcast to ``shape`` (the per-joint error shape)."""
    if mask is None:
        return None
    m = torch.as_tensor(mask, device=like.device)
    return torch.broadcast_to(m.to(like.dtype), shape)


def _reduce(err: Tensor, w: Tensor | None, reduce: bool) -> Tensor:
    """Mean of per-joint ``err`` (..., J) over valid joints: scalar or per frame (...,)."""
    if w is None:
        return err.mean() if reduce else err.mean(-1)
    err = torch.where(w > 0, err, torch.zeros_like(err))  # keeps nan/inf of masked joints out
    if reduce:
        return (err * w).sum() / w.sum()
    return (err * w).sum(-1) / w.sum(-1)


def _joint_errors(a: Tensor, b: Tensor) -> Tensor:
    return torch.linalg.vector_norm(a - b, dim=-1)  # (..., J)


# --------------------------------------------------------------------------- alignment


def procrustes_align(pred: Tensor, gt: Tensor, weights: Tensor | None = None) -> Tensor:
    """Per-frame similarity alignment of ``pred`` onto ``gt``; returns aligned pred.

    Solves ``min_{s, R, t} sum_j w_j || s R p_j + t - g_j ||^2`` for every leading
    index (frame) independently with ``R`` a proper rotation. With centred points
    ``P0, G0`` and ``H = P0^T W G0 = U S V^T`` (SVD), ``R = V D U^T`` where
    ``D = diag(1, 1, sign det(V U^T))`` and ``s = tr(D S) / sum_j w_j |p0_j|^2``.
    Computed in float64; the result has the dtype of ``pred``.
    """
    _check_pair(pred, gt)
    p = pred.to(torch.float64)  # (..., J, 3)
    g = gt.to(torch.float64)
    if weights is None:
        w = torch.ones(p.shape[:-1], dtype=torch.float64, device=p.device)  # (..., J)
    else:
        w = torch.broadcast_to(torch.as_tensor(weights, device=p.device).to(torch.float64), p.shape[:-1])
    w3 = w.unsqueeze(-1)  # (..., J, 1)
    wsum = w3.sum(-2, keepdim=True).clamp_min(_EPS)  # (..., 1, 1)
    mu_p = (w3 * p).sum(-2, keepdim=True) / wsum  # (..., 1, 3)
    mu_g = (w3 * g).sum(-2, keepdim=True) / wsum
    p0 = p - mu_p  # (..., J, 3)
    g0 = g - mu_g
    h = (w3 * p0).transpose(-1, -2) @ g0  # (..., 3, 3)
    u, s, vh = torch.linalg.svd(h)
    v = vh.transpose(-1, -2)
    d = torch.sign(torch.linalg.det(v @ u.transpose(-1, -2)))  # (...,)
    d = torch.where(d == 0, torch.ones_like(d), d)
    diag = torch.ones_like(s)  # (..., 3)
    diag = torch.cat([diag[..., :2], d.unsqueeze(-1)], dim=-1)
    rot = v @ (diag.unsqueeze(-1) * u.transpose(-1, -2))  # (..., 3, 3)  V D U^T
    var_p = (w3 * p0.square()).sum(dim=(-2, -1)).clamp_min(_EPS)  # (...,)
    scale = (s * diag).sum(-1) / var_p  # (...,)
    aligned = scale[..., None, None] * (p0 @ rot.transpose(-1, -2)) + mu_g  # (..., J, 3)
    return aligned.to(pred.dtype)


# --------------------------------------------------------------------------- metrics


def mpjpe(pred: Tensor, gt: Tensor, mask: Tensor | None = None, reduce: bool = True) -> Tensor:
    """Mean per-joint position error (Euclidean), in input units."""
    _check_pair(pred, gt)
    err = _joint_errors(pred, gt)  # (..., J)
    return _reduce(err, _weights(mask, err.shape, err), reduce)


def p_mpjpe(pred: Tensor, gt: Tensor, mask: Tensor | None = None, reduce: bool = True) -> Tensor:
    """MPJPE after per-frame similarity Procrustes alignment (see :func:`procrustes_align`)."""
    _check_pair(pred, gt)
    w = _weights(mask, pred.shape[:-1], pred)  # (..., J) or None
    aligned = procrustes_align(pred, gt, w)  # (..., J, 3)
    err = _joint_errors(aligned, gt)
    return _reduce(err, w, reduce)


def n_mpjpe(pred: Tensor, gt: Tensor, mask: Tensor | None = None, reduce: bool = True) -> Tensor:
    """MPJPE after the per-frame optimal isotropic scale ``s = <p, g> / <p, p>``.

    No centring is done: pass root-relative poses.
    """
    _check_pair(pred, gt)
    w = _weights(mask, pred.shape[:-1], pred)
    w3 = torch.ones_like(pred[..., :1]) if w is None else w.unsqueeze(-1)  # (..., J, 1)
    pz = torch.where(w3 > 0, pred, torch.zeros_like(pred))
    gz = torch.where(w3 > 0, gt, torch.zeros_like(gt))
    num = (w3 * pz * gz).sum(dim=(-2, -1), keepdim=True)  # (..., 1, 1)
    den = (w3 * pz * pz).sum(dim=(-2, -1), keepdim=True).clamp_min(_EPS)
    err = _joint_errors(pred * (num / den), gt)  # (..., J)
    return _reduce(err, w, reduce)


def pck(
    pred: Tensor, gt: Tensor, threshold: float = 0.150, mask: Tensor | None = None, reduce: bool = True
) -> Tensor:
    """Fraction (0..1) of joints with error ``<= threshold`` (input units, metres by default)."""
    _check_pair(pred, gt)
    err = _joint_errors(pred, gt)  # (..., J)
    hit = (err <= threshold).to(err.dtype)
    return _reduce(hit, _weights(mask, err.shape, err), reduce)


def auc(
    pred: Tensor,
    gt: Tensor,
    thresholds: Sequence[float] | Tensor | None = None,
    mask: Tensor | None = None,
    reduce: bool = True,
) -> Tensor:
    """Area under the PCK curve: mean PCK (0..1) over ``thresholds`` (default 0..0.150 m, 31 steps)."""
    _check_pair(pred, gt)
    err = _joint_errors(pred, gt)  # (..., J)
    thr = torch.as_tensor(AUC_THRESHOLDS if thresholds is None else thresholds, dtype=err.dtype, device=err.device)
    if thr.numel() == 0:
        raise ValueError("thresholds must not be empty")
    # PCK is linear in the per-joint hit indicator, so averaging hits over thresholds
    # first and then over joints equals the mean of the per-threshold PCKs.
    score = (err.unsqueeze(-1) <= thr.reshape(-1)).to(err.dtype).mean(-1)  # (..., J)
    return _reduce(score, _weights(mask, err.shape, err), reduce)


def mpjve(
    pred: Tensor, gt: Tensor, fps: float | None = None, mask: Tensor | None = None, reduce: bool = True
) -> Tensor:
    """Mean per-joint velocity error.

    Velocities are first differences along the frame axis (``dim=-3``), so inputs
    are ``(..., F, J, 3)``. Units: input units per frame, or per second when ``fps``
    is given. A joint's velocity is valid when the joint is valid in both frames.
    ``reduce=False`` returns ``(..., F-1)``, one value per pair of consecutive
    frames. Fewer than two frames: ``nan`` (nothing to measure).
    """
    _check_pair(pred, gt, min_dims=3)
    v_pred = pred[..., 1:, :, :] - pred[..., :-1, :, :]  # (..., F-1, J, 3)
    v_gt = gt[..., 1:, :, :] - gt[..., :-1, :, :]
    err = _joint_errors(v_pred, v_gt)  # (..., F-1, J)
    if fps is not None:
        err = err * float(fps)
    w = None
    if mask is not None:
        wf = _weights(mask, pred.shape[:-1], pred)  # (..., F, J)
        w = wf[..., 1:, :] * wf[..., :-1, :]  # (..., F-1, J)
    if err.numel() == 0 and reduce:
        return err.new_tensor(float("nan"))
    return _reduce(err, w, reduce)


def bone_length_error(pred: Tensor, gt: Tensor, parents: Sequence[int], reduce: bool = True) -> Tensor:
    """Mean absolute bone-length difference, input units; ``reduce=False``: per frame (...,).

    parents: parent index per joint (-1 at the root); every other joint ends one bone.
    """
    _check_pair(pred, gt)
    if pred.shape[-2] != len(parents):
        raise ValueError(f"{len(parents)} parents for {pred.shape[-2]} joints")
    child = [c for c, p in enumerate(parents) if p >= 0]
    par = [parents[c] for c in child]
    lp = torch.linalg.vector_norm(pred[..., child, :] - pred[..., par, :], dim=-1)  # (..., B)
    lg = torch.linalg.vector_norm(gt[..., child, :] - gt[..., par, :], dim=-1)  # (..., B)
    err = (lp - lg).abs()  # (..., B)
    return err.mean() if reduce else err.mean(-1)


def joint_distance(x: Tensor, a: int, b: int) -> Tensor:
    """(...,) distance between joints ``a`` and ``b`` of (..., J, 3) poses."""
    return torch.linalg.vector_norm(x[..., a, :] - x[..., b, :], dim=-1)


# --------------------------------------------------------------------------- reports


@dataclass
class EvalReport:
    """Aggregated evaluation. Lengths in millimetres, PCK / AUC in percent.

    ``mpjve`` is mm per frame, or mm per second when :func:`evaluate` got ``fps``;
    it is ``nan`` when no sequence has two frames.
    """

    mpjpe: float
    p_mpjpe: float
    n_mpjpe: float
    pck150: float
    auc: float
    mpjve: float
    num_frames: int
    per_action: dict[str, "EvalReport"] = field(default_factory=dict)
    bone_err: float = math.nan  # mm, mean |predicted - true| bone length (nan: no bone tree given)
    shoulder_ratio: float = math.nan  # mean predicted / mean true shoulder width
    hip_ratio: float = math.nan  # mean predicted / mean true hip width

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "per_action"}
        d["per_action"] = {k: v.to_dict() for k, v in self.per_action.items()}
        return d


_COLUMNS: tuple[tuple[str, str], ...] = (
    ("mpjpe", "MPJPE (mm)"),
    ("p_mpjpe", "P-MPJPE (mm)"),
    ("n_mpjpe", "N-MPJPE (mm)"),
    ("pck150", "PCK@150 (%)"),
    ("auc", "AUC (%)"),
    ("mpjve", "MPJVE (mm)"),
)


_BONE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("bone_err", "bone err (mm)", ".1f"),
    ("shoulder_ratio", "shoulder ×", ".2f"),
    ("hip_ratio", "hip ×", ".2f"),
)


def markdown_table(reports: dict[str, EvalReport], per_action: bool = False, bones: bool = False) -> str:
    """Markdown table with one row per named report (plus ``name/action`` rows if ``per_action``;
    with ``bones`` the bone-length error and the shoulder / hip width ratios too)."""
    extra = _BONE_COLUMNS if bones else ()
    header = "| name | " + " | ".join(t for _, t in _COLUMNS) + "".join(f" | {t}" for _, t, _ in extra) + " | frames |"
    sep = "|---|" + "---:|" * (len(_COLUMNS) + len(extra) + 1)
    lines = [header, sep]

    def row(name: str, r: EvalReport) -> str:
        vals = " | ".join(f"{getattr(r, k):.1f}" for k, _ in _COLUMNS)
        vals += "".join(f" | {getattr(r, k):{f}}" for k, _, f in extra)
        return f"| {name} | {vals} | {r.num_frames} |"

    for name, rep in reports.items():
        lines.append(row(name, rep))
        if per_action:
            for action in sorted(rep.per_action):
                lines.append(row(f"{name}/{action}", rep.per_action[action]))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BodyJoints:
    """What the bone metrics need of a joint layout: its tree and the joints whose distances are the widths."""

    parents: tuple[int, ...]
    shoulders: tuple[int, int]
    hips: tuple[int, int]


#: The H36M-17 layout of the lifters' output.
H36M17_BODY = BodyJoints(parents=tuple(H36M17.parents or ()),
                         shoulders=(H36M17.index("left_shoulder"), H36M17.index("right_shoulder")),
                         hips=(H36M17.index("left_hip"), H36M17.index("right_hip")))


def _frame_stats(pred: Tensor, gt: Tensor, fps: float | None, body: BodyJoints | None = None) -> dict[str, Tensor]:
    """Per-frame (and per-transition for mpjve) values for one (F, J, 3) sequence."""
    out = {
        "mpjpe": mpjpe(pred, gt, reduce=False),  # (F,)
        "p_mpjpe": p_mpjpe(pred, gt, reduce=False),
        "n_mpjpe": n_mpjpe(pred, gt, reduce=False),
        "pck150": pck(pred, gt, 0.150, reduce=False),
        "auc": auc(pred, gt, reduce=False),
        "mpjve": mpjve(pred, gt, fps=fps, reduce=False),  # (F-1,)
    }
    if body is not None and pred.shape[-2] == len(body.parents):
        out["bone_err"] = bone_length_error(pred, gt, body.parents, reduce=False)  # (F,)
        for name, (a, b) in (("shoulder", body.shoulders), ("hip", body.hips)):
            out[f"{name}_pred"] = joint_distance(pred, a, b)  # (F,)
            out[f"{name}_true"] = joint_distance(gt, a, b)  # (F,)
    return out


def _mean(values: list[Tensor]) -> float:
    v = torch.cat([x.reshape(-1) for x in values]) if values else torch.empty(0)
    return float(v.mean()) if v.numel() else math.nan


def _build_report(stats: list[dict[str, Tensor]]) -> EvalReport:
    scale = {"mpjpe": 1000.0, "p_mpjpe": 1000.0, "n_mpjpe": 1000.0, "pck150": 100.0, "auc": 100.0, "mpjve": 1000.0}
    vals = {k: _mean([s[k] for s in stats]) * c for k, c in scale.items()}
    if stats and all("bone_err" in s for s in stats):
        vals["bone_err"] = _mean([s["bone_err"] for s in stats]) * 1000.0
        for name in ("shoulder", "hip"):
            vals[f"{name}_ratio"] = _mean([s[f"{name}_pred"] for s in stats]) / _mean([s[f"{name}_true"] for s in stats])
    return EvalReport(**vals, num_frames=sum(int(s["mpjpe"].numel()) for s in stats))


def evaluate(
    preds: Sequence[Tensor],
    gts: Sequence[Tensor],
    actions: Sequence[str] | None = None,
    fps: float | None = None,
    root: int | None = 0,
    body: BodyJoints | None = H36M17_BODY,
) -> EvalReport:
    """Evaluate a list of ``(F, J, 3)`` sequences in metres; returns mm / % values.

    Every metric is frame-weighted over all sequences (each frame counts once,
    whatever its sequence's length); MPJVE is weighted by frame transitions
    (``F - 1`` per sequence). With ``root`` (default joint 0) both poses are made
    root-relative first (protocol #1); ``root=None`` uses them as given. With
    ``actions`` (one name per sequence) ``per_action`` holds one report per action.
    ``body``: the layout for the bone-length error and width ratios, measured when the
    poses have its number of joints (else those stay nan).
    """
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predictions for {len(gts)} ground-truth sequences")
    if actions is not None and len(actions) != len(preds):
        raise ValueError(f"{len(actions)} actions for {len(preds)} sequences")
    stats = []
    with torch.no_grad():
        for p, g in zip(preds, gts):
            p = torch.as_tensor(p).to(torch.float64)  # (F, J, 3)
            g = torch.as_tensor(g).to(torch.float64)
            _check_pair(p, g, min_dims=3)
            if p.dim() != 3:
                raise ValueError(f"each sequence must be (F, J, 3), got {tuple(p.shape)}")
            if root is not None:
                p = p - p[:, root : root + 1]
                g = g - g[:, root : root + 1]
            stats.append(_frame_stats(p, g, fps, body))
    report = _build_report(stats)
    if actions is not None:
        groups: dict[str, list[dict[str, Tensor]]] = {}
        for a, s in zip(actions, stats):
            groups.setdefault(str(a), []).append(s)
        report.per_action = {a: _build_report(ss) for a, ss in sorted(groups.items())}
    return report
