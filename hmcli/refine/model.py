"""Refiner2D: one token per frame (all joints' (u, v, conf) flattened), a stack of gated DSSM
blocks along time, and a linear read-out of a correction added to the input coordinates.

    x (B, F, J, 3) -> Linear(J·3 -> D) -> [GDSSMBlock over frames] x L -> LayerNorm
      -> Linear(D -> J·2) = δ;  refined (u, v) = x[..., :2] + δ

The read-out starts at zero, so an untrained refiner returns its input. A missing joint enters
as (0, 0, 0) and its output is the model's estimate of where it is. Bidirectional blocks see the
whole clip (offline); ``bidirectional=False`` gives a causal refiner. Like the lifters, it is
continuous-time: ``dt_scale`` (train fps / video fps) or per-step ``steps`` adapt it to the
frame rate. Models never touch files or pixels: see :mod:`hmcli.refine.codec`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from hmcli.nn.gdssm import GDSSMBlock

Tensor = torch.Tensor


@dataclass
class RefinerConfig:
    joints: int = 17
    dim: int = 128
    layers: int = 3
    state: int = 32
    expand: float = 2.0
    k: int = 2
    bidirectional: bool = True
    fps: float = 30.0  # the training frame rate; dt_scale = fps / video fps

    def to_dict(self) -> dict:
        return asdict(self)


class Refiner2D(nn.Module):
    def __init__(self, cfg: RefinerConfig):
        super().__init__()
        self.cfg = cfg
        j, d = cfg.joints, cfg.dim
        self.embed = nn.Linear(j * 3, d)
        self.blocks = nn.ModuleList(
            GDSSMBlock(d, cfg.expand, cfg.k, cfg.state, cfg.bidirectional, axis="frames") for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, j * 2)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def causal(self) -> bool:
        return not self.cfg.bidirectional

    def forward(self, x: Tensor, dt_scale: float | Tensor = 1.0, steps: Tensor | None = None,
                mode: str | None = None) -> Tensor:
        """x: (B, F, J, 3) refiner units -> refined (u, v) (B, F, J, 2)."""
        b, f, j, c = x.shape
        if j != self.cfg.joints or c != 3:
            raise ValueError(f"expected (B, F, {self.cfg.joints}, 3) input, got {tuple(x.shape)}")
        h = self.embed(x.reshape(b, f, 1, j * c))  # (B, F, 1, D)
        for blk in self.blocks:
            h = blk(h, dt_scale, steps, mode)  # (B, F, 1, D)
        delta = self.head(self.norm(h)).reshape(b, f, j, 2)  # (B, F, J, 2)
        return x[..., :2] + delta
