"""Calibrated keypoint offsets and what the refinement may change (synthetic SMPL-layout model)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from hmcli.bench.mesh import synthetic_clip
from hmcli.bench.mesh_quality import vertex_error_mm
from hmcli.mesh import api as mesh_api
from hmcli.mesh import calibration as cal
from hmcli.mesh.body import forward_kinematics, leg_length, posed_keypoints
from hmcli.mesh.fit import FitOptions, ik_only, prior_fill, unseen_joints
from hmcli.mesh.prior import DEFAULT_PRIOR, load_prior
from hmcli.mesh.rotations import axis_angle_to_matrix
from hmcli.mesh.synthetic import synthetic_body


def _offsets(seed: int, scale: float = 0.02) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    off = torch.randn(17, 3, generator=g) * scale            # (17, 3) leg lengths
    off[0] = 0
    return off


@pytest.fixture(scope="module")
def prior():
    return load_prior(DEFAULT_PRIOR)


def test_offsets_ride_on_their_joint_and_scale_with_the_leg():
    body = synthetic_body()
    betas = torch.zeros(1, body.num_betas)
    rest = body.rest(betas)
    eye = torch.eye(3).expand(1, body.num_joints, 3, 3).clone()
    base, _ = posed_keypoints(body, rest, eye)
    off = _offsets(0)
    cal.with_offsets(body, off)
    at_rest, _ = posed_keypoints(body, rest, eye)
    leg = leg_length(rest.joints, body.keypoints.leg)
    assert torch.allclose(at_rest - base, off[None] * leg, atol=1e-6)
    # a rotated attach joint turns its offsets with it
    R = eye.clone()
    R[0, 0] = axis_angle_to_matrix(torch.tensor([0.0, 1.2, 0.0]))
    kp, _ = posed_keypoints(body, rest, R)
    _, glob = forward_kinematics(R, rest.joints, body.parents)
    cal.with_offsets(body, torch.zeros(17, 3))
    kp0, _ = posed_keypoints(body, rest, R)
    att = cal._attach_index(body, cal.ATTACH)
    want = (glob[0, att] @ (off * leg).unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(kp[0] - kp0[0], want, atol=1e-6)


def test_ik_with_offsets_recovers_the_keypoints(prior):
    body = cal.with_offsets(synthetic_body(), _offsets(1))
    _, R, _ = synthetic_clip(body, frames=20, seed=3, prior=prior)
    betas = torch.zeros(body.num_betas)
    rest = body.rest(betas[None])
    kp, _ = posed_keypoints(body, rest, R)
    rel = kp - kp[:, :1]
    errs = []
    for passes in (0, 2):
        R2, _ = ik_only(body, rel, betas, offset_passes=passes, prior=prior)
        kp2, _ = posed_keypoints(body, rest, R2)
        errs.append(float(((kp2 - kp2[:, :1]) - rel).norm(dim=-1).mean()))
    assert errs[1] < 0.7 * errs[0]


def test_unseen_joints_and_prior_fill(prior):
    body = synthetic_body()
    names = [body.joint_names[k] for k in unseen_joints(body)]
    assert set(names) == {"left_ankle", "right_ankle", "left_foot", "right_foot",
                          "left_wrist", "right_wrist", "left_hand", "right_hand"}
    rest = body.rest(torch.zeros(1, body.num_betas))
    u, L = prior_fill(body, rest, prior)
    assert u == unseen_joints(body) and L.shape == (len(u), 3, 3)
    assert torch.allclose(L @ L.transpose(-1, -2), torch.eye(3).expand_as(L), atol=1e-5)
    j = torch.zeros(4, 17, 3) + torch.randn(4, 17, 3) * 0.2
    R, _ = ik_only(body, j - j[:, :1], torch.zeros(body.num_betas), prior=prior)
    assert torch.allclose(R[:, u], L.expand(4, -1, -1, -1), atol=1e-6)


def test_refinement_keeps_unseen_joints_and_improves_on_the_ik(prior):
    body = synthetic_body()
    lifted, R_true, _ = synthetic_clip(body, frames=40, seed=5, prior=prior)
    betas = torch.zeros(body.num_betas)
    ik = mesh_api.fit(lifted, body, FitOptions(iters=0), prior=prior)
    ref = mesh_api.fit(lifted, body, FitOptions(iters=30), prior=prior)
    R_ik, R_ref = axis_angle_to_matrix(torch.from_numpy(ik.pose)), axis_angle_to_matrix(torch.from_numpy(ref.pose))
    u = unseen_joints(body)
    assert torch.allclose(R_ref[:, u], R_ik[:, u], atol=1e-5)      # nothing observes them: left as the IK set them
    pve_ik, _ = vertex_error_mm(body, betas, R_ik, betas, R_true)
    pve_ref, _ = vertex_error_mm(body, torch.from_numpy(ref.betas), R_ref, betas, R_true)
    assert pve_ref < pve_ik, (pve_ik, pve_ref)


def test_calibration_learns_offsets_that_explain_the_joints(prior):
    truth_body = cal.with_offsets(synthetic_body(), _offsets(2, 0.03))
    lifted, _, kp_cam = synthetic_clip(truth_body, frames=40, seed=7, prior=prior)
    k = lifted.kpts2d
    f = mesh_api.default_camera(k.width, k.height).focal
    K = np.array([[f, 0, k.width / 2], [0, f, k.height / 2], [0, 0, 1]], np.float32)
    item = {"joints3d": kp_cam.numpy(), "xy_clean": k.xy, "width": k.width, "height": k.height, "K": K}
    body = synthetic_body()
    opts = replace(cal.calibration_options(), iters=30)
    off, errs = cal.calibrate(body, [item], prior, opts, rounds=2, max_frames=40)
    # the body fitted with the calibrated offsets matches keypoints it could not match before
    # (the offsets themselves are not unique: pose and shape absorb part of them)
    assert errs[-1] < 0.5 * errs[0], errs
    assert off.shape == (17, 3) and float(off[0].abs().sum()) == 0.0


def test_calibration_file_round_trip(tmp_path):
    off = _offsets(3).numpy()
    p = tmp_path / "offsets.npz"
    cal.save_calibration(p, [cal.Calibration("synthetic", off, tuple(a or "" for a in cal.ATTACH))], {"frames": 1})
    got = cal.load_calibration(p)
    assert set(got) == {"synthetic"} and np.allclose(got["synthetic"].offset, off)
    body = cal.apply_calibration(synthetic_body(), p)
    assert body.keypoints.offset is not None and torch.allclose(body.keypoints.offset, torch.from_numpy(off))
    # a body model without an entry is left as it is; a missing file means no offsets
    other = synthetic_body()
    other.name = "smpl"
    assert cal.apply_calibration(other, p).keypoints.offset is None
    assert cal.load_calibration(tmp_path / "none.npz") == {}


def test_shipped_calibration_has_anny_only():
    cals = cal.load_calibration()
    assert "anny" in cals and cals["anny"].offset.shape == (17, 3)
    assert np.all(cals["anny"].offset[0] == 0)
