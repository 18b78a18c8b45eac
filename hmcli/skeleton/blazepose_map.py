"""BlazePose-33 -> H36M-17 as the lifter's CMU joint centres: a learned affine combination.

``to_h36m(k, "blazepose33")`` takes BlazePose's hips, shoulders, ... as H36M's and builds the
pelvis / thorax / spine / head as midpoints. BlazePose's landmarks are not CMU's joint centres
(its hips sit higher and wider than CMU's hip joint centres, its shoulders higher, its
eye midpoint is not CMU's head point), and the lifter was trained on CMU's.

The correction here: each H36M-17 joint is a fixed **affine combination** of a few BlazePose
landmarks (``SOURCES``), ``joint_j = sum_k W[j, k] * landmark_k`` with ``sum_k W[j, k] = 1``.
Why this form:

* it is exactly equivariant to any 2D similarity (and affine) change of the image -- shift,
  scale, rotation, camera roll -- so it needs no estimate of the person's size or orientation
  (a per-joint pixel offset in a body frame would need both, from noisy detections);
* an offset that is fixed on the body (hip centre a bit below and inside the BlazePose hip)
  is, to first order, a fixed combination of nearby landmarks (``hip + a (hip - shoulder) +
  b (hip - other hip)``), which foreshortens with the body as the true offset does;
* today's mapping is one such ``W`` (``default_matrix``), so the correction is fitted as a
  small change of it (ridge towards it), per joint, from few landmarks (no overfitting).

The weights are fitted (:func:`fit_affine_map`, iteratively reweighted least squares with a
Huber weight, x and y rows together, rows scaled by the person's height) on renders of the
Anny body posed with CMU motion of **training subjects** against the body's projected
CMU-calibrated keypoints (``hm bench detector-2d``, :mod:`hmcli.bench.detector2d`). The
confidence of every joint stays the one ``to_h36m`` gives (min of its midpoint sources).
"""

from __future__ import annotations

import functools

import numpy as np

from hmcli.skeleton._array import Array, as_float_array, cat, is_torch
from hmcli.skeleton.joints import BLAZEPOSE33, H36M17

__all__ = ["SOURCES", "default_matrix", "fit_affine_map", "matrix_from_weights", "weights_from_matrix",
           "apply_matrix", "CMU_WEIGHTS", "cmu_matrix", "blazepose_to_h36m_cmu", "world_to_h36m"]

_SHOULDERS_HIPS = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
_FACE = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth_left", "mouth_right")

#: BlazePose landmarks each H36M-17 joint may combine (today's sources always included). No hand
#: landmarks and no foot index: the renders the weights are fitted on hold the hands and feet at
#: the pose prior's mean, so those landmarks would teach one fixed hand and foot pose.
SOURCES: dict[str, tuple[str, ...]] = {
    "pelvis": _SHOULDERS_HIPS + ("left_knee", "right_knee"),
    "right_hip": _SHOULDERS_HIPS + ("right_knee",),
    "right_knee": ("right_knee", "right_hip", "right_ankle"),
    "right_ankle": ("right_ankle", "right_knee", "right_heel"),
    "left_hip": _SHOULDERS_HIPS + ("left_knee",),
    "left_knee": ("left_knee", "left_hip", "left_ankle"),
    "left_ankle": ("left_ankle", "left_knee", "left_heel"),
    "spine": _SHOULDERS_HIPS,
    "thorax": _SHOULDERS_HIPS + ("nose",),
    "nose": _FACE + ("left_shoulder", "right_shoulder"),
    "head": _FACE + ("left_shoulder", "right_shoulder"),
    "left_shoulder": _SHOULDERS_HIPS + ("left_elbow", "left_ear"),
    "left_elbow": ("left_elbow", "left_shoulder", "left_wrist"),
    "left_wrist": ("left_wrist", "left_elbow"),
    "right_shoulder": _SHOULDERS_HIPS + ("right_elbow", "right_ear"),
    "right_elbow": ("right_elbow", "right_shoulder", "right_wrist"),
    "right_wrist": ("right_wrist", "right_elbow"),
}


