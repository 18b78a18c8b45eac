"""Rotation helpers: round trips, edge cases (0 and pi), Kabsch with reflections."""

from __future__ import annotations

import math

import torch

from hmcli.mesh.rotations import (
    axis_angle_to_matrix,
    kabsch,
    matrix_to_axis_angle,
    matrix_to_rot6d,
    rot6d_to_matrix,
    rotation_between,
)


def _rand_aa(n, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g, dtype=torch.float64) * scale


def test_axis_angle_round_trip_including_zero_and_near_pi():
    aa = _rand_aa(200)
    aa = aa / aa.norm(dim=-1, keepdim=True) * torch.rand(200, 1, dtype=torch.float64) * (math.pi - 1e-3)
    aa[0] = 0
    aa[1] = torch.tensor([0, 0, math.pi - 1e-6], dtype=torch.float64)
    R = axis_angle_to_matrix(aa)
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(200, 3, 3), atol=1e-12)
    back = matrix_to_axis_angle(R)
    assert torch.allclose(axis_angle_to_matrix(back), R, atol=1e-9)
    assert torch.allclose(back[2:], aa[2:], atol=1e-7)


def test_rot6d_round_trip_and_orthonormalises():
    R = axis_angle_to_matrix(_rand_aa(50, 2.0))
    assert torch.allclose(rot6d_to_matrix(matrix_to_rot6d(R)), R, atol=1e-12)
    noisy = matrix_to_rot6d(R) + 0.1 * torch.randn(50, 6, dtype=torch.float64)
    Q = rot6d_to_matrix(noisy)
    assert torch.allclose(Q @ Q.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(50, 3, 3), atol=1e-12)
    assert torch.allclose(torch.linalg.det(Q), torch.ones(50, dtype=torch.float64))


def test_rotation_between_maps_a_to_b_also_antiparallel():
    a = torch.randn(100, 3, dtype=torch.float64)
    b = torch.randn(100, 3, dtype=torch.float64)
    b[0] = -a[0]
    b[1] = a[1] * 3
    R = rotation_between(a, b)
    got = (R @ (a / a.norm(dim=-1, keepdim=True)).unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(got, b / b.norm(dim=-1, keepdim=True), atol=1e-9)
    assert torch.allclose(R[1], torch.eye(3, dtype=torch.float64), atol=1e-9)


def test_kabsch_recovers_rotation_and_fixes_reflection():
    R = axis_angle_to_matrix(_rand_aa(20, 2.0, seed=1))
    src = torch.randn(20, 5, 3, dtype=torch.float64)
    dst = (R.unsqueeze(1) @ src.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(kabsch(src, dst), R, atol=1e-9)
    # a mirrored target: the best proper rotation, never a reflection
    mirrored = dst * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    Q = kabsch(src, mirrored)
    assert torch.allclose(torch.linalg.det(Q), torch.ones(20, dtype=torch.float64), atol=1e-9)
    # planar points (rank 2) still give a proper rotation that maps them exactly
    flat = src.clone()
    flat[..., 2] = 0
    dflat = (R.unsqueeze(1) @ flat.unsqueeze(-1)).squeeze(-1)
    Qf = kabsch(flat, dflat)
    assert torch.allclose((Qf.unsqueeze(1) @ flat.unsqueeze(-1)).squeeze(-1), dflat, atol=1e-9)
    assert torch.allclose(torch.linalg.det(Qf), torch.ones(20, dtype=torch.float64), atol=1e-9)


def test_rodrigues_fast_path_equals_matrix_exponential():
    from hmcli.mesh.rotations import axis_angle_to_matrix_reference

    aa = _rand_aa(300, 1.5, seed=4)
    aa[:3] = torch.tensor([[0, 0, 0], [1e-6, 0, 0], [0, 3.1, 0]], dtype=torch.float64)
    assert torch.allclose(axis_angle_to_matrix(aa), axis_angle_to_matrix_reference(aa), atol=1e-12)
    v = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    axis_angle_to_matrix(v).sum().backward()
    assert torch.isfinite(v.grad).all()
