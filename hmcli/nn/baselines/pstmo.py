"""P-STMO: seq2frame lifting with a spatial MLP encoder, a temporal transformer and a strided
transformer, plus its Stage-I masked pose modelling (MPM) pre-training model.

Stage II (``PSTMO``), on one window of ``frames`` (243) frames, ``h`` is (B, L, D):

    SEM : per frame, flatten (J, 2) -> Linear(2J -> 512) BN LeakyReLU, one residual
          [Linear BN LeakyReLU] x 2 block at width 512, Linear(512 -> D=256)
    TEM : h + P_time[t], ``tem_depth`` pre-norm transformer layers (8 heads, ReLU FFN 512),
          final LayerNorm; a per-frame head BN + Linear(D -> 3J) on its output gives the
          multi-frame prediction (B, F, J, 3) used by the multi-frame loss
    MOFA: strided transformer, one layer per stride s in ``strides``: attention over the
          sequence, then FFN Linear(D -> 512) ReLU Conv1d(512 -> D, kernel = stride = s), so
          the sequence shrinks by s (243 -> 81 -> 27 -> 9 -> 3 -> 1). The residual keeps one
          frame of every group of s: the group's middle frame, or its last frame when
          ``causal`` (so the surviving token is the window's centre / last frame). The first
          three layers add their own learned positional embedding (each ``frames`` long,
          sliced to the current length, as in the published model). Final LayerNorm, then
          BN + Linear(D -> 3J).

``forward`` returns that single frame (B, 1, J, 3): the window's centre frame, or with
``causal=True`` its last frame, so causal streaming costs one window per output frame (see
``WindowRecomputeStreamer``). ``forward_multi`` returns (single frame, multi-frame TEM output).

Parameter counts with these choices: P-STMO-S (3 TEM layers) 6.48 M, P-STMO (4) 7.01 M,
equal to the published counts. The SEM width (2·D = 512, one residual block) and the
non-overlapping kernel-s convolutions (3·512·256 weights per layer) are what land there.

Inputs are (x, y) keypoints; a 3-channel input (x, y, confidence) is accepted and the
confidence channel is dropped, whatever ``in_dim`` says (it records what the model was
trained on, 2). The window length must be exactly ``frames`` = prod(strides).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from hmcli.nn.baselines.common import Attention, Block, check_input
from hmcli.nn.registry import register_arch, register_preset

Tensor = torch.Tensor


@dataclass(frozen=True)
class PSTMOConfig:
    num_joints: int = 17
    in_dim: int = 2  # x, y (a confidence channel, if given, is dropped)
    frames: int = 243  # window length, must equal prod(strides)
    dim: int = 256
    tem_depth: int = 4  # 3 for P-STMO-S
    heads: int = 8
    ffn_dim: int = 512
    sem_hidden: int = 512
    sem_blocks: int = 1
    strides: tuple[int, ...] = (3, 3, 3, 3, 3)
    mofa_pos_layers: int = 3  # leading MOFA layers that add a positional embedding
    dropout: float = 0.1
    sem_dropout: float = 0.25
    causal: bool = False  # predict the window's last frame instead of its centre
    fps: float = 30.0  # training frame rate (informational)

    def __post_init__(self) -> None:
        object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))
        if self.in_dim not in (2, 3):
            raise ValueError(f"P-STMO in_dim must be 2 or 3, got {self.in_dim}")
        if not self.strides or math.prod(self.strides) != self.frames:
            raise ValueError(f"P-STMO: prod(strides)={math.prod(self.strides)} must equal frames={self.frames}")

    @property
    def output_frame(self) -> int:
        """Index within the window of the frame ``forward`` predicts."""
        return self.frames - 1 if self.causal else self.frames // 2


class _ResidualMLP(nn.Module):
    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.fc1, self.bn1 = nn.Linear(width, width), nn.BatchNorm1d(width)
        self.fc2, self.bn2 = nn.Linear(width, width), nn.BatchNorm1d(width)
        self.act, self.drop = nn.LeakyReLU(0.2), nn.Dropout(dropout)

    def forward(self, h: Tensor) -> Tensor:  # (N, W)
        y = self.drop(self.act(self.bn1(self.fc1(h))))
        return h + self.drop(self.act(self.bn2(self.fc2(y))))


class SpatialEncoder(nn.Module):
    """SEM: one frame's flattened 2D joints -> a D-dim frame token."""

    def __init__(self, in_features: int, hidden: int, out: int, blocks: int, dropout: float):
        super().__init__()
        self.fc_in, self.bn_in = nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden)
        self.act, self.drop = nn.LeakyReLU(0.2), nn.Dropout(dropout)
        self.blocks = nn.ModuleList(_ResidualMLP(hidden, dropout) for _ in range(blocks))
        self.fc_out = nn.Linear(hidden, out)

    def forward(self, x: Tensor) -> Tensor:  # x (B, F, 2J)
        b, f, _ = x.shape
        h = self.drop(self.act(self.bn_in(self.fc_in(x.reshape(b * f, -1)))))  # (B·F, W)
        for blk in self.blocks:
            h = blk(h)
        return self.fc_out(h).view(b, f, -1)  # (B, F, D)


