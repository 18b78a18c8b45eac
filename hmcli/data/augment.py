"""Body-proportion augmentation for training clips (world joints in metres).

A lifter trained on a handful of people learns their bone lengths as a prior, and a new
person's depth is then read against the wrong proportions. ``random_bone_scales`` draws
one length factor per bone, the same for a bone and its mirror partner, and
``rescale_bones`` rebuilds every frame of a clip from the root outwards with each bone
vector scaled by its factor: joint angles, root trajectory and timing are kept, so the
motion stays real while the body changes. Scales are drawn once per clip (a person does
not change size within a clip).
"""

from __future__ import annotations

import numpy as np

from hmcli.skeleton.joints import JointSet


def _tree_order(parents: tuple[int, ...]) -> list[int]:
    """Joint indices ordered so that every parent comes before its children."""
    order: list[int] = []
    placed: set[int] = set()
    while len(order) < len(parents):
        progressed = False
        for j, p in enumerate(parents):
            if j not in placed and (p == -1 or p in placed):
                order.append(j)
                placed.add(j)
                progressed = True
        if not progressed:
            raise ValueError("parents do not form a tree")
    return order


def check_bone_jitter(jitter: float) -> float:
    """``jitter`` as a float; ValueError unless 0 <= jitter < 0.5 (factors stay within 1 +- 2 jitter > 0)."""
    value = float(jitter)
    if not 0.0 <= value < 0.5:
        raise ValueError(f"bone jitter must be in [0, 0.5), got {jitter}")
    return value


def random_bone_scales(rng: np.random.Generator, joint_set: JointSet, jitter: float) -> np.ndarray:
    """(J,) length factor of the bone that ends at each joint (1 at the root).

    Factors are ``1 + jitter * N(0, 1)`` clipped to ``1 +- 2 * jitter``; a joint and its
    mirror partner share one factor, so the body stays left-right symmetric.
    """
    if joint_set.parents is None:
        raise ValueError(f"joint set {joint_set.name!r} has no bone tree")
    jitter = check_bone_jitter(jitter)
    n = joint_set.num_joints
    draws = 1.0 + jitter * rng.standard_normal(n)  # (J,)
    scales = np.clip(draws, 1.0 - 2.0 * jitter, 1.0 + 2.0 * jitter)
    for a, b in zip(joint_set.left, joint_set.right):
        scales[b] = scales[a]
    scales[joint_set.root] = 1.0
    return scales


def rescale_bones(joints: np.ndarray, parents: tuple[int, ...], scales: np.ndarray) -> np.ndarray:
    """Clip ``joints`` (..., J, 3) with each bone (parent -> child) scaled by ``scales[child]``.

    The root keeps its position; children are placed from their (already placed) parents.
    Scales of 1 give the input back exactly.
    """
    x = np.asarray(joints, dtype=np.float64)
    s = np.asarray(scales, dtype=np.float64)
    if x.ndim < 2 or x.shape[-2] != len(parents) or s.shape != (len(parents),):
        raise ValueError(f"expected joints (..., {len(parents)}, 3) and scales ({len(parents)},), "
                         f"got {x.shape} and {s.shape}")
    out = np.empty_like(x)  # (..., J, 3)
    for j in _tree_order(parents):
        p = parents[j]
        if p == -1:
            out[..., j, :] = x[..., j, :]
        else:
            out[..., j, :] = out[..., p, :] + s[j] * (x[..., j, :] - x[..., p, :])
    return out.astype(np.asarray(joints).dtype, copy=False)
