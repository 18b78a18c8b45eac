"""Analytic IK: known rotations -> joints -> IK -> the same rotations; batch = loop; hinge rule."""

from __future__ import annotations

import math

import torch

from hmcli.mesh.body import SMPL_PARENTS, forward_kinematics
from hmcli.mesh.ik import IKSpec, solve_ik, twist_angles
from hmcli.mesh.rotations import axis_angle_to_matrix, matrix_to_axis_angle, rotation_about

LEAVES = (10, 11, 15, 22, 23)


def _tpose() -> torch.Tensor:
    """A rough SMPL-like T-pose (metres, Y up, X = body's left, Z forward)."""
    j = torch.zeros(24, 3, dtype=torch.float64)
    P = {0: (0, 0.93, 0), 1: (0.09, 0.85, 0), 2: (-0.09, 0.85, 0), 3: (0, 1.03, -0.01), 4: (0.1, 0.47, 0),
         5: (-0.1, 0.47, 0), 6: (0, 1.16, 0), 7: (0.1, 0.07, -0.02), 8: (-0.1, 0.07, -0.02), 9: (0, 1.22, 0.01),
         10: (0.11, 0.02, 0.1), 11: (-0.11, 0.02, 0.1), 12: (0, 1.45, -0.01), 13: (0.08, 1.38, 0),
         14: (-0.08, 1.38, 0), 15: (0, 1.53, 0.03), 16: (0.18, 1.40, -0.01), 17: (-0.18, 1.40, -0.01),
         18: (0.45, 1.40, -0.02), 19: (-0.45, 1.40, -0.02), 20: (0.70, 1.40, -0.01), 21: (-0.70, 1.40, -0.01),
         22: (0.78, 1.40, -0.01), 23: (-0.78, 1.40, -0.01)}
    for k, v in P.items():
        j[k] = torch.tensor(v, dtype=torch.float64)
    return j


def _random_pose(F: int, seed: int = 0, scale: float = 0.6) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    R = axis_angle_to_matrix(torch.randn(F, 24, 3, generator=g, dtype=torch.float64) * scale)
    R[:, list(LEAVES)] = torch.eye(3, dtype=torch.float64)
    return R


def test_known_rotations_are_recovered_when_twists_are_given():
    rest = _tpose()
    R = _random_pose(64)
    R[:, 0] = axis_angle_to_matrix(torch.tensor([math.pi * 0.9, 0.3, 0.1], dtype=torch.float64))  # large root turn
    joints, _ = forward_kinematics(R, rest[None], SMPL_PARENTS)
    spec = IKSpec(SMPL_PARENTS, tuple(range(24)))
    res = solve_ik(joints, spec, rest, twists=twist_angles(R, rest, spec))
    err = matrix_to_axis_angle(res.rotmats.transpose(-1, -2) @ R).norm(dim=-1)   # (F, K) rad
    assert float(err.max()) < 1e-4
    fk, _ = forward_kinematics(res.rotmats, rest[None], SMPL_PARENTS)
    assert torch.allclose(fk, joints, atol=1e-9)


def test_root_by_svd_is_proper_even_for_mirrored_targets():
    rest = _tpose()
    R = _random_pose(8, seed=3)
    joints, _ = forward_kinematics(R, rest[None], SMPL_PARENTS)
    mirrored = joints * torch.tensor([-1.0, 1, 1], dtype=torch.float64)
    res = solve_ik(mirrored, IKSpec(SMPL_PARENTS, tuple(range(24))), rest)
    det = torch.linalg.det(res.rotmats)
    assert torch.allclose(det, torch.ones_like(det), atol=1e-9)


def test_batch_equals_loop():
    rest = _tpose()
    R = _random_pose(10, seed=5)
    joints, _ = forward_kinematics(R, rest[None], SMPL_PARENTS)
    spec = IKSpec(SMPL_PARENTS, tuple(range(24)))
    tw = twist_angles(R, rest, spec)
    batch = solve_ik(joints, spec, rest, twists=tw).rotmats
    loop = torch.cat([solve_ik(joints[i:i + 1], spec, rest, twists=tw[i:i + 1]).rotmats for i in range(10)])
    assert torch.allclose(batch, loop, atol=1e-12)


def test_swing_only_positions_still_match_without_twists():
    """Without twists every targeted joint still lands on its target (twist moves no joint)."""
    rest = _tpose()
    R = _random_pose(16, seed=7)
    joints, _ = forward_kinematics(R, rest[None], SMPL_PARENTS)
    res = solve_ik(joints, IKSpec(SMPL_PARENTS, tuple(range(24))), rest)
    fk, _ = forward_kinematics(res.rotmats, rest[None], SMPL_PARENTS)
    assert torch.allclose(fk, joints, atol=1e-9)


def test_hinge_rule_makes_knee_a_pure_hinge():
    """Sparse targets (no knee twist given): the hip's twist is chosen so the knee bends only
    about its flexion axis (+X), forwards."""
    rest = _tpose()
    F = 32
    g = torch.Generator().manual_seed(11)
    R = torch.eye(3, dtype=torch.float64).repeat(F, 24, 1, 1)
    R[:, 1] = axis_angle_to_matrix(torch.randn(F, 3, generator=g, dtype=torch.float64) * 0.5)    # hip: any
    flex = 0.3 + torch.rand(F, generator=g, dtype=torch.float64)
    R[:, 4] = rotation_about(torch.tensor([1.0, 0, 0], dtype=torch.float64).expand(F, 3), flex)  # knee: hinge
    joints, _ = forward_kinematics(R, rest[None], SMPL_PARENTS)
    targeted = (0, 1, 2, 3, 4, 7)
    jt = tuple(targeted.index(k) if k in targeted else -1 for k in range(24))
    spec = IKSpec(SMPL_PARENTS, jt, hinges={4: (1.0, 0.0, 0.0)})
    res = solve_ik(joints[:, list(targeted)], spec, rest)
    knee = matrix_to_axis_angle(res.rotmats[:, 4])
    assert torch.allclose(knee[:, 0], flex, atol=1e-6)              # pure flexion, same angle
    assert float(knee[:, 1:].abs().max()) < 1e-6
    assert torch.allclose(res.rotmats[:, 1], R[:, 1], atol=1e-6)    # and so the hip's twist is right