class TemporalEncoder(nn.Module):
    """TEM: pre-norm transformer over frame tokens with a learned positional embedding."""

    def __init__(self, dim: int, depth: int, heads: int, ffn: int, frames: int, dropout: float):
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(frames, dim))  # (frames, D)
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, ffn, True, dropout, nn.ReLU) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, h: Tensor, positions: Tensor | None = None) -> Tensor:
        """h (B, L, D); ``positions`` (B, L) frame indices of the tokens (default 0..L-1)."""
        h = h + (self.pos[: h.shape[1]] if positions is None else self.pos[positions])  # (B, L, D)
        for blk in self.blocks:
            h = blk(h)
        return self.norm(h)


class StridedLayer(nn.Module):
    """MOFA layer: attention, then an FFN whose second map is a kernel = stride = s conv."""

    def __init__(self, dim: int, heads: int, ffn: int, stride: int, keep: int, dropout: float):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads, True, dropout)
        self.norm2, self.fc1 = nn.LayerNorm(dim), nn.Linear(dim, ffn)
        self.act, self.drop = nn.ReLU(), nn.Dropout(dropout)
        self.reduce = nn.Conv1d(ffn, dim, kernel_size=stride, stride=stride)
        self.stride, self.keep = stride, keep  # residual keeps frame ``keep`` of each group

    def forward(self, h: Tensor) -> Tensor:  # h (B, L, D), L divisible by stride
        h = h + self.attn(self.norm1(h))
        u = self.drop(self.act(self.fc1(self.norm2(h))))  # (B, L, ffn)
        u = self.reduce(u.transpose(1, 2)).transpose(1, 2)  # (B, L/s, D)
        return h[:, self.keep :: self.stride] + self.drop(u)  # (B, L/s, D)


