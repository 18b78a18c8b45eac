"""SMPLBody: the fast keypoint path bound to smplx's full model, loading, messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hmcli.io.atomic import HMError
from hmcli.mesh.body import SMPL_PARENTS, posed_keypoints
from hmcli.mesh.rotations import axis_angle_to_matrix
from hmcli.mesh.smpl import SMPL_URL, SMPLX_URL, SMPLBody, find_smpl_file, load_smpl
from hmcli.mesh.synthetic import make_synthetic_smpl, make_synthetic_smplx, write_synthetic_smpl

smplx = pytest.importorskip("smplx")


@pytest.fixture(scope="module")
def arrays():
    return make_synthetic_smpl(num_betas=10, seed=0)


@pytest.fixture(scope="module")
def body(arrays):
    return SMPLBody.from_arrays(arrays, name="synthetic", backend="smplx")


def _pose(B: int, K: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    betas = torch.randn(B, 10, generator=g)
    rot = axis_angle_to_matrix(0.6 * torch.randn(B, K, 3, generator=g))   # (B, K, 3, 3)
    return betas, rot


def test_rest_joints_are_the_regressed_template(arrays, body):
    rest = body.rest(torch.zeros(1, 10))
    want = arrays["J_regressor"] @ arrays["v_template"]
    np.testing.assert_allclose(rest.joints[0].numpy(), want, atol=1e-6)
    betas = torch.randn(2, 10, dtype=torch.float64)
    v = arrays["v_template"] + np.einsum("vcs,bs->bvc", arrays["shapedirs"], betas.numpy())
    np.testing.assert_allclose(body.rest(betas.float()).joints.numpy(), arrays["J_regressor"] @ v, atol=1e-5)
    # plausible T-pose: pelvis at 0.93 m, head top at 1.7 m, left arm along +X
    kp = body.rest(torch.zeros(1, 10)).kp_verts[0]
    assert abs(float(rest.joints[0, 0, 1]) - 0.93) < 1e-6 and abs(float(kp[1, 1]) - 1.70) < 1e-6
    assert float(rest.joints[0, 20, 0]) > 0.6 and float(kp[0, 2]) > 0.08


def test_keypoint_path_equals_smplx(body):
    betas, rot = _pose(5, 24)
    kp, joints = posed_keypoints(body, body.rest(betas), rot, betas)
    out = body._smplx_layer()(betas=betas, global_orient=rot[:, 0], body_pose=rot[:, 1:])
    vi = body.keypoints.vert_idx
    torch.testing.assert_close(kp[:, [9, 10]], out.vertices[:, vi], atol=1e-5, rtol=0)
    torch.testing.assert_close(joints, out.joints[:, :24], atol=1e-5, rtol=0)
    torch.testing.assert_close(body.vertices(betas, rot), out.vertices, atol=1e-6, rtol=0)
    # the H36M joints that stand for kinematic joints are those joints
    torch.testing.assert_close(kp[:, [0, 1, 4, 13, 16]], joints[:, [0, 2, 1, 20, 21]])


def test_torch_reference_equals_smplx(arrays, body):
    ref = SMPLBody.from_arrays(arrays, backend="torch")
    betas, rot = _pose(3, 24, seed=1)
    torch.testing.assert_close(ref.vertices(betas, rot), body.vertices(betas, rot), atol=1e-5, rtol=0)
    assert ref._layer is None


def test_root_stays_at_its_rest_position(body):
    betas, rot = _pose(2, 24, seed=2)
    v = body.vertices(betas, rot)
    out = body._smplx_layer()(betas=betas, global_orient=rot[:, 0], body_pose=rot[:, 1:])
    torch.testing.assert_close(out.joints[:, 0], body.rest(betas).joints[:, 0], atol=1e-6, rtol=0)
    assert v.shape == (2, body.num_vertices, 3)


def test_batch_equals_loop(body):
    betas, rot = _pose(4, 24, seed=3)
    kp, joints = posed_keypoints(body, body.rest(betas), rot, betas)
    verts = body.vertices(betas, rot)
    for b in range(4):
        kb, jb = posed_keypoints(body, body.rest(betas[b:b + 1]), rot[b:b + 1], betas[b:b + 1])
        torch.testing.assert_close(kb, kp[b:b + 1], atol=1e-6, rtol=0)
        torch.testing.assert_close(jb, joints[b:b + 1], atol=1e-6, rtol=0)
        torch.testing.assert_close(body.vertices(betas[b:b + 1], rot[b:b + 1]), verts[b:b + 1], atol=1e-6, rtol=0)


def test_model_attributes(body, arrays):
    assert body.parents == SMPL_PARENTS and body.num_joints == 24 and body.num_betas == 10
    assert body.faces.dtype == np.int64 and body.faces.shape == arrays["f"].shape
    km = body.keypoints
    torch.testing.assert_close(torch.cat([km.joint_w, km.vert_w], 1).sum(1), torch.ones(17))
    torch.testing.assert_close(body.kp_weights.sum(1), torch.ones(2))
    assert torch.equal(body.canon, torch.eye(3).repeat(24, 1, 1))
    assert body.hinge_axes[4].tolist() == [1, 0, 0] and body.hinge_axes[18].tolist() == [0, -1, 0]
    assert body.hinge_axes[19].tolist() == [0, 1, 0]
    # identity pose: no correctives; rest is differentiable
    assert torch.count_nonzero(body.kp_pose_offsets(None, torch.eye(3).repeat(1, 24, 1, 1))) == 0
    betas = torch.zeros(1, 10, requires_grad=True)
    body.rest(betas).kp_verts.sum().backward()
    assert betas.grad is not None and torch.any(betas.grad != 0)


def test_left_knee_flexes_about_plus_x(body):
    """Positive flexion about the hinge axis moves the ankle backwards (-Z), elbows forward."""
    from hmcli.mesh.rotations import rotation_about

    for j, child in ((4, 7), (5, 8), (18, 20), (19, 21)):
        rot = torch.eye(3).repeat(1, 24, 1, 1)
        rot[0, j] = rotation_about(body.hinge_axes[j], torch.tensor(0.5))
        _, joints = posed_keypoints(body, body.rest(torch.zeros(1, 10)), rot)
        dz = float(joints[0, child, 2] - body.rest(torch.zeros(1, 10)).joints[0, child, 2])
        assert (dz < -0.05) if j in (4, 5) else (dz > 0.05)


def test_smplx_kind_binds_to_smplx():
    d = make_synthetic_smplx()
    body = SMPLBody.from_arrays(d, kind="smplx", backend="smplx")
    assert body.num_joints == 22 and body.keypoints.vert_idx.tolist() == [9120, 8980]
    betas, rot = _pose(2, 22, seed=4)
    kp, joints = posed_keypoints(body, body.rest(betas), rot, betas)
    v = body.vertices(betas, rot)
    out = body._smplx_layer()(betas=betas, global_orient=rot[:, 0], body_pose=rot[:, 1:])
    torch.testing.assert_close(kp[:, [9, 10]], v[:, [9120, 8980]], atol=1e-5, rtol=0)
    torch.testing.assert_close(joints, out.joints[:, :22], atol=1e-5, rtol=0)
    ref = SMPLBody.from_arrays(d, kind="smplx", backend="torch")
    torch.testing.assert_close(ref.vertices(betas, rot), v, atol=1e-5, rtol=0)


def test_unknown_topology_and_wrong_tree(arrays):
    d = {k: v for k, v in arrays.items() if not k.startswith("hm_")}
    with pytest.raises(HMError, match="unknown mesh topology"):
        SMPLBody.from_arrays(d)
    with pytest.raises(HMError, match="kinematic tree"):
        SMPLBody.from_arrays(make_synthetic_smplx(), kind="smpl")


@pytest.mark.parametrize("kind,url", [("smpl", SMPL_URL), ("smplx", SMPLX_URL)])
def test_missing_files_message(tmp_path, monkeypatch, kind, url):
    monkeypatch.delenv("HM_SMPL_DIR", raising=False)
    with pytest.raises(HMError) as e:
        load_smpl(kind, model_dir=tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and url in msg and "HM_SMPL_DIR" in msg and str(tmp_path) in msg
    monkeypatch.setenv("HM_SMPL_DIR", str(tmp_path / "env"))
    with pytest.raises(HMError, match="env"):
        find_smpl_file(kind)


@pytest.mark.parametrize("name", ["smpl/SMPL_NEUTRAL.pkl", "SMPL_NEUTRAL.npz",
                                  "basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl"])
def test_load_from_env_dir(tmp_path, monkeypatch, name):
    (tmp_path / "smpl").mkdir()
    write_synthetic_smpl(tmp_path / name)
    monkeypatch.setenv("HM_SMPL_DIR", str(tmp_path))
    body = load_smpl("smpl")
    assert body.source == str(tmp_path / name) and body.backend == "smplx"
    betas, rot = _pose(1, 24)
    kp, _ = posed_keypoints(body, body.rest(betas), rot, betas)
    torch.testing.assert_close(kp[:, 10], body.vertices(betas, rot)[:, body.keypoints.vert_idx[1]], atol=1e-5, rtol=0)
