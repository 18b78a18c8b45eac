"""Diagonal state-space layer (DSSM) with zero-order-hold discretisation.

Per channel ``h`` the continuous system is ``x'(t) = λ x(t) + u(t)``, ``y = 2·Re(C x)`` with a
diagonal state of ``N/2`` complex eigenvalues ``λ = -exp(Λre) + i·Λim`` (their conjugates are
implied by taking twice the real part) and the input matrix fixed to 1. With step ``Δ`` the
zero-order hold gives

    x_k = exp(λΔ) · x_{k-1} + (exp(λΔ) - 1)/λ · u_k,        y_k = 2·Re(Σ_n C_n x_k,n) + D·u_k

which unrolls into a causal convolution with kernel

    K[h, l] = 2·Re Σ_n C[h, n] · (exp(λΔ) - 1)/λ · exp(λ·l·Δ).

Three computations of the same map are provided and tested against each other:

* :func:`causal_conv_reference`: the O(L²) convolution (a Toeplitz product), the reference;
* :func:`causal_conv_fft`: FFT convolution, O(L log L), the training path;
* :func:`ssm_scan`: the recurrence, O(L) sequentially, O(1) per step; it also takes a
  different ``Δ_k`` at every step (irregular timestamps).

The sequence axis is dim 1 of the input ``u`` with shape ``(B, L, *, H)``: any number of
extra axes (e.g. joints) may sit between the sequence and the channel axes.

Δ scaling: ``Δ = exp(log_dt) · dt_scale``. A model trained at 30 fps runs at 15 fps with
``dt_scale = 2``. Per-step multipliers ``steps`` (shape ``(L,)`` or ``(B, L)``) give
``Δ_k = Δ · steps[k]``, where ``steps[k]`` is the time from frame k-1 to frame k in units of
the training frame period; ``steps[0]`` only sets the input weight of the first frame.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

Tensor = torch.Tensor


# ----------------------------------------------------------------------------------------
# Functional kernels
# ----------------------------------------------------------------------------------------


def zoh(lam: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
    """Zero-order-hold discretisation. lam: (H, N2) complex; dt broadcastable to it (real).

    Returns (dA, dB), both complex with the broadcast shape: dA = exp(λΔ), dB = (dA - 1)/λ.
    """
    dtl = lam * dt  # (..., H, N2)
    da = torch.exp(dtl)
    return da, (da - 1.0) / lam


def _vandermonde(dtl: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
    """exp(λΔ·pos) as (real, imag) parts, each (..., H, N2, P), from real exp/cos/sin (which
    are vectorised on CPU, about 2.5x faster than complex exp forward and backward)."""
    mag = torch.exp(dtl.real.unsqueeze(-1) * pos)  # (..., H, N2, P)
    ang = dtl.imag.unsqueeze(-1) * pos  # (..., H, N2, P)
    return mag * torch.cos(ang), mag * torch.sin(ang)


def _kernel_inputs(lam: Tensor, c: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
    """(λΔ, C·dB), each (..., H, N2) complex, for dt of shape (H,) or (B, H)."""
    dtl = lam * dt.unsqueeze(-1)  # (..., H, N2)
    _, db = zoh(lam, dt.unsqueeze(-1))  # (..., H, N2)
    return dtl, c * db


def ssm_kernel_reference(lam: Tensor, c: Tensor, dt: Tensor, length: int) -> Tensor:
    """Plain kernel: the full Vandermonde matrix exp(λΔl), (..., H, N2, L), contracted with
    C·dB over the state. The reference for :func:`ssm_kernel`."""
    dtl, cb = _kernel_inputs(lam, c, dt)
    pos = torch.arange(length, device=lam.device, dtype=dtl.real.dtype)  # (L,)
    vr, vi = _vandermonde(dtl, pos)  # (..., H, N2, L) each
    re = torch.einsum("...hn,...hnl->...hl", cb.real, vr)
    im = torch.einsum("...hn,...hnl->...hl", cb.imag, vi)
    return 2.0 * (re - im)  # (..., H, L)


def ssm_kernel(lam: Tensor, c: Tensor, dt: Tensor, length: int) -> Tensor:
    """Convolution kernel K (..., H, L) for eigenvalues lam (H, N2), output weights c (H, N2)
    and step dt of shape (H,) or (B, H) (one kernel per leading index).

    K[h, l] = 2·Re Σ_n (C·dB)_n · z_n^l with z = exp(λΔ). Writing l = s·b + a with
    s = ceil(√L) splits the Vandermonde factor into z^(s·b) · z^a, so the kernel is one real
    batched matrix product per channel,

        K[h, b, a] = 2·Re Σ_n [(C·dB)_n z_n^(s·b)] · z_n^a
                   = 2·([Re W, -Im W] @ [Re V; Im V])[b, a],

    with W (nb, N2) and V (N2, s). Only 2·√L powers per state are evaluated instead of L
    (no (H, N2, L) tensors, forward or backward). Tested against
    :func:`ssm_kernel_reference`."""
    dtl, cb = _kernel_inputs(lam, c, dt)
    s = math.isqrt(max(length, 1) - 1) + 1  # ceil(√L)
    nb = -(-length // s)
    dtype = dtl.real.dtype
    vr, vi = _vandermonde(dtl, torch.arange(s, device=lam.device, dtype=dtype))  # (..., H, N2, s)
    zr, zi = _vandermonde(dtl, torch.arange(nb, device=lam.device, dtype=dtype) * s)  # (..., H, N2, nb)
    cr, ci = cb.real.unsqueeze(-1), cb.imag.unsqueeze(-1)  # (..., H, N2, 1)
    wr, wi = cr * zr - ci * zi, cr * zi + ci * zr  # W = C·dB·z^(s·b): (..., H, N2, nb)
    w = torch.cat([wr, -wi], dim=-2).transpose(-1, -2)  # (..., H, nb, 2·N2)
    v = torch.cat([vr, vi], dim=-2)  # (..., H, 2·N2, s)
    k = 2.0 * torch.matmul(w, v)  # (..., H, nb, s)
    return k.flatten(-2)[..., :length]  # (..., H, L)


def toeplitz(kernel: Tensor, length: int) -> Tensor:
    """Lower-triangular Toeplitz matrices T[..., h, l, m] = K[..., h, l - m] (0 where m > l)."""
    l_idx = torch.arange(length, device=kernel.device)
    diff = l_idx[:, None] - l_idx[None, :]  # (L, L)
    t = kernel[..., diff.clamp(min=0)]  # (..., H, L, L)
    return t * (diff >= 0)


def causal_conv_reference(u: Tensor, kernel: Tensor) -> Tensor:
    """Reference O(L²) causal convolution. u: (B, L, *, H); kernel: (H, L) or (B, H, L)."""
    length = u.shape[1]
    t = toeplitz(kernel[..., :length], length)  # (H, L, L) or (B, H, L, L)
    b, extra, h = u.shape[0], u.shape[2:-1], u.shape[-1]
    uf = u.reshape(b, length, -1, h)  # (B, L, M, H)
    if t.dim() == 3:
        y = torch.einsum("hlm,bmjh->bljh", t, uf)
    else:
        y = torch.einsum("bhlm,bmjh->bljh", t, uf)
    return y.reshape(b, length, *extra, h)


def causal_conv_fft(u: Tensor, kernel: Tensor) -> Tensor:
    """Causal convolution by FFT (zero padding to a power of two >= 2L).

    u: (B, L, *, H); kernel: (H, L) shared or (B, H, L) per batch element."""
    length = u.shape[1]
    n = 1 << (2 * length - 1).bit_length()
    extra = u.dim() - 3
    uf = torch.fft.rfft(u, n=n, dim=1)  # (B, n/2+1, *, H)
    kf = torch.fft.rfft(kernel[..., :length], n=n, dim=-1)  # (..., H, n/2+1)
    kf = kf.transpose(-1, -2)  # (..., n/2+1, H)
    if kf.dim() == 3:  # per batch element: (B, n/2+1, H)
        kf = kf.reshape(kf.shape[0], kf.shape[1], *([1] * extra), kf.shape[2])
    else:
        kf = kf.reshape(kf.shape[0], *([1] * extra), kf.shape[1])
    y = torch.fft.irfft(uf * kf, n=n, dim=1)  # (B, n, *, H)
    return y[:, :length]


def ssm_scan(u: Tensor, da: Tensor, db: Tensor, c: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The recurrence x_k = dA_k x_{k-1} + dB_k u_k, y_k = 2 Re(C x_k), one step at a time.

    u: (B, L, *, H) real. da, db: (H, N2) for a fixed step, or (B, L, H, N2) / (L, H, N2)
    per step. c: (H, N2). state: (B, *, H, N2) complex or None (zeros).
    Returns y (B, L, *, H) and the final state.
    """
    b, length = u.shape[:2]
    extra = u.shape[2:-1]
    h, n2 = c.shape
    if state is None:
        state = torch.zeros(b, *extra, h, n2, dtype=c.dtype, device=u.device)
    per_step = da.dim() > 2
    if per_step and da.dim() == 3:  # (L, H, N2) -> (1, L, H, N2)
        da, db = da.unsqueeze(0), db.unsqueeze(0)
    if per_step:  # (B, L, H, N2) -> (B, L, 1.., H, N2) to broadcast over the extra axes
        shape = (da.shape[0], length) + (1,) * len(extra) + (h, n2)
        da, db = da.reshape(shape), db.reshape(shape)
    ys = []
    for k in range(length):
        a_k = da[:, k] if per_step else da  # (B, *, H, N2) or (H, N2)
        b_k = db[:, k] if per_step else db
        state = a_k * state + b_k * u[:, k].unsqueeze(-1)  # (B, *, H, N2)
        ys.append(2.0 * torch.einsum("...hn,hn->...h", state, c).real)  # (B, *, H)
    return torch.stack(ys, dim=1), state


