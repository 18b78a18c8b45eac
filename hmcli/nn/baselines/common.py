"""Building blocks shared by the transformer baselines (DSTformer, MixSTE, P-STMO).

All attention goes through ``torch.nn.functional.scaled_dot_product_attention``. Blocks are
pre-norm: ``x + Attn(LN(x))`` then ``x + MLP(LN(x))``. Every block works on token groups of
shape ``(N, L, D)`` (attention over ``L``); the caller folds the other axes into ``N``.
``Block.step`` is the single-token incremental version used by KV-cached streaming.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from hmcli.nn.packed import PackedLinear

Tensor = torch.Tensor


class KVCache:
    """Keys and values of the last ``capacity`` tokens of N sequences: (N, H, capacity, hd)
    buffers allocated once and written as a ring. Attention without a mask does not depend
    on the order of its keys, so a new entry overwrites the oldest one in place: no per-step
    concatenation (which would copy the whole cache every frame)."""

    def __init__(self, k: Tensor, v: Tensor, capacity: int):
        n, h, _, hd = k.shape  # (N, H, 1, hd)
        self.k = k.new_empty(n, h, capacity, hd)
        self.v = v.new_empty(n, h, capacity, hd)
        self.capacity, self.size, self.next = capacity, 0, 0
        self.append(k, v)

    def append(self, k: Tensor, v: Tensor) -> None:
        """Add one token's keys and values (N, H, 1, hd), dropping the oldest when full."""
        self.k[:, :, self.next : self.next + 1] = k
        self.v[:, :, self.next : self.next + 1] = v
        self.next = (self.next + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def keys_values(self) -> tuple[Tensor, Tensor]:
        """The cached entries (N, H, size, hd) each, in ring order."""
        return self.k[:, :, : self.size], self.v[:, :, : self.size]

    def repeat(self, batch: int) -> "KVCache":
        """A copy with every sequence repeated ``batch`` times (N -> batch·N)."""
        out = KVCache.__new__(KVCache)
        out.k, out.v = self.k.repeat(batch, 1, 1, 1), self.v.repeat(batch, 1, 1, 1)
        out.capacity, out.size, out.next = self.capacity, self.size, self.next
        return out

    def tensors(self) -> tuple[Tensor, Tensor]:
        return self.k, self.v



class Attention(nn.Module):
    """Multi-head self-attention: one fused qkv projection plus an output projection."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool = True, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} must be divisible by heads={heads}")
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def _qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        n, length, _ = x.shape
        qkv = self.qkv(x).view(n, length, 3, self.heads, self.head_dim)  # (N, L, 3, H, hd)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (N, H, L, hd)
        return q, k, v

    def _out(self, o: Tensor) -> Tensor:
        n, h, length, hd = o.shape  # (N, H, L, hd)
        return self.drop(self.proj(o.transpose(1, 2).reshape(n, length, h * hd)))  # (N, L, D)

    def forward(self, x: Tensor, causal: bool = False) -> Tensor:
        q, k, v = self._qkv(x)
        return self._out(F.scaled_dot_product_attention(q, k, v, is_causal=causal))

    def step(self, x: Tensor, past: KVCache | None, max_context: int) -> tuple[Tensor, KVCache]:
        """Attend from new tokens ``x`` (N, 1, D) to the cached keys/values plus themselves.

        The new token's keys/values enter the cache first (a new :class:`KVCache` of
        ``max_context`` entries when ``past`` is None), so attention covers the last
        ``max_context`` tokens, the new one included. Returns the output and the cache."""
        q, k, v = self._qkv(x)  # (N, H, 1, hd)
        if past is None:
            past = KVCache(k, v, max_context)
        else:
            past.append(k, v)
        keys, values = past.keys_values()  # (N, H, T, hd)
        o = F.scaled_dot_product_attention(q, keys, values)  # no mask: every cached key is in the past
        return self._out(o), past


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, act: type[nn.Module] = nn.GELU, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = act()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def fuse_mlp_gelu(module: nn.Module, rows_hint: int = 17) -> nn.Module:
    """For inference on a :func:`hmcli.nn.packed.pack_linears` copy: every :class:`Mlp` whose
    activation is exact GELU computes ``GELU(fc1(x))`` as one packed layer. In place; returns
    ``module``."""
    for mlp in module.modules():
        if isinstance(mlp, Mlp) and type(mlp.act) is nn.GELU and mlp.act.approximate == "none" \
                and isinstance(mlp.fc1, PackedLinear) and mlp.fc1.act == "none":  # fmt: skip
            mlp.fc1 = PackedLinear(mlp.fc1.weight, mlp.fc1.bias, act="gelu", rows_hint=rows_hint, pack=mlp.fc1.is_packed)
            mlp.act = nn.Identity()
    return module


class Block(nn.Module):
    """Pre-norm transformer block over the middle axis of ``(N, L, D)``."""

    def __init__(
        self,
        dim: int,
        heads: int,
        hidden: int,
        qkv_bias: bool = True,
        dropout: float = 0.0,
        act: type[nn.Module] = nn.GELU,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, qkv_bias, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, hidden, act, dropout)

    def forward(self, x: Tensor, causal: bool = False) -> Tensor:
        x = x + self.attn(self.norm1(x), causal)
        return x + self.mlp(self.norm2(x))

    def step(self, x: Tensor, past: KVCache | None, max_context: int) -> tuple[Tensor, KVCache]:
        a, kv = self.attn.step(self.norm1(x), past, max_context)
        x = x + a
        return x + self.mlp(self.norm2(x)), kv


def over_joints(block: nn.Module, h: Tensor) -> Tensor:
    """Run ``block`` over the joints of each frame: (B, F, J, D) -> (B, F, J, D)."""
    b, f, j, d = h.shape
    return block(h.reshape(b * f, j, d)).view(b, f, j, d)


def over_frames(block: nn.Module, h: Tensor, causal: bool) -> Tensor:
    """Run ``block`` over the frames of each joint's trajectory: (B, F, J, D) -> (B, F, J, D)."""
    b, f, j, d = h.shape
    t = h.transpose(1, 2).reshape(b * j, f, d)  # (B·J, F, D)
    return block(t, causal=causal).view(b, j, f, d).transpose(1, 2)  # (B, F, J, D)


def init_transformer_weights(module: nn.Module) -> None:
    """Truncated-normal (std 0.02) linear weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def check_input(name: str, x: Tensor, num_joints: int, in_dims: tuple[int, ...], maxlen: int | None) -> None:
    """Validate a (B, F, J, C) input; raise ValueError with a readable message otherwise."""
    if x.dim() != 4:
        raise ValueError(f"{name}: expected input of shape (B, F, J, C), got {tuple(x.shape)}")
    _, f, j, c = x.shape
    if j != num_joints:
        raise ValueError(f"{name}: model has {num_joints} joints but input has J={j}")
    if c not in in_dims:
        want = " or ".join(str(d) for d in in_dims)
        raise ValueError(f"{name}: expected {want} input channels, got C={c}")
    if maxlen is not None and f > maxlen:
        raise ValueError(
            f"{name}: input has F={f} frames but the model's maxlen is {maxlen} (learned temporal "
            f"positional embeddings exist for {maxlen} frames); split the sequence into clips of "
            f"at most {maxlen} frames"
        )
    if f < 1:
        raise ValueError(f"{name}: input has no frames")
