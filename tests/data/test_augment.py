from __future__ import annotations

import numpy as np
import pytest

from hmcli.data.augment import (
    ARM_SIDES, check_speed_aug, chest_frames, pelvis_frames, random_bone_scales, random_speed, rescale_bones, splice_arm,
    splice_upper_body, upper_body_joints,
)
from hmcli.skeleton.joints import H36M17, get_joint_set

PARENTS = H36M17.parents


def _clip(frames: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 0.3, size=(frames, 17, 3)).astype(np.float32)  # (F, J, 3)


def _bone_lengths(x: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.norm(x[..., c, :] - x[..., p, :], axis=-1)
                     for c, p in enumerate(PARENTS) if p >= 0], axis=-1)  # (F, J-1)


def test_unit_scales_give_the_clip_back() -> None:
    x = _clip()
    y = rescale_bones(x, PARENTS, np.ones(17))
    assert y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=1e-6)


def test_each_bone_is_scaled_and_keeps_its_direction() -> None:
    x = _clip()
    scales = np.linspace(0.8, 1.2, 17)
    scales[0] = 1.0
    y = rescale_bones(x, PARENTS, scales)
    np.testing.assert_allclose(y[:, 0], x[:, 0], atol=1e-6)  # the root stays put
    want = _bone_lengths(x) * np.array([scales[c] for c, p in enumerate(PARENTS) if p >= 0])
    np.testing.assert_allclose(_bone_lengths(y), want, rtol=1e-5)
    for c, p in enumerate(PARENTS):
        if p >= 0:
            u = x[:, c] - x[:, p]
            v = y[:, c] - y[:, p]
            cos = (u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
            np.testing.assert_allclose(cos, 1.0, atol=1e-5)


def test_parent_order_does_not_matter() -> None:
    # A chain 0 <- 2 <- 1 stored with a child before its parent.
    parents = (-1, 2, 0)
    x = np.array([[0.0, 0, 0], [0, 3, 0], [0, 1, 0]])
    y = rescale_bones(x, parents, np.array([1.0, 2.0, 0.5]))
    np.testing.assert_allclose(y, [[0, 0, 0], [0, 4.5, 0], [0, 0.5, 0]])


def test_random_scales_are_symmetric_bounded_and_seeded() -> None:
    a = random_bone_scales(np.random.default_rng(3), H36M17, 0.05)
    b = random_bone_scales(np.random.default_rng(3), H36M17, 0.05)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (17,) and a[H36M17.root] == 1.0
    for left, right in zip(H36M17.left, H36M17.right):
        assert a[left] == a[right]
    many = np.stack([random_bone_scales(np.random.default_rng(s), H36M17, 0.05) for s in range(200)])
    assert many.min() >= 0.9 - 1e-12 and many.max() <= 1.1 + 1e-12
    assert 0.03 < many[:, 1:].std() < 0.06  # about the jitter asked for
    np.testing.assert_array_equal(random_bone_scales(np.random.default_rng(0), H36M17, 0.0), np.ones(17))


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="no bone tree"):
        random_bone_scales(np.random.default_rng(0), get_joint_set("coco17"), 0.05)
    with pytest.raises(ValueError, match="jitter"):
        random_bone_scales(np.random.default_rng(0), H36M17, 0.7)
    with pytest.raises(ValueError, match="expected joints"):
        rescale_bones(np.zeros((4, 16, 3)), PARENTS, np.ones(17))
    with pytest.raises(ValueError, match="tree"):
        rescale_bones(np.zeros((3, 3)), (1, 2, 0), np.ones(3))



def test_random_speeds_are_log_uniform_within_the_factor() -> None:
    rng = np.random.default_rng(0)
    speeds = np.array([random_speed(rng, 1.25) for _ in range(4000)])
    assert speeds.min() >= 0.8 - 1e-12 and speeds.max() <= 1.25 + 1e-12
    assert abs(np.log(speeds).mean()) < 0.01  # as often slower as faster
    assert 0.3 < np.mean(speeds < 0.9) / np.mean(speeds > 1.0 / 0.9) < 3.0
    before = np.random.default_rng(5)
    assert random_speed(before, 1.0) == 1.0
    assert before.random() == np.random.default_rng(5).random()  # factor 1 draws nothing
    assert check_speed_aug(1) == 1.0
    for bad in (0.9, 2.5):
        with pytest.raises(ValueError, match=r"speed_aug must be in \[1, 2\]"):
            check_speed_aug(bad)


def _rotations(frames: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(frames, 3, 3)))  # (F, 3, 3)
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[:, None, :]
    return q * np.linalg.det(q)[:, None, None]  # proper rotations


def _body(frames: int = 5, seed: int = 0) -> np.ndarray:
    """An H36M-17 clip: a standing skeleton with moving arms and head, turned and moved per frame."""
    rest = np.array([
        [0, 0, 0], [-0.12, 0, 0], [-0.12, -0.45, 0], [-0.12, -0.9, 0], [0.12, 0, 0], [0.12, -0.45, 0],
        [0.12, -0.9, 0], [0, 0.25, 0], [0, 0.5, 0], [0, 0.6, 0.05], [0, 0.72, 0], [0.18, 0.48, 0],
        [0.45, 0.48, 0], [0.7, 0.48, 0], [-0.18, 0.48, 0], [-0.45, 0.48, 0], [-0.7, 0.48, 0],
    ])  # (J, 3)
    rng = np.random.default_rng(seed)
    moving = (np.arange(17) >= 8)[:, None]  # the upper body
    pose = rest + rng.normal(0, 0.15, size=(frames, 17, 3)) * moving  # (F, J, 3)
    return np.einsum("fij,fkj->fki", _rotations(frames, rng), pose) + rng.normal(0, 1, size=(frames, 1, 3))


