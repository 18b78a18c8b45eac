from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hmcli.data.corrupt import CorruptionConfig, bbox_diagonal, corrupt


def _clean(f: int = 2000, j: int = 17, seed: int = 0) -> np.ndarray:
    """(F, J, 2) pixels: a 300x400 px figure drifting slowly inside a 1920x1080 image."""
    rng = np.random.default_rng(seed)
    base = rng.uniform([0, 0], [300, 400], size=(j, 2))
    drift = np.stack([np.linspace(500, 900, f), np.full(f, 300.0)], axis=1)
    return base[None] + drift[:, None, :]


QUIET = CorruptionConfig(swap_prob=0.0, outlier_prob=0.0, mask_prob=0.0, dropout_fraction=0.0,
                         frame_drop_fraction=0.0)


def test_bbox_diagonal() -> None:
    xy = np.array([[[0.0, 0.0], [30.0, 40.0], [np.nan, np.nan]], [[np.nan, 1.0], [np.nan, 2.0], [5.0, 5.0]]])
    d = bbox_diagonal(xy)
    np.testing.assert_allclose(d, [50.0, 50.0])  # frame 2 has one finite joint -> median fill


def test_mask_ratio_about_15_percent() -> None:
    ratios = []
    for seed in range(4):
        _, conf = corrupt(_clean(seed=seed), np.random.default_rng(seed))
        ratios.append(float((conf == 0).mean()))
    assert 0.12 < np.mean(ratios) < 0.18


def test_confidence_decreases_with_error() -> None:
    clean = _clean()
    xy, conf = corrupt(clean, np.random.default_rng(1), replace(CorruptionConfig(), outlier_prob=0.05))
    err = np.linalg.norm(xy - clean, axis=-1)
    vis = conf > 0
    r = np.corrcoef(err[vis], conf[vis])[0, 1]
    assert r < -0.6
    assert conf.min() >= 0.0 and conf.max() <= 1.0
    assert conf[vis].min() >= 0.05


def test_jitter_scale_and_outliers() -> None:
    clean = _clean()
    diag = bbox_diagonal(clean)[:, None]
    xy, conf = corrupt(clean, np.random.default_rng(2), QUIET)
    rel = np.linalg.norm(xy - clean, axis=-1) / diag
    assert (conf > 0).all()
    # per-axis sigma 1-3 % of the diagonal (times joint factors 0.6-1.5)
    assert 0.005 < np.median(rel) < 0.06
    assert (rel > 0.10).mean() < 0.002
    xy2, _ = corrupt(clean, np.random.default_rng(2), replace(QUIET, outlier_prob=0.02, sigma_frac=(0.001, 0.001)))
    rel2 = np.linalg.norm(xy2 - clean, axis=-1) / diag
    big = rel2 > 0.09
    assert 0.015 < big.mean() < 0.025
    assert rel2[big].max() < 0.31


def test_dropout_is_temporally_correlated() -> None:
    cfg = replace(QUIET, dropout_fraction=0.1, dropout_mean_len=10.0)
    _, conf = corrupt(_clean(), np.random.default_rng(3), cfg)
    m = conf == 0
    p = m.mean()
    p_next = (m[1:] & m[:-1]).sum() / m[:-1].sum()
    assert 0.06 < p < 0.14
    assert p_next > 0.8  # runs of ~10 frames, not independent flips


def test_outside_image_masked_and_zero_fill() -> None:
    clean = _clean(f=50)
    clean[:, 0] = [-100.0, 50.0]  # joint 0 always left of the image
    xy, conf = corrupt(clean, np.random.default_rng(4), replace(QUIET, masked_xy="zero"), width=1920, height=1080)
    assert (conf[:, 0] == 0).all()
    np.testing.assert_array_equal(xy[:, 0], 0.0)
    assert (conf[:, 1:] > 0).all()
    nan_in = clean.copy()
    nan_in[3, 2] = np.nan
    xy3, conf3 = corrupt(nan_in, np.random.default_rng(4), QUIET)
    assert conf3[3, 2] == 0 and np.isfinite(xy3).all()


def test_deterministic_under_seed() -> None:
    clean = _clean(f=100)
    a = corrupt(clean, np.random.default_rng(11))
    b = corrupt(clean, np.random.default_rng(11))
    c = corrupt(clean, np.random.default_rng(12))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert a[0].dtype == np.float32 and a[1].dtype == np.float32 and a[0].shape == (100, 17, 2)


# --- BlazePose-like corruption ---

