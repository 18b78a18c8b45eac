import numpy as np
import pytest
import torch

from hmcli.skeleton import (
    BLAZEPOSE33,
    COCO17,
    H36M17,
    HALPE26,
    JOINT_SETS,
    blazepose_to_coco,
    bone_lengths,
    coco_to_h36m,
    flip_lr,
    flip_pose,
    h36m_from_midpoints,
    halpe_to_coco,
    to_h36m,
)


def _coco_known() -> np.ndarray:
    """One COCO frame with hand-placed joints; channel 2 is a distinct confidence per joint."""
    k = np.zeros((17, 3), np.float64)
    k[:, 0] = np.arange(17) * 10.0  # x = 10 * coco index, so copies are traceable
    k[:, 1] = np.arange(17) + 100.0
    k[:, 2] = np.linspace(0.2, 1.0, 17)
    k[5] = (0.0, 0.0, 0.9)  # left shoulder
    k[6] = (2.0, 0.0, 0.3)  # right shoulder
    k[11] = (0.0, 4.0, 0.8)  # left hip
    k[12] = (2.0, 4.0, 0.6)  # right hip
    k[1] = (10.0, -2.0, 0.7)  # left eye
    k[2] = (14.0, -4.0, 0.5)  # right eye
    return k


def test_coco_to_h36m_known_points():
    k = _coco_known()
    h = coco_to_h36m(k)  # (17, 3)
    assert h.shape == (17, 3)
    np.testing.assert_allclose(h[8], (1.0, 0.0, 0.3))  # thorax = mid shoulders, min conf
    np.testing.assert_allclose(h[0], (1.0, 4.0, 0.6))  # pelvis = mid hips, min conf
    np.testing.assert_allclose(h[7], (1.0, 2.0, 0.3))  # spine = mid(pelvis, thorax), min of all four
    np.testing.assert_allclose(h[10], (12.0, -3.0, 0.5))  # head = mid eyes
    np.testing.assert_allclose(h[9], k[0])  # nose copied
    copied = {1: 12, 2: 14, 3: 16, 4: 11, 5: 13, 6: 15, 11: 5, 12: 7, 13: 9, 14: 6, 15: 8, 16: 10}
    for hi, ci in copied.items():
        np.testing.assert_array_equal(h[hi], k[ci])


def test_coco_to_h36m_two_channels_and_leading_axes():
    k = np.random.default_rng(0).normal(size=(4, 2, 17, 3))  # (F, P, J, 3)
    h3 = coco_to_h36m(k)
    h2 = coco_to_h36m(k[..., :2])
    assert h3.shape == (4, 2, 17, 3) and h2.shape == (4, 2, 17, 2)
    np.testing.assert_allclose(h2, h3[..., :2])
    np.testing.assert_allclose(h3[1, 0], coco_to_h36m(k[1, 0]))


def test_coco_to_h36m_missing_source_makes_derived_joint_missing():
    k = _coco_known()
    k[6, 2] = 0.0  # right shoulder not seen
    h = coco_to_h36m(k)
    assert h[8, 2] == 0.0 and h[7, 2] == 0.0  # thorax and spine
    assert h[0, 2] == 0.6  # pelvis unaffected


def test_blazepose_to_coco_by_name_and_on_to_h36m():
    b = np.zeros((3, 33, 3))
    b[..., 0] = np.arange(33)  # x = blazepose index
    b[..., 1] = -np.arange(33)
    b[..., 2] = 1.0
    c = blazepose_to_coco(b)
    assert c.shape == (3, 17, 3)
    # COCO slot -> BlazePose index, from the two official orders
    expected = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
    np.testing.assert_array_equal(c[0, :, 0], expected)
    for name in COCO17.joints:
        assert c[0, COCO17.index(name), 0] == BLAZEPOSE33.index(name)
    h = to_h36m(b, "blazepose33")
    np.testing.assert_allclose(h, coco_to_h36m(c))
    np.testing.assert_allclose(h[0, 0, :2], (23.5, -23.5))  # pelvis = mid(left_hip 23, right_hip 24)
    assert h[0, H36M17.index("left_wrist"), 0] == BLAZEPOSE33.index("left_wrist")


def test_halpe_to_coco_takes_first_17():
    k = np.random.default_rng(1).normal(size=(5, 26, 3))
    np.testing.assert_array_equal(halpe_to_coco(k), k[:, :17])
    np.testing.assert_allclose(to_h36m(k, "halpe26"), coco_to_h36m(k[:, :17]))
    assert HALPE26.index("right_heel") == 25


def test_to_h36m_dispatch_and_errors():
    k = np.random.default_rng(2).normal(size=(2, 17, 3))
    np.testing.assert_array_equal(to_h36m(k, "h36m17"), k)
    np.testing.assert_array_equal(to_h36m(k, "coco17"), coco_to_h36m(k))
    with pytest.raises(ValueError, match="openpose"):
        to_h36m(k, "openpose25")
    with pytest.raises(ValueError):
        coco_to_h36m(np.zeros((2, 33, 3)))  # wrong joint count
    with pytest.raises(ValueError):
        coco_to_h36m(np.zeros((2, 17, 4)))  # wrong channel count


@pytest.mark.parametrize("name", sorted(JOINT_SETS))
@pytest.mark.parametrize("width", [None, 640])
def test_flip_lr_is_involution(name, width):
    js = JOINT_SETS[name]
    k = np.random.default_rng(3).normal(size=(4, js.num_joints, 3))
    once = flip_lr(k, name, width=width)
    assert not np.allclose(once, k)
    np.testing.assert_allclose(flip_lr(once, name, width=width), k)


