"""DSTformer (MotionBERT's dual-stream spatio-temporal transformer), seq2seq 2D -> 3D lifting.

Layout: tokens are (frame, joint) pairs, ``h`` is (B, F, J, D) throughout.

    h = Linear(in_dim -> D)(x) + P_joint[j] + P_time[t]
    for each of ``depth`` layers:
        ST stream: spatial block (attention over J within a frame) -> temporal block (over F)
        TS stream: temporal block -> spatial block
        [a_st, a_ts] = softmax(Linear(2D -> 2)([h_st, h_ts]))      (per token)
        h = a_st * h_st + a_ts * h_ts
    rep = tanh(Linear(D -> Drep)(LayerNorm(h)))                     (``represent``)
    out = Linear(Drep -> 3)(rep)

Every block is a pre-norm transformer block (attention + GELU MLP). ``causal=True`` puts a
causal mask on every temporal attention, so frame t only sees frames <= t.

Published sizes: DSTformer (D 512, depth 5, 8 heads, MLP ratio 2) 42.47 M parameters;
DSTformer-Lite (D 256, MLP ratio 4) 16.00 M.

Streaming (``DSTformerKVStreamer``): with causal temporal attention, each temporal block's
input at frame t depends on frames <= t only (a spatial block looks at a single frame), so
caching each temporal block's keys/values of past frames and feeding one frame at a time
reproduces the causal model exactly, at O(context) cost per layer per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from hmcli.nn.baselines.common import Block, KVCache, check_input, fuse_mlp_gelu, init_transformer_weights, over_frames, over_joints
from hmcli.nn.packed import pack_linears
from hmcli.nn.registry import register_arch, register_preset

Tensor = torch.Tensor


@dataclass(frozen=True)
class DSTformerConfig:
    num_joints: int = 17
    in_dim: int = 3  # x, y, confidence
    dim: int = 512
    depth: int = 5
    heads: int = 8
    mlp_ratio: float = 2.0
    rep_dim: int = 512  # Drep: width of the tanh representation
    maxlen: int = 243  # frames with a learned temporal positional embedding
    qkv_bias: bool = True
    dropout: float = 0.0
    causal: bool = False
    fps: float = 30.0  # training frame rate (informational)


class DualStreamLayer(nn.Module):
    """One DSTformer layer: ST and TS streams over the same input, fused per token."""

    def __init__(self, cfg: DSTformerConfig):
        super().__init__()
        hidden = int(cfg.dim * cfg.mlp_ratio)

        def blk() -> Block:
            return Block(cfg.dim, cfg.heads, hidden, cfg.qkv_bias, cfg.dropout)

        self.st_spatial, self.st_temporal = blk(), blk()
        self.ts_temporal, self.ts_spatial = blk(), blk()
        self.fuse = nn.Linear(2 * cfg.dim, 2)

    def mix(self, h_st: Tensor, h_ts: Tensor) -> Tensor:
        alpha = self.fuse(torch.cat([h_st, h_ts], dim=-1)).softmax(dim=-1)  # (..., 2)
        return h_st * alpha[..., 0:1] + h_ts * alpha[..., 1:2]

    def forward(self, h: Tensor, causal: bool) -> Tensor:  # h (B, F, J, D)
        h_st = over_frames(self.st_temporal, over_joints(self.st_spatial, h), causal)  # (B, F, J, D)
        h_ts = over_joints(self.ts_spatial, over_frames(self.ts_temporal, h, causal))  # (B, F, J, D)
        return self.mix(h_st, h_ts)

    def step(self, h: Tensor, past: tuple[KVCache | None, KVCache | None], max_context: int) -> tuple[Tensor, tuple[KVCache, KVCache]]:
        """One new frame ``h`` (B, J, D) given both temporal blocks' caches."""
        b, j, d = h.shape
        s = self.st_spatial(h)  # (B, J, D)
        h_st, kv_st = self.st_temporal.step(s.reshape(b * j, 1, d), past[0], max_context)  # (B·J, 1, D)
        t, kv_ts = self.ts_temporal.step(h.reshape(b * j, 1, d), past[1], max_context)  # (B·J, 1, D)
        h_ts = self.ts_spatial(t.view(b, j, d))  # (B, J, D)
        return self.mix(h_st.view(b, j, d), h_ts), (kv_st, kv_ts)