def _standing(f: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """(F, 17, 2) pixels of a still H36M-17 figure ~400 px tall, and (F, 17) depths with its left side nearer."""
    from hmcli.skeleton import H36M17  # noqa: F401  (layout the indices below follow)

    base = np.array([[0, 0], [-20, 0], [-22, 100], [-24, 200], [20, 0], [22, 100], [24, 200], [0, -60], [0, -120],
                     [0, -140], [0, -170], [40, -115], [60, -60], [70, -10], [-40, -115], [-60, -60], [-70, -10]],
                    dtype=np.float64) + [600.0, 400.0]
    depth = np.full((f, 17), 4.0)
    depth[:, [4, 5, 6, 11, 12, 13]] -= 0.2  # left side nearer: the right limbs are the far side
    return np.repeat(base[None], f, axis=0), depth


def test_blazepose_jitter_drifts_and_arms_jitter_most():
    from hmcli.data.corrupt import BlazePoseCorruptionConfig, corrupt_blazepose

    clean, depth = _standing()
    cfg = replace(BlazePoseCorruptionConfig(), pair_swap=(0.0, 0.0), leg_swap=(0.0, 0.0), frame_drop=(0.0, 0.0),
                  lowvis_far=0.0, lowvis_near=0.0)
    xy, conf = corrupt_blazepose(clean, np.random.default_rng(0), cfg, 1280, 720, depth)
    e = (xy - clean)[..., 0]  # (F, 17)
    lag1 = np.array([np.corrcoef(e[1:, j], e[:-1, j])[0, 1] for j in range(17)])
    assert lag1[[0, 7, 8]].min() > 0.8  # torso errors drift slowly
    assert lag1[[13, 16]].max() < lag1[[0, 7, 8]].min()  # wrists less persistent
    spread = e.std(axis=0)
    assert spread[[13, 16]].min() > 1.5 * spread[[1, 4, 8]].max()  # wrists jitter about twice the hips/thorax
    assert (conf > 0).all() and (conf >= 0.5).all()  # no masks, no low visibility when turned off


def test_blazepose_masks_whole_frames_only_and_far_side_loses_visibility():
    from hmcli.data.corrupt import corrupt_blazepose

    clean, depth = _standing(3000)
    xy, conf = corrupt_blazepose(clean, np.random.default_rng(1), width=1280, height=720, depth=depth)
    masked = conf == 0
    assert (masked.all(axis=1) | ~masked.any(axis=1)).all()  # a frame is lost whole or not at all
    low = (conf > 0) & (conf < 0.5)  # (F, 17)
    far, near = [15, 16, 2, 3], [12, 13, 5, 6]  # right elbow/wrist/knee/ankle are farther
    assert low[:, far].mean() > 0.15 and low[:, near].mean() < 0.03
    assert 0.75 < (conf[conf > 0] >= 0.9).mean() < 0.95  # most joints are seen with high confidence


def test_blazepose_swaps_single_arm_pairs_and_legs_as_a_chain():
    from hmcli.data.corrupt import BlazePoseCorruptionConfig, corrupt_blazepose

    clean, depth = _standing(4000)
    cfg = replace(BlazePoseCorruptionConfig(), scale=(0.01, 0.01), white_frac=0.0, pair_swap=(0.05, 0.05),
                  leg_swap=(0.05, 0.05), frame_drop=(0.0, 0.0), lowvis_far=0.0, lowvis_near=0.0)
    xy, _ = corrupt_blazepose(clean, np.random.default_rng(2), cfg, 1280, 720, depth)
    swapped = np.linalg.norm(xy - clean, axis=-1) > 20  # (F, 17): a joint sits at its partner's place
    for left, right in ((11, 14), (12, 15), (13, 16), (4, 1), (5, 2), (6, 3)):
        assert (swapped[:, left] == swapped[:, right]).all()
        assert 0.02 < swapped[:, left].mean() < 0.09
    legs = swapped[:, [4, 5, 6]]
    assert (legs.all(axis=1) == legs.any(axis=1)).all()  # the legs swap together
    arms = swapped[:, [11, 13]]
    assert (arms[:, 0] != arms[:, 1]).any()  # the arm pairs do not


def test_apply_corruption_plain_is_unchanged_and_mixed_picks_per_clip():
    from hmcli.data.corrupt import MixedCorruption, apply_corruption, corruption_preset

    clean, depth = _standing(200)
    a = corrupt(clean, np.random.default_rng(5))
    b = apply_corruption(corruption_preset("plain"), clean, np.random.default_rng(5), depth=depth)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    kinds = set()
    for seed in range(20):
        _, conf = apply_corruption(MixedCorruption(), clean, np.random.default_rng(seed), 1280, 720, depth)
        m = conf == 0
        kinds.add(bool((m.any(axis=1) & ~m.all(axis=1)).any()))  # single-joint masks: the plain model
    assert kinds == {True, False}  # both models drawn
    with pytest.raises(ValueError, match="unknown corruption model 'x'"):
        corruption_preset("x")
