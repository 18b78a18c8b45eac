"""``hm bench throughput``: offline frames/s over one long 2D sequence, with FLOPs per output
frame and this CPU's matmul GFLOP/s measured in the same run (timing:
:mod:`hmcli.bench.interleave`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn as nn

from hmcli.bench.common import machine, ratio
from hmcli.bench.flops import cpu_gflops, utilisation
from hmcli.bench.interleave import Progress, Unit, run_interleaved
from hmcli.bench.presets import build_preset, fixed_window, max_window, params_m


@dataclass
class ThroughputRow:
    model: str
    arch: str
    params_m: float
    unit: str  # what one timed call processes
    unit_frames: int  # output frames per timed call
    sequence_frames: int
    unit_ms: float | None = None
    n_timed: int = 0
    frames_per_s: float | None = None
    sequence_s: float | None = None  # time for the whole sequence (extrapolated from units)
    realtime_x: float | None = None  # frames/s divided by the sequence's fps
    flops_per_frame: float | None = None
    gflops: float | None = None  # counted GFLOP/s achieved
    utilisation: float | None = None  # gflops / measured matmul GFLOP/s
    hummuss_x: float | None = None  # HumMUSS frames/s divided by this model's
    first_call_s: float | None = None  # the probe call (cold: HumMUSS computes its Δ kernels)
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _chunk_fn(model: nn.Module, seq: torch.Tensor, length: int) -> Callable[[], torch.Tensor]:
    """A timed unit: the next ``length``-frame non-overlapping chunk of ``seq`` (1, n, J, C)."""
    state = {"k": 0}
    count = max(1, seq.shape[1] // length)

    def fn() -> torch.Tensor:
        k = state["k"] % count
        state["k"] += 1
        with torch.inference_mode():
            return model(seq[:, k * length : (k + 1) * length])

    return fn


def throughput_compare(
    models: list[str],
    minutes: float = 2.0,
    fps: float = 30.0,
    repeats: int = 3,
    budget_s: float = 20.0,
    window_batch: int = 32,
    seed: int = 0,
    overrides: dict[str, dict] | None = None,
    on_progress: Progress = None,
) -> dict:
    """Offline frames/s over one long random 2D sequence of ``minutes`` at ``fps``.

    Models without a maximum length (HumMUSS) process the whole sequence in one forward, and
    also (a second row) in the same non-overlapping chunks as the seq2seq transformers, when
    any are compared: same work per frame, but short passes that stay in cache.
    DSTformer / MixSTE process it in consecutive non-overlapping ``maxlen``-frame chunks; one
    chunk is the timed unit (all chunks cost the same, so the sequence time is chunks × unit).
    P-STMO needs one ``frames``-long window per output frame: the unit is a batch of
    ``window_batch`` windows. The probe (first) call is untimed; it counts FLOPs."""
    n = max(1, int(round(minutes * 60 * fps)))
    torch.manual_seed(seed)
    seq = torch.randn(1, n, 17, 3)
    peak_before = cpu_gflops()
    rows: list[ThroughputRow] = []
    units: list[tuple[ThroughputRow, Unit]] = []
    ref = None
    built = [(m, *build_preset(m, overrides, seed)) for m in models]
    seq2seq = [max_window(model) for _, _, model in built if fixed_window(model) is None and max_window(model) is not None]
    chunk_len = min(max(seq2seq), n) if seq2seq else None  # the transformers' chunks, for HumMUSS's second row
    for m, arch, model in built:
        model.eval()
        if model.cfg.num_joints != seq.shape[2]:
            seq_m = torch.randn(1, n, model.cfg.num_joints, 3)
        else:
            seq_m = seq
        pm = params_m(model)
        fixed, maxlen = fixed_window(model), max_window(model)
        if fixed is not None:
            w = min(window_batch, n)
            out = model.cfg.output_frame
            state = {"k": 0}
            offs = torch.arange(fixed)

            def fn(model=model, seq_m=seq_m, w=w, out=out, state=state, offs=offs, fixed=fixed):
                start = (state["k"] * w) % n
                state["k"] += 1
                t = torch.arange(start, start + w) % n  # (W,) output frames
                idx = (t[:, None] - out + offs).clamp(0, n - 1)  # (W, frames)
                with torch.inference_mode():
                    return model(seq_m[0][idx])  # (W, 1, J, 3)

            row = ThroughputRow(m, arch, pm, f"{w} windows of {fixed} frames", w, n,
                                note="one window per output frame (edges padded)")
        elif maxlen is not None:
            length = min(maxlen, n)
            chunks = math.ceil(n / length)
            fn = _chunk_fn(model, seq_m, length)
            row = ThroughputRow(m, arch, pm, f"{length}-frame chunk", length, n,
                                note=f"{chunks} non-overlapping chunks of max window {maxlen}")
        else:
            if chunk_len is not None and chunk_len < n:
                units.append((ThroughputRow(m, arch, pm, f"{chunk_len}-frame chunk", chunk_len, n,
                                            note=f"{math.ceil(n / chunk_len)} non-overlapping chunks, as the transformers"),
                              Unit(f"{m} offline chunks", _chunk_fn(model, seq_m, chunk_len))))  # fmt: skip

            def fn(model=model, seq_m=seq_m):
                with torch.inference_mode():
                    return model(seq_m)

            row = ThroughputRow(m, arch, pm, "whole sequence", n, n)
            if ref is None and arch == "hummuss":
                ref = m
        units.append((row, Unit(f"{m} offline", fn)))
    run_interleaved([u for _, u in units], repeats, budget_s, True, on_progress)
    peak_after = cpu_gflops()
    peak = (peak_before + peak_after) / 2
    for row, u in units:
        row.unit_ms, row.n_timed, row.first_call_s = u.median_ms, len(u.times), u.probe_s
        if row.unit_ms:
            row.frames_per_s = row.unit_frames / (row.unit_ms / 1e3)
            row.sequence_s = n / row.frames_per_s
            row.realtime_x = row.frames_per_s / fps
        if u.flops is not None:
            row.flops_per_frame = u.flops / row.unit_frames
            if row.frames_per_s:
                row.gflops = row.flops_per_frame * row.frames_per_s / 1e9
                row.utilisation = utilisation(row.flops_per_frame, row.frames_per_s, peak)
        row.note = "; ".join(x for x in (row.note, u.timing_note()) if x)
        rows.append(row)
    if ref is not None:
        h = next(r for r in rows if r.model == ref and r.unit == "whole sequence")
        for r in rows:
            if r.model != ref:
                r.hummuss_x = ratio(h.frames_per_s, r.frames_per_s)
    return {
        "benchmark": "throughput",
        "machine": machine(),
        "settings": {"models": models, "minutes": minutes, "fps": fps, "frames": n, "repeats": repeats,
                     "budget_s": budget_s, "window_batch": window_batch, "seed": seed, "reference": ref},
        "cpu_gflops": {"before": peak_before, "after": peak_after, "mean": peak},
        "rows": [r.to_dict() for r in rows],
        "speedups": {f"{ref} vs {r.model}": r.hummuss_x for r in rows if r.hummuss_x is not None},
        "notes": [
            "Offline (bidirectional) lifting of one random 2D sequence, B=1. Units interleaved round-robin; medians.",
            "FLOPs: torch.utils.flop_counter (matmul/conv/attention) plus FFT estimates; element-wise work not "
            "counted. utilisation = counted GFLOP/s / large-matmul GFLOP/s measured in this run.",
            "first_call_s: the untimed first call (HumMUSS computes and caches its Δ kernels for the length).",
        ],
    }