#: Today's BlazePose-33 -> H36M-17 mapping (``to_h36m(., "blazepose33")``): each H36M joint as
#: BlazePose landmarks with equal weights (pelvis, thorax, head: midpoints; spine: the midpoint
#: of pelvis and thorax; the rest by name). Kept here, not derived from ``convert``, so this
#: module does not import it (``convert`` imports this one).
_MIDPOINTS: dict[str, tuple[str, ...]] = {
    "pelvis": ("left_hip", "right_hip"),
    "spine": ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),
    "thorax": ("left_shoulder", "right_shoulder"),
    "head": ("left_eye", "right_eye"),
}


def default_matrix() -> np.ndarray:
    """Today's ``to_h36m(., "blazepose33")`` positions as a (17, 33) matrix (it is linear in x, y)."""
    m = np.zeros((17, 33), np.float64)
    for j, name in enumerate(H36M17.joints):
        srcs = _MIDPOINTS.get(name, (name,))
        for src in srcs:
            m[j, BLAZEPOSE33.index(src)] = 1.0 / len(srcs)
    return m


def matrix_from_weights(weights: dict[str, dict[str, float]]) -> np.ndarray:
    """{h36m joint: {blazepose landmark: weight}} -> (17, 33); joints not given keep today's row."""
    m = default_matrix()
    for j, row in weights.items():
        r = np.zeros(33)
        for name, w in row.items():
            r[BLAZEPOSE33.index(name)] = w
        m[H36M17.index(j)] = r
    return m


def weights_from_matrix(m: np.ndarray, digits: int = 4) -> dict[str, dict[str, float]]:
    """(17, 33) -> {h36m joint: {landmark: weight}} (non-zero weights, rounded, each row re-summed to 1
    on its largest weight)."""
    out: dict[str, dict[str, float]] = {}
    for j, name in enumerate(H36M17.joints):
        row = {BLAZEPOSE33.joints[k]: round(float(m[j, k]), digits) for k in np.flatnonzero(np.abs(m[j]) > 10 ** -digits)}
        big = max(row, key=lambda n: abs(row[n]))
        row[big] = round(row[big] + 1.0 - sum(row.values()), digits)
        out[name] = row
    return out


