"""Body-model keypoints: placed at the lifter's (CMU's) proportions; canonical rotations."""

from __future__ import annotations

import torch

from hmcli.mesh.body import (
    CMU_PELVIS_ABOVE_HIPS,
    CMU_THORAX_OVER_LEG,
    canonical_rotations,
    posed_keypoints,
    to_canonical,
)
from hmcli.mesh.synthetic import synthetic_body


def test_keypoints_sit_at_cmu_proportions_and_rows_sum_to_one():
    body = synthetic_body()
    km = body.keypoints
    sums = km.joint_w.sum(1) + (km.vert_w.sum(1) if km.vert_w.numel() else 0)
    assert torch.allclose(sums, torch.ones(17), atol=1e-6)
    rest = body.rest(torch.zeros(1, 10))
    kp, j = posed_keypoints(body, rest, torch.eye(3).expand(1, 24, 3, 3))
    kp, j = kp[0], j[0]
    leg = float((j[4] - j[1]).norm() + (j[7] - j[4]).norm())
    hips_mid = 0.5 * (j[1] + j[2])
    assert abs(float((kp[0] - hips_mid).norm()) - CMU_PELVIS_ABOVE_HIPS * leg) < 1e-3
    assert abs(float((kp[8] - kp[0]).norm()) - CMU_THORAX_OVER_LEG * leg) < 1e-3


def test_canonical_rotations_map_rest_bones_to_the_t_pose():
    body = synthetic_body()
    rest = body.rest(torch.zeros(1, 10)).joints[0]
    C = canonical_rotations(rest, body.joint_names)
    bone = rest[18] - rest[16]                                  # left shoulder -> elbow
    got = C[16] @ (bone / bone.norm())
    assert torch.allclose(got, torch.tensor([1.0, 0.0, 0.0]), atol=1e-5)
    # the rest pose is the identity in canonical terms too
    eye = torch.eye(3).expand(24, 3, 3)
    canon = to_canonical(eye, C, body.parents)
    assert torch.allclose(canon @ canon.transpose(-1, -2), eye, atol=1e-5)  # still rotations
