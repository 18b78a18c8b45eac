"""MixSTE: seq2seq lifting with alternating spatial / temporal transformer blocks.

Each joint at each frame is a token; ``h`` is (B, F, J, D).

    h = Linear(2 -> D)(x) + P_joint[j]
    for i in range(depth):
        h = LN_s(spatial block i (attention over J within a frame))(h)
        if i == 0: h = h + P_time[t]
        h = LN_t(temporal block i (attention over F along each joint's trajectory))(h)
    out = Linear(D -> 3)(LN(h))

``depth`` counts spatial/temporal *pairs*: the published MixSTE (D 512, depth 8, 8 heads,
MLP ratio 2) has 8 spatial + 8 temporal blocks, 33.78 M parameters. The two LayerNorms
LN_s / LN_t applied after every spatial / temporal block are shared across depth, as in the
published model. ``represent`` returns h before the output head (B, F, J, D).

Input: (x, y) keypoints (``in_dim=2``). A 3-channel input (x, y, confidence) to a 2-channel
model is accepted and the confidence channel is dropped. ``causal=True`` masks the temporal
attention so frame t sees frames <= t only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from hmcli.nn.baselines.common import Block, check_input, init_transformer_weights, over_frames, over_joints
from hmcli.nn.registry import register_arch, register_preset

Tensor = torch.Tensor


@dataclass(frozen=True)
class MixSTEConfig:
    num_joints: int = 17
    in_dim: int = 2  # x, y
    dim: int = 512
    depth: int = 8  # spatial/temporal block pairs
    heads: int = 8
    mlp_ratio: float = 2.0
    maxlen: int = 243
    qkv_bias: bool = True
    dropout: float = 0.0
    causal: bool = False
    fps: float = 30.0  # training frame rate (informational)


class MixSTE(nn.Module):
    def __init__(self, cfg: MixSTEConfig):
        super().__init__()
        self.cfg = cfg
        hidden = int(cfg.dim * cfg.mlp_ratio)
        self.embed = nn.Linear(cfg.in_dim, cfg.dim)
        self.joint_pos = nn.Parameter(torch.zeros(cfg.num_joints, cfg.dim))  # (J, D)
        self.time_pos = nn.Parameter(torch.zeros(cfg.maxlen, cfg.dim))  # (maxlen, D)
        self.spatial = nn.ModuleList(Block(cfg.dim, cfg.heads, hidden, cfg.qkv_bias, cfg.dropout) for _ in range(cfg.depth))
        self.temporal = nn.ModuleList(Block(cfg.dim, cfg.heads, hidden, cfg.qkv_bias, cfg.dropout) for _ in range(cfg.depth))
        self.spatial_norm = nn.LayerNorm(cfg.dim)
        self.temporal_norm = nn.LayerNorm(cfg.dim)
        self.head_norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, 3)
        self.apply(init_transformer_weights)
        nn.init.trunc_normal_(self.joint_pos, std=0.02)
        nn.init.trunc_normal_(self.time_pos, std=0.02)

    def represent(self, x: Tensor) -> Tensor:
        """(B, F, J, in_dim) -> (B, F, J, D) features before the output head."""
        cfg = self.cfg
        dims = (cfg.in_dim, 3) if cfg.in_dim == 2 else (cfg.in_dim,)
        check_input("MixSTE", x, cfg.num_joints, dims, cfg.maxlen)
        x = x[..., : cfg.in_dim]  # drop confidence when given (x, y, c) to an (x, y) model
        f = x.shape[1]
        h = self.embed(x) + self.joint_pos  # (B, F, J, D)
        for i, (sb, tb) in enumerate(zip(self.spatial, self.temporal)):
            h = self.spatial_norm(over_joints(sb, h))  # (B, F, J, D)
            if i == 0:
                h = h + self.time_pos[:f, None]
            h = self.temporal_norm(over_frames(tb, h, cfg.causal))  # (B, F, J, D)
        return h

    def forward(self, x: Tensor) -> Tensor:
        """(B, F, J, in_dim) -> (B, F, J, 3)."""
        return self.head(self.head_norm(self.represent(x)))


@register_arch("mixste", MixSTEConfig, "MixSTE: alternating spatial/temporal transformer blocks, seq2seq")
def build_mixste(cfg: MixSTEConfig) -> MixSTE:
    return MixSTE(cfg)


register_preset("mixste", "mixste", dim=512, depth=8, heads=8, mlp_ratio=2.0)
register_preset("mixste-causal", "mixste", dim=512, depth=8, heads=8, mlp_ratio=2.0, causal=True)