class DSTformer(nn.Module):
    def __init__(self, cfg: DSTformerConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Linear(cfg.in_dim, cfg.dim)
        self.joint_pos = nn.Parameter(torch.zeros(cfg.num_joints, cfg.dim))  # (J, D)
        self.time_pos = nn.Parameter(torch.zeros(cfg.maxlen, cfg.dim))  # (maxlen, D)
        self.layers = nn.ModuleList(DualStreamLayer(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.pre_logits = nn.Linear(cfg.dim, cfg.rep_dim)
        self.head = nn.Linear(cfg.rep_dim, 3)
        self.apply(init_transformer_weights)
        nn.init.trunc_normal_(self.joint_pos, std=0.02)
        nn.init.trunc_normal_(self.time_pos, std=0.02)
        for layer in self.layers:  # start from an even mix of the two streams
            nn.init.zeros_(layer.fuse.weight)
            nn.init.constant_(layer.fuse.bias, 0.5)

    def _readout(self, h: Tensor) -> Tensor:
        return torch.tanh(self.pre_logits(self.norm(h)))  # (..., J, Drep)

    def represent(self, x: Tensor) -> Tensor:
        """(B, F, J, in_dim) -> (B, F, J, Drep) tanh representation."""
        cfg = self.cfg
        check_input("DSTformer", x, cfg.num_joints, (cfg.in_dim,), cfg.maxlen)
        f = x.shape[1]
        h = self.embed(x) + self.joint_pos + self.time_pos[:f, None]  # (B, F, J, D)
        for layer in self.layers:
            h = layer(h, cfg.causal)  # (B, F, J, D)
        return self._readout(h)

    def forward(self, x: Tensor) -> Tensor:
        """(B, F, J, in_dim) -> (B, F, J, 3)."""
        return self.head(self.represent(x))


class DSTformerKVStreamer:
    """Frame-by-frame causal DSTformer inference with per-layer key/value caches.

    ``step(frame)`` takes one frame (B, J, in_dim) and returns its 3D pose (B, J, 3). It
    always computes the *causal* model (whatever ``model.cfg.causal`` says), so it should be
    used with weights trained with ``causal=True``.

    Positional rule: frame number t (0-based, since ``reset``) gets temporal embedding
    ``min(t, max_context - 1)``. Each temporal block keeps the keys/values of at most the last
    ``max_context`` frames (the current one included); cached entries keep the positional
    embedding they were computed with. For the first ``max_context`` frames the output is
    therefore identical to running the causal model on all frames so far. After that the
    window slides: old frames drop out of the cache, new frames reuse the last positional
    slot, and the output differs from any full recompute (which would re-embed the window
    with positions 0..max_context-1 and recompute every layer).
    """

    def __init__(self, model: DSTformer, max_context: int = 243, packed: bool = True):
        if not 1 <= max_context <= model.cfg.maxlen:
            raise ValueError(f"max_context must be in [1, {model.cfg.maxlen}], got {max_context}")
        self.max_context, self.packed = max_context, packed
        # Same inference treatment as HumMUSS's Streamer: an eval copy with oneDNN pre-packed
        # linears and GELU fused into each MLP's first layer (hmcli.nn.packed).
        j = model.cfg.num_joints
        self.model = fuse_mlp_gelu(pack_linears(model, j), j) if packed else model.eval()
        self.reset()

    def reset(self) -> None:
        self.t = 0
        self.cache: list[tuple[KVCache | None, KVCache | None]] = [(None, None)] * len(self.model.layers)

    @torch.no_grad()
    def step(self, frame: Tensor) -> Tensor:
        m, cfg = self.model, self.model.cfg
        if frame.dim() != 3 or frame.shape[1:] != (cfg.num_joints, cfg.in_dim):
            raise ValueError(f"expected a frame of shape (B, {cfg.num_joints}, {cfg.in_dim}), got {tuple(frame.shape)}")
        pos = min(self.t, self.max_context - 1)
        h = m.embed(frame) + m.joint_pos + m.time_pos[pos]  # (B, J, D)
        for i, layer in enumerate(m.layers):
            h, self.cache[i] = layer.step(h, self.cache[i], self.max_context)  # (B, J, D)
        self.t += 1
        return m.head(m._readout(h))  # (B, J, 3)


@register_arch("dstformer", DSTformerConfig, "MotionBERT DSTformer: dual-stream spatio-temporal transformer, seq2seq")
def build_dstformer(cfg: DSTformerConfig) -> DSTformer:
    return DSTformer(cfg)


register_preset("dstformer", "dstformer", dim=512, depth=5, heads=8, mlp_ratio=2.0)
register_preset("dstformer-lite", "dstformer", dim=256, depth=5, heads=8, mlp_ratio=4.0)
register_preset("dstformer-causal", "dstformer", dim=512, depth=5, heads=8, mlp_ratio=2.0, causal=True)
register_preset("dstformer-lite-causal", "dstformer", dim=256, depth=5, heads=8, mlp_ratio=4.0, causal=True)