def reverse_steps(steps: Tensor) -> Tensor:
    """Per-step multipliers for the time-reversed sequence (..., L).

    Reversed position k (original index L-1-k) is reached across the original gap into
    index L-k, so it takes ``steps[L-k]``; the first entry keeps ``steps[0]``."""
    return torch.cat([steps[..., :1], steps[..., 1:].flip(-1)], dim=-1)


def steps_from_timestamps(timestamps: Tensor, fps: float) -> Tensor:
    """Per-step Δ multipliers (..., L) from timestamps in seconds (..., L), for a model whose
    training frame rate is ``fps``. The first step is set to the median of the others."""
    gaps = torch.diff(timestamps, dim=-1) * fps  # (..., L-1)
    if gaps.shape[-1] == 0:
        first = torch.ones_like(timestamps[..., :1])
    else:
        if bool((gaps <= 0).any()):
            raise ValueError("timestamps must be strictly increasing")
        first = gaps.median(dim=-1, keepdim=True).values
    return torch.cat([first, gaps], dim=-1)


# ----------------------------------------------------------------------------------------
# Module
# ----------------------------------------------------------------------------------------


class DSSM(nn.Module):
    """Diagonal SSM over ``channels`` independent channels with ``state`` (N) real state size,
    i.e. N/2 complex-conjugate pairs per channel."""

    def __init__(self, channels: int, state: int = 64, dt_min: float = 1e-3, dt_max: float = 1e-1, skip: bool = True):
        super().__init__()
        if state % 2:
            raise ValueError("state size N must be even (N/2 conjugate pairs)")
        h, n2 = channels, state // 2
        self.channels, self.n2 = h, n2
        self.log_neg_re = nn.Parameter(torch.full((h, n2), math.log(0.5)))  # Re λ = -1/2
        self.imag = nn.Parameter(math.pi * torch.arange(n2, dtype=torch.float32).repeat(h, 1))  # Im λ = π n
        self.c = nn.Parameter(torch.randn(h, n2, 2) * math.sqrt(0.5))  # complex C as (re, im)
        log_lo, log_hi = math.log(dt_min), math.log(dt_max)
        self.log_dt = nn.Parameter(torch.rand(h) * (log_hi - log_lo) + log_lo)  # Δ log-uniform
        self.d = nn.Parameter(torch.randn(h)) if skip else None
        self._cache: dict = {}

    # -- parameters as complex numbers --------------------------------------------------
    def eigenvalues(self) -> Tensor:
        return torch.complex(-torch.exp(self.log_neg_re), self.imag)  # (H, N2)

    def output_weights(self) -> Tensor:
        return torch.view_as_complex(self.c)  # (H, N2)

    def dt(self, dt_scale: float | Tensor = 1.0) -> Tensor:
        """Step Δ: (H,) for a scalar scale, (B, H) for a (B,) tensor of scales."""
        base = torch.exp(self.log_dt)  # (H,)
        if isinstance(dt_scale, Tensor) and dt_scale.dim() > 0:
            return dt_scale.to(base).unsqueeze(-1) * base  # (B, H)
        return base * float(dt_scale)

    def _cached(self, key: tuple, fn):
        """Memoise parameter-only quantities when no gradient is needed (inference). With
        gradients enabled they are always recomputed (in eval mode too): a cached value would
        carry no gradient to the SSM parameters, and one made in inference mode cannot enter
        autograd at all."""
        if torch.is_grad_enabled():
            return fn()
        version = tuple(p._version for p in self.parameters()) + (self.log_dt.data_ptr(),)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        val = fn()
        if not torch.is_grad_enabled():
            if len(self._cache) > 16:
                self._cache.clear()
            self._cache[key] = (version, val)
        return val

    def kernel(self, length: int, dt_scale: float | Tensor = 1.0) -> Tensor:
        """K (H, L), or (B, H, L) for a per-sample scale."""
        if isinstance(dt_scale, Tensor) and dt_scale.dim() > 0:
            return ssm_kernel(self.eigenvalues(), self.output_weights(), self.dt(dt_scale), length)
        return self._cached(
            ("k", length, float(dt_scale)),
            lambda: ssm_kernel(self.eigenvalues(), self.output_weights(), self.dt(dt_scale), length),
        )

    def conv_matrix(self, length: int, anti_causal: bool = False) -> Tensor:
        """Dense (H, L, L) operator for short sequences (the joint axis): y = T u."""

        def make() -> Tensor:
            t = toeplitz(self.kernel(length), length)  # (H, L, L)
            if self.d is not None:
                t = t + torch.diag_embed(self.d.unsqueeze(-1).expand(-1, length))
            return t.flip(-1).flip(-2) if anti_causal else t

        return self._cached(("m", length, anti_causal), make)

    def discrete(self, dt_scale: float | Tensor = 1.0) -> tuple[Tensor, Tensor]:
        """(dA, dB): (H, N2) for a scalar scale; for per-step scales (..., L) -> (..., L, H, N2)."""
        lam = self.eigenvalues()
        if isinstance(dt_scale, Tensor) and dt_scale.dim() > 0:
            dt = torch.exp(self.log_dt) * dt_scale.to(self.log_dt).unsqueeze(-1)  # (..., L, H)
            return zoh(lam, dt.unsqueeze(-1))
        return self._cached(("z", float(dt_scale)), lambda: zoh(lam, self.dt(dt_scale).unsqueeze(-1)))

    # -- forward ----------------------------------------------------------------------
    def forward(self, u: Tensor, dt_scale: float | Tensor = 1.0, steps: Tensor | None = None, mode: str = "fft") -> Tensor:
        """u: (B, L, *, H) -> y (B, L, *, H).

        dt_scale: float or (B,) tensor. steps: per-step multipliers (L,) or (B, L) (forces
        the recurrence). mode: 'fft' | 'reference' | 'scan' | 'matrix' (dense, short L)."""
        if steps is not None:
            scale = steps * (dt_scale if not isinstance(dt_scale, Tensor) else dt_scale.reshape(-1, 1))
            da, db = self.discrete(scale)
            y, _ = ssm_scan(u, da, db, self.output_weights())
        elif mode == "fft":
            y = causal_conv_fft(u, self.kernel(u.shape[1], dt_scale))
        elif mode == "reference":
            y = causal_conv_reference(u, self.kernel(u.shape[1], dt_scale))
        elif mode == "scan":
            if isinstance(dt_scale, Tensor) and dt_scale.dim() > 0:
                steps = dt_scale.reshape(-1, 1).expand(-1, u.shape[1])
                da, db = self.discrete(steps)
            else:
                da, db = self.discrete(dt_scale)
            y, _ = ssm_scan(u, da, db, self.output_weights())
        elif mode == "matrix":
            t = self.conv_matrix(u.shape[1])  # (H, L, L), includes D
            return torch.einsum("hlm,bm...h->bl...h", t, u)
        else:
            raise ValueError(f"unknown mode '{mode}'")
        if self.d is not None:
            y = y + self.d * u
        return y

    # -- streaming ----------------------------------------------------------------------
    def init_state(self, batch_shape: tuple[int, ...], device=None) -> Tensor:
        return torch.zeros(*batch_shape, self.channels, self.n2, dtype=torch.complex64, device=device)

    def step(self, u: Tensor, state: Tensor, da: Tensor, db: Tensor) -> tuple[Tensor, Tensor]:
        """One recurrent step. u: (*, H); state: (*, H, N2); da, db: (H, N2) -> y (*, H), state."""
        state = da * state + db * u.unsqueeze(-1)  # (*, H, N2)
        y = 2.0 * (state * self.output_weights()).real.sum(-1)  # (*, H)
        if self.d is not None:
            y = y + self.d * u
        return y, state