def fit_affine_map(landmarks: np.ndarray, target: np.ndarray, scale: np.ndarray, valid: np.ndarray | None = None,
                   ridge: float = 1e-2, huber: float = 0.03, iters: int = 5,
                   sources: dict[str, tuple[str, ...]] = SOURCES) -> np.ndarray:
    """Fit the (17, 33) affine map (rows sum to 1) from ``landmarks`` (N, 33, 2) to ``target``
    (N, 17, 2) px. scale: (N,) px per unit (the person's height) -- residuals are measured in
    it; valid: (N, 17) bool rows to use (default all). ``ridge`` pulls towards
    :func:`default_matrix` (per unit of mean squared design); ``huber``: residual (in ``scale``
    units) beyond which a row is down-weighted (IRLS, ``iters`` rounds)."""
    x = np.asarray(landmarks, np.float64) / np.asarray(scale, np.float64)[:, None, None]   # (N, 33, 2)
    t = np.asarray(target, np.float64) / np.asarray(scale, np.float64)[:, None, None]      # (N, 17, 2)
    n = x.shape[0]
    ok = np.ones((n, 17), bool) if valid is None else np.asarray(valid, bool)
    w0 = default_matrix()                                                        # (17, 33)
    out = w0.copy()
    for j, name in enumerate(H36M17.joints):
        src = [BLAZEPOSE33.index(s) for s in sources[name]]
        if not set(np.flatnonzero(w0[j])) <= set(src):
            raise ValueError(f"sources of {name} must include today's ({np.flatnonzero(w0[j]).tolist()})")
        rows = ok[:, j]
        if rows.sum() < 3 * len(src):
            continue
        xs = x[rows][:, src]                                                     # (n, S, 2)
        r = t[rows, j] - np.einsum("k,nkc->nc", w0[j, src], xs)                  # (n, 2)
        A = (xs[:, 1:] - xs[:, :1]).transpose(0, 2, 1).reshape(-1, len(src) - 1)  # (2n, S-1)
        b = r.reshape(-1)                                                        # (2n,)
        lam = ridge * float((A * A).mean(0).mean()) * A.shape[0]
        wt = np.ones(A.shape[0] // 2)                                            # (n,) per frame
        d = np.zeros(len(src) - 1)
        for _ in range(max(1, iters)):
            sw = np.repeat(wt, 2)                                                # (2n,)
            d = np.linalg.solve(A.T @ (A * sw[:, None]) + lam * np.eye(A.shape[1]), A.T @ (b * sw))
            res = np.linalg.norm((b - A @ d).reshape(-1, 2), axis=-1)            # (n,)
            wt = np.where(res <= huber, 1.0, huber / np.maximum(res, 1e-12))
        delta = np.concatenate([[-d.sum()], d])                                  # (S,) sums to 0
        out[j, src] = w0[j, src] + delta
    return out


def apply_matrix(k: Array, m: np.ndarray) -> Array:
    """BlazePose-33 (..., 33, C) -> H36M-17 (..., 17, C) with positions ``m @ xy`` (m: (17, 33));
    channel 2 (confidence), if present, is today's (``to_h36m``): the minimum over the joint's
    landmarks in :func:`default_matrix`."""
    k = as_float_array(k)
    if k.ndim < 2 or k.shape[-2] != 33 or k.shape[-1] not in (2, 3):
        raise ValueError(f"expected (..., 33, C) BlazePose keypoints with C in (2, 3), got shape {tuple(k.shape)}")
    if is_torch(k):
        import torch

        mm = torch.as_tensor(m, dtype=k.dtype, device=k.device)                  # (17, 33)
        xy = torch.einsum("jk,...kc->...jc", mm, k[..., :2])                     # (..., 17, 2)
    else:
        xy = np.einsum("jk,...kc->...jc", m.astype(k.dtype), k[..., :2])        # (..., 17, 2)
    if k.shape[-1] == 2:
        return xy
    c = k[..., 2]                                                                # (..., 33)
    src = _conf_sources()
    if is_torch(k):
        import torch

        conf = torch.stack([c[..., i].amin(dim=-1) for i in src], dim=-1)[..., None]  # (..., 17, 1)
    else:
        conf = np.stack([c[..., i].min(axis=-1) for i in src], axis=-1)[..., None]     # (..., 17, 1)
    return cat([xy, conf], axis=-1)                                              # (..., 17, 3)


#: Fitted weights (module docstring): ``scripts/render_detect.py`` (bench_results/detector-2d.md),
#: 1,379 detected training-subject frames (05, 06, 13), ridge 1e-2. Held-out subjects (09, 49;
#: 1,038 frames): 2D error 2.5 -> 1.8 % of the person's height (pelvis 6.0 -> 2.5, thorax 3.4 -> 1.4,
#: head 4.6 -> 1.2); the shipped lifter's MPJPE 111.5 -> 96.1 mm against the body's keypoints and
#: 104.3 -> 79.9 mm against the CMU joints (73.6 / 58.1 from the exact 2D).
CMU_WEIGHTS: dict[str, dict[str, float]] = {
    'pelvis': {'left_shoulder': 0.0827, 'right_shoulder': 0.0472, 'left_hip': 0.4799, 'right_hip': 0.5075, 'left_knee': -0.0605, 'right_knee': -0.0568},
    'right_hip': {'left_shoulder': -0.0487, 'right_shoulder': 0.0396, 'left_hip': 0.0577, 'right_hip': 0.9968, 'right_knee': -0.0454},
    'right_knee': {'right_hip': -0.0032, 'right_knee': 1.0442, 'right_ankle': -0.041},
    'right_ankle': {'right_knee': -0.0479, 'right_ankle': 0.944, 'right_heel': 0.1039},
    'left_hip': {'left_shoulder': 0.037, 'right_shoulder': -0.0455, 'left_hip': 0.9796, 'right_hip': 0.0495, 'left_knee': -0.0206},
    'left_knee': {'left_hip': -0.0104, 'left_knee': 1.0522, 'left_ankle': -0.0418},
    'left_ankle': {'left_knee': -0.08, 'left_ankle': 1.0866, 'left_heel': -0.0066},
    'spine': {'left_shoulder': 0.2889, 'right_shoulder': 0.2538, 'left_hip': 0.2306, 'right_hip': 0.2267},
    'thorax': {'nose': -0.0845, 'left_shoulder': 0.4896, 'right_shoulder': 0.5155, 'left_hip': 0.0376, 'right_hip': 0.0418},
    'nose': {'nose': 1.0623, 'left_eye': -0.1999, 'right_eye': -0.0888, 'left_ear': -0.0403, 'right_ear': 0.1947, 'mouth_left': 0.0263, 'mouth_right': 0.1458, 'left_shoulder': -0.0237, 'right_shoulder': -0.0764},
    'head': {'nose': -0.7297, 'left_eye': 0.7088, 'right_eye': 0.7599, 'left_ear': 0.4271, 'right_ear': 0.5921, 'mouth_left': -0.4449, 'mouth_right': -0.2915, 'left_shoulder': 0.0156, 'right_shoulder': -0.0374},
    'left_shoulder': {'left_ear': -0.0136, 'left_shoulder': 1.1249, 'right_shoulder': -0.0691, 'left_elbow': -0.0335, 'left_hip': -0.0428, 'right_hip': 0.0341},
    'left_elbow': {'left_shoulder': -0.0599, 'left_elbow': 1.0397, 'left_wrist': 0.0202},
    'left_wrist': {'left_elbow': 0.1217, 'left_wrist': 0.8783},
    'right_shoulder': {'right_ear': 0.0001, 'left_shoulder': -0.0212, 'right_shoulder': 1.058, 'right_elbow': -0.0098, 'left_hip': -0.0192, 'right_hip': -0.0079},
    'right_elbow': {'right_shoulder': -0.1131, 'right_elbow': 1.0593, 'right_wrist': 0.0538},
    'right_wrist': {'right_elbow': 0.1292, 'right_wrist': 0.8708},
}


@functools.cache
def _cmu_matrix() -> np.ndarray:
    m = matrix_from_weights(CMU_WEIGHTS)
    m.setflags(write=False)
    return m


def cmu_matrix() -> np.ndarray:
    """(17, 33) positions of ``CMU_WEIGHTS`` (built once; a read-only array)."""
    return _cmu_matrix()


@functools.cache
def _conf_sources() -> tuple[np.ndarray, ...]:
    """Per H36M joint, the landmarks today's mapping takes its confidence from (the minimum)."""
    return tuple(np.flatnonzero(row) for row in default_matrix())


def blazepose_to_h36m_cmu(k: Array) -> Array:
    """BlazePose-33 (..., 33, C) -> H36M-17 (..., 17, C) at CMU's joint centres (``CMU_WEIGHTS``)."""
    return apply_matrix(k, cmu_matrix())


def world_to_h36m(world: np.ndarray, blazepose_map: str = "cmu") -> np.ndarray:
    """BlazePose-33 3D positions (..., 33, 3) (e.g. MediaPipe's world landmarks, metres) -> H36M-17
    (..., 17, 3), every coordinate mapped alike (no confidence channel). ``blazepose_map``: ``cmu``
    (:data:`CMU_WEIGHTS`, what the lifter's 2D input gets) or ``midpoints`` (:func:`default_matrix`).

    The weights were fitted on 2D projections; being an affine combination (rows sum to 1),
    the map commutes with any 3D similarity, so it applies to 3D unchanged, with the caveat that
    a combination fitted to undo a projected offset is only approximately the 3D offset."""
    if blazepose_map not in ("cmu", "midpoints"):
        raise ValueError(f"blazepose_map must be 'cmu' or 'midpoints', got {blazepose_map!r}")
    w = np.asarray(world)
    if w.ndim < 2 or w.shape[-2:] != (33, 3):
        raise ValueError(f"expected (..., 33, 3) BlazePose positions, got shape {w.shape}")
    m = cmu_matrix() if blazepose_map == "cmu" else default_matrix()
    dt = w.dtype if np.issubdtype(w.dtype, np.floating) else np.float64
    return np.einsum("jk,...kc->...jc", m.astype(dt), w.astype(dt))
