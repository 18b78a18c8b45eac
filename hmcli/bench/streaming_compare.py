"""``hm bench streaming``: per-frame latency of causal models at given contexts and batch sizes.

HumMUSS: one recurrent ``Streamer.step``. DSTformer / MixSTE: recompute the whole window for
every new frame (``WindowRecomputeStreamer``). DSTformer also with per-layer key/value caches
(``DSTformerKVStreamer``). P-STMO: one full window per output frame. The two incremental
streamers (HumMUSS step, KV cache) run with oneDNN pre-packed linears (:mod:`hmcli.nn.packed`)
and again with PyTorch's plain linears; each baseline is compared with the HumMUSS step that
uses the same kind of linears (the recompute baselines run the published models' plain
forward, so with the plain step). Timing: :mod:`hmcli.bench.interleave`.

Long contexts
-------------
HumMUSS streams for real: one B=1 stream is advanced through ``context - 1`` frames (the
same stream serves every context, snapshots taken on the way), and for B > 1 its state is
replicated along the batch (B identical histories; a step's cost does not depend on the
values). KV caches are filled the same way. Transformers have learned temporal positional
embeddings for ``maxlen`` (243) frames only: for a context beyond that their rows are
``n/a: max window 243`` (no number is made up, and no sliding-window substitute is
reported as if it saw the longer context).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch
import torch.nn as nn

from hmcli.bench.common import machine, ratio, target_check, tensor_bytes
from hmcli.bench.interleave import Progress, Unit, run_interleaved
from hmcli.bench.presets import build_preset, check_causal, fixed_window, input_channels, max_window, params_m


@dataclass
class StreamRow:
    model: str
    arch: str
    method: str
    params_m: float
    batch: int
    context: int
    step_ms: float | None = None  # median per-frame latency; None: n/a (see note)
    n_timed: int = 0
    state_bytes: int | None = None  # carried between frames: SSM state / KV cache / input window
    peak_alloc_bytes: int | None = None  # peak allocated during one step (profiler)
    flops: int | None = None  # counted FLOPs of one step (matmul/attention/conv/FFT)
    vs_hummuss: float | None = None  # step_ms / HumMUSS step_ms at the same batch and context (>1: HumMUSS faster)
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


METHOD_RECURRENT = "recurrent step"
METHOD_RECOMPUTE = "recompute window"
METHOD_KV = "KV cache"
METHOD_WINDOW = "window per frame"
#: The same two streamers with PyTorch's plain linears instead of pre-packed ones
#: (hmcli.nn.packed): the like-for-like reference for the recompute baselines, which run the
#: published models' plain forward.
PLAIN = " (plain linears)"
METHOD_RECURRENT_PLAIN = METHOD_RECURRENT + PLAIN
METHOD_KV_PLAIN = METHOD_KV + PLAIN


def _hummuss_method_for(method: str) -> str:
    """The HumMUSS streaming method a baseline method is compared with: same linears."""
    return METHOD_RECURRENT if method == METHOD_KV else METHOD_RECURRENT_PLAIN


def _hummuss_snapshots(model, contexts: list[int], on_progress: Progress, label: str) -> dict[int, tuple]:
    """Advance one B=1 stream through max(contexts)-1 frames; snapshot (states, frames) at
    ``c - 1`` frames for every context c."""
    from hmcli.nn.hummuss import Streamer

    cfg = model.cfg
    src = torch.randn(64, 1, cfg.num_joints, cfg.in_dim)
    s = Streamer(model)
    snaps = {}
    for c in sorted(set(contexts)):
        while s.frames < c - 1:
            s.step(src[s.frames % 64])
            if on_progress and s.frames % 50 == 0:
                on_progress(f"{label}: streamed {s.frames}/{max(contexts) - 1} frames")
        snaps[c] = s.snapshot()
    return snaps


def _hummuss_streamer(model, snap: tuple, batch: int, packed: bool = True):
    from hmcli.nn.hummuss import Streamer

    s = Streamer(model, packed=packed)
    s.restore(snap, batch=batch)
    return s


def _kv_snapshot(model, context: int, on_progress: Progress, label: str):
    from hmcli.nn.baselines import DSTformerKVStreamer

    cfg = model.cfg
    kv = DSTformerKVStreamer(model, max_context=context)
    src = torch.randn(64, 1, cfg.num_joints, cfg.in_dim)
    for t in range(context - 1):
        kv.step(src[t % 64])
        if on_progress and (t + 1) % 50 == 0:
            on_progress(f"{label}: filled {t + 1}/{context - 1} frames")
    return kv


def _kv_streamer(model, base, batch: int, packed: bool = True):
    from hmcli.nn.baselines import DSTformerKVStreamer

    kv = DSTformerKVStreamer(model, max_context=base.max_context, packed=packed)
    kv.cache = [
        tuple(None if p is None else p.repeat(batch) for p in pair)
        for pair in base.cache
    ]
    kv.t = base.t
    return kv


def _recompute_streamer(model, window: int, history: int, batch: int):
    from hmcli.nn.baselines import WindowRecomputeStreamer

    s = WindowRecomputeStreamer(model, window)
    j = model.cfg.num_joints
    s.frames = list(torch.randn(history, batch, j, input_channels(model)).unbind(0)) if history > 0 else []
    return s


#: Streaming units faster than this per frame are timed in bursts of consecutive frames.
STREAM_BURST, STREAM_BURST_BELOW_S = 8, 0.1


def streaming_compare(
    models: list[str],
    batches: list[int],
    contexts: list[int],
    repeats: int = 20,
    budget_s: float = 10.0,
    probe: bool = True,
    seed: int = 0,
    overrides: dict[str, dict] | None = None,
    on_progress: Progress = None,
) -> dict:
    """Per-frame latency of causal models, interleaved per batch size. See module docstring."""
    check_causal(models, overrides)
    built: list[tuple[str, str, nn.Module]] = []
    for m in models:
        arch, model = build_preset(m, overrides, seed)
        built.append((m, arch, model.eval()))
    ref = next((m for m, a, _ in built if a == "hummuss"), None)
    # Histories at B=1, computed once and shared by every batch size.
    snaps: dict[str, Any] = {}
    for m, arch, model in built:
        if arch == "hummuss":
            snaps[m] = _hummuss_snapshots(model, contexts, on_progress, m)
        elif arch == "dstformer":
            snaps[m] = {c: _kv_snapshot(model, c, on_progress, f"{m} KV") for c in contexts if c <= model.cfg.maxlen}
    rows: list[StreamRow] = []
    for b in batches:
        units: list[tuple[StreamRow, Unit, Any]] = []

        def add(row: StreamRow, fn: Callable | None, holder: Any = None) -> None:
            if fn is None:
                rows.append(row)
            else:
                key = f"{row.model} {row.method} B={b} @{row.context}"
                units.append((row, Unit(key, fn, memory=probe), holder))

        for m, arch, model in built:
            pm = params_m(model)
            j = model.cfg.num_joints
            frame = torch.randn(b, j, input_channels(model))
            for c in contexts:
                base = dict(model=m, arch=arch, params_m=pm, batch=b, context=c)
                if arch == "hummuss":
                    note = f"state advanced through {c - 1} real frames at B=1, replicated to B={b}" if b > 1 and c > 1 else ""
                    for meth, packed in ((METHOD_RECURRENT, True), (METHOD_RECURRENT_PLAIN, False)):
                        s = _hummuss_streamer(model, snaps[m][c], b, packed)
                        add(StreamRow(method=meth, note=note, **base), lambda s=s: s.step(frame), s)
                    continue
                fixed = fixed_window(model)
                if fixed is not None:  # P-STMO: always one full window per output frame
                    if c > fixed:
                        add(StreamRow(method=METHOD_WINDOW, note=f"n/a: max window {fixed}", **base), None)
                    else:
                        s = _recompute_streamer(model, fixed, c - 1, b)
                        note = "" if c == fixed else f"window is always {fixed} frames (history padded)"
                        add(StreamRow(method=METHOD_WINDOW, note=note, **base), lambda s=s: s.step(frame), s)
                    continue
                maxlen = max_window(model)
                if maxlen is not None and c > maxlen:
                    add(StreamRow(method=METHOD_RECOMPUTE, note=f"n/a: max window {maxlen}", **base), None)
                else:
                    s = _recompute_streamer(model, c, c - 1, b)
                    add(StreamRow(method=METHOD_RECOMPUTE, **base), lambda s=s: s.step(frame), s)
                if arch == "dstformer":
                    for meth, packed in ((METHOD_KV, True), (METHOD_KV_PLAIN, False)):
                        if c > maxlen:
                            add(StreamRow(method=meth, note=f"n/a: max window {maxlen} (cache limited to maxlen)", **base), None)
                        else:
                            kv = _kv_streamer(model, snaps[m][c], b, packed)
                            note = f"cache filled through {c - 1} real frames at B=1, replicated to B={b}" if b > 1 and c > 1 else ""
                            add(StreamRow(method=meth, note=note, **base), lambda kv=kv: kv.step(frame), kv)
        run_interleaved([u for _, u, _ in units], repeats, budget_s, probe, on_progress,
                        burst=STREAM_BURST, burst_below_s=STREAM_BURST_BELOW_S)
        for row, u, holder in units:
            row.step_ms, row.n_timed = u.median_ms, len(u.times) * u.burst
            row.flops, row.peak_alloc_bytes = u.flops, u.peak_bytes
            if row.method in (METHOD_RECURRENT, METHOD_RECURRENT_PLAIN):
                row.state_bytes = holder.state_bytes()
            elif row.method in (METHOD_KV, METHOD_KV_PLAIN):
                row.state_bytes = tensor_bytes(holder.cache)
            else:
                row.state_bytes = tensor_bytes(holder.frames)
            tn = u.timing_note()
            row.note = "; ".join(x for x in (row.note, tn) if x)
            rows.append(row)
        del units
    order = {(m, meth): i for i, (m, meth) in enumerate((r.model, r.method) for r in rows)}
    rows.sort(key=lambda r: (r.batch, order[(r.model, r.method)], r.context))
    # ratios against the reference HumMUSS, with the same kind of linears
    by = {(r.model, r.method, r.batch, r.context): r for r in rows}
    speedups: dict[str, float] = {}
    ratios: dict[str, float] = {}
    if ref is not None:
        for r in rows:
            h = by.get((ref, _hummuss_method_for(r.method), r.batch, r.context))
            if h is None or r.model == ref:
                continue
            r.vs_hummuss = ratio(r.step_ms, h.step_ms)
            if r.vs_hummuss is not None:
                speedups[f"{ref} vs {r.model} {r.method} B={r.batch} @{r.context}"] = r.vs_hummuss
        for b in batches:  # what pre-packing is worth, per streamer
            for m, meth, plain in ((ref, METHOD_RECURRENT, METHOD_RECURRENT_PLAIN),) + tuple(
                    (m, METHOD_KV, METHOD_KV_PLAIN) for m, a, _ in built if a == "dstformer"):  # fmt: skip
                for c in contexts:
                    fast, slow = by.get((m, meth, b, c)), by.get((m, plain, b, c))
                    if fast and slow and fast.step_ms and slow.step_ms:
                        ratios[f"{m} {meth} B={b} @{c}: plain / packed linears"] = slow.step_ms / fast.step_ms
    c0 = contexts[0]  # ratios: HumMUSS step at each context / at the first context
    for m, arch, _ in built:
        if arch != "hummuss":
            continue
        for b in batches:
            base = by.get((m, METHOD_RECURRENT, b, c0))
            for c in contexts:
                r = by.get((m, METHOD_RECURRENT, b, c))
                if c != c0 and base and r and base.step_ms:
                    ratios[f"{m} B={b}: step@{r.context} / step@{c0}"] = r.step_ms / base.step_ms
    targets = []
    if ref is not None:
        for b in batches:
            h243, h2430 = by.get((ref, METHOD_RECURRENT, b, 243)), by.get((ref, METHOD_RECURRENT, b, 2430))
            for m, arch, _ in built:
                if arch != "dstformer" or "lite" not in m:
                    continue
                for meth, need in ((METHOD_RECOMPUTE, 50.0), (METHOD_KV, 2.0), (METHOD_KV_PLAIN, 2.0)):
                    r = by.get((m, meth, b, 243))
                    if r is not None and r.vs_hummuss is not None:
                        hm = _hummuss_method_for(meth)
                        targets.append(target_check(f"B={b}: {ref} {hm} vs {m} {meth} @243", r.vs_hummuss, need, ">="))
            if h243 and h2430 and h243.step_ms and h2430.step_ms:
                targets.append(target_check(f"B={b}: {ref} step@2430 / step@243", h2430.step_ms / h243.step_ms, 1.1, "<="))
    return {
        "benchmark": "streaming",
        "machine": machine(),
        "settings": {"models": models, "batches": batches, "contexts": contexts, "repeats": repeats,
                     "budget_s": budget_s, "probe": probe, "seed": seed, "reference": ref},
        "rows": [r.to_dict() for r in rows],
        "ratios": ratios,
        "speedups": speedups,
        "targets": targets,
        "notes": [
            "Timings interleaved round-robin per batch size; medians. Methods under 100 ms per frame are timed in bursts of 8 consecutive frames per sample (a stream's state stays warm between its own frames), slower ones one frame per sample. HumMUSS speed-up = the method's step time / HumMUSS step time.",
            "peak_alloc: peak bytes allocated during one step (torch.profiler CPU memory events); "
            "state: carried between frames (SSM state, KV cache, or the input window of a recompute streamer).",
            "Transformers have positional embeddings for their max window only: longer contexts are n/a.",
            "Machine load: other processes may share the CPU; compare ratios, not absolute times.",
        ],
    }
