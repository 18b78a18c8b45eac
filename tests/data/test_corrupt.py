from __future__ import annotations

from dataclasses import replace

import numpy as np

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