def _pelvis_coords(x: np.ndarray, child: int, parent: int) -> np.ndarray:
    u = x[:, child] - x[:, parent]  # (F, 3)
    return np.einsum("fji,fj->fi", pelvis_frames(x, H36M17), u / np.linalg.norm(u, axis=-1, keepdims=True))


def test_splicing_a_clip_onto_itself_gives_it_back() -> None:
    x = _body()
    np.testing.assert_allclose(splice_upper_body(x, x, H36M17), x, atol=1e-9)


def test_splice_keeps_the_base_legs_and_bones_and_takes_the_donor_upper_body() -> None:
    base, donor = _body(seed=1), _body(seed=2)
    y = splice_upper_body(base, donor, H36M17)
    upper = upper_body_joints(H36M17)
    assert sorted(upper) == list(range(8, 17))  # thorax, neck, head, both arms
    lower = [j for j in range(17) if j not in upper]
    np.testing.assert_array_equal(y[:, lower], base[:, lower])
    np.testing.assert_allclose(_bone_lengths(y), _bone_lengths(base), rtol=1e-9)
    for j in upper:  # every upper bone points, in pelvis coordinates, as the donor's does
        p = H36M17.parents[j]
        np.testing.assert_allclose(_pelvis_coords(y, j, p), _pelvis_coords(donor, j, p), atol=1e-9)
        assert not np.allclose(_pelvis_coords(y, j, p), _pelvis_coords(base, j, p), atol=1e-3)


def test_pelvis_frames_are_rotations() -> None:
    r = pelvis_frames(_body(seed=3), H36M17)  # (F, 3, 3)
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)


def test_splice_rejects_mismatched_clips() -> None:
    with pytest.raises(ValueError, match="two"):
        splice_upper_body(_body(5), _body(6), H36M17)


def _chest_coords(x: np.ndarray, child: int, parent: int) -> np.ndarray:
    u = x[:, child] - x[:, parent]  # (F, 3)
    return np.einsum("fji,fj->fi", chest_frames(x, H36M17), u / np.linalg.norm(u, axis=-1, keepdims=True))


def test_chest_frames_are_rotations_along_the_shoulders() -> None:
    x = _body(seed=4)
    r = chest_frames(x, H36M17)  # (F, 3, 3)
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    across = x[:, 14] - x[:, 11]  # left shoulder -> right shoulder
    np.testing.assert_allclose(r[..., 0], across / np.linalg.norm(across, axis=-1, keepdims=True), atol=1e-12)


@pytest.mark.parametrize("side", ARM_SIDES)
def test_splicing_an_arm_onto_itself_gives_it_back(side: str) -> None:
    x = _body(seed=5)
    np.testing.assert_allclose(splice_arm(x, x, H36M17, side), x, atol=1e-9)


@pytest.mark.parametrize(("side", "arm"), [("left", (12, 13)), ("right", (15, 16))])
def test_arm_splice_moves_only_that_arm_as_the_donor_does_relative_to_the_chest(side: str, arm: tuple[int, int]) -> None:
    base, donor = _body(seed=6), _body(seed=7)
    y = splice_arm(base, donor, H36M17, side)
    kept = [j for j in range(17) if j not in arm]
    np.testing.assert_array_equal(y[:, kept], base[:, kept])  # shoulders, the other arm, head, legs
    np.testing.assert_allclose(_bone_lengths(y), _bone_lengths(base), rtol=1e-9)
    np.testing.assert_allclose(chest_frames(y, H36M17), chest_frames(base, H36M17), atol=1e-12)
    for j in arm:  # upper arm and forearm point, in chest coordinates, as the donor's do
        p = H36M17.parents[j]
        np.testing.assert_allclose(_chest_coords(y, j, p), _chest_coords(donor, j, p), atol=1e-9)
        assert not np.allclose(_chest_coords(y, j, p), _chest_coords(base, j, p), atol=1e-3)
    u, f = y[:, arm[0]] - y[:, H36M17.parents[arm[0]]], y[:, arm[1]] - y[:, arm[0]]  # (F, 3) each
    du, df = donor[:, arm[0]] - donor[:, H36M17.parents[arm[0]]], donor[:, arm[1]] - donor[:, arm[0]]
    cos = (u * f).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(f, axis=-1)
    dcos = (du * df).sum(-1) / np.linalg.norm(du, axis=-1) / np.linalg.norm(df, axis=-1)
    np.testing.assert_allclose(cos, dcos, atol=1e-9)  # the donor's elbow angle


def test_arm_splice_rejects_a_bad_side_or_mismatched_clips() -> None:
    with pytest.raises(ValueError, match="side must be left or right, got 'middle'"):
        splice_arm(_body(), _body(), H36M17, "middle")
    with pytest.raises(ValueError, match="two"):
        splice_arm(_body(5), _body(6), H36M17, "left")
