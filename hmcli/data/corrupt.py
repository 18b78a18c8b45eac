"""Detector-like corruption of clean 2D keypoints (pixels), fully driven by a Generator.

Steps (``corrupt``), all scaled by the person's per-frame bounding-box diagonal
``diag`` (of the clean keypoints):

1. Jitter: per-clip ``s ~ U(sigma_frac)``; per joint-frame noise with std
   ``s * diag * joint_scale[j]`` per axis, a mix of white noise and an AR(1) process
   (``jitter_corr`` of the variance, coefficient ``jitter_rho``) so errors drift
   slowly like a real detector's.
2. Left/right swaps (17-joint H36M layout only): each frame with ``swap_prob`` has all
   left/right joint pairs exchanged.
3. Outliers: each joint-frame with ``outlier_prob`` is displaced in a random direction
   by ``U(outlier_frac) * diag``.
4. Confidence from the resulting error ``e``:
   ``clip(1 - e / (conf_err_scale * diag) + N(0, conf_noise), conf_min, 1)``.
5. Masks (confidence 0): independent joint-frames with ``mask_prob``; per-joint
   dropout runs covering about ``dropout_fraction`` of joint-frames (run length
   geometric, mean ``dropout_mean_len``); whole-frame misses (runs, about
   ``frame_drop_fraction`` of frames); and, when the image size is given, joints outside
   the image.  Together the defaults mask ~15 % of joint-frames.  Masked coordinates
   keep their corrupted value (``masked_xy='keep'``) or are set to 0 (``'zero'``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Relative jitter per H36M-17 joint: hips/pelvis/spine are ill-defined on images,
# the nose is sharp, wrists move fast.
H36M17_JOINT_SIGMA: tuple[float, ...] = (
    1.2, 1.3, 1.0, 1.0, 1.3, 1.0, 1.0, 1.5, 1.0, 0.6, 0.8, 0.9, 1.0, 1.2, 0.9, 1.0, 1.2,
)
# (left, right) index pairs in H36M-17.
H36M17_LR_PAIRS: tuple[tuple[int, int], ...] = ((4, 1), (5, 2), (6, 3), (11, 14), (12, 15), (13, 16))


@dataclass(frozen=True)
class CorruptionConfig:
    sigma_frac: tuple[float, float] = (0.01, 0.03)
    jitter_corr: float = 0.5
    jitter_rho: float = 0.8
    joint_sigma: tuple[float, ...] | None = H36M17_JOINT_SIGMA
    swap_prob: float = 0.005
    outlier_prob: float = 0.02
    outlier_frac: tuple[float, float] = (0.10, 0.30)
    conf_err_scale: float = 0.15
    conf_noise: float = 0.05
    conf_min: float = 0.05
    mask_prob: float = 0.09
    dropout_fraction: float = 0.05
    dropout_mean_len: float = 10.0
    frame_drop_fraction: float = 0.015
    frame_drop_mean_len: float = 5.0
    mask_outside_image: bool = True
    masked_xy: str = "keep"


def bbox_diagonal(xy: np.ndarray) -> np.ndarray:
    """Per-frame bounding-box diagonal of (F, J, 2) keypoints (nan ignored) -> (F,).

    Frames without any finite joint get the median diagonal of the others (1 if none).
    """
    x = np.asarray(xy, dtype=np.float64)
    finite = np.isfinite(x).all(axis=-1, keepdims=True)  # (F, J, 1)
    hi = np.where(finite, x, -np.inf).max(axis=1)  # (F, 2)
    lo = np.where(finite, x, np.inf).min(axis=1)  # (F, 2)
    with np.errstate(invalid="ignore"):
        span = hi - lo  # (F, 2); nan/-inf where a frame has no finite joint
    diag = np.linalg.norm(span, axis=-1)  # (F,)
    bad = ~np.isfinite(diag) | (diag <= 0)
    if bad.all():
        return np.ones_like(diag)
    diag[bad] = np.median(diag[~bad])
    return diag


def _runs_mask(rng: np.random.Generator, shape: tuple[int, int], fraction: float,
               mean_len: float, whole_frame: bool) -> np.ndarray:
    """Boolean (F, J) mask of random runs along time covering about ``fraction``."""
    f, j = shape
    mask = np.zeros((f, j), dtype=bool)
    if fraction <= 0 or f == 0:
        return mask
    lanes = 1 if whole_frame else j
    n = int(rng.poisson(fraction * f * lanes / max(mean_len, 1.0)))
    starts = rng.integers(0, f, size=n)
    lengths = rng.geometric(1.0 / max(mean_len, 1.0), size=n)
    which = rng.integers(0, lanes, size=n)
    for s, ln, w in zip(starts, lengths, which):
        if whole_frame:
            mask[s:s + ln, :] = True
        else:
            mask[s:s + ln, w] = True
    return mask


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], rho: float | np.ndarray) -> np.ndarray:
    """Unit-variance AR(1) noise along axis 0: (F, ...); ``rho`` a number or an array that
    broadcasts against one frame's shape (e.g. (J, 1) for (F, J, 2): one coefficient per joint)."""
    n = rng.standard_normal(shape)
    out = np.empty_like(n)
    if shape[0] == 0:
        return out
    out[0] = n[0]
    k = np.sqrt(np.maximum(1.0 - np.square(rho), 0.0))
    for i in range(1, shape[0]):
        out[i] = rho * out[i - 1] + k * n[i]
    return out


