"""Calling a lifter on inputs of any length: the per-frame output every architecture gives.

Continuous-time models (HumMUSS) see the whole input with Δ scaling. Seq2frame models
(P-STMO) run one window per output frame, sliding, edges padded by repetition. Seq2seq
transformers (DSTformer, MixSTE) take inputs longer than their ``maxlen`` in consecutive
``maxlen`` chunks. Training (validation), evaluation and ``hm lift`` all call models
through :func:`call_model`, so they run them alike. Pure tensor code: no files.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def model_window(model: nn.Module) -> tuple[int | None, int | None]:
    """(most frames one forward takes, or None; output frame index for seq2frame models, or None)."""
    inner = unwrap(model)
    cfg = getattr(inner, "cfg", None)
    if getattr(inner, "fixed_window", False):
        return int(cfg.frames), int(cfg.output_frame)
    maxlen = getattr(cfg, "maxlen", None)
    return (int(maxlen) if maxlen else None), None


def frame_windows(x: torch.Tensor, window: int, out_idx: int, targets: torch.Tensor) -> torch.Tensor:
    """x (B, F, J, C) -> (B·T, window, J, C): for each target frame t the window whose output
    frame (index ``out_idx``) is t; frames outside the sequence repeat its first / last frame."""
    f = x.shape[1]
    offs = torch.arange(window, device=x.device) - out_idx
    idx = (targets.to(x.device)[:, None] + offs).clamp(0, f - 1)  # (T, window)
    return x[:, idx].flatten(0, 1)  # (B·T, window, J, C)


WINDOWS_PER_FORWARD = 64  # seq2frame windows per forward call (bounds memory)


def call_model(model: nn.Module, x: torch.Tensor, dt_scale: float = 1.0, targets: torch.Tensor | None = None) -> torch.Tensor:
    """Per-frame 3D output (B, F, J, 3) of any lifter for an input (B, F, J, C) of any length.

    Continuous-time models (HumMUSS) get Δ scaling and see the whole input. Seq2frame models
    (P-STMO) run one window per output frame, sliding, edges padded by repetition (``targets``
    (T,) limits this to those frames -> (B, T, J, 3)). Seq2seq transformers get inputs longer
    than their ``maxlen`` in consecutive non-overlapping ``maxlen`` chunks; a short last chunk
    is replaced by the last full window and only its new frames are kept."""
    inner = unwrap(model)
    if hasattr(inner, "dt_scale_for"):
        return model(x, dt_scale=dt_scale)
    window, out_idx = model_window(inner)
    f = x.shape[1]
    if out_idx is not None:
        t = torch.arange(f) if targets is None else targets
        step = max(1, WINDOWS_PER_FORWARD // max(1, x.shape[0]))
        outs = []
        for s in range(0, len(t), step):
            y = model(frame_windows(x, window, out_idx, t[s : s + step]))[:, 0]  # (B·T', J, 3)
            outs.append(y.reshape(x.shape[0], -1, *y.shape[1:]))  # (B, T', J, 3)
        return torch.cat(outs, dim=1)
    if window is not None and f > window:
        outs = []
        for s in range(0, f, window):
            e = min(s + window, f)
            if e - s < window:  # short tail: last full window, keep its new frames
                outs.append(model(x[:, f - window :])[:, window - (e - s) :])
            else:
                outs.append(model(x[:, s:e]))
        return torch.cat(outs, dim=1)
    return model(x)