class StridedEncoder(nn.Module):
    def __init__(self, cfg: PSTMOConfig):
        super().__init__()
        n_pos = min(cfg.mofa_pos_layers, len(cfg.strides))
        self.pos = nn.Parameter(torch.zeros(n_pos, cfg.frames, cfg.dim))  # (n_pos, frames, D)
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.layers = nn.ModuleList(
            StridedLayer(cfg.dim, cfg.heads, cfg.ffn_dim, s, s - 1 if cfg.causal else s // 2, cfg.dropout)
            for s in cfg.strides
        )
        self.norm = nn.LayerNorm(cfg.dim)

    def forward(self, h: Tensor) -> Tensor:  # h (B, frames, D)
        for i, layer in enumerate(self.layers):
            if i < self.pos.shape[0]:
                h = h + self.pos[i, : h.shape[1]]
            h = layer(h)  # (B, L/s, D)
        return self.norm(h)  # (B, 1, D)


class FrameHead(nn.Module):
    """BatchNorm + Linear per frame token: (B, L, D) -> (B, L, J, C)."""

    def __init__(self, dim: int, num_joints: int, channels: int):
        super().__init__()
        self.bn, self.fc = nn.BatchNorm1d(dim), nn.Linear(dim, num_joints * channels)
        self.num_joints, self.channels = num_joints, channels

    def forward(self, h: Tensor) -> Tensor:
        b, length, d = h.shape
        y = self.fc(self.bn(h.reshape(b * length, d)))  # (B·L, J·C)
        return y.view(b, length, self.num_joints, self.channels)


def _encoder_modules(cfg: PSTMOConfig) -> tuple[SpatialEncoder, TemporalEncoder]:
    sem = SpatialEncoder(2 * cfg.num_joints, cfg.sem_hidden, cfg.dim, cfg.sem_blocks, cfg.sem_dropout)
    tem = TemporalEncoder(cfg.dim, cfg.tem_depth, cfg.heads, cfg.ffn_dim, cfg.frames, cfg.dropout)
    return sem, tem


def _xy(name: str, cfg: PSTMOConfig, x: Tensor, exact_frames: bool) -> Tensor:
    check_input(name, x, cfg.num_joints, (2, 3), cfg.frames)
    if exact_frames and x.shape[1] != cfg.frames:
        raise ValueError(f"{name}: needs windows of exactly {cfg.frames} frames, got F={x.shape[1]}")
    return x[..., :2]  # (B, F, J, 2)


_ENCODER_PREFIXES = ("sem.", "tem.")


class PSTMO(nn.Module):
    fixed_window = True  # forward needs exactly cfg.frames frames

    def __init__(self, cfg: PSTMOConfig):
        super().__init__()
        self.cfg = cfg
        self.sem, self.tem = _encoder_modules(cfg)
        self.multi_head = FrameHead(cfg.dim, cfg.num_joints, 3)
        self.mofa = StridedEncoder(cfg)
        self.head = FrameHead(cfg.dim, cfg.num_joints, 3)

    def _encode(self, x: Tensor) -> Tensor:
        x = _xy("P-STMO", self.cfg, x, exact_frames=True)
        return self.tem(self.sem(x.flatten(2)))  # (B, F, D)

    def forward(self, x: Tensor) -> Tensor:
        """(B, frames, J, 2|3) -> (B, 1, J, 3): the centre (or, causal, last) frame."""
        return self.head(self.mofa(self._encode(x)))

    def forward_multi(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, frames, J, 2|3) -> (single frame (B, 1, J, 3), multi-frame TEM output (B, F, J, 3))."""
        h = self._encode(x)  # (B, F, D)
        return self.head(self.mofa(h)), self.multi_head(h)

    def load_pretrained_encoder(self, state: dict[str, Tensor]) -> None:
        """Load SEM + TEM weights from ``PSTMOPretrain.encoder_state_dict()`` (Stage II init)."""
        own = {k for k in self.state_dict() if k.startswith(_ENCODER_PREFIXES)}
        if set(state) != own:
            diff = sorted(set(state) ^ own)[:5]
            raise KeyError(f"encoder state does not match this model's SEM/TEM (e.g. {diff})")
        self.load_state_dict(state, strict=False)


class PSTMOPretrain(nn.Module):
    """Stage I masked pose modelling.

    Per sample, ``round(mask_ratio · F)`` frames are masked (temporal mask) and, in every
    remaining frame, ``spatial_mask_joints`` joints have their (x, y) replaced by a learned
    spatial padding joint. Only the unmasked frames go through SEM + TEM (with their own
    positional embeddings); their features are projected to the decoder width and put back
    at their frame slots, masked slots get a learned temporal padding embedding, the
    decoder's positional embedding is added, and a ``dec_depth``-layer transformer plus a
    per-frame head reconstructs all 2D joints (B, F, J, 2). The loss is the MSE over the
    masked positions only: every joint of a masked frame, and the masked joints of the others.
    SEM/TEM share their parameter names with ``PSTMO`` (see ``encoder_state_dict``).
    """

    def __init__(
        self,
        cfg: PSTMOConfig,
        mask_ratio: float = 0.8,
        spatial_mask_joints: int = 2,
        dec_depth: int = 2,
        dec_dim: int = 256,
        dec_heads: int = 8,
        dec_ffn_dim: int = 512,
    ):
        super().__init__()
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError("mask_ratio must be in [0, 1)")
        if not 0 <= spatial_mask_joints < cfg.num_joints:
            raise ValueError("spatial_mask_joints must be in [0, num_joints)")
        self.cfg, self.mask_ratio, self.spatial_mask_joints = cfg, mask_ratio, spatial_mask_joints
        self.sem, self.tem = _encoder_modules(cfg)
        self.to_dec = nn.Linear(cfg.dim, dec_dim, bias=False)
        self.dec_pos = nn.Parameter(torch.zeros(cfg.frames, dec_dim))  # (frames, Dd)
        self.temporal_pad = nn.Parameter(torch.zeros(dec_dim))
        self.spatial_pad = nn.Parameter(torch.zeros(2))
        for p in (self.dec_pos, self.temporal_pad, self.spatial_pad):
            nn.init.trunc_normal_(p, std=0.02)
        self.decoder = nn.ModuleList(Block(dec_dim, dec_heads, dec_ffn_dim, True, cfg.dropout, nn.ReLU) for _ in range(dec_depth))
        self.dec_norm = nn.LayerNorm(dec_dim)
        self.dec_head = FrameHead(dec_dim, cfg.num_joints, 2)

    def sample_masks(self, batch: int, frames: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """-> temporal mask (B, F) and spatial mask (B, F, J), bool, True = masked."""
        j = self.cfg.num_joints
        n_mask = min(int(round(self.mask_ratio * frames)), frames - 1)
        dev = generator.device if generator is not None else torch.device("cpu")
        order = torch.rand(batch, frames, generator=generator, device=dev).argsort(dim=1)  # (B, F)
        tmask = torch.zeros(batch, frames, dtype=torch.bool, device=dev).scatter_(1, order[:, :n_mask], True)
        jorder = torch.rand(batch, frames, j, generator=generator, device=dev).argsort(dim=2)  # (B, F, J)
        smask = torch.zeros(batch, frames, j, dtype=torch.bool, device=dev)
        smask.scatter_(2, jorder[..., : self.spatial_mask_joints], True)
        return tmask, smask & ~tmask[..., None]

    def forward(
        self,
        x: Tensor,
        generator: torch.Generator | None = None,
        masks: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """x (B, F, J, 2|3) -> (reconstruction (B, F, J, 2), temporal mask (B, F), spatial mask (B, F, J))."""
        x = _xy("P-STMO MPM", self.cfg, x, exact_frames=False)
        b, f, j, _ = x.shape
        tmask, smask = masks if masks is not None else self.sample_masks(b, f, generator)
        tmask, smask = tmask.to(x.device), smask.to(x.device)
        n_vis = int((~tmask[0]).sum())
        if not bool(((~tmask).sum(dim=1) == n_vis).all()) or n_vis == 0:
            raise ValueError("every sample needs the same, non-zero number of unmasked frames")
        xin = torch.where(smask[..., None], self.spatial_pad.to(x.dtype), x)  # (B, F, J, 2)
        vis = torch.argsort(tmask.int(), dim=1, stable=True)[:, :n_vis]  # (B, Fv) visible frames, in order
        xv = xin.gather(1, vis[:, :, None, None].expand(-1, -1, j, 2))  # (B, Fv, J, 2)
        z = self.to_dec(self.tem(self.sem(xv.flatten(2)), positions=vis))  # (B, Fv, Dd)
        dd = z.shape[-1]
        placed = z.new_zeros(b, f, dd).scatter(1, vis[..., None].expand(-1, -1, dd), z)  # (B, F, Dd)
        h = torch.where(tmask[..., None], self.temporal_pad, placed) + self.dec_pos[:f]  # (B, F, Dd)
        for blk in self.decoder:
            h = blk(h)
        return self.dec_head(self.dec_norm(h)), tmask, smask

    @staticmethod
    def masked_mse(recon: Tensor, target: Tensor, tmask: Tensor, smask: Tensor) -> Tensor:
        """Mean squared error over masked positions only: recon (B, F, J, 2), target (B, F, J, 2|3)."""
        masked = tmask[..., None] | smask  # (B, F, J)
        return (recon - target[..., :2]).pow(2)[masked].mean()

    def loss(self, x: Tensor, generator: torch.Generator | None = None, masks: tuple[Tensor, Tensor] | None = None) -> Tensor:
        recon, tmask, smask = self(x, generator, masks)
        return self.masked_mse(recon, x, tmask, smask)

    def encoder_state_dict(self) -> dict[str, Tensor]:
        """SEM + TEM weights under the names ``PSTMO`` uses (``PSTMO.load_pretrained_encoder``)."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(_ENCODER_PREFIXES)}


@register_arch("pstmo", PSTMOConfig, "P-STMO: spatial MLP + temporal transformer + strided transformer, seq2frame (243-frame window)")
def build_pstmo(cfg: PSTMOConfig) -> PSTMO:
    return PSTMO(cfg)


register_preset("pstmo-s", "pstmo", tem_depth=3)
register_preset("pstmo", "pstmo", tem_depth=4)
register_preset("pstmo-s-causal", "pstmo", tem_depth=3, causal=True)
register_preset("pstmo-causal", "pstmo", tem_depth=4, causal=True)
