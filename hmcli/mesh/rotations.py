"""Rotation helpers in torch (batched over any leading axes, differentiable).

Axis-angle -> matrix goes through ``torch.linalg.matrix_exp`` of the skew matrix; matrix ->
axis-angle through a unit quaternion (stable at 0 and near pi); the continuous 6D
representation is the first two columns of the matrix, orthonormalised back by Gram-Schmidt.
"""

from __future__ import annotations

import torch

__all__ = [
    "skew",
    "axis_angle_to_matrix",
    "axis_angle_to_matrix_reference",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "rot6d_to_matrix",
    "matrix_to_rot6d",
    "rotation_between",
    "rotation_about",
    "kabsch",
]


def skew(v: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3) cross-product matrices: skew(a) @ b = a x b."""
    z = torch.zeros_like(v[..., 0])
    x, y, w = v[..., 0], v[..., 1], v[..., 2]
    return torch.stack([z, -w, y, w, z, -x, -y, x, z], -1).reshape(*v.shape[:-1], 3, 3)


def axis_angle_to_matrix(v: torch.Tensor) -> torch.Tensor:
    """(..., 3) rotation vectors (axis * angle, radians) -> (..., 3, 3), by Rodrigues' formula
    I + sin(t)/t S + (1 - cos t)/t^2 S^2 (S = skew(v)), with the series near t = 0 so values and
    gradients stay finite. :func:`axis_angle_to_matrix_reference` is the plain matrix
    exponential it is tested against."""
    t2 = (v * v).sum(-1, keepdim=True).unsqueeze(-1)         # (..., 1, 1)
    small = t2 < 1e-8
    t2s = torch.where(small, torch.ones_like(t2), t2)
    t = torch.sqrt(t2s)
    a = torch.where(small, 1 - t2 / 6, torch.sin(t) / t)
    b = torch.where(small, 0.5 - t2 / 24, (1 - torch.cos(t)) / t2s)
    S = skew(v)
    eye = torch.eye(3, dtype=v.dtype, device=v.device)
    return eye + a * S + b * (S @ S)


def axis_angle_to_matrix_reference(v: torch.Tensor) -> torch.Tensor:
    """The matrix exponential of the skew matrix (torch.linalg.matrix_exp): slow, exact."""
    return torch.linalg.matrix_exp(skew(v))


def matrix_to_quaternion(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 4) unit quaternions (w, x, y, z) with w >= 0."""
    m = R
    tr = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    # four candidate (unnormalised) quaternions; keep the best-conditioned one per matrix
    q0 = torch.stack([1 + tr, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1)
    q1 = torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
                      m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1)
    q2 = torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0],
                      1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], m[..., 1, 2] + m[..., 2, 1]], -1)
    q3 = torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0],
                      m[..., 1, 2] + m[..., 2, 1], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1)
    cands = torch.stack([q0, q1, q2, q3], -2)                               # (..., 4, 4)
    diag = torch.stack([tr, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], -1)  # (..., 4)
    best = diag.argmax(-1, keepdim=True)                                    # (..., 1)
    q = torch.take_along_dim(cands, best[..., None].expand(*best.shape, 4), -2).squeeze(-2)
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return torch.where(q[..., :1] < 0, -q, q)


def matrix_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 3) rotation vectors with angle in [0, pi]."""
    q = matrix_to_quaternion(R)
    s = q[..., 1:].norm(dim=-1, keepdim=True)                   # sin(angle / 2)
    angle = 2 * torch.atan2(s, q[..., :1])                      # (..., 1)
    # angle / sin(angle/2) -> 2 as angle -> 0
    scale = torch.where(s > 1e-7, angle / s.clamp_min(1e-12), torch.full_like(s, 2.0))
    return q[..., 1:] * scale


def rot6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """(..., 6) first two columns -> (..., 3, 3) rotation (columns b1, b2, b1 x b2)."""
    a1, a2 = d6[..., 0:3], d6[..., 3:6]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], -1)


def matrix_to_rot6d(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): the first two columns."""
    return torch.cat([R[..., :, 0], R[..., :, 1]], -1)


def rotation_about(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotation by ``angle`` (...) about unit ``axis`` (..., 3) -> (..., 3, 3)."""
    return axis_angle_to_matrix(axis * angle.unsqueeze(-1))


def rotation_between(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """The smallest rotation turning direction ``a`` onto direction ``b`` (..., 3) -> (..., 3, 3):
    I + [v]x + [v]x^2 / (1 + c) with v = a x b, c = a . b (unit vectors). Antiparallel inputs
    turn by pi about an axis perpendicular to ``a``."""
    a = torch.nn.functional.normalize(a, dim=-1, eps=eps)
    b = torch.nn.functional.normalize(b, dim=-1, eps=eps)
    v = torch.linalg.cross(a, b, dim=-1)                       # (..., 3)
    c = (a * b).sum(-1)[..., None, None]                       # (..., 1, 1)
    anti = c < -1 + 1e-6
    S = skew(v)
    eye = torch.eye(3, dtype=a.dtype, device=a.device)
    R = eye + S + (S @ S) / torch.where(anti, torch.ones_like(c), 1 + c)
    if bool(anti.any()):
        helper = torch.where(a[..., :1].abs() < 0.9, torch.tensor([1.0, 0, 0], dtype=a.dtype),
                             torch.tensor([0, 1.0, 0], dtype=a.dtype))
        perp = torch.nn.functional.normalize(torch.linalg.cross(a, helper, dim=-1), dim=-1, eps=eps)
        flip = 2 * perp.unsqueeze(-1) @ perp.unsqueeze(-2) - eye          # rotation by pi about perp
        R = torch.where(anti, flip, R)
    return R


def kabsch(src: torch.Tensor, dst: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Rotation R minimising sum_i w_i |R src_i - dst_i|^2 (no centring: vectors about an anchor).

    src, dst: (..., N, 3); weights: (..., N) or None. Reflections are fixed (det R = +1).
    """
    w = torch.ones_like(src[..., 0]) if weights is None else weights
    H = torch.einsum("...n,...ni,...nj->...ij", w, dst, src)    # (..., 3, 3) sum w dst src^T
    U, _, Vh = torch.linalg.svd(H)
    d = torch.sign(torch.linalg.det(U @ Vh))
    d = torch.where(d == 0, torch.ones_like(d), d)
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    return U @ D @ Vh
