"""Naive streaming baseline: re-run a whole model over a sliding window for every new frame."""

from __future__ import annotations

import torch
import torch.nn as nn

Tensor = torch.Tensor


class WindowRecomputeStreamer:
    """Each ``step(frame)`` runs ``model`` on the last ``window`` frames and returns the last
    output frame (B, J, 3).

    Works with seq2seq models (DSTformer, MixSTE: use their causal variants for a true causal
    stream) and with seq2frame models that need a full window (causal P-STMO, whose single
    output is the window's last frame). ``pad`` left-pads a short history by repeating the
    oldest frame up to ``window`` frames; by default it is on exactly for models that declare
    ``fixed_window = True``.
    """

    def __init__(self, model: nn.Module, window: int, pad: bool | None = None):
        if window < 1:
            raise ValueError("window must be >= 1")
        self.model, self.window = model, window
        self.pad = bool(getattr(model, "fixed_window", False)) if pad is None else pad
        self.reset()

    def reset(self) -> None:
        self.frames: list[Tensor] = []

    @torch.no_grad()
    def step(self, frame: Tensor) -> Tensor:  # frame (B, J, C)
        self.frames.append(frame)
        if len(self.frames) > self.window:
            self.frames.pop(0)
        frames = self.frames
        if self.pad and len(frames) < self.window:
            frames = [frames[0]] * (self.window - len(frames)) + frames
        x = torch.stack(frames, dim=1)  # (B, T, J, C)
        return self.model(x)[:, -1]  # (B, J, 3)
