"""Refine one person's H36M-17 2D track (pixels) with a :class:`LoadedRefiner`.

Long clips run in overlapping windows of the refiner's trained clip length, each normalised on
its own (:class:`~hmcli.refine.codec.RefineCodec`), decoded to pixels and cross-faded with
triangular weights, so the result does not depend on where in a long video a frame is.

Confidence of the result: joints the detector found keep their confidence; joints it missed in
a frame where the person was found are filled by the refiner and get ``fill_conf``; frames where
the person was not found stay empty (confidence 0, the lifter fills them as before).
"""

from __future__ import annotations

import numpy as np
import torch

from hmcli.refine.checkpoint import FILL_CONFIDENCE, LoadedRefiner

__all__ = ["FILL_CONFIDENCE", "refine_clips", "refine_track", "refine_windows", "refined_confidence", "trained_rates",
           "window_starts"]


def trained_rates(lr: LoadedRefiner) -> tuple[float, float]:
    """(lowest, highest) frame rate the refiner was trained at (its ``fps`` and ``fps_aug``)."""
    train = lr.meta.get("train") or {}
    rates = [float(lr.model.cfg.fps)] + [float(r) for r in train.get("fps_aug", []) or []]
    return min(rates), max(rates)


def window_starts(n: int, window: int) -> list[int]:
    """Start frames of windows of ``window`` frames covering ``n`` frames, hop ``window // 2``;
    the last window ends at ``n`` (one window when ``n <= window``)."""
    if n <= window:
        return [0]
    hop = max(1, window // 2)
    starts = list(range(0, n - window + 1, hop))
    if starts[-1] + window < n:
        starts.append(n - window)
    return starts


def _blend_weights(length: int) -> np.ndarray:
    """(length,) triangular weights, positive at the ends (a window's edge frames see one side only)."""
    t = (np.arange(length, dtype=np.float64) + 0.5) / length
    return np.minimum(t, 1.0 - t) + 1e-3


@torch.no_grad()
def refine_windows(lr: LoadedRefiner, xy: np.ndarray, conf: np.ndarray, dt_scale: float = 1.0,
                   steps: np.ndarray | None = None) -> np.ndarray:
    """(F, J, 2) px + (F, J) -> the refiner's (F, J, 2) px for every frame (see module docstring).
    ``steps``: (F,) per-step Δ multipliers for variable-rate clips (else ``dt_scale``)."""
    f = xy.shape[0]
    w = min(f, lr.clip_frames)
    out = np.zeros(xy.shape, np.float64)
    wsum = np.zeros((f, 1, 1), np.float64)
    model = lr.model.eval()
    for a in window_starts(f, w):
        b = a + w
        x, frame = lr.codec.encode(xy[a:b][None], conf[a:b][None])  # (1, W, J, 3)
        st = None if steps is None else torch.as_tensor(steps[a:b], dtype=torch.float32)[None]
        u = model(x, dt_scale, st)  # (1, W, J, 2)
        px = lr.codec.decode(u, frame)[0].double().numpy()  # (W, J, 2)
        wt = _blend_weights(b - a)[:, None, None] if f > w else np.ones((b - a, 1, 1))
        out[a:b] += wt * px
        wsum[a:b] += wt
    return (out / wsum).astype(np.float32)


def refined_confidence(conf: torch.Tensor, found: torch.Tensor, fill: float) -> torch.Tensor:
    """(..., F, J) the confidence of refined 2D: found joints keep ``conf``, missed joints of frames where
    anything was found get ``fill``, frames where nothing was found 0 (see module docstring)."""
    det = found.any(-1, keepdim=True)  # (..., F, 1)
    return torch.where(found, conf, torch.where(det, torch.full_like(conf, fill), torch.zeros_like(conf)))


def refine_clips(model, codec, xy: torch.Tensor, conf: torch.Tensor, fill: float,
                 dt_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of clips, each in one window (no longer than the refiner's trained length): xy (B, F, J, 2) px,
    conf (B, F, J) (0 for missed joints and padding) -> refined px (B, F, J, 2) and confidence (B, F, J).
    Differentiable in the model's weights (training through a lifter uses it)."""
    x, frame = codec.encode(xy, conf)  # (B, F, J, 3)
    px = codec.decode(model(x, dt_scale), frame)  # (B, F, J, 2)
    det = (conf > 0).any(-1)[..., None, None]  # (B, F, 1, 1): frames where nothing was found stay 0
    return torch.where(det, px, torch.zeros_like(px)), refined_confidence(conf, conf > 0, fill)


def refine_track(lr: LoadedRefiner, xy: np.ndarray, conf: np.ndarray, detected: np.ndarray | None = None,
                 dt_scale: float = 1.0, steps: np.ndarray | None = None,
                 fill_conf: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Refined (F, J, 2) px and confidence (F, J) of one person's track (see module docstring).
    ``detected``: (F,) frames where the person was found (default: frames with any joint).
    ``fill_conf``: confidence of filled-in joints (default: the refiner's own, ``lr.fill_conf``)."""
    fill_conf = lr.fill_conf if fill_conf is None else float(fill_conf)
    xy = np.asarray(xy, np.float32)
    conf = np.asarray(conf, np.float32)
    if xy.ndim != 3 or xy.shape[-1] != 2 or conf.shape != xy.shape[:2]:
        raise ValueError(f"expected xy (F, J, 2) and conf (F, J), got {xy.shape} and {conf.shape}")
    found = (conf > 0) & np.isfinite(xy).all(-1)  # (F, J)
    det = found.any(-1) if detected is None else (np.asarray(detected, bool) & found.any(-1))  # (F,)
    if not det.any():
        return xy.copy(), conf.copy()
    ref = refine_windows(lr, xy, np.where(found, conf, 0.0).astype(np.float32), dt_scale, steps)  # (F, J, 2)
    seen = torch.from_numpy(found & det[:, None])  # (F, J): a frame left out by ``detected`` counts as empty
    out_conf = refined_confidence(torch.from_numpy(conf), seen, fill_conf).numpy()  # (F, J)
    out_xy = np.where(det[:, None, None], ref, np.where(found[..., None], xy, 0.0)).astype(np.float32)
    return out_xy, out_conf

