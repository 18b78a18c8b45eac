"""Fitting on the synthetic SMPL-layout model: IK init, refinement, translation, shape, options."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hmcli.bench.mesh import synthetic_clip
from hmcli.io.atomic import HMError
from hmcli.mesh import api as mesh_api
from hmcli.mesh.body import posed_keypoints
from hmcli.mesh.fit import FitOptions, fit_shape_to_bones, solve_translation
from hmcli.types import Camera
from hmcli.mesh.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hmcli.mesh.synthetic import synthetic_body


@pytest.fixture(scope="module")
def body():
    return synthetic_body()


@pytest.fixture(scope="module")
def clip(body):
    return synthetic_clip(body, frames=40, seed=2)


def test_solve_translation_is_exact_for_clean_projections():
    cam = Camera(1000.0, 640.0, 360.0)
    g = torch.Generator().manual_seed(0)
    rel = torch.randn(5, 17, 3, generator=g) * 0.3
    rel = rel - rel[:, :1]
    t = torch.tensor([[0.3, -0.2, 4.0]]).repeat(5, 1) + torch.randn(5, 3, generator=g) * 0.2
    p = rel + t[:, None]
    uv = p[..., :2] / p[..., 2:] * cam.focal + torch.tensor([cam.cx, cam.cy])
    got = solve_translation(rel, uv, torch.ones(5, 17), cam)
    assert torch.allclose(got, t, atol=2e-3)


def test_refinement_improves_on_ik_and_keeps_clean_joints(body, clip):
    lifted, R_true, kp_cam = clip
    ik = mesh_api.fit(lifted, body, FitOptions(iters=0))
    ref = mesh_api.fit(lifted, body, FitOptions(iters=40))
    assert ref.quality["mpjpe_to_lift_mm"] < ik.quality["mpjpe_to_lift_mm"]
    assert ref.quality["mpjpe_to_lift_mm"] < 12.0
    # camera-space joints land on the truth (translation and depth included)
    err = np.linalg.norm(ref.joints3d - kp_cam.numpy(), axis=-1).mean()
    assert err < 0.04
    assert ref.quality["reproj_px"] < 3.0
    # shapes and types of the result
    F = lifted.joints3d.shape[0]
    assert ref.pose.shape == (F, 24, 3) and ref.transl.shape == (F, 3) and ref.betas.shape == (10,)
    assert ref.faces.shape == body.faces.shape and ref.body_model == "synthetic"


def test_vertices_follow_pose_and_translation(body, clip):
    lifted, _, _ = clip
    res = mesh_api.fit(lifted, body, FitOptions(iters=5), vertices=True)
    assert res.vertices.shape == (lifted.joints3d.shape[0], body.num_vertices, 3)
    # the fitted keypoints are the posed body's keypoints: rebuild from vertices-free path
    rest = body.rest(torch.from_numpy(res.betas)[None])
    R = axis_angle_to_matrix(torch.from_numpy(res.pose))
    kp, _ = posed_keypoints(body, rest, R, torch.from_numpy(res.betas)[None])
    kp = kp + torch.from_numpy(res.transl)[:, None]
    assert np.allclose(kp.numpy(), res.joints3d, atol=1e-4)
    # the keypoints are read off the full mesh the same way: joints + the keypoint vertices
    _, joints = posed_keypoints(body, rest, R, torch.from_numpy(res.betas)[None])
    km = body.keypoints
    from_mesh = (km.joint_w @ (joints + torch.from_numpy(res.transl)[:, None])
                 + km.vert_w @ torch.from_numpy(res.vertices[:, km.vert_idx.numpy()]))
    assert np.allclose(from_mesh.numpy(), res.joints3d, atol=1e-4)


def test_shape_from_bones_recovers_a_scaled_body(body):
    betas_true = torch.zeros(10)
    betas_true[0] = 1.5
    rest = body.rest(betas_true[None])
    kp, _ = posed_keypoints(body, rest, torch.eye(3).expand(3, 24, 3, 3))
    got = fit_shape_to_bones(body, kp - kp[:, :1], iters=150)
    rest_got = body.rest(got[None])
    kp_got, _ = posed_keypoints(body, rest_got, torch.eye(3).expand(1, 24, 3, 3))
    height = lambda k: float(k[0, 10, 1] - k[0, 3, 1])  # noqa: E731 head top above the ankle
    assert abs(height(kp_got) - height(kp)) < 0.01


def test_init_parameters_are_kept_with_zero_iterations(body, clip):
    lifted, R_true, _ = clip
    init = mesh_api.InitParams(matrix_to_axis_angle(R_true).reshape(len(R_true), 72).numpy(), np.zeros(10, np.float32))
    res = mesh_api.fit(lifted, body, FitOptions(iters=0), init=init)
    back = axis_angle_to_matrix(torch.from_numpy(res.pose))
    assert torch.allclose(back, R_true, atol=1e-4)


def test_frames_without_person_are_interpolated_and_all_missing_is_an_error(body, clip):
    from dataclasses import replace

    lifted, _, _ = clip
    det = lifted.kpts2d.detected.copy()
    det[10:15] = False
    j3 = lifted.joints3d.copy()
    j3[10:15] = np.nan
    part = replace(lifted, joints3d=j3, kpts2d=replace(lifted.kpts2d, detected=det))
    res = mesh_api.fit(part, body, FitOptions(iters=5))
    assert np.isfinite(res.pose).all() and not res.valid[10:15].any() and res.valid[:10].all()
    none = replace(lifted, joints3d=np.full_like(j3, np.nan), kpts2d=replace(lifted.kpts2d, detected=det & False))
    with pytest.raises(HMError, match="no frame has a lifted person"):
        mesh_api.fit(none, body)


def test_wrong_inputs_are_one_line_errors(body, clip, tmp_path):
    from dataclasses import replace

    lifted, _, _ = clip
    with pytest.raises(HMError, match="H36M-17"):
        mesh_api.fit(replace(lifted, joints3d=lifted.joints3d[:, :16]), body)
    bad = tmp_path / "init.npz"
    np.savez(bad, pose=np.zeros((3, 70), np.float32), betas=np.zeros(10, np.float32))
    with pytest.raises(HMError, match=r"\(F, 72\)"):
        mesh_api.load_init(bad)
    np.savez(bad, pose=np.zeros((3, 72), np.float32))
    with pytest.raises(HMError, match="betas"):
        mesh_api.load_init(bad)
    with pytest.raises(HMError, match="unknown body model"):
        mesh_api.load_body_model("star")


def test_calibrated_bodies_weight_the_upper_body_twice_in_3d():
    """Issue 33's defaults (chosen on the validation chain): 240 iterations, 3D weight 10; with
    calibrated offsets spine, thorax, nose, head, shoulders and elbows count 2 in 3D, the rest 1."""
    from hmcli.mesh.fit import W3D_JOINT_CALIBRATED

    assert (FitOptions().iters, FitOptions().w_3d, FitOptions().lr) == (240, 10.0, 0.03)
    upper = {7, 8, 9, 10, 11, 12, 14, 15}
    assert len(W3D_JOINT_CALIBRATED) == 17
    assert all(w == (2.0 if j in upper else 1.0) for j, w in enumerate(W3D_JOINT_CALIBRATED))


def test_fit_persons_fits_each_person_over_its_span(body, clip):
    from dataclasses import replace

    from hmcli.types import MultiPose3DResult

    lifted, _, _ = clip
    f = lifted.joints3d.shape[0]
    det = np.zeros(f, bool)
    det[8:30] = True
    j3 = np.where(det[:, None, None], lifted.joints3d, np.nan).astype(np.float32)
    late = replace(lifted, joints3d=j3, kpts2d=replace(lifted.kpts2d, detected=det))
    gone = replace(lifted, joints3d=np.full_like(j3, np.nan), kpts2d=replace(lifted.kpts2d, detected=det & False))
    multi = MultiPose3DResult([lifted, late, gone], [3, 8, 9])
    opts = FitOptions(iters=5)
    res = mesh_api.fit_persons(multi, body, opts, vertices=True)
    assert res.track_ids.tolist() == [3, 8] and res.num_frames == f  # the never-seen person is left out
    alone = mesh_api.fit(lifted, body, opts)
    np.testing.assert_allclose(res.persons[0].pose, alone.pose, atol=1e-5)
    crop = mesh_api.fit(mesh_api._frames(late, 8, 30), body, opts)
    p = res.persons[1]
    np.testing.assert_allclose(p.pose[8:30], crop.pose, atol=1e-5)
    np.testing.assert_allclose(p.betas, crop.betas, atol=1e-5)
    assert p.valid.tolist() == det.tolist() and np.isnan(p.joints3d[:8]).all() and np.isfinite(p.pose).all()
    np.testing.assert_array_equal(p.pose[0], p.pose[8])  # nearest fitted frame outside the span
    assert p.vertices.shape == (f, body.num_vertices, 3) and p.lift is late
    with pytest.raises(HMError, match="no frame has a lifted person"):
        mesh_api.fit_persons(MultiPose3DResult([gone], [1]), body, opts)


def test_face_counts_in_2d_only_with_calibrated_keypoints_and_real_head_2d(clip):
    """Issue 33: the 2D nose and head count (5 each, W2D_JOINT_CMU) when the body's keypoints are
    the lifter's (calibrated offsets) and the 2D has a real head point (not a COCO-style
    conversion's eye midpoint); the fit then reports how far the face lands from them."""
    from dataclasses import replace

    from hmcli.mesh import calibration as cal
    from hmcli.mesh.fit import W2D_JOINT, W2D_JOINT_CMU

    assert W2D_JOINT[9:11] == (1.0, 0.0) and W2D_JOINT_CMU[9:11] == (5.0, 5.0)
    assert W2D_JOINT_CMU[:9] == W2D_JOINT[:9] and W2D_JOINT_CMU[11:] == W2D_JOINT[11:]
    lifted, _, _ = clip
    cam = mesh_api.default_camera(lifted.kpts2d.width, lifted.kpts2d.height)
    assert mesh_api.fit_targets(lifted, cam).cmu_2d
    xy = lifted.kpts2d.xy.copy()                                    # the same 2D built COCO-style
    xy[:, 0] = 0.5 * (xy[:, 1] + xy[:, 4])
    xy[:, 8] = 0.5 * (xy[:, 11] + xy[:, 14])
    xy[:, 7] = 0.5 * (xy[:, 0] + xy[:, 8])
    coco = replace(lifted, kpts2d=replace(lifted.kpts2d, xy=xy))
    assert not mesh_api.fit_targets(coco, cam).cmu_2d
    opts = FitOptions(iters=3)
    plain = synthetic_body()                                        # no offsets: its head is the skull top
    assert "reproj_head_px" not in mesh_api.fit(lifted, plain, opts).quality
    calibrated = cal.with_offsets(synthetic_body(), torch.zeros(17, 3))
    q = mesh_api.fit(lifted, calibrated, FitOptions(iters=40)).quality
    assert q["reproj_head_px"] < 5.0 and q["reproj_nose_px"] < 5.0
    assert "reproj_head_px" not in mesh_api.fit(coco, calibrated, opts).quality
