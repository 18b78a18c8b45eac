"""HumMUSS: an attention-free spatio-temporal lifter built from gated diagonal SSM blocks.

Each layer runs two streams over x (B, F, J, Dm): spatial -> temporal and temporal ->
spatial, fused per token by learned softmax weights. The causal variant uses
unidirectional temporal blocks (the spatial blocks stay bidirectional: all joints of a frame
are available at once), which makes the whole network a recurrent model over frames:
:class:`Streamer` runs it one frame at a time with O(1) time and memory per frame.

Input is normalised 2D (x, y, confidence) from :class:`hmcli.skeleton.codec.PoseCodec`;
output is 3D in model units (the codec turns it into metres). There are no positional
encodings: order along joints and frames comes from the SSMs themselves.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

from hmcli.nn.gdssm import GDSSMBlock
from hmcli.nn.packed import PackedLinear, linear_then, pack_linears, worth_packing
from hmcli.nn.registry import register_arch, register_preset
from hmcli.nn.ssm import steps_from_timestamps

Tensor = torch.Tensor


@dataclass
class HumMUSSConfig:
    dim: int = 256  # Dm
    depth: int = 5  # spatio-temporal layers
    state: int = 128  # N (N/2 complex pairs per channel)
    rep_dim: int = 512  # Drep, the motion representation
    k_spatial: int = 1  # SSM width Dm/k in spatial blocks
    k_temporal: int = 2  # SSM width Dm/k in temporal blocks
    expand: float = 2.5  # n (2.5 bidirectional, 3 causal in the paper)
    causal: bool = False
    num_joints: int = 17
    in_dim: int = 3  # x, y, confidence
    out_dim: int = 3
    fps: float = 30.0  # frame rate the model is trained at (Δ multiplier 1)
    dt_min: float = 1e-3
    dt_max: float = 1e-1


class STLayer(nn.Module):
    def __init__(self, cfg: HumMUSSConfig):
        super().__init__()

        def block(axis: str) -> GDSSMBlock:
            temporal = axis == "frames"
            return GDSSMBlock(
                cfg.dim,
                cfg.expand,
                cfg.k_temporal if temporal else cfg.k_spatial,
                cfg.state,
                bidirectional=not (temporal and cfg.causal),
                axis=axis,
                dt_min=cfg.dt_min,
                dt_max=cfg.dt_max,
            )

        self.st_spatial, self.st_temporal = block("joints"), block("frames")
        self.ts_temporal, self.ts_spatial = block("frames"), block("joints")
        self.fuse = nn.Linear(2 * cfg.dim, 2)

    def _mix(self, a: Tensor, b: Tensor) -> Tensor:
        w = torch.softmax(self.fuse(torch.cat([a, b], dim=-1)), dim=-1)  # (..., 2)
        return w[..., :1] * a + w[..., 1:] * b

    def forward(self, x: Tensor, dt_scale=1.0, steps=None, mode: str | None = None) -> Tensor:
        """x: (B, F, J, Dm) -> (B, F, J, Dm)."""
        jm = None if mode is None else ("matrix" if mode in ("fft", "scan") else mode)
        a = self.st_temporal(self.st_spatial(x, mode=jm), dt_scale, steps, mode)  # (B, F, J, Dm)
        b = self.ts_spatial(self.ts_temporal(x, dt_scale, steps, mode), mode=jm)  # (B, F, J, Dm)
        return self._mix(a, b)


class HumMUSS(nn.Module):
    def __init__(self, cfg: HumMUSSConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Linear(cfg.in_dim, cfg.dim)
        self.layers = nn.ModuleList(STLayer(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.rep = nn.Linear(cfg.dim, cfg.rep_dim)
        self.head = nn.Linear(cfg.rep_dim, cfg.out_dim)
        # Training option (not part of the model): recompute each layer in the backward pass
        # instead of keeping its activations (torch.utils.checkpoint). Same gradients, a
        # fraction of the memory, about a third more compute.
        self.checkpoint_layers = False

    @property
    def causal(self) -> bool:
        return self.cfg.causal

    def represent(self, x: Tensor, dt_scale: float | Tensor = 1.0, steps: Tensor | None = None, mode: str | None = None) -> Tensor:
        """x: (B, F, J, in_dim) -> motion representation (B, F, J, Drep).

        dt_scale: Δ multiplier (float or (B,)): 2.0 for a 15 fps input to a 30 fps model.
        steps: per-frame Δ multipliers (F,) or (B, F) for irregular timing (see
        :func:`hmcli.nn.ssm.steps_from_timestamps`)."""
        h = self.embed(x)  # (B, F, J, Dm)
        recompute = self.checkpoint_layers and self.training and torch.is_grad_enabled()
        for layer in self.layers:
            if recompute:
                h = torch.utils.checkpoint.checkpoint(layer, h, dt_scale, steps, mode, use_reentrant=False)
            else:
                h = layer(h, dt_scale, steps, mode)
        return self.rep(self.norm(h))  # (B, F, J, Drep)

    def forward(self, x: Tensor, dt_scale: float | Tensor = 1.0, steps: Tensor | None = None, mode: str | None = None) -> Tensor:
        """x: (B, F, J, in_dim) -> (B, F, J, 3) in model units."""
        return self.head(self.represent(x, dt_scale, steps, mode))

    def dt_scale_for(self, fps: float) -> float:
        """Δ multiplier for input at ``fps`` frames per second."""
        return self.cfg.fps / float(fps)

    def steps_for(self, timestamps: Tensor) -> Tensor:
        return steps_from_timestamps(timestamps, self.cfg.fps)


class Streamer:
    """Frame-by-frame inference of a causal HumMUSS with constant time and memory per frame.

    Holds, for every layer, the state of its two temporal SSMs: (B, J, H, N2) complex each.
    ``step(frame, dt)`` takes one frame (B, J, in_dim) and the seconds since the previous
    frame and returns that frame's 3D pose (B, J, 3). With ``dt=None`` the step is the
    nominal one: the model's training period times ``dt_scale`` (e.g. ``dt_scale=2`` for a
    15 fps stream into a 30 fps model).

    Fast path: the state kept is ``s = 2 C ⊙ x`` rather than ``x`` (the recurrence is linear
    and diagonal, so ``s_k = dA s_{k-1} + (2 C dB) u_k`` and ``y_k = Re Σ_n s_k``), which
    saves one complex product and a scaling per step. It is held as two real tensors (re,
    im) and updated with fused ``addcmul`` (about 9x faster on CPU than broadcast complex
    arithmetic). The dense joint operators of the spatial SSMs are computed once, forward
    and backward stacked into one batched matmul. Each block's LayerNorm affine is folded
    into its input projection, and the two blocks that read the layer input (st_spatial,
    ts_temporal) share one concatenated projection: one matmul and one GELU instead of two.
    The two-way softmax fusing the streams is a sigmoid of the logit difference and a
    ``lerp``. With ``packed`` (the default) the larger linears run on oneDNN pre-packed
    weights with GELU, the gating product and the residual sum fused into them
    (:mod:`hmcli.nn.packed`); ``packed=False`` keeps PyTorch's plain linears.
    ``DSSM.step`` is the plain reference it is tested against.

    ``horizon`` (in training frame periods, e.g. 81 for a model trained on clips of at most
    81 frames) bounds the memory of every temporal SSM: an input older than that is
    forgotten exactly, which is what the model computed on its training clips. Each step
    subtracts the contribution of the input that leaves the window,
    ``s -= exp(λΔ(τ_t - τ_j)) · 2C·dB(Δ_j) · u_j`` (τ: time since the first frame), so a
    stream still costs O(1) per frame; it keeps the inputs of the last ``horizon`` periods,
    (B, J, H) per frame and temporal block. Exact for any sequence of ``dt``; with a uniform
    step it equals the offline model with every temporal kernel cut after ``horizon / Δ
    multiplier`` taps (tested).
    """

    #: A frame leaves the horizon when its age reaches ``horizon - HORIZON_EPS`` periods.
    HORIZON_EPS = 1e-6

    def __init__(self, model: HumMUSS, dt_scale: float = 1.0, horizon: float | None = None, packed: bool = True):
        if not model.causal:
            raise ValueError("streaming needs a causal model (config causal=True)")
        self.model = model.eval()
        self.packed = packed
        # The linears the step calls: with ``packed``, an inference copy of the model whose
        # linears hold oneDNN pre-packed weights (hmcli.nn.packed), else the model itself.
        # Its blocks' in_proj and proj_cb are not needed: _proj and _gates below compute them.
        self._net = pack_linears(model, model.cfg.num_joints, drop=("in_proj", "proj_cb")) if packed else model
        # Each spatial block's gate, GELU(proj_cb(·)), as one layer (fused GELU when packed).
        self._gates = [[self._linear(blk.proj_cb.weight, blk.proj_cb.bias) for blk in (layer.st_spatial, layer.ts_spatial)]
                       for layer in model.layers]  # fmt: skip
        self.dt_scale = float(dt_scale)
        if horizon is not None and not horizon > 0:
            raise ValueError(f"horizon must be positive (training frame periods), got {horizon}")
        self.horizon = None if horizon is None else float(horizon)
        # Within the horizon: (τ_j, Δ multiplier_j, [u_j per temporal block]) oldest first.
        self.history: collections.deque = collections.deque()
        self.tau = 0.0  # time of the last frame, in training frame periods since the first
        self._leave: dict = {}  # cached leaving coefficients per (age, multiplier)
        self.states: list[list[Tensor]] | None = None
        self._spare: list | None = None  # double buffers for in-place state updates
        j = model.cfg.num_joints
        with torch.no_grad():
            self._nominal = [self._coeffs(layer, self.dt_scale) for layer in model.layers]
            # Dense joint operators, forward and backward stacked: (2H, J, J) per spatial block,
            # kept in two layouts for _joint_mix: (2H, J, K) and (J, K, 2H).
            self._spatial = []
            for layer in model.layers:
                pair = []
                for blk in (layer.st_spatial, layer.ts_spatial):
                    t = torch.cat([blk.ssm_f.conv_matrix(j), blk.ssm_b.conv_matrix(j, anti_causal=True)])
                    pair.append((t.contiguous(), t.permute(1, 2, 0).contiguous()))
                self._spatial.append(pair)
            # Input projections with the LayerNorm affine folded in; st_spatial and ts_temporal
            # read the same layer input, so theirs are one (concatenated) matrix.
            # Each is GELU(Linear(·)): one layer, GELU fused when packed.
            self._proj = []
            for layer in model.layers:
                w1, b1 = self._folded(layer.st_spatial)
                w2, b2 = self._folded(layer.ts_temporal)
                self._proj.append(((self._linear(torch.cat([w1, w2]), torch.cat([b1, b2])), w1.shape[0]),
                                   self._linear(*self._folded(layer.st_temporal)), self._linear(*self._folded(layer.ts_spatial))))
            # Stream fusion softmax(W [a, b] + c)[0] = sigmoid((W0 - W1) [a, b] + c0 - c1).
            self._fuse = [((layer.fuse.weight[:1] - layer.fuse.weight[1:]).contiguous(),
                           (layer.fuse.bias[:1] - layer.fuse.bias[1:]).contiguous()) for layer in model.layers]  # fmt: skip
        self.frames = 0

    @staticmethod
    def _mix(a: Tensor, b: Tensor, fuse: tuple[Tensor, Tensor]) -> Tensor:
        """STLayer._mix on one frame: a, b (B, J, Dm); fuse: (logit-difference weight (1, 2Dm), bias (1,))."""
        w = torch.sigmoid(F.linear(torch.cat([a, b], dim=-1), *fuse))  # (B, J, 1): weight of a
        return torch.lerp(b, a, w)  # (B, J, Dm)

    def _linear(self, weight: Tensor, bias: Tensor) -> nn.Module:
        """GELU(x W^T + b) as one layer: packed with GELU fused, or the plain reference."""
        pack = self.packed and worth_packing(weight)
        return PackedLinear(weight, bias, act="gelu", rows_hint=self.model.cfg.num_joints, pack=pack)

    @staticmethod
    def _folded(blk: GDSSMBlock) -> tuple[Tensor, Tensor]:
        """in_proj(LayerNorm(x)) == in_proj'(normalised x): (W diag γ, W β + b)."""
        w, b = blk.in_proj.weight, blk.in_proj.bias
        g, beta = blk.norm.weight, blk.norm.bias
        return (w * g).contiguous(), (b + w @ beta).contiguous()

    @staticmethod
    def _normed(blk: GDSSMBlock, x: Tensor) -> Tensor:
        return F.layer_norm(x, blk.norm.normalized_shape, eps=blk.norm.eps)  # (B, J, Dm), no affine

    @staticmethod
    def _coeffs(layer: STLayer, scale: float) -> list[tuple[Tensor, ...]]:
        """(Re dA, Im dA, Re 2C·dB, Im 2C·dB, D) for the two temporal SSMs of a layer at Δ
        multiplier ``scale``; each (H, N2) except D (H,)."""
        out = []
        for blk in (layer.st_temporal, layer.ts_temporal):
            da, db = blk.ssm_f.discrete(scale)
            cdb = 2.0 * blk.ssm_f.output_weights() * db
            d = blk.ssm_f.d if blk.ssm_f.d is not None else torch.zeros(blk.hidden)
            out.append((da.real.contiguous(), da.imag.contiguous(), cdb.real.contiguous(), cdb.imag.contiguous(), d))
        return out

    def reset(self) -> None:
        self.states, self.frames, self.tau = None, 0, 0.0
        self.history.clear()

    def snapshot(self) -> tuple:
        """A copy of the recurrent state, frame count and horizon history (to resume or fork a stream)."""
        states = None if self.states is None else [[tuple(t.clone() for t in st) for st in pair] for pair in self.states]
        history = [(tau, m, [u.clone() for u in us]) for tau, m, us in self.history]
        return states, self.frames, self.tau, history

    def restore(self, snap: tuple, batch: int | None = None) -> None:
        """Restore a :meth:`snapshot`; with ``batch``, a batch-1 state is repeated ``batch`` times."""
        states, frames, tau, history = snap

        def copy(t: Tensor) -> Tensor:
            return t.repeat(batch, *([1] * (t.dim() - 1))) if batch is not None else t.clone()

        if states is not None:
            states = [[tuple(copy(t) for t in st) for st in pair] for pair in states]
        self.states, self.frames, self.tau = states, frames, tau
        self.history = collections.deque((tau_j, m, [copy(u) for u in us]) for tau_j, m, us in history)

    def state_bytes(self) -> int:
        """Bytes carried between frames: SSM states plus, with a horizon, the kept inputs."""
        if self.states is None:
            return 0
        kept = sum(u.numel() * u.element_size() for _, _, us in self.history for u in us)
        return kept + sum(t.numel() * t.element_size() for pair in self.states for s in pair for t in s)

    def _leaving(self, age: float, mult: float) -> list[tuple[Tensor, Tensor]]:
        """(Re, Im) of exp(λΔ·age)·2C·dB(Δ·mult), (H, N2) each, for every temporal block in
        step order (layer by layer: st_temporal, ts_temporal)."""
        key = (round(age, 9), round(mult, 9))
        hit = self._leave.get(key)
        if hit is None:
            hit = []
            for layer in self.model.layers:
                for blk in (layer.st_temporal, layer.ts_temporal):
                    ssm = blk.ssm_f  # exp(λΔ·age) is dA at Δ multiplier ``age``
                    coef = 2.0 * ssm.discrete(age)[0] * ssm.output_weights() * ssm.discrete(mult)[1]  # (H, N2)
                    hit.append((coef.real.contiguous(), coef.imag.contiguous()))
            if len(self._leave) > 64:
                self._leave.clear()
            self._leave[key] = hit
        return hit

    #: Up to this batch size _joint_mix multiplies and sums (a few µs at B=1); above it, one
    #: batched matmul over a contiguous copy. A matmul on the permuted view was 5-9x slower
    #: than either at B=2 (it copies per batch element).
    JOINT_MIX_MAX_ELEMENTWISE = 4

    @classmethod
    def _joint_mix(cls, t: tuple[Tensor, Tensor], u: Tensor) -> Tensor:
        """y[b, j, h] = Σ_k T[h, j, k] u[b, k, h]. t: (T (2H, J, K), the same as (J, K, 2H));
        u: (B, K, 2H) -> (B, J, 2H)."""
        if u.shape[0] <= cls.JOINT_MIX_MAX_ELEMENTWISE:
            return (t[1] * u[:, None]).sum(2)  # (J, K, 2H) * (B, 1, K, 2H), summed over K
        return torch.matmul(t[0], u.permute(2, 1, 0).contiguous()).permute(2, 1, 0)  # (2H, J, K) @ (2H, K, B)

    @classmethod
    def _spatial_block(cls, blk: GDSSMBlock, x: Tensor, z: Tensor, t: tuple[Tensor, Tensor], gate_proj: nn.Module) -> Tensor:
        """Bidirectional joint block on one frame. x: (B, J, Dm); z: its activated input
        projection (B, J, n·Dm + 2H); t: stacked joint operators (see :meth:`_joint_mix`);
        gate_proj: GELU(proj_cb(·)) of the block."""
        x_id, u = z[..., : blk.inner], z[..., blk.inner :]  # (B, J, n·Dm), (B, J, 2H) = [u_f | u_b]
        y = cls._joint_mix(t, u)  # (B, J, 2H)
        y_f, y_b = y[..., : blk.hidden], y[..., blk.hidden :]  # (B, J, H) each
        gate = gate_proj(linear_then(blk.proj_b, y_b, blk.proj_f(y_f), "mul"))  # (B, J, n·Dm)
        return linear_then(blk.out, gate * x_id, x, "add")  # (B, J, Dm)

    #: The state update runs over chunks of (batch x joint) rows of about this many bytes per
    #: tensor, so that each chunk's six passes (re and im: multiply, two fused multiply-adds)
    #: and its sum stay in cache. At B=32 the paper-size model carries 356 MB of state; one
    #: pass per op over all of it made the update memory-bound (53 -> 35 ms over 10 blocks).
    STATE_CHUNK_BYTES = 2 << 20

    @classmethod
    def _temporal_step(cls, blk: GDSSMBlock, x: Tensor, z: Tensor, state: tuple[Tensor, Tensor], spare: tuple[Tensor, Tensor],
                       ar: Tensor, ai: Tensor, cr: Tensor, ci: Tensor, d: Tensor,
                       leaving: list[tuple[Tensor, Tensor, Tensor]] = ()) -> tuple[Tensor, tuple[Tensor, Tensor]]:  # fmt: skip
        """Causal frame block on one frame. x: (B, J, Dm); z: its activated input projection
        (B, J, n·Dm + H); state C ⊙ x as (re, im), each (B, J, H, N2); the new state is
        written in place into ``spare`` (no allocation). ``leaving``: (Re, Im coefficient
        (H, N2), input (B, J, H)) of each input that leaves the horizon at this frame."""
        x_id, u = z[..., : blk.inner], z[..., blk.inner :]  # (B, J, n·Dm), (B, J, H)
        h, n2 = ar.shape
        sr, si = (t.view(-1, h, n2) for t in state)  # (R, H, N2), R = B·J
        nr, ni = (t.view(-1, h, n2) for t in spare)
        uu = u.reshape(-1, h, 1)  # (R, H, 1)
        olds = [(lr, li, old.reshape(-1, h, 1)) for lr, li, old in leaving]
        ysum = torch.empty(uu.shape[:2], dtype=sr.dtype, device=sr.device)  # (R, H)
        rows = max(1, cls.STATE_CHUNK_BYTES // (h * n2 * sr.element_size()))
        if rows >= sr.shape[0]:  # one chunk: no slicing (eight views cost as much as an op)
            chunks = [(sr, si, nr, ni, uu, olds, ysum)]
        else:
            chunks = [(sr[c], si[c], nr[c], ni[c], uu[c], [(lr, li, oo[c]) for lr, li, oo in olds], ysum[c])
                      for c in (slice(r0, r0 + rows) for r0 in range(0, sr.shape[0], rows))]  # fmt: skip
        for csr, csi, cnr, cni, cuu, cold, cys in chunks:
            torch.mul(ar, csr, out=cnr).addcmul_(ai, csi, value=-1.0).addcmul_(cr, cuu)  # Re(dA·s + 2C·dB·u)
            torch.mul(ar, csi, out=cni).addcmul_(ai, csr).addcmul_(ci, cuu)  # Im(dA·s + 2C·dB·u)
            for lr, li, oo in cold:  # s -= coefficient · u_old
                cnr.addcmul_(lr, oo, value=-1.0)
                cni.addcmul_(li, oo, value=-1.0)
            torch.sum(cnr, -1, out=cys)
        y = torch.addcmul(ysum.view(u.shape), d, u)  # (B, J, H): 2 Re Σ_n (C ⊙ x) + D u
        return linear_then(blk.out, linear_then(blk.proj_f, y, x_id, "mul"), x, "add"), spare

    @torch.inference_mode()
    def step(self, frame: Tensor, dt: float | None = None) -> Tensor:
        """frame: (B, J, in_dim) -> (B, J, 3)."""
        net = self._net
        return net.head(net.rep(net.norm(self._step_hidden(frame, dt))))  # (B, J, 3)

    def step_represent(self, frame: Tensor, dt: float | None = None) -> Tensor:
        """One frame's motion representation (B, J, Drep), as ``HumMUSS.represent`` gives it
        for the last frame of the sequence so far (the action head reads it)."""
        net = self._net
        return net.rep(net.norm(self._step_hidden(frame, dt)))  # (B, J, Drep)

    def _step_hidden(self, frame: Tensor, dt: float | None = None) -> Tensor:
        """frame: (B, J, in_dim) -> the last layer's output (B, J, Dm); advances the state."""
        m = self.model
        b, j = frame.shape[:2]
        if self.states is None:
            self.states = []
            for layer in m.layers:
                pair = []
                for blk in (layer.st_temporal, layer.ts_temporal):
                    z = torch.zeros(b, j, blk.hidden, blk.ssm_f.n2, device=frame.device)  # (B, J, H, N2)
                    pair.append((z, z.clone()))
                self.states.append(pair)
        if dt is None:
            coeffs, scale = self._nominal, self.dt_scale
        else:  # seconds since the previous frame, in training frame periods
            scale = float(dt) * m.cfg.fps
            coeffs = [self._coeffs(layer, scale) for layer in m.layers]
        leaving: list[list] = [[] for _ in range(2 * len(m.layers))]  # per temporal block
        if self.horizon is not None:
            self.tau = self.tau + scale if self.frames else 0.0
            while self.history and self.tau - self.history[0][0] >= self.horizon - self.HORIZON_EPS:
                tau_j, mult, us = self.history.popleft()
                for i, (lr, li) in enumerate(self._leaving(self.tau - tau_j, mult)):
                    leaving[i].append((lr, li, us[i]))
            kept: list[Tensor] = []
        net = self._net  # the model, or its packed copy
        h = net.embed(frame)  # (B, J, Dm)
        if self._spare is None or self._spare[0][0][0].shape != self.states[0][0][0].shape:
            self._spare = [[tuple(torch.empty_like(t) for t in st) for st in pair] for pair in self.states]
        for i, (layer, st, sp, (c1, c2), (t1, t2), ((p_h, split), p_a, p_t), (g1, g2), fuse) in enumerate(zip(
                net.layers, self.states, self._spare, coeffs, self._spatial, self._proj, self._gates, self._fuse)):  # fmt: skip
            zh = p_h(self._normed(layer.st_spatial, h))  # (B, J, ·)
            a = self._spatial_block(layer.st_spatial, h, zh[..., :split], t1, g1)  # (B, J, Dm)
            za = p_a(self._normed(layer.st_temporal, a))
            zt_in = zh[..., split:]
            (a, st[0]), sp[0] = self._temporal_step(layer.st_temporal, a, za, st[0], sp[0], *c1, leaving[2 * i]), st[0]
            (t, st[1]), sp[1] = self._temporal_step(layer.ts_temporal, h, zt_in, st[1], sp[1], *c2, leaving[2 * i + 1]), st[1]
            if self.horizon is not None:  # this frame's SSM inputs (B, J, H), kept until they leave
                kept += [za[..., layer.st_temporal.inner :].clone(), zt_in[..., layer.ts_temporal.inner :].clone()]
            zt = p_t(self._normed(layer.ts_spatial, t))
            bb = self._spatial_block(layer.ts_spatial, t, zt, t2, g2)
            h = self._mix(a, bb, fuse)
        if self.horizon is not None:
            self.history.append((self.tau, scale, kept))
        self.frames += 1
        return h  # (B, J, Dm)


@register_arch("hummuss", HumMUSSConfig, "HumMUSS: two-stream gated diagonal SSM lifter (attention-free)")
def build_hummuss(cfg: HumMUSSConfig) -> HumMUSS:
    return HumMUSS(cfg)


# Paper size (HumMUSS, CVPR 2024): Dm 256, 5 layers, N 128, Drep 512.
register_preset("hummuss", "hummuss", expand=2.5, causal=False)
register_preset("hummuss-causal", "hummuss", expand=3.0, causal=True)
# CPU default: trains in about an hour on a 2-core CPU and streams in a few ms per frame.
register_preset("hummuss-small", "hummuss", dim=64, depth=4, state=32, rep_dim=256, expand=2.0, causal=False)
register_preset("hummuss-small-causal", "hummuss", dim=64, depth=4, state=32, rep_dim=256, expand=2.0, causal=True)