def test_flip_lr_moves_left_wrist_to_right_wrist():
    js = H36M17
    k = np.random.default_rng(4).normal(size=(17, 3))
    lw, rw = js.index("left_wrist"), js.index("right_wrist")
    f = flip_lr(k, "h36m17")
    np.testing.assert_allclose(f[lw], (-k[rw, 0], k[rw, 1], k[rw, 2]))
    np.testing.assert_allclose(f[rw], (-k[lw, 0], k[lw, 1], k[lw, 2]))
    # centre joints stay in place with x negated
    np.testing.assert_allclose(f[0], (-k[0, 0], k[0, 1], k[0, 2]))


def test_flip_lr_pixels_mirrors_about_image_centre():
    k = np.zeros((17, 3))
    k[COCO17.index("left_wrist")] = (100.0, 50.0, 0.9)
    k[COCO17.index("nose")] = (320.0, 10.0, 1.0)
    f = flip_lr(k, COCO17, width=640)
    np.testing.assert_allclose(f[COCO17.index("right_wrist")], (540.0, 50.0, 0.9))
    np.testing.assert_allclose(f[COCO17.index("nose")], (320.0, 10.0, 1.0))  # on the centre line


def test_flip_pose_is_negate_x_and_permute():
    x = np.random.default_rng(5).normal(size=(6, 17, 3))
    f = flip_pose(x, "h36m17")
    np.testing.assert_allclose(f, flip_lr(x, "h36m17"))
    np.testing.assert_allclose(f[..., 1:], x[:, list(H36M17.flip_index), 1:])
    np.testing.assert_allclose(flip_pose(f, H36M17), x)


def test_bone_lengths_known_and_flip_invariant():
    j = np.zeros((17, 3))
    for c, p in enumerate(H36M17.parents):
        if p >= 0:
            j[c] = j[p] + (3.0, 4.0, 0.0) if c == 1 else j[p] + (0.0, 0.0, c)  # bone c has length c
    lengths = bone_lengths(j, "h36m17")  # (16,)
    expected = [5.0 if c == 1 else float(c) for p, c in H36M17.edges]
    np.testing.assert_allclose(lengths, expected)
    # flipping permutes bones: the left bone takes the right bone's length
    flipped = bone_lengths(flip_pose(j, "h36m17"), "h36m17")
    p = H36M17.flip_index
    edge_pos = {e: i for i, e in enumerate(H36M17.edges)}
    mirrored = [lengths[edge_pos[(p[a], p[b])]] for a, b in H36M17.edges]
    np.testing.assert_allclose(flipped, mirrored)
    batch = bone_lengths(np.stack([j, j + 7.0]), "h36m17")  # (2, 16), translation invariant
    assert batch.shape == (2, 16)
    np.testing.assert_allclose(batch[1], lengths)


def test_torch_and_numpy_agree():
    rng = np.random.default_rng(6)
    coco = rng.normal(size=(3, 17, 3)).astype(np.float32)
    blaze = rng.normal(size=(3, 33, 3)).astype(np.float32)
    j3d = rng.normal(size=(3, 17, 3)).astype(np.float32)
    pairs = [
        (coco_to_h36m, coco),
        (blazepose_to_coco, blaze),
        (lambda k: to_h36m(k, "blazepose33"), blaze),
        (lambda k: flip_lr(k, "coco17", width=640), coco),
        (lambda k: flip_pose(k, "h36m17"), j3d),
        (lambda k: bone_lengths(k, "h36m17"), j3d),
    ]
    for fn, arr in pairs:
        out_np = fn(arr)
        out_t = fn(torch.from_numpy(arr))
        assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32
        assert isinstance(out_np, np.ndarray)
        np.testing.assert_allclose(out_t.numpy(), out_np, rtol=1e-6, atol=1e-6)


def test_torch_gradients_flow():
    x = torch.randn(2, 17, 3, dtype=torch.float64, requires_grad=True)
    bone_lengths(flip_pose(coco_to_h36m(x), "h36m17"), "h36m17").sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_h36m_from_midpoints_tells_coco_style_2d_from_cmu_and_real_h36m():
    """The mesh fit counts the 2D nose and head only when they are real points: a COCO-style
    conversion (midpoints; its "head" is the eyes' midpoint) is recognised from the keypoints."""
    rng = np.random.default_rng(0)
    blaze = np.concatenate([rng.uniform(100, 500, (6, 33, 2)), rng.uniform(0.5, 1, (6, 33, 1))], -1).astype(np.float32)
    mid = np.asarray(to_h36m(blaze, "blazepose33", "midpoints"))[..., :2]          # float32, as hm lift stores it
    assert h36m_from_midpoints(mid)
    assert h36m_from_midpoints(np.asarray(coco_to_h36m(blaze[:, :17]))[..., :2])
    assert not h36m_from_midpoints(np.asarray(to_h36m(blaze, "blazepose33", "cmu"))[..., :2])
    assert not h36m_from_midpoints(rng.uniform(0, 500, (6, 17, 2)))                # real H36M-17 2D
    # only the frames asked about count; none valid, or non-finite ones, tell nothing
    mixed = mid.copy()
    mixed[2] = rng.uniform(0, 500, (17, 2))
    assert not h36m_from_midpoints(mixed)
    assert h36m_from_midpoints(mixed, valid=np.arange(6) != 2)
    assert not h36m_from_midpoints(mid, valid=np.zeros(6, bool))
    mixed[2] = np.nan
    assert h36m_from_midpoints(mixed)
    with pytest.raises(ValueError, match="17, 2"):
        h36m_from_midpoints(np.zeros((4, 33, 2)))
