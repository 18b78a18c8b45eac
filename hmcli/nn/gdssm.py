"""Gated DSSM blocks (bidirectional and unidirectional) acting along one axis of (B, F, J, D).

Bidirectional block on a sequence x:
    xN   = LayerNorm(x)
    x_id = GELU(xN W_id)                               (Dm -> n·Dm)
    x_f  = DSSM_f(GELU(xN W_f1)) W_f2                  (Dm -> Dm/k -> Dm)
    x_b  = flip(DSSM_b(GELU(flip(xN) W_b1))) W_b2      (Dm -> Dm/k -> Dm)
    x_cb = GELU((x_f ⊙ x_b) W_cb)                      (Dm -> n·Dm)
    out  = x + (x_cb ⊙ x_id) W_out                     (n·Dm -> Dm)
Unidirectional (causal) block:
    x_f  = DSSM_f(GELU(xN W_f1)) W_f2                  (Dm -> Dm/k -> n·Dm)
    out  = x + (x_f ⊙ x_id) W_out

The three input projections W_id, W_f1, W_b1 act on the same xN token by token (flipping
commutes with a per-token map), so they are stored as one fused Linear; the parameter count
is the same as three separate ones.

``axis='joints'`` runs the SSM over the joint axis (dim 2), as a dense (H, J, J) operator
since J is small; it never sees Δ scaling (joints are not time). ``axis='frames'`` runs it
over frames (dim 1) by FFT convolution, or the recurrence when per-step Δ are given.

Under mixed-precision autocast (``hm train precision=bf16``) the linear layers run in the
low precision while the SSM itself (kernel, FFT convolution, recurrence, joint operator)
always runs in float32: its powers of exp(λΔ) over hundreds of steps need the mantissa.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from hmcli.nn.ssm import DSSM, reverse_steps

Tensor = torch.Tensor


class GDSSMBlock(nn.Module):
    def __init__(
        self,
        dim: int,
        expand: float,
        k: int,
        state: int,
        bidirectional: bool,
        axis: str,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
    ):
        super().__init__()
        if axis not in ("joints", "frames"):
            raise ValueError("axis must be 'joints' or 'frames'")
        if dim % k:
            raise ValueError(f"dim {dim} must be divisible by k={k}")
        self.axis, self.bidirectional = axis, bidirectional
        self.hidden = dim // k
        self.inner = int(round(expand * dim))
        self.norm = nn.LayerNorm(dim)
        n_in = self.inner + self.hidden * (2 if bidirectional else 1)
        self.in_proj = nn.Linear(dim, n_in)  # [W_id | W_f1 | W_b1]
        self.ssm_f = DSSM(self.hidden, state, dt_min, dt_max)
        if bidirectional:
            self.ssm_b = DSSM(self.hidden, state, dt_min, dt_max)
            self.proj_f = nn.Linear(self.hidden, dim)
            self.proj_b = nn.Linear(self.hidden, dim)
            self.proj_cb = nn.Linear(dim, self.inner)
        else:
            self.proj_f = nn.Linear(self.hidden, self.inner)
        self.out = nn.Linear(self.inner, dim)

    def _split(self, x: Tensor) -> tuple[Tensor, ...]:
        z = F.gelu(self.in_proj(self.norm(x)))  # (B, F, J, n·Dm + Dm/k [+ Dm/k])
        return torch.split(z, [self.inner] + [self.hidden] * (2 if self.bidirectional else 1), dim=-1)

    def _ssm(self, ssm: DSSM, u: Tensor, reverse: bool, dt_scale, steps, mode: str) -> Tensor:
        """Apply ``ssm`` along this block's axis in float32, autocast or not. u: (B, F, J, H)."""
        with torch.autocast(u.device.type, enabled=False):
            return self._ssm_fp32(ssm, u.float(), reverse, dt_scale, steps, mode)

    def _ssm_fp32(self, ssm: DSSM, u: Tensor, reverse: bool, dt_scale, steps, mode: str) -> Tensor:
        if self.axis == "joints":
            b, f, j, h = u.shape
            uj = u.reshape(b * f, j, h)  # (B·F, J, H)
            if mode == "matrix":
                t = ssm.conv_matrix(j, anti_causal=reverse)  # (H, J, J)
                y = torch.einsum("hlm,bmh->blh", t, uj)
            else:
                y = ssm(uj.flip(1), mode=mode).flip(1) if reverse else ssm(uj, mode=mode)
            return y.reshape(b, f, j, h)
        if reverse:
            rsteps = None if steps is None else reverse_steps(steps)
            return ssm(u.flip(1), dt_scale, rsteps, mode).flip(1)
        return ssm(u, dt_scale, steps, mode)

    def forward(self, x: Tensor, dt_scale: float | Tensor = 1.0, steps: Tensor | None = None, mode: str | None = None) -> Tensor:
        """x: (B, F, J, Dm) -> (B, F, J, Dm). mode: SSM computation (default: 'matrix' over
        joints, 'fft' over frames); 'reference' and 'scan' exist for tests."""
        mode = mode or ("matrix" if self.axis == "joints" else "fft")
        if self.bidirectional:
            x_id, u_f, u_b = self._split(x)
            x_f = self.proj_f(self._ssm(self.ssm_f, u_f, False, dt_scale, steps, mode))  # (B, F, J, Dm)
            x_b = self.proj_b(self._ssm(self.ssm_b, u_b, True, dt_scale, steps, mode))  # (B, F, J, Dm)
            gate = F.gelu(self.proj_cb(x_f * x_b))  # (B, F, J, n·Dm)
        else:
            x_id, u_f = self._split(x)
            gate = self.proj_f(self._ssm(self.ssm_f, u_f, False, dt_scale, steps, mode))  # (B, F, J, n·Dm)
        return x + self.out(gate * x_id)

    # -- streaming (unidirectional frame blocks only) -----------------------------------
    def step(self, x: Tensor, state: Tensor, da: Tensor, db: Tensor) -> tuple[Tensor, Tensor]:
        """One frame through a causal frame block. x: (B, J, Dm); state: (B, J, H, N2)."""
        if self.axis != "frames" or self.bidirectional:
            raise RuntimeError("step() is defined for unidirectional frame blocks only")
        x_id, u_f = self._split(x)
        y, state = self.ssm_f.step(u_f, state, da, db)  # (B, J, H)
        return x + self.out(self.proj_f(y) * x_id), state
