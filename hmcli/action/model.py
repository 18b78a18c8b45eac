"""The action classifier: the lifter's HumMUSS backbone + the paper's action head.

Following the HumMUSS paper (which follows MotionBERT): the backbone's motion
representation (B, M persons, F frames, J joints, D) is averaged over persons and time (the
joint axis is kept and flattened), then an MLP with one hidden layer (BatchNorm, ReLU,
dropout) gives class logits; trained with cross-entropy, the backbone at a smaller learning
rate than the head.

Pooling is masked: persons that are absent (a single-person clip's padded second person)
and frames without a person do not count. The causal variant pools a sliding window of the
last ``window`` frames, so :class:`ActionStreamer` gives a label per frame online from the
causal backbone's recurrent step, at the streaming step's cost, equal to the offline
:func:`causal_window_pool` of the same frames.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
from torch import Tensor

__all__ = ["ActionHeadConfig", "ActionHead", "ActionClassifier", "masked_pool", "causal_window_pool",
           "ActionStreamer"]


@dataclass(frozen=True)
class ActionHeadConfig:
    num_classes: int
    joints: int = 17
    rep_dim: int = 256
    hidden: int = 512
    dropout: float = 0.5


def masked_pool(rep: Tensor, weight: Tensor | None = None) -> Tensor:
    """Average (B, M, F, J, D) over persons and frames -> (B, J, D). ``weight``: (B, M, F) in
    [0, 1] (0 = absent person / frame), or None for a plain mean."""
    if weight is None:
        return rep.mean(dim=(1, 2))
    w = weight.to(rep.dtype)[..., None, None]                             # (B, M, F, 1, 1)
    return (rep * w).sum(dim=(1, 2)) / w.sum(dim=(1, 2)).clamp_min(1e-6)  # (B, J, D)


def causal_window_pool(rep: Tensor, weight: Tensor | None, window: int) -> Tensor:
    """Per-frame pooled features over the last ``window`` frames (plain reference of what
    :class:`ActionStreamer` computes step by step). rep (B, M, F, J, D) -> (B, F, J, D)."""
    B, M, F = rep.shape[:3]
    w = torch.ones(B, M, F, dtype=rep.dtype) if weight is None else weight.to(rep.dtype)
    num = (rep * w[..., None, None]).sum(1)                               # (B, F, J, D)
    den = w.sum(1)                                                         # (B, F)
    out = []
    for f in range(F):
        s = max(0, f - window + 1)
        out.append(num[:, s:f + 1].sum(1) / den[:, s:f + 1].sum(1).clamp_min(1e-6)[:, None, None])
    return torch.stack(out, 1)


class ActionHead(nn.Module):
    """Pooled (B, J, D) -> logits (B, C): dropout, Linear, BatchNorm, ReLU, Linear."""

    def __init__(self, cfg: ActionHeadConfig):
        super().__init__()
        self.cfg = cfg
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc1 = nn.Linear(cfg.joints * cfg.rep_dim, cfg.hidden)
        self.bn = nn.BatchNorm1d(cfg.hidden)
        self.fc2 = nn.Linear(cfg.hidden, cfg.num_classes)

    def forward(self, pooled: Tensor) -> Tensor:
        x = self.dropout(pooled.flatten(1))                                 # (B, J*D)
        return self.fc2(torch.relu(self.bn(self.fc1(x))))                  # (B, C)


class ActionClassifier(nn.Module):
    """HumMUSS backbone (``represent``) + :class:`ActionHead`. Inputs are encoded 2D
    (the lifter codec's output), never pixels."""

    def __init__(self, backbone: nn.Module, head: ActionHead):
        super().__init__()
        self.backbone = backbone
        self.head = head

    @property
    def causal(self) -> bool:
        return bool(getattr(self.backbone, "causal", False))

    def represent(self, x: Tensor, dt_scale: float = 1.0) -> Tensor:
        """x (B, M, F, J, C) -> (B, M, F, J, D)."""
        B, M, F, J, C = x.shape
        rep = self.backbone.represent(x.reshape(B * M, F, J, C), dt_scale)  # (B*M, F, J, D)
        return rep.reshape(B, M, F, J, -1)

    def forward(self, x: Tensor, weight: Tensor | None = None, dt_scale: float = 1.0) -> Tensor:
        """x (B, M, F, J, C), weight (B, M, F) -> logits (B, num_classes)."""
        return self.head(masked_pool(self.represent(x, dt_scale), weight))

    def per_frame_logits(self, x: Tensor, weight: Tensor | None, window: int, dt_scale: float = 1.0) -> Tensor:
        """Causal labels offline: logits (B, F, C) from the sliding-window pool of each frame."""
        pooled = causal_window_pool(self.represent(x, dt_scale), weight, window)   # (B, F, J, D)
        B, F = pooled.shape[:2]
        return self.head(pooled.reshape(B * F, *pooled.shape[2:])).reshape(B, F, -1)

    def head_config(self) -> dict:
        return asdict(self.head.cfg)


class ActionStreamer:
    """Frame-by-frame labels from a causal classifier: the backbone's recurrent step per person,
    the sum of the last ``window`` frames' pooled representations (a bounded ring buffer,
    summed afresh each frame so it equals the offline pool exactly), the head on their mean.
    Time and memory per frame are constant however long the stream runs (they grow with
    the window, not with the stream)."""

    def __init__(self, clf: ActionClassifier, window: int, dt_scale: float = 1.0):
        from hmcli.nn.hummuss import Streamer

        if not clf.causal:
            raise ValueError("online labels need a causal backbone")
        self.clf = clf.eval()
        self.window = int(window)
        self.streamer = Streamer(clf.backbone, dt_scale=dt_scale)
        self.buf: deque[tuple[Tensor, Tensor]] = deque()
        self.num: Tensor | None = None
        self.den: Tensor | None = None

    @torch.no_grad()
    def step(self, frame: Tensor, weight: Tensor | None = None, dt: float | None = None) -> Tensor:
        """frame (B, M, J, C), weight (B, M) -> logits (B, C) for the window ending here."""
        B, M, J, C = frame.shape
        rep = self.streamer.step_represent(frame.reshape(B * M, J, C), dt).reshape(B, M, J, -1)   # (B, M, J, D)
        w = torch.ones(B, M, dtype=rep.dtype) if weight is None else weight.to(rep.dtype)
        num = (rep * w[..., None, None]).sum(1)                              # (B, J, D)
        den = w.sum(1)                                                        # (B,)
        self.buf.append((num, den))
        if len(self.buf) > self.window:
            self.buf.popleft()
        self.num = torch.stack([n for n, _ in self.buf]).sum(0)             # (B, J, D), exact each step
        self.den = torch.stack([d for _, d in self.buf]).sum(0)             # (B,)
        pooled = self.num / self.den.clamp_min(1e-6)[:, None, None]
        return self.clf.head(pooled)