def _apply_masks(out: np.ndarray, conf: np.ndarray, masked: np.ndarray, mask_outside_image: bool, masked_xy: str,
                 width: int | None, height: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Last step of both corruptions: non-finite joints and (optionally) joints outside the image join
    ``masked`` (F, J); masked joints get confidence 0 and keep or zero their (F, J, 2) coordinates."""
    bad = ~np.isfinite(out).all(axis=-1)
    masked = masked | bad
    if mask_outside_image and width is not None and height is not None:
        with np.errstate(invalid="ignore"):
            outside = (out[..., 0] < 0) | (out[..., 0] >= width) | (out[..., 1] < 0) | (out[..., 1] >= height)
        masked |= outside
    conf[masked] = 0.0
    out[bad] = 0.0
    if masked_xy == "zero":
        out[masked] = 0.0
    elif masked_xy != "keep":
        raise ValueError(f"masked_xy must be 'keep' or 'zero', got {masked_xy!r}")
    return out.astype(np.float32), conf.astype(np.float32)


def corrupt(
    xy: np.ndarray,
    rng: np.random.Generator,
    config: CorruptionConfig = CorruptionConfig(),
    width: int | None = None,
    height: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt clean keypoints like a 2D detector would (steps in the module docstring).

    xy: (F, J, 2) clean pixels (nan = not projectable, always masked).
    Returns (xy (F, J, 2) float32, conf (F, J) float32 in [0, 1], 0 = masked).
    """
    clean = np.asarray(xy, dtype=np.float64)
    if clean.ndim != 3 or clean.shape[-1] != 2:
        raise ValueError(f"xy must be (F, J, 2), got {clean.shape}")
    f, j, _ = clean.shape
    cfg = config
    diag = bbox_diagonal(clean)  # (F,)
    if cfg.joint_sigma is not None and len(cfg.joint_sigma) == j:
        jscale = np.asarray(cfg.joint_sigma, dtype=np.float64)
    else:
        jscale = np.ones(j)

    # 1. jitter
    s = float(rng.uniform(*cfg.sigma_frac))
    c = float(np.clip(cfg.jitter_corr, 0.0, 1.0))
    noise = np.sqrt(1.0 - c) * rng.standard_normal((f, j, 2)) + np.sqrt(c) * _ar1(rng, (f, j, 2), cfg.jitter_rho)
    sigma = s * diag[:, None] * jscale[None, :]  # (F, J)
    out = clean + noise * sigma[..., None]  # (F, J, 2)

    # 2. left/right swaps
    if j == 17 and cfg.swap_prob > 0:
        swap = rng.random(f) < cfg.swap_prob  # (F,)
        if swap.any():
            li = np.array([p[0] for p in H36M17_LR_PAIRS])
            ri = np.array([p[1] for p in H36M17_LR_PAIRS])
            left = out[swap][:, li].copy()
            tmp = out[swap]
            tmp[:, li] = tmp[:, ri]
            tmp[:, ri] = left
            out[swap] = tmp

    # 3. outliers
    is_out = rng.random((f, j)) < cfg.outlier_prob  # (F, J)
    ang = rng.uniform(0.0, 2.0 * np.pi, size=(f, j))
    mag = rng.uniform(*cfg.outlier_frac, size=(f, j)) * diag[:, None]
    disp = np.stack([np.cos(ang), np.sin(ang)], axis=-1) * mag[..., None]
    out = out + np.where(is_out[..., None], disp, 0.0)

    # 4. confidence from error
    err = np.linalg.norm(out - clean, axis=-1)  # (F, J)
    conf = 1.0 - err / (cfg.conf_err_scale * diag[:, None]) + rng.normal(0.0, cfg.conf_noise, (f, j))
    conf = np.clip(conf, cfg.conf_min, 1.0)

    # 5. masks
    masked = rng.random((f, j)) < cfg.mask_prob
    masked |= _runs_mask(rng, (f, j), cfg.dropout_fraction, cfg.dropout_mean_len, False)
    masked |= _runs_mask(rng, (f, j), cfg.frame_drop_fraction, cfg.frame_drop_mean_len, True)
    return _apply_masks(out, conf, masked, cfg.mask_outside_image, cfg.masked_xy, width, height)


# --- BlazePose-like corruption -------------------------------------------------------------
# Measured by rendering posed bodies with CMU motion and running BlazePose on the renders
# (docs/real-video.md §7, bench_results/detector-2d.md), after the learned BlazePose -> H36M
# map: slowly drifting per-joint errors, left/right swaps of single limb pairs, whole frames
# lost (never single joints), and a visibility score that is high for nearly every joint
# except far-side limbs.

# Per-axis jitter std per H36M-17 joint, as a fraction of the keypoints' bounding-box
# diagonal (about the person's height): torso and legs 1-2 %, elbows ~2.5 %, wrists ~3 %.
H36M17_BLAZEPOSE_STD: tuple[float, ...] = (
    0.013, 0.012, 0.013, 0.014, 0.012, 0.013, 0.014, 0.012, 0.011, 0.012, 0.014, 0.011, 0.022, 0.028, 0.011, 0.022, 0.028,
)
# Lag-1 autocorrelation of each joint's error: torso 0.9+, elbows and wrists less persistent.
H36M17_BLAZEPOSE_RHO: tuple[float, ...] = (
    0.95, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.95, 0.95, 0.9, 0.9, 0.9, 0.85, 0.75, 0.9, 0.85, 0.75,
)
# Joints that lose visibility when they are on the far side of the body (elbows, wrists, knees, ankles).
_FAR_SIDE_PAIRS: tuple[tuple[int, int], ...] = ((12, 15), (13, 16), (5, 2), (6, 3))
_ARM_PAIRS: tuple[tuple[int, int], ...] = ((11, 14), (12, 15), (13, 16))
_LEG_CHAIN: tuple[tuple[int, int], ...] = ((4, 1), (5, 2), (6, 3))


@dataclass(frozen=True)
class BlazePoseCorruptionConfig:
    """A detector error model fitted to BlazePose on rendered truth (H36M-17 layout only).

    1. Jitter: per joint an AR(1) error (coefficient ``rho[j]``, per-axis std ``std[j] * s * diag``
       with a per-clip ``s ~ U(scale)``) plus a small white part (``white_frac * diag``).
    2. Swaps: per arm pair (shoulders, elbows, wrists) runs of swapped frames covering a per-clip
       fraction ``U(pair_swap)``; the leg pairs swap together as a chain (``U(leg_swap)``).
    3. Visibility: a slowly varying latent per joint marks low-visibility runs, far more often for
       the far-side elbow, wrist, knee and ankle (``lowvis_far``; the side farther from the
       camera, or a random side without depths) than elsewhere (``lowvis_near``). Low-visibility
       joints get confidence ``U(lowvis_conf)`` and ``lowvis_err`` times the jitter; the others
       ``1 - |N(0, conf_std)|`` clipped to ``[high_conf_min, 1]``.
    4. Lost frames: whole-frame runs (mean length ``frame_drop_mean_len``) covering ``U(frame_drop)``
       of the frames, and joints outside the image, get confidence 0. No single-joint masks.
    """

    scale: tuple[float, float] = (0.7, 2.0)
    std: tuple[float, ...] = H36M17_BLAZEPOSE_STD
    rho: tuple[float, ...] = H36M17_BLAZEPOSE_RHO
    white_frac: float = 0.0015
    pair_swap: tuple[float, float] = (0.0, 0.02)
    leg_swap: tuple[float, float] = (0.0, 0.01)
    swap_mean_len: float = 3.0
    lowvis_far: float = 0.25
    lowvis_near: float = 0.01
    lowvis_rho: float = 0.95
    lowvis_conf: tuple[float, float] = (0.05, 0.5)
    lowvis_err: float = 1.75
    conf_std: float = 0.06
    high_conf_min: float = 0.5
    frame_drop: tuple[float, float] = (0.0, 0.015)
    frame_drop_mean_len: float = 5.0
    mask_outside_image: bool = True
    masked_xy: str = "keep"


@dataclass(frozen=True)
class MixedCorruption:
    """Per clip: the BlazePose-like model with probability ``p_blazepose``, else the plain one."""

    plain: CorruptionConfig = CorruptionConfig()
    blazepose: BlazePoseCorruptionConfig = BlazePoseCorruptionConfig()
    p_blazepose: float = 0.5


Corruption = CorruptionConfig | BlazePoseCorruptionConfig | MixedCorruption
CORRUPT_MODELS: tuple[str, ...] = ("plain", "blazepose", "mixed")


def corruption_preset(name: str) -> Corruption:
    """The corruption of a ``corrupt_model`` name: plain (the shipped models'), blazepose or mixed."""
    if name == "plain":
        return CorruptionConfig()
    if name == "blazepose":
        return BlazePoseCorruptionConfig()
    if name == "mixed":
        return MixedCorruption()
    raise ValueError(f"unknown corruption model {name!r} (choose from {', '.join(CORRUPT_MODELS)})")


def _swap_pairs(out: np.ndarray, frames: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> None:
    """Exchange the (left, right) joints of ``pairs`` in the ``frames`` (F,) bool, in place on (F, J, 2)."""
    if not frames.any():
        return
    li = np.array([p[0] for p in pairs])
    ri = np.array([p[1] for p in pairs])
    sel = out[frames]  # (n, J, 2)
    left = sel[:, li].copy()
    sel[:, li] = sel[:, ri]
    sel[:, ri] = left
    out[frames] = sel


def corrupt_blazepose(
    xy: np.ndarray,
    rng: np.random.Generator,
    config: BlazePoseCorruptionConfig = BlazePoseCorruptionConfig(),
    width: int | None = None,
    height: int | None = None,
    depth: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt clean H36M-17 keypoints like BlazePose (steps in ``BlazePoseCorruptionConfig``).

    xy: (F, 17, 2) clean pixels (nan = not projectable, always masked); depth: optional (F, 17)
    camera-space depths that pick the far side. Returns (xy (F, 17, 2) float32, conf (F, 17)
    float32, 0 = masked).
    """
    from statistics import NormalDist

    clean = np.asarray(xy, dtype=np.float64)
    if clean.ndim != 3 or clean.shape[-1] != 2 or clean.shape[1] != 17:
        raise ValueError(f"xy must be (F, 17, 2), got {clean.shape}")
    cfg = config
    f, j, _ = clean.shape
    diag = bbox_diagonal(clean)  # (F,)
    std = np.asarray(cfg.std, dtype=np.float64)  # (17,)
    rho = np.asarray(cfg.rho, dtype=np.float64)  # (17,)

    # 3 (first: it scales the jitter). Low-visibility runs from a thresholded AR(1) latent.
    far = np.zeros((f, j), dtype=bool)  # (F, J)
    d = None if depth is None else np.asarray(depth, dtype=np.float64)
    for a, b in _FAR_SIDE_PAIRS:
        if d is not None and np.isfinite(d[:, [a, b]]).all():
            a_far = d[:, a] > d[:, b]  # (F,)
        else:
            a_far = np.full(f, bool(rng.random() < 0.5))
        far[:, a] = a_far
        far[:, b] = ~a_far
    latent = _ar1(rng, (f, j), cfg.lowvis_rho)  # (F, J) unit variance
    nd = NormalDist()
    thr_far = nd.inv_cdf(1.0 - cfg.lowvis_far) if cfg.lowvis_far > 0 else np.inf
    thr_near = nd.inv_cdf(1.0 - cfg.lowvis_near) if cfg.lowvis_near > 0 else np.inf
    lowvis = latent > np.where(far, thr_far, thr_near)  # (F, J)

    # 1. jitter: per-joint AR(1) + white
    s = float(rng.uniform(*cfg.scale))
    ar = _ar1(rng, (f, j, 2), rho[:, None])  # (F, J, 2)
    gain = np.where(lowvis, cfg.lowvis_err, 1.0)  # (F, J)
    sigma = s * diag[:, None] * std[None, :] * gain  # (F, J)
    out = clean + ar * sigma[..., None] + rng.standard_normal((f, j, 2)) * (cfg.white_frac * diag)[:, None, None]

    # 2. swaps: arm pairs one by one, legs as a chain
    for pair in _ARM_PAIRS:
        frac = float(rng.uniform(*cfg.pair_swap))
        _swap_pairs(out, _runs_mask(rng, (f, 1), frac, cfg.swap_mean_len, True)[:, 0], (pair,))
    frac = float(rng.uniform(*cfg.leg_swap))
    _swap_pairs(out, _runs_mask(rng, (f, 1), frac, cfg.swap_mean_len, True)[:, 0], _LEG_CHAIN)

    # 3. confidence
    conf = np.clip(1.0 - np.abs(rng.normal(0.0, cfg.conf_std, (f, j))), cfg.high_conf_min, 1.0)
    conf = np.where(lowvis, rng.uniform(*cfg.lowvis_conf, size=(f, j)), conf)  # (F, J)

    # 4. lost frames and joints outside the image
    frac = float(rng.uniform(*cfg.frame_drop))
    masked = _runs_mask(rng, (f, j), frac, cfg.frame_drop_mean_len, True)
    return _apply_masks(out, conf, masked, cfg.mask_outside_image, cfg.masked_xy, width, height)


def apply_corruption(
    corruption: Corruption,
    xy: np.ndarray,
    rng: np.random.Generator,
    width: int | None = None,
    height: int | None = None,
    depth: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt (F, J, 2) clean pixels with any ``Corruption`` (a mixed one picks per call)."""
    if isinstance(corruption, MixedCorruption):
        use_bp = rng.random() < corruption.p_blazepose
        corruption = corruption.blazepose if use_bp else corruption.plain
    if isinstance(corruption, BlazePoseCorruptionConfig):
        return corrupt_blazepose(xy, rng, corruption, width, height, depth)
    return corrupt(xy, rng, corruption, width, height)
