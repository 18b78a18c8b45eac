import pytest
import torch

from hmcli.train.losses import PoseLoss, mpjpe_loss, reprojection_loss, velocity_loss, weak_perspective_fit


def _pose(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(*shape, 3, generator=g, dtype=torch.float64)


# ----------------------------------------------------------------- MPJPE loss


def test_mpjpe_loss_offset_and_weights():
    gt = torch.zeros(1, 2, 3)  # (F, J, 3)
    pred = gt + torch.tensor([0.3, 0.4, 0.0])
    assert mpjpe_loss(pred, gt).item() == pytest.approx(0.5)
    pred = torch.tensor([[[1.0, 0, 0], [0, 2.0, 0]]])  # errors 1 and 2
    assert mpjpe_loss(pred, gt).item() == pytest.approx(1.5)
    assert mpjpe_loss(pred, gt, weight=[1.0, 3.0]).item() == pytest.approx((1 + 6) / 2)
    assert mpjpe_loss(pred, gt, weight=torch.ones(2)).item() == pytest.approx(1.5)


# ----------------------------------------------------------------- velocity loss


def test_velocity_loss_zero_for_constant_offset():
    gt = _pose(2, 7, 17, seed=1)  # (B, F, J, 3)
    assert velocity_loss(gt + torch.tensor([0.1, -0.2, 0.3], dtype=gt.dtype), gt).item() < 1e-12


def test_velocity_loss_hand_computed():
    gt = torch.zeros(2, 2, 3)  # (F, J, 3), static
    pred = torch.zeros(2, 2, 3)
    pred[1, 0] = torch.tensor([0.3, 0.4, 0.0])  # joint 0 jumps by 0.5 between the frames
    assert velocity_loss(pred, gt).item() == pytest.approx(0.25)  # (0.5 + 0) / 2 joints
    assert velocity_loss(_pose(3, 5, seed=2), _pose(3, 5, seed=3)).item() > 0


def test_velocity_loss_single_frame_is_zero_with_grad_path():
    pred = _pose(2, 1, 5, seed=4).requires_grad_()
    loss = velocity_loss(pred, _pose(2, 1, 5, seed=5))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(pred.grad == 0)


# ----------------------------------------------------------------- reprojection loss


def test_reprojection_zero_for_exact_weak_projection():
    pred = _pose(2, 4, 17, seed=6)  # (B, F, J, 3)
    kpts = 2.5 * pred[..., :2] + torch.tensor([0.1, -0.2], dtype=pred.dtype)
    assert reprojection_loss(pred, kpts).item() < 1e-6
    # per-frame scale and translation are solved independently
    kpts2 = kpts.clone()
    kpts2[0, 1] = 0.7 * pred[0, 1, :, :2] - 0.3
    assert reprojection_loss(pred, kpts2).item() < 1e-6


def test_reprojection_ignores_zero_confidence_joints():
    pred = _pose(3, 17, seed=7)
    kpts = 1.8 * pred[..., :2] + 0.05
    kpts[:, 4] = torch.tensor([5.0, -7.0], dtype=pred.dtype)  # garbage for joint 4
    conf = torch.ones(3, 17, dtype=pred.dtype)
    assert reprojection_loss(pred, kpts, conf).item() > 0.01
    conf[:, 4] = 0.0
    assert reprojection_loss(pred, kpts, conf).item() < 1e-6
    # confidence may come as the third channel of the encoded 2D
    enc = torch.cat([kpts, conf.unsqueeze(-1)], dim=-1)  # (F, J, 3)
    assert reprojection_loss(pred, enc).item() < 1e-6
    # even non-finite garbage of a missing joint does not leak
    kpts[:, 4] = float("nan")
    assert reprojection_loss(pred, kpts, conf).item() < 1e-6


def test_reprojection_hand_computed_collapsed_and_mirrored_pose():
    # collapsed prediction (all joints at the origin): s = 0, t = centroid of the 2D,
    # error = distance of each 2D point to the centroid = 1.
    pred = torch.zeros(2, 3, dtype=torch.float64)
    kpts = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    assert reprojection_loss(pred, kpts).item() == pytest.approx(1.0)
    # a pose rotated 180 degrees in the image would need s < 0: clamped to 0 instead
    pred = torch.tensor([[-1.0, 0, 0], [1.0, 0, 0]], dtype=torch.float64)
    s, t = weak_perspective_fit(pred[..., :2], kpts, torch.ones(2, dtype=torch.float64))
    assert s.item() == 0.0 and torch.allclose(t, torch.zeros(1, 2, dtype=torch.float64))
    assert reprojection_loss(pred, kpts).item() == pytest.approx(1.0)
    # confidence-weighted mean: collapsed pose, 2D at x = 0 and 4 with confidences 3 and 1;
    # weighted centroid x = 1, errors 1 and 3 -> (3 * 1 + 1 * 3) / 4 = 1.5
    pred = torch.zeros(2, 3, dtype=torch.float64)
    kpts = torch.tensor([[0.0, 0.0], [4.0, 0.0]], dtype=torch.float64)
    conf = torch.tensor([3.0, 1.0], dtype=torch.float64)
    assert reprojection_loss(pred, kpts, conf).item() == pytest.approx(1.5)


def test_reprojection_shape_check():
    with pytest.raises(ValueError):
        reprojection_loss(torch.zeros(2, 17, 3), torch.zeros(2, 16, 2))


# ----------------------------------------------------------------- PoseLoss


def test_pose_loss_combines_parts():
    gt = _pose(2, 6, 17, seed=8)
    pred = gt + 0.01 * _pose(2, 6, 17, seed=9)
    total, parts = PoseLoss()(pred, gt)
    assert set(parts) == {"mpjpe", "velocity", "total"}
    assert total.item() == pytest.approx(parts["mpjpe"].item() + parts["velocity"].item())
    total2, parts2 = PoseLoss(lambda_vel=0.5)(pred, gt)
    assert total2.item() == pytest.approx(parts2["mpjpe"].item() + 0.5 * parts2["velocity"].item())

    kpts = torch.cat([3.0 * gt[..., :2] + 0.1 * _pose(2, 6, 17, seed=10)[..., :2], torch.ones(2, 6, 17, 1, dtype=gt.dtype)], -1)
    total3, parts3 = PoseLoss(lambda_vel=1.0, lambda_reproj=2.0)(pred, gt, kpts)
    assert parts3["reproj"].item() > 0
    expected = parts3["mpjpe"] + parts3["velocity"] + 2.0 * parts3["reproj"]
    assert total3.item() == pytest.approx(expected.item())
    # kpts given with lambda_reproj = 0: logged but not added
    total4, parts4 = PoseLoss()(pred, gt, kpts)
    assert "reproj" in parts4 and total4.item() == pytest.approx(total.item())
    with pytest.raises(ValueError):
        PoseLoss(lambda_reproj=1.0)(pred, gt)


@pytest.mark.parametrize("exact", [False, True])
def test_losses_backprop_finite_gradients(exact):
    gt = _pose(2, 5, 17, seed=11).float()
    pred = (gt.clone() if exact else gt + 0.05 * _pose(2, 5, 17, seed=12).float()).requires_grad_()
    kpts = torch.cat([2.0 * gt[..., :2], torch.rand(2, 5, 17, 1)], -1)
    kpts[..., 3, 2] = 0.0
    total, parts = PoseLoss(lambda_vel=1.0, lambda_reproj=0.5, joint_weights=[1.0] * 17)(pred, gt, kpts)
    total.backward()
    assert torch.isfinite(total) and all(torch.isfinite(v) for v in parts.values())
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    if not exact:
        assert pred.grad.abs().sum() > 0
    # collapsed prediction: reprojection stays differentiable
    z = torch.zeros(2, 5, 17, 3, requires_grad=True)
    reprojection_loss(z, kpts).backward()
    assert torch.isfinite(z.grad).all()
