from __future__ import annotations

import numpy as np
import pytest

from hmcli.data.augment import (
    ARM_SIDES, PROPORTION_PRESETS, ProportionRanges, keep_on_floor, random_body, proportion_preset, random_proportions, check_speed_aug, chest_frames, pelvis_frames, random_bone_scales, random_speed, rescale_bones, splice_arm,
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


def _tpose() -> np.ndarray:
    """(1, 17, 3) an upright body, Y up, metres (pelvis 0.95 m, feet at 0.05 m)."""
    p = {"pelvis": (0, 0.95, 0), "right_hip": (-0.1, 0.95, 0), "right_knee": (-0.1, 0.5, 0),
         "right_ankle": (-0.1, 0.05, 0), "left_hip": (0.1, 0.95, 0), "left_knee": (0.1, 0.5, 0),
         "left_ankle": (0.1, 0.05, 0), "spine": (0, 1.2, 0), "thorax": (0, 1.45, 0), "nose": (0, 1.6, 0.08),
         "head": (0, 1.75, 0), "left_shoulder": (0.18, 1.45, 0), "left_elbow": (0.45, 1.45, 0),
         "left_wrist": (0.7, 1.45, 0), "right_shoulder": (-0.18, 1.45, 0), "right_elbow": (-0.45, 1.45, 0),
         "right_wrist": (-0.7, 1.45, 0)}
    return np.array([[p[n] for n in H36M17.joints]], dtype=np.float64)


def _width(x: np.ndarray, a: str, b: str) -> float:
    return float(np.linalg.norm(x[0, H36M17.index(a)] - x[0, H36M17.index(b)]))


def test_wide_proportions_reach_their_documented_ranges_and_stay_symmetric() -> None:
    ranges = PROPORTION_PRESETS["wide"]
    x = _tpose()
    shoulders, hips, overall = [], [], []
    for seed in range(400):
        s = random_proportions(np.random.default_rng(seed), H36M17, ranges)
        assert s[0] == 1.0
        for a, b in zip(H36M17.left, H36M17.right):
            assert s[a] == pytest.approx(s[b])  # mirror partners share their factor
        y = rescale_bones(x, PARENTS, s)
        scale = s[H36M17.index("nose")] / 1.0  # head/neck x overall, for the group ratios below
        shoulders.append(_width(y, "left_shoulder", "right_shoulder") / _width(x, "left_shoulder", "right_shoulder"))
        hips.append(_width(y, "left_hip", "right_hip") / _width(x, "left_hip", "right_hip"))
        overall.append(scale)
    shoulders, hips = np.array(shoulders), np.array(hips)
    # shoulder width factor 0.75-1.25 times an overall scale of 0.6-1.08
    assert shoulders.min() >= 0.75 * 0.6 - 1e-9 and shoulders.max() <= 1.25 * 1.08 + 1e-9
    assert shoulders.max() > 1.2 and shoulders.min() < 0.6  # wide, children included
    assert hips.min() >= 0.8 * 0.6 - 1e-9 and hips.max() <= 1.2 * 1.08 + 1e-9
    assert np.std(np.log(shoulders)) > 3 * 0.05  # far wider than bone_jitter's 5 %


def test_leg_torso_ratio_and_children() -> None:
    x = _tpose()
    legs = ("right_knee", "right_ankle")
    for seed in range(200):
        s = random_proportions(np.random.default_rng(seed), H36M17, ProportionRanges(
            shoulder_width=(1, 1), hip_width=(1, 1), limb=(1, 1), head_neck=(1, 1), adult_scale=(1, 1), child_prob=0.0))
        leg = s[H36M17.index(legs[0])]
        torso = s[H36M17.index("spine")]
        assert s[H36M17.index(legs[1])] == pytest.approx(leg)
        assert 0.85 - 1e-9 <= leg / torso <= 1.15 + 1e-9  # the ratio, and nothing else, changes
        assert leg * torso == pytest.approx(1.0)
    kids = ProportionRanges(child_prob=1.0, child_scale=(0.6, 0.7))
    y = rescale_bones(x, PARENTS, random_proportions(np.random.default_rng(0), H36M17, kids))
    height = y[0, H36M17.index("head"), 1] - y[0, H36M17.index("right_ankle"), 1]
    assert height < 0.75 * (x[0, H36M17.index("head"), 1] - x[0, H36M17.index("right_ankle"), 1])


def test_adult_preset_has_no_children_and_presets_are_named() -> None:
    assert PROPORTION_PRESETS["adult"].child_prob == 0.0
    assert proportion_preset("") is None and proportion_preset("none") is None
    assert proportion_preset("wide") == PROPORTION_PRESETS["wide"]
    with pytest.raises(ValueError, match="unknown proportions 'giant'"):
        proportion_preset("giant")
    with pytest.raises(ValueError, match="shoulder_width"):
        ProportionRanges(shoulder_width=(1.2, 0.8))
    with pytest.raises(ValueError, match="child_prob"):
        ProportionRanges(child_prob=1.5)


def test_keep_on_floor_moves_the_rescaled_feet_back_down() -> None:
    x = np.repeat(_tpose(), 3, axis=0)  # (3, 17, 3)
    small = rescale_bones(x, PARENTS, np.r_[1.0, np.full(16, 0.6)])
    assert small[0, H36M17.index("right_ankle"), 1] > 0.3  # a shrunken body floats
    y = keep_on_floor(x, small, H36M17)
    np.testing.assert_allclose(y[:, H36M17.index("right_ankle"), 1], 0.05, atol=1e-9)
    np.testing.assert_allclose(y[..., [0, 2]], small[..., [0, 2]])  # only moved up or down
    np.testing.assert_allclose(np.diff(y, axis=1), np.diff(small, axis=1))  # same body


def test_random_body_is_the_two_draws_in_order_and_nothing_when_off() -> None:
    x = np.repeat(_tpose(), 4, axis=0)  # (4, 17, 3)
    rng = np.random.default_rng(0)
    assert random_body(x, rng, H36M17, 0.0, None) is x
    assert rng.random() == np.random.default_rng(0).random()  # nothing drawn
    wide = PROPORTION_PRESETS["wide"]
    a = random_body(x, np.random.default_rng(1), H36M17, 0.05, wide)
    r = np.random.default_rng(1)
    scales = random_bone_scales(r, H36M17, 0.05) * random_proportions(r, H36M17, wide)
    np.testing.assert_allclose(a, keep_on_floor(x, rescale_bones(x, PARENTS, scales), H36M17), atol=1e-6)
    only_jitter = random_body(x, np.random.default_rng(1), H36M17, 0.05, None)
    np.testing.assert_allclose(only_jitter, rescale_bones(x, PARENTS, random_bone_scales(np.random.default_rng(1), H36M17, 0.05)),
                               atol=1e-6)
