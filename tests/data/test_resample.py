from __future__ import annotations

import numpy as np
import pytest

from hmcli.data.resample import resample, resampled_length, subsample


def _frame_index_seq(n: int, j: int = 2) -> np.ndarray:
    """(n, j, 3) whose every value is the frame index."""
    return np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None], (n, j, 3)).copy()


def test_integer_ratio_picks_real_frames() -> None:
    x = _frame_index_seq(10)
    y = resample(x, 120.0, 30.0)
    np.testing.assert_array_equal(y[:, 0, 0], [0, 4, 8])
    assert y.dtype == np.float32
    assert resampled_length(10, 120.0, 30.0) == 3
    # Real frames, not blends: every output value exists in the input.
    z = resample(np.random.default_rng(0).normal(size=(121, 3, 3)), 120.0, 40.0)
    assert z.shape == (41, 3, 3)
    np.testing.assert_array_equal(z, np.random.default_rng(0).normal(size=(121, 3, 3))[::3])


def test_same_fps_is_a_copy() -> None:
    x = _frame_index_seq(5)
    y = resample(x, 50.0, 50.0)
    np.testing.assert_array_equal(y, x)
    y[0] = -1
    assert x[0, 0, 0] == 0


def test_non_integer_ratio_interpolates_on_timestamps() -> None:
    n = 121  # exactly one second at 120 fps
    t = np.arange(n) / 120.0
    x = np.stack([t, 2 * t, -t], axis=-1)[:, None, :]  # (F, 1, 3), linear in time
    y = resample(x, 120.0, 50.0)
    assert y.shape == (51, 1, 3) == (resampled_length(n, 120.0, 50.0), 1, 3)
    t_out = np.arange(51) / 50.0
    np.testing.assert_allclose(y[:, 0, 0], t_out, atol=1e-12)
    np.testing.assert_allclose(y[:, 0, 1], 2 * t_out, atol=1e-12)
    # Frame 1 at 0.02 s lies 2.4 frames into the source: 0.6 * x[2] + 0.4 * x[3].
    x2 = np.random.default_rng(1).normal(size=(10, 2, 3))
    y2 = resample(x2, 120.0, 50.0)
    np.testing.assert_allclose(y2[1], 0.6 * x2[2] + 0.4 * x2[3], atol=1e-12)


def test_upsampling_midpoints() -> None:
    x = _frame_index_seq(4).astype(np.float64)
    y = resample(x, 60.0, 120.0)
    np.testing.assert_allclose(y[:, 0, 0], [0, 0.5, 1, 1.5, 2, 2.5, 3])


def test_subsample_offset() -> None:
    x = _frame_index_seq(10)
    np.testing.assert_array_equal(subsample(x, 3, 1)[:, 0, 0], [1, 4, 7])
    np.testing.assert_array_equal(subsample(x, 1)[:, 0, 0], np.arange(10))
    with pytest.raises(ValueError):
        subsample(x, 3, 3)
    with pytest.raises(ValueError):
        resample(x, 0.0, 30.0)
