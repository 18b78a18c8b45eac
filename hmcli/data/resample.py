"""Temporal resampling of joint sequences.

``resample`` rules:

* ``src_fps == dst_fps``: a copy of the input.
* ``src_fps`` an integer multiple ``k`` of ``dst_fps`` (within 1e-6 relative): every
  k-th real frame starting at frame 0 (``x[::k]``), no interpolation -- output frame i
  is input frame ``i * k``.
* otherwise: linear interpolation on timestamps.  Output frame i is at time
  ``i / dst_fps``; input frame n at ``n / src_fps``; output times run up to the last
  input time (``floor(duration * dst_fps) + 1`` frames).  Each value is
  ``(1 - w) * x[n] + w * x[n + 1]`` with ``n = floor(t * src_fps)``.  Upsampling uses
  the same rule.
"""

from __future__ import annotations

import math

import numpy as np


def _integer_ratio(src_fps: float, dst_fps: float) -> int | None:
    r = src_fps / dst_fps
    k = round(r)
    if k >= 1 and abs(r - k) <= 1e-6 * r:
        return int(k)
    return None


def resampled_length(num_frames: int, src_fps: float, dst_fps: float) -> int:
    """Number of frames ``resample`` returns for ``num_frames`` input frames."""
    if num_frames <= 0:
        return 0
    k = _integer_ratio(src_fps, dst_fps)
    if k is not None:
        return (num_frames - 1) // k + 1
    duration = (num_frames - 1) / src_fps
    return int(math.floor(duration * dst_fps + 1e-9)) + 1


def resample_times(num_frames: int, src_fps: float, dst_fps: float) -> np.ndarray:
    """Source frame positions (float, in input frame units) of each output frame: (F',)."""
    k = _integer_ratio(src_fps, dst_fps)
    n_out = resampled_length(num_frames, src_fps, dst_fps)
    if k is not None:
        return np.arange(n_out, dtype=np.float64) * k
    return np.arange(n_out, dtype=np.float64) * (src_fps / dst_fps)


def resample(joints: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """Resample (F, ...) along axis 0 from ``src_fps`` to ``dst_fps`` (rules above).

    joints: (F, J, 3) typically; any trailing shape works.  Returns (F', ...) with the
    input dtype for floating inputs.
    """
    if src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"fps must be > 0, got {src_fps} -> {dst_fps}")
    x = np.asarray(joints)
    if x.shape[0] == 0:
        return x.copy()
    k = _integer_ratio(src_fps, dst_fps)
    if k is not None:
        return x[::k].copy()
    pos = resample_times(x.shape[0], src_fps, dst_fps)  # (F',)
    n0 = np.clip(np.floor(pos).astype(np.int64), 0, x.shape[0] - 1)
    n1 = np.minimum(n0 + 1, x.shape[0] - 1)
    w = (pos - n0).reshape((-1,) + (1,) * (x.ndim - 1))
    out = (1.0 - w) * x[n0] + w * x[n1]
    return out.astype(x.dtype) if np.issubdtype(x.dtype, np.floating) else out


def subsample(x: np.ndarray, k: int, offset: int = 0) -> np.ndarray:
    """Every k-th frame starting at ``offset``: ``x[offset::k]`` (a copy). (F, ...) -> (F', ...)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not 0 <= offset < k:
        raise ValueError(f"offset must be in [0, {k}), got {offset}")
    return np.asarray(x)[offset::k].copy()
