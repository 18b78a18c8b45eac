from __future__ import annotations

import numpy as np
import pytest

from hmcli.data.augment import random_bone_scales, rescale_bones
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
