"""FLOP counting and this CPU's measured matmul rate, to put benchmark timings in context.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``: matrix products (mm, bmm,
addmm, baddbmm; einsum lowers to these), convolutions and scaled-dot-product attention,
counted as 2 FLOPs per multiply-add. Added here: oneDNN linears on pre-packed weights
(:mod:`hmcli.nn.packed`), and FFTs with the usual estimate (5·n·log2 n per complex
transform of length n, half that for real-input/real-output transforms), so an SSM's FFT
convolution is not free. Element-wise work (GELU, LayerNorm,
softmax, complex products of a recurrent state) is *not* counted: for models dominated by it
the achieved GFLOP/s understates how busy the CPU is.

``cpu_gflops`` times a large fp32 matmul (4096×1024 · 1024×1024 by default) in the same
process, so "utilisation = counted FLOPs per second / matmul rate" compares figures taken
under the same load.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import torch

aten = torch.ops.aten


def _numel(shape) -> int:
    return int(math.prod(shape)) if shape is not None else 0


def _dims(dim: Any) -> list[int]:
    return list(dim) if isinstance(dim, (list, tuple)) else [int(dim)]


def _fft_cost(shape, dims: list[int], per_point: float) -> int:
    """per_point · n·log2(n) per transform of length n along each dim in ``dims``."""
    if not shape:
        return 0
    total = 0.0
    for d in dims:
        n = int(shape[d])
        if n > 1:
            total += per_point * _numel(shape) * math.log2(n)  # (numel / n) transforms × n log2 n
    return int(total)


def _fft_r2c(self_shape, dim, *args, out_shape=None, **kwargs) -> int:
    return _fft_cost(self_shape, _dims(dim), 2.5)


def _fft_c2r(self_shape, dim, *args, out_shape=None, **kwargs) -> int:
    return _fft_cost(out_shape, _dims(dim), 2.5)


def _fft_c2c(self_shape, dim, *args, out_shape=None, **kwargs) -> int:
    return _fft_cost(self_shape, _dims(dim), 5.0)


FFT_FORMULAS = {
    aten._fft_r2c: _fft_r2c,
    aten._fft_c2r: _fft_c2r,
    aten._fft_c2c: _fft_c2c,
}


def _packed_linear(x_shape, *args, out_shape=None, **kwargs) -> int:
    """oneDNN linear on pre-packed weights (hmcli.nn.packed): x (..., in), w (out, in).
    Overloads: default (x, w, bias, attr, scalars, algorithm), binary (x, other, w, bias, attr)."""
    w_shape = args[1] if len(args) == 4 else args[0]
    return 2 * _numel(x_shape[:-1]) * int(w_shape[0]) * int(w_shape[1])


def _packed_formulas() -> dict:
    op = getattr(torch.ops.mkldnn, "_linear_pointwise", None)
    return {} if op is None else {op: _packed_linear}


def flop_counter():
    """A ``FlopCounterMode`` (no printed table) that also counts FFTs and pre-packed linears."""
    from torch.utils.flop_counter import FlopCounterMode

    return FlopCounterMode(display=False, custom_mapping={**FFT_FORMULAS, **_packed_formulas()})


def count_flops(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Run ``fn()`` under a FLOP counter; returns (total FLOPs, fn's result)."""
    counter = flop_counter()
    with counter:
        result = fn()
    return int(counter.get_total_flops()), result


def flops_per_frame(fn: Callable[[], Any], frames: int) -> float:
    """FLOPs of ``fn()`` divided by the number of output frames it produces."""
    total, _ = count_flops(fn)
    return total / max(1, frames)


def cpu_gflops(m: int = 4096, k: int = 1024, n: int = 1024, repeats: int = 5) -> float:
    """Median fp32 GFLOP/s of an (m×k)·(k×n) matmul on this machine, now."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    out = torch.empty(m, n)
    torch.mm(a, b, out=out)  # warm-up
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        times.append(time.perf_counter() - t0)
    times.sort()
    return 2.0 * m * k * n / times[len(times) // 2] / 1e9


def utilisation(flops_per_frame_: float | None, frames_per_s: float | None, peak_gflops: float | None) -> float | None:
    """Achieved counted GFLOP/s as a fraction of the measured matmul rate."""
    if not flops_per_frame_ or not frames_per_s or not peak_gflops:
        return None
    return flops_per_frame_ * frames_per_s / 1e9 / peak_gflops
