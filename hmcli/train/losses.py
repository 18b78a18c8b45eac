"""Training losses for 3D pose lifting.

Poses are torch tensors ``(..., F, J, 3)`` (typically ``(B, F, J, 3)``) in model
units (metres with the default :class:`hmcli.skeleton.codec.PoseCodec`),
root-relative, camera axes (x right, y down, z forward).

* :func:`mpjpe_loss`: mean Euclidean joint error, optional per-joint weights.
* :func:`velocity_loss`: mean L2 norm of the difference between predicted and
  ground-truth first temporal differences (HumMUSS Eq. 3 style).
* :func:`reprojection_loss`: confidence-weighted 2D error between a
  weak-perspective projection of the predicted pose and the normalised 2D input.
* :class:`PoseLoss`: weighted sum ``mpjpe + lambda_vel * velocity + lambda_reproj * reproj``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["mpjpe_loss", "velocity_loss", "reprojection_loss", "weak_perspective_fit", "PoseLoss"]


def _check_pair(pred: Tensor, gt: Tensor, min_dims: int = 2) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape, got {tuple(pred.shape)} and {tuple(gt.shape)}")
    if pred.dim() < min_dims or pred.shape[-1] != 3:
        raise ValueError(f"expected (..., {'F, ' if min_dims >= 3 else ''}J, 3), got {tuple(pred.shape)}")


def mpjpe_loss(pred: Tensor, gt: Tensor, weight: Sequence[float] | Tensor | None = None) -> Tensor:
    """Mean Euclidean joint error; ``weight`` (J,) (or broadcastable to (..., J)) scales each joint.

    Weights are not renormalised: all-ones weights give the plain MPJPE.
    """
    _check_pair(pred, gt)
    err = torch.linalg.vector_norm(pred - gt, dim=-1)  # (..., J)
    if weight is not None:
        w = torch.as_tensor(weight, dtype=err.dtype, device=err.device)
        err = err * w
    return err.mean()


def velocity_loss(pred: Tensor, gt: Tensor) -> Tensor:
    """Mean ``|| (p_t - p_{t-1}) - (g_t - g_{t-1}) ||_2`` over frames t >= 1, joints, batch.

    Differences are along the frame axis ``dim=-3`` of ``(..., F, J, 3)``.
    Returns 0 (still attached to ``pred``'s graph) when ``F < 2``.
    """
    _check_pair(pred, gt, min_dims=3)
    if pred.shape[-3] < 2:
        return pred[..., :0, :, :].sum()  # exact 0 with a grad path
    v_pred = pred[..., 1:, :, :] - pred[..., :-1, :, :]  # (..., F-1, J, 3)
    v_gt = gt[..., 1:, :, :] - gt[..., :-1, :, :]
    return torch.linalg.vector_norm(v_pred - v_gt, dim=-1).mean()


def weak_perspective_fit(
    xy: Tensor, uv: Tensor, conf: Tensor, eps: float = 1e-8
) -> tuple[Tensor, Tensor]:
    """Closed-form weighted least squares ``min_{s, t} sum_j c_j || s xy_j + t - uv_j ||^2``.

    ``xy``, ``uv``: (..., J, 2); ``conf``: (..., J) >= 0. Solved per pose (per
    leading index): with confidence-weighted centroids ``xy_bar``, ``uv_bar``,
    ``s = sum c <xy - xy_bar, uv - uv_bar> / (sum c |xy - xy_bar|^2 + eps)`` clamped
    at 0, and ``t = uv_bar - s xy_bar``. Returns ``s`` (..., 1, 1) and ``t`` (..., 1, 2).
    The small ``eps`` keeps ``s`` finite and differentiable for a collapsed pose.
    """
    c = conf.unsqueeze(-1)  # (..., J, 1)
    csum = c.sum(-2, keepdim=True).clamp_min(1e-12)  # (..., 1, 1)
    xy_bar = (c * xy).sum(-2, keepdim=True) / csum  # (..., 1, 2)
    uv_bar = (c * uv).sum(-2, keepdim=True) / csum
    x0 = xy - xy_bar  # (..., J, 2)
    u0 = uv - uv_bar
    num = (c * x0 * u0).sum(dim=(-2, -1), keepdim=True)  # (..., 1, 1)
    den = (c * x0 * x0).sum(dim=(-2, -1), keepdim=True) + eps
    s = (num / den).clamp_min(0.0)
    return s, uv_bar - s * xy_bar


def reprojection_loss(
    pred3d: Tensor, kpts2d: Tensor, conf: Tensor | None = None, eps: float = 1e-8
) -> Tensor:
    """Confidence-weighted 2D error of the weak-perspective projection of ``pred3d``.

    pred3d: (..., J, 3) root-relative camera-frame pose (metres / model units).
    kpts2d: (..., J, 2) normalised 2D (``PoseCodec.encode_2d`` units), or
        (..., J, 3) with the confidence in the last channel.
    conf:   (..., J) confidence; overrides the third channel of ``kpts2d``; all
        ones when neither is given. Values <= 0 mark a joint as missing.

    Why weak perspective: the true projection ``u = f x / z + c`` needs the focal
    length and the absolute root position, neither of which is in a training batch
    (the 3D is root-relative, the 2D is normalised by image size). For a person
    whose depth extent is small next to the camera distance, ``z ~ z_root`` and the
    projection is ``u ~ s * x + t`` with one isotropic scale ``s = f / z_root`` and a
    2D translation ``t``; the codec's 2D normalisation is isotropic (same divisor on
    both axes), so the same form holds in normalised units. ``s`` and ``t`` are
    solved per pose (per frame) in closed form by confidence-weighted least squares
    (:func:`weak_perspective_fit`), so the loss only measures how well the predicted
    (x, y) *shape* explains the 2D evidence. The scale is clamped at 0 so that a
    pose rotated 180 degrees about the optical axis is not accepted as a fit (image
    and camera axes have the same orientation, so the true scale is positive).

    Returns ``sum_j c_j || s xy_j + t - uv_j || / sum_j c_j`` over all leading dims
    (0 when every confidence is 0). Missing joints take no part in the fit nor the loss.
    """
    if pred3d.dim() < 2 or pred3d.shape[-1] != 3:
        raise ValueError(f"pred3d must be (..., J, 3), got {tuple(pred3d.shape)}")
    if kpts2d.shape[:-1] != pred3d.shape[:-1] or kpts2d.shape[-1] not in (2, 3):
        raise ValueError(f"kpts2d must be {tuple(pred3d.shape[:-1])} + (2,) or (3,), got {tuple(kpts2d.shape)}")
    uv = kpts2d[..., :2].to(pred3d.dtype)  # (..., J, 2)
    if conf is None:
        conf = kpts2d[..., 2] if kpts2d.shape[-1] == 3 else torch.ones_like(uv[..., 0])
    c = torch.broadcast_to(torch.as_tensor(conf, device=pred3d.device).to(pred3d.dtype), uv.shape[:-1])
    c = c.clamp_min(0.0)  # (..., J)
    valid = (c > 0).unsqueeze(-1)
    uv = torch.where(valid, uv, torch.zeros_like(uv))  # garbage of missing joints never enters
    xy = pred3d[..., :2]  # (..., J, 2)
    s, t = weak_perspective_fit(xy, uv, c, eps=eps)
    proj = s * xy + t  # (..., J, 2)
    err = torch.linalg.vector_norm(proj - uv, dim=-1)  # (..., J)
    return (c * err).sum() / c.sum().clamp_min(1e-12)


@dataclass
class PoseLoss:
    """``total = mpjpe + lambda_vel * velocity + lambda_reproj * reprojection``.

    ``lambda_vel = 1.0``: HumMUSS trains with the 3D loss plus a velocity term
    weighted by a lambda of order one (values around 0.5-2 behave similarly); 1.0
    gives both terms equal say. ``lambda_reproj = 0.0``: the reprojection term is
    off by default (full 3D supervision); raise it for 2D-only / semi-supervised
    data. ``joint_weights`` (J,) goes to :func:`mpjpe_loss`.
    """

    lambda_vel: float = 1.0
    lambda_reproj: float = 0.0
    joint_weights: Sequence[float] | None = None

    def __call__(
        self, pred: Tensor, gt: Tensor, kpts2d: Tensor | None = None, conf: Tensor | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """pred, gt: (B, F, J, 3); kpts2d: (B, F, J, 3) encoded (u, v, conf) or (B, F, J, 2) + conf.

        Returns the total (with grad) and detached parts ``mpjpe``, ``velocity``,
        ``reproj`` (only when ``kpts2d`` is given) and ``total``.
        """
        if self.lambda_reproj > 0 and kpts2d is None:
            raise ValueError("lambda_reproj > 0 needs kpts2d")
        parts: dict[str, Tensor] = {}
        l_pos = mpjpe_loss(pred, gt, self.joint_weights)
        total = l_pos
        parts["mpjpe"] = l_pos
        if pred.dim() >= 3:
            l_vel = velocity_loss(pred, gt)
            parts["velocity"] = l_vel
            if self.lambda_vel:
                total = total + self.lambda_vel * l_vel
        if kpts2d is not None:
            l_rep = reprojection_loss(pred, kpts2d, conf)
            parts["reproj"] = l_rep
            if self.lambda_reproj:
                total = total + self.lambda_reproj * l_rep
        parts["total"] = total
        return total, {k: v.detach() for k, v in parts.items()}
