"""Conversions between joint sets, left/right flips and bone lengths.

Keypoint arrays are ``(..., J, C)``: any leading axes (frames, people, batch),
then joints, then channels. For the 2D converters C is 2 (x, y) or 3
(x, y, conf) and the output has the same C. Every function accepts numpy arrays
and torch tensors and returns the same kind.

Joints that a target layout does not have directly are built as the midpoint of
source joints. Their confidence is the *minimum* of the source confidences: a
derived joint is only as trustworthy as its least trustworthy source.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hmcli.skeleton._array import Array, as_float_array, cat, minimum
from hmcli.skeleton.joints import COCO17, H36M17, JointSet, get_joint_set


def _check(k: Array, js: JointSet, allowed_c: tuple[int, ...] | None = (2, 3)) -> Array:
    k = as_float_array(k)
    if k.ndim < 2 or k.shape[-2] != js.num_joints:
        raise ValueError(f"expected (..., {js.num_joints}, C) keypoints for {js.name}, got shape {tuple(k.shape)}")
    if allowed_c is not None and k.shape[-1] not in allowed_c:
        raise ValueError(f"expected C in {allowed_c} channels, got shape {tuple(k.shape)}")
    return k


def _midpoint(a: Array, b: Array) -> Array:
    """Midpoint of two (..., 1, C) joints; channel 2 (confidence), if present, is the min."""
    xy = (a[..., :2] + b[..., :2]) * 0.5  # (..., 1, 2)
    if a.shape[-1] == 2:
        return xy
    return cat([xy, minimum(a[..., 2:3], b[..., 2:3])], axis=-1)  # (..., 1, 3)


def select_joints(k: Array, source: str | JointSet, target: str | JointSet) -> Array:
    """Reorder ``k`` (..., J_source, C) into ``target``'s layout by joint name.

    Every joint of ``target`` must exist (by name) in ``source``.
    """
    src, dst = get_joint_set(source), get_joint_set(target)
    k = _check(k, src, allowed_c=None)
    idx = [src.index(name) for name in dst.joints]
    return k[..., idx, :]  # (..., J_target, C)


def coco_to_h36m(k: Array) -> Array:
    """COCO-17 keypoints (..., 17, C) -> H36M-17 (..., 17, C), C in {2, 3}.

    pelvis = mid(hips), thorax = mid(shoulders), spine = mid(pelvis, thorax),
    head = mid(eyes), nose = nose, limbs copied. Derived joints get the minimum
    confidence of their sources.
    """
    k = _check(k, COCO17)
    c = COCO17.index

    def j(name: str) -> Array:
        i = c(name)
        return k[..., i : i + 1, :]  # (..., 1, C)

    pelvis = _midpoint(j("left_hip"), j("right_hip"))
    thorax = _midpoint(j("left_shoulder"), j("right_shoulder"))
    spine = _midpoint(pelvis, thorax)
    head = _midpoint(j("left_eye"), j("right_eye"))

    parts = {
        "pelvis": pelvis,
        "spine": spine,
        "thorax": thorax,
        "head": head,
    }
    out = [parts[name] if name in parts else j(name) for name in H36M17.joints]
    return cat(out, axis=-2)  # (..., 17, C)


def blazepose_to_coco(k: Array) -> Array:
    """BlazePose-33 (..., 33, C) -> COCO-17 (..., 17, C), joints matched by name."""
    return select_joints(k, "blazepose33", COCO17)


def halpe_to_coco(k: Array) -> Array:
    """Halpe-26 (..., 26, C) -> COCO-17 (..., 17, C): Halpe's first 17 joints are COCO's."""
    return select_joints(k, "halpe26", COCO17)


def _identity_h36m(k: Array) -> Array:
    return _check(k, H36M17)


_TO_H36M: dict[str, Callable[[Array], Array]] = {
    "h36m17": _identity_h36m,
    "coco17": coco_to_h36m,
    "blazepose33": lambda k: coco_to_h36m(blazepose_to_coco(k)),
    "halpe26": lambda k: coco_to_h36m(halpe_to_coco(k)),
}


BLAZEPOSE_MAPS = ("midpoints", "cmu")


def h36m_from_midpoints(xy, valid=None, tol: float = 0.05) -> bool:
    """Whether H36M-17 2D keypoints ``xy`` (F, 17, 2) px were built by the COCO-style conversion
    (:func:`coco_to_h36m`: coco17, halpe26, and blazepose33 with ``blazepose_map="midpoints"``),
    read off the keypoints themselves: in every frame of ``valid`` (F,) bool (default all) the
    pelvis is the hips' midpoint, the thorax the shoulders' and the spine theirs, to ``tol`` px.
    Such 2D has no head joint (its "head" is the eyes' midpoint) and its pelvis and thorax are
    not CMU's; the learned map (``blazepose_map="cmu"``) and real H36M-17 2D never have all
    three exactly. False when no frame is valid."""
    x = np.asarray(xy, np.float64)
    if x.ndim != 3 or x.shape[1:] != (17, 2):
        raise ValueError(f"expected (F, 17, 2) H36M-17 keypoints, got shape {x.shape}")
    ok = np.isfinite(x).all(axis=(1, 2))
    if valid is not None:
        ok &= np.asarray(valid, bool)
    if not ok.any():
        return False
    x = x[ok]
    i = H36M17.index
    pelvis = 0.5 * (x[:, i("left_hip")] + x[:, i("right_hip")])
    thorax = 0.5 * (x[:, i("left_shoulder")] + x[:, i("right_shoulder")])
    err = np.stack([x[:, i("pelvis")] - pelvis, x[:, i("thorax")] - thorax,
                    x[:, i("spine")] - 0.5 * (x[:, i("pelvis")] + x[:, i("thorax")])], 1)  # (F, 3, 2)
    return bool(np.abs(err).max() <= tol)


def to_h36m(k: Array, joint_set_name: str, blazepose_map: str = "midpoints") -> Array:
    """Any supported 2D layout (..., J, C) -> H36M-17 (..., 17, C).

    Supported: h36m17 (returned as is), coco17, blazepose33, halpe26.
    ``blazepose_map`` (blazepose33 only): ``midpoints`` -- landmarks by name, pelvis / thorax /
    spine / head as midpoints (via COCO) -- or ``cmu`` -- the learned affine map to CMU's joint
    centres, :func:`hmcli.skeleton.blazepose_map.blazepose_to_h36m_cmu` (the lifter's input
    default, :data:`hmcli.lift.BLAZEPOSE_MAP`; same confidences as ``midpoints``).
    """
    if blazepose_map not in BLAZEPOSE_MAPS:
        raise ValueError(f"blazepose_map must be one of {BLAZEPOSE_MAPS}, got {blazepose_map!r}")
    if joint_set_name == "blazepose33" and blazepose_map == "cmu":
        from hmcli.skeleton.blazepose_map import blazepose_to_h36m_cmu

        return blazepose_to_h36m_cmu(k)
    try:
        fn = _TO_H36M[joint_set_name]
    except KeyError:
        known = ", ".join(sorted(_TO_H36M))
        raise ValueError(f"no conversion to h36m17 from {joint_set_name!r}; supported: {known}") from None
    return fn(k)


def flip_lr(k: Array, joint_set: str | JointSet, width: float | None = None) -> Array:
    """Mirror keypoints (..., J, C) left<->right.

    Joints are permuted with ``joint_set.flip_index`` (left_wrist takes the old
    right_wrist and so on) and the x channel (channel 0) is mirrored:

    * ``width`` given (2D pixels): ``x -> width - x``. Pixel coordinates are taken
      as continuous with the image spanning [0, width], so this is the exact
      mirror about the vertical centre line ``x = width / 2``.
    * ``width`` None (centred, normalised or 3D coordinates): ``x -> -x``.

    Other channels (y, z, confidence) are unchanged. ``flip_lr`` is its own
    inverse for the same ``width``.
    """
    js = get_joint_set(joint_set)
    k = _check(k, js, allowed_c=None)
    k = k[..., list(js.flip_index), :]  # (..., J, C), a copy
    x = k[..., 0:1]  # (..., J, 1)
    x = -x if width is None else float(width) - x
    return cat([x, k[..., 1:]], axis=-1)  # (..., J, C)


def flip_pose(x: Array, joint_set: str | JointSet) -> Array:
    """Mirror a pose in model units (..., J, C): negate channel 0 and swap left/right joints."""
    return flip_lr(x, joint_set, width=None)


def bone_lengths(j3d: Array, joint_set: str | JointSet) -> Array:
    """Euclidean length of each edge of ``joint_set``: (..., J, D) -> (..., E).

    All D channels are treated as coordinates (pass 3D joints, not x, y, conf).
    """
    js = get_joint_set(joint_set)
    j3d = _check(j3d, js, allowed_c=None)
    a = [e[0] for e in js.edges]
    b = [e[1] for e in js.edges]
    d = j3d[..., b, :] - j3d[..., a, :]  # (..., E, D)
    return (d * d).sum(-1) ** 0.5  # (..., E)
