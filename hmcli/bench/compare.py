"""Side-by-side benchmarks of HumMUSS and the transformer baselines (``hm bench``).

Three benchmarks, each returning a JSON-able dict (``benchmark``, ``machine``, ``rows``,
ratios, targets, notes):

* :func:`streaming_compare`: per-frame latency of causal models at given contexts and batch
  sizes. HumMUSS: one recurrent ``Streamer.step``. DSTformer / MixSTE: recompute the whole
  window for every new frame (``WindowRecomputeStreamer``). DSTformer also with per-layer
  key/value caches (``DSTformerKVStreamer``). P-STMO: one full window per output frame.
  The two incremental streamers (HumMUSS step, KV cache) run with oneDNN pre-packed
  linears (:mod:`hmcli.nn.packed`) and again with PyTorch's plain linears; each baseline
  is compared with the HumMUSS step that uses the same kind of linears (the recompute
  baselines run the published models' plain forward, so with the plain step).
* :func:`train_compare`: forward + backward time of one training step (no optimiser step)
  at several clip lengths.
* :func:`throughput_compare`: offline frames/s over one long 2D sequence, with FLOPs per
  output frame and this CPU's matmul GFLOP/s measured in the same run.

How timings are taken (:func:`run_interleaved`)
------------------------------------------------
Every compared method is a *unit* (a zero-argument callable doing one step / chunk). All
units of a comparison are run round-robin, A B C A B C ..., so that background load hits
every method alike and the ratios stay meaningful even on a busy machine; medians are
reported. Round 0 is an untimed *probe* (warm-up) that also counts FLOPs
(:mod:`hmcli.bench.flops`) and, when asked, measures memory. The first timed call of a unit
fixes how many it gets: ``min(repeats, budget_s / time)``, at least 1, and the row says when
the budget cut it (e.g. DSTformer-Lite recomputing 243 frames at B=32, ~50 s a step on a
quiet 2-core CPU: one untimed probe step, then ``n_timed`` = 1). The probe is never used as
a sample: first calls at a new shape carry one-time costs (kernel selection, allocation;
HumMUSS's first forward in a process can take tens of seconds), and the FLOP counter adds
Python overhead per operator.

Memory (``peak_alloc_bytes``)
-----------------------------
Peak of the bytes allocated and not yet freed *during* one probe call, from the PyTorch
profiler's CPU allocator events (``torch.profiler`` with ``profile_memory=True``: every
allocation and free is recorded with its size; the running sum's maximum is the peak).
Parameters, the input and memory that existed before the call are not included; the new
recurrent state / cache entries created by the step are. ``state_bytes`` is what a stream
carries between frames: HumMUSS's SSM states (``Streamer.state_bytes``), the DSTformer
key/value caches, or the window of raw input frames a recompute streamer keeps.

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

import contextlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch
import torch.nn as nn

from hmcli.bench.common import machine, machine_line
from hmcli.bench.flops import count_flops, cpu_gflops, utilisation
from hmcli.nn.registry import build, count_parameters, make_config

Progress = Callable[[str], None] | None


# ---------------------------------------------------------------------------------------
# interleaved timing, probes
# ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_fd2():
    """Silence C-level stderr (the profiler prints start/stop lines there)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def peak_alloc(fn: Callable[[], Any]) -> tuple[int, Any]:
    """(peak bytes allocated during ``fn()`` and not freed before that point, fn's result).

    Uses the profiler's ``[memory]`` events (size of every CPU allocation / free)."""
    from torch.profiler import ProfilerActivity, profile

    with tempfile.TemporaryDirectory() as d:
        with _quiet_fd2():
            with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
                result = fn()
            path = os.path.join(d, "trace.json")
            prof.export_chrome_trace(path)
        with open(path) as f:
            events = json.load(f).get("traceEvents", [])
    mem = [e for e in events if e.get("name") == "[memory]"]
    mem.sort(key=lambda e: (e.get("ts", 0), e.get("args", {}).get("Ev Idx", 0)))
    live = peak = 0
    for e in mem:
        live += int(e.get("args", {}).get("Bytes", 0))
        peak = max(peak, live)
    return peak, result


@dataclass
class Unit:
    """One method to time: ``fn()`` does one step / chunk."""

    key: str
    fn: Callable[[], Any]
    memory: bool = False  # measure peak allocation in the probe
    times: list[float] = field(default_factory=list)
    target: int = 0  # timed calls wanted (0: not decided yet)
    flops: int | None = None
    peak_bytes: int | None = None
    probe_s: float | None = None
    capped: bool = False  # fewer timed calls than ``repeats`` because of the time budget
    burst: int = 1  # consecutive calls per timed sample (the sample is their mean)

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.times) * 1e3 if self.times else None

    def timing_note(self) -> str:
        if self.capped:
            return f"{len(self.times)} timed step{'s' if len(self.times) > 1 else ''} (time budget)"
        return ""


def run_interleaved(units: list[Unit], repeats: int, budget_s: float, probe: bool = True, on_progress: Progress = None,
                    burst: int = 1, burst_below_s: float = 0.0) -> None:
    """Time ``units`` round-robin (see the module docstring); fills their fields in place.

    A unit whose first timed call takes less than ``burst_below_s`` is then timed in bursts
    of ``burst`` consecutive calls per sample (the sample is the burst's mean): a stream
    processes its frames one after the other, so its state or cache is warm from the
    previous frame, as in real use; switching to another method after every single frame
    would instead measure cache refills. Slow units keep one call per sample."""
    repeats = max(1, int(repeats))
    if probe:
        if any(u.memory for u in units):
            peak_alloc(lambda: torch.zeros(1))  # the profiler's one-time start-up cost, not a unit's
        for u in units:
            if on_progress:
                on_progress(f"probe {u.key}")
            t0 = time.perf_counter()
            if u.memory:
                flops, (peak, _) = count_flops(lambda u=u: peak_alloc(u.fn))
                u.peak_bytes = peak
            else:
                flops, _ = count_flops(u.fn)
            u.probe_s = time.perf_counter() - t0
            u.flops = flops
    rnd = 0
    while True:
        active = [u for u in units if u.target == 0 or len(u.times) < u.target]
        if not active:
            return
        rnd += 1
        for u in active:
            if on_progress:
                on_progress(f"round {rnd}: {u.key}")
            t0 = time.perf_counter()
            for _ in range(u.burst):
                u.fn()
            dt = (time.perf_counter() - t0) / u.burst
            u.times.append(dt)
            if u.target == 0:
                u.target = max(1, min(repeats, int(budget_s // dt) if dt > 0 else repeats))
                u.capped = u.target < repeats
                if dt < burst_below_s:
                    u.burst = max(1, int(burst))
                    u.times.clear()  # every kept sample is a burst
                    u.target = max(1, min(u.target, int(budget_s // (dt * u.burst))))


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def _build(preset: str, overrides: dict[str, dict] | None, seed: int, **extra: Any) -> tuple[str, nn.Module]:
    ov = {**(overrides or {}).get(preset, {}), **extra}
    arch, _ = make_config(preset, **ov)
    torch.manual_seed(seed)
    return arch, build(preset, **ov)


def _is_causal(preset: str, overrides: dict[str, dict] | None) -> bool:
    _, cfg = make_config(preset, **(overrides or {}).get(preset, {}))
    return bool(getattr(cfg, "causal", False))


def _maxlen(model: nn.Module) -> int | None:
    return getattr(model.cfg, "maxlen", None)


def _fixed_window(model: nn.Module) -> int | None:
    return model.cfg.frames if getattr(model, "fixed_window", False) else None


def _in_dim(model: nn.Module) -> int:
    """Input channels: (x, y, confidence), which every lifter accepts (2-channel models drop
    the confidence), or more where the model takes more (``in_dim=6``: location channels)."""
    return max(3, int(getattr(model.cfg, "in_dim", 3)))


def _tensor_bytes(obj: Any) -> int:
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(o) for o in obj)
    if hasattr(obj, "tensors"):  # KVCache
        return _tensor_bytes(obj.tensors())
    return 0


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b not in (None, 0) else None


def _params_m(model: nn.Module) -> float:
    return count_parameters(model) / 1e6


def check_causal(models: list[str], overrides: dict[str, dict] | None = None) -> None:
    for m in models:
        if not _is_causal(m, overrides):
            raise KeyError(f"'{m}' is not a causal model; streaming needs a causal preset")


# ---------------------------------------------------------------------------------------
# streaming
# ---------------------------------------------------------------------------------------


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
    s.frames = list(torch.randn(history, batch, j, _in_dim(model)).unbind(0)) if history > 0 else []
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
        arch, model = _build(m, overrides, seed)
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
            pm = _params_m(model)
            j = model.cfg.num_joints
            frame = torch.randn(b, j, _in_dim(model))
            for c in contexts:
                base = dict(model=m, arch=arch, params_m=pm, batch=b, context=c)
                if arch == "hummuss":
                    note = f"state advanced through {c - 1} real frames at B=1, replicated to B={b}" if b > 1 and c > 1 else ""
                    for meth, packed in ((METHOD_RECURRENT, True), (METHOD_RECURRENT_PLAIN, False)):
                        s = _hummuss_streamer(model, snaps[m][c], b, packed)
                        add(StreamRow(method=meth, note=note, **base), lambda s=s: s.step(frame), s)
                    continue
                fixed = _fixed_window(model)
                if fixed is not None:  # P-STMO: always one full window per output frame
                    if c > fixed:
                        add(StreamRow(method=METHOD_WINDOW, note=f"n/a: max window {fixed}", **base), None)
                    else:
                        s = _recompute_streamer(model, fixed, c - 1, b)
                        note = "" if c == fixed else f"window is always {fixed} frames (history padded)"
                        add(StreamRow(method=METHOD_WINDOW, note=note, **base), lambda s=s: s.step(frame), s)
                    continue
                maxlen = _maxlen(model)
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
                row.state_bytes = _tensor_bytes(holder.cache)
            else:
                row.state_bytes = _tensor_bytes(holder.frames)
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
            r.vs_hummuss = _ratio(r.step_ms, h.step_ms)
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
                        targets.append(_target(f"B={b}: {ref} {hm} vs {m} {meth} @243", r.vs_hummuss, need, ">="))
            if h243 and h2430 and h243.step_ms and h2430.step_ms:
                targets.append(_target(f"B={b}: {ref} step@2430 / step@243", h2430.step_ms / h243.step_ms, 1.1, "<="))
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


def _target(name: str, value: float, need: float, op: str) -> dict:
    ok = value >= need if op == ">=" else value <= need
    return {"target": name, "value": value, "need": f"{op} {need:g}", "ok": bool(ok)}


# ---------------------------------------------------------------------------------------
# training step
# ---------------------------------------------------------------------------------------


@dataclass
class TrainRow:
    model: str
    arch: str
    params_m: float
    frames: int
    batch: int
    precision: str = "fp32"  # fp32, or bf16: forward under bfloat16 autocast, as hm train precision=bf16
    step_ms: float | None = None  # median forward + backward
    n_timed: int = 0
    flops: int | None = None  # counted FLOPs of forward + backward
    vs_hummuss: float | None = None  # step_ms / HumMUSS step_ms at the same F (>1: HumMUSS faster)
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _train_step_fn(model: nn.Module, batch: int, frames: int, amp: torch.autocast) -> Callable[[], Any]:
    """One forward + backward, the forward under ``amp`` (a training precision's autocast)."""
    j = model.cfg.num_joints
    x = torch.randn(batch, frames, j, _in_dim(model))
    y = torch.randn(batch, frames, j, 3)
    multi = hasattr(model, "forward_multi")

    def step() -> None:
        if multi:  # P-STMO: single-frame + multi-frame (TEM) losses, lambda = 1
            with amp:
                one, many = model.forward_multi(x)
            k = model.cfg.output_frame
            loss = (one[:, 0].float() - y[:, k]).norm(dim=-1).mean() + (many.float() - y).norm(dim=-1).mean()
        else:
            with amp:
                pred = model(x)  # (B, F, J, 3)
            loss = (pred.float() - y).norm(dim=-1).mean()
        model.zero_grad(set_to_none=True)
        loss.backward()

    return step


def train_compare(
    models: list[str],
    frames: list[int],
    batch: int = 1,
    repeats: int = 3,
    budget_s: float = 20.0,
    probe: bool = True,
    seed: int = 0,
    overrides: dict[str, dict] | None = None,
    on_progress: Progress = None,
    precisions: tuple[str, ...] = ("fp32",),
) -> dict:
    """Forward + backward step time per model, clip length and training precision, all interleaved."""
    from hmcli.train.config import autocast_for

    amps = {prec: autocast_for(prec, torch.device("cpu")) for prec in precisions}  # checks each name
    fmax = max(frames)
    rows: list[TrainRow] = []
    units: list[tuple[TrainRow, Unit]] = []
    ref = None
    for m in models:
        arch, _ = make_config(m, **(overrides or {}).get(m, {}))
        _, cfg0 = make_config(m, **(overrides or {}).get(m, {}))
        extra, ext_note = {}, ""
        maxlen0 = getattr(cfg0, "maxlen", None)
        fixed = cfg0.frames if arch == "pstmo" else None
        if maxlen0 is not None and fixed is None and fmax > maxlen0:
            extra = {"maxlen": fmax}
        arch, model = _build(m, overrides, seed, **extra)
        model.train()
        if extra:
            added = (fmax - maxlen0) * model.cfg.dim / 1e6
            ext_note = f"maxlen (temporal positional table) extended {maxlen0}->{fmax} (+{added:.2f} M params)"
        if arch == "hummuss" and ref is None:
            ref = m
        pm = _params_m(model)
        b = batch
        if fixed is not None and batch < 2:
            b = 2  # P-STMO's BatchNorm heads need more than one sample per batch in training
        for prec in precisions:
            for f in frames:
                row = TrainRow(m, arch, pm, f, b, prec)
                if fixed is not None and f != fixed:
                    row.note = f"n/a: fixed window {fixed}"
                    rows.append(row)
                    continue
                if extra and f > maxlen0:
                    row.note = ext_note
                if b != batch:
                    row.note = f"B={b}: BatchNorm needs >1 sample in training"
                units.append((row, Unit(f"{m} train F={f} {prec}", _train_step_fn(model, b, f, amps[prec]))))
    run_interleaved([u for _, u in units], repeats, budget_s, probe, on_progress)
    for row, u in units:
        row.step_ms, row.n_timed, row.flops = u.median_ms, len(u.times), u.flops
        row.note = "; ".join(x for x in (row.note, u.timing_note()) if x)
        rows.append(row)
    rows.sort(key=lambda r: (models.index(r.model), precisions.index(r.precision), r.frames))
    speedups, targets = {}, []
    tag = {p: "" if p == "fp32" else f" {p}" for p in precisions}  # fp32 keys as before precisions existed
    if ref is not None:
        href = {(r.precision, r.frames): r for r in rows if r.model == ref}
        for r in rows:
            h = href.get((r.precision, r.frames))
            if r.model != ref and h is not None:
                r.vs_hummuss = _ratio(r.step_ms, h.step_ms)
                if r.vs_hummuss is not None:
                    speedups[f"{ref} vs {r.model} F={r.frames}{tag[r.precision]}"] = r.vs_hummuss
                    if "dstformer-lite" in r.model and r.frames in (243, 1024):
                        need = 1.5 if r.frames == 243 else 4.0
                        targets.append(_target(f"{ref} training step vs {r.model} F={r.frames}{tag[r.precision]}",
                                               r.vs_hummuss, need, ">="))
    base = {(r.model, r.frames): r for r in rows if r.precision == "fp32"}
    for r in rows:  # what the lower precision gains per model: fp32 step time / its step time
        b32 = base.get((r.model, r.frames))
        if r.precision != "fp32" and b32 is not None and r.step_ms is not None and b32.step_ms is not None:
            speedups[f"{r.model} F={r.frames}: {r.precision} vs fp32"] = b32.step_ms / r.step_ms
    return {
        "benchmark": "train",
        "machine": machine(),
        "settings": {"models": models, "frames": frames, "batch": batch, "repeats": repeats, "budget_s": budget_s,
                     "probe": probe, "seed": seed, "reference": ref, "precisions": list(precisions)},
        "rows": [r.to_dict() for r in rows],
        "speedups": speedups,
        "targets": targets,
        "notes": [
            "Forward + backward of one step (random input and target, mean joint-distance loss; no optimiser step), "
            "interleaved round-robin over every (model, F); medians. HumMUSS speed-up = the model's step time / HumMUSS step time.",
            "P-STMO: single-frame + multi-frame loss (lambda 1), only at its fixed window.",
            "bf16: the forward pass under bfloat16 autocast (HumMUSS's SSMs stay float32), as hm train precision=bf16; "
            "its speed depends on the CPU having bf16 matrix instructions (AMX, AVX512-BF16).",
        ],
    }


# ---------------------------------------------------------------------------------------
# offline throughput
# ---------------------------------------------------------------------------------------


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
    built = [(m, *_build(m, overrides, seed)) for m in models]
    seq2seq = [_maxlen(model) for _, _, model in built if _fixed_window(model) is None and _maxlen(model) is not None]
    chunk_len = min(max(seq2seq), n) if seq2seq else None  # the transformers' chunks, for HumMUSS's second row
    for m, arch, model in built:
        model.eval()
        if model.cfg.num_joints != seq.shape[2]:
            seq_m = torch.randn(1, n, model.cfg.num_joints, 3)
        else:
            seq_m = seq
        pm = _params_m(model)
        fixed, maxlen = _fixed_window(model), _maxlen(model)
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
                r.hummuss_x = _ratio(h.frames_per_s, r.frames_per_s)
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


# ---------------------------------------------------------------------------------------
# tables, markdown, files
# ---------------------------------------------------------------------------------------


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, s in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= s:
            return f"{n / s:.2f} {unit}"
    return f"{int(n)} B"


def _f(v: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "-" if v is None else f"{v:{spec}}{suffix}"


def _flops(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v / 1e9:.3g} G" if v >= 1e8 else f"{v / 1e6:.3g} M"


def table(result: dict) -> tuple[str, list[str], list[list[str]]]:
    """(title, columns, rows of strings) for any benchmark result."""
    kind = result["benchmark"]
    if kind == "accuracy":
        from hmcli.bench.accuracy import accuracy_table

        return accuracy_table(result)
    if kind == "mesh":
        from hmcli.bench.mesh import mesh_table

        return mesh_table(result)
    if kind == "action":
        from hmcli.bench.action import action_table

        return action_table(result)
    if kind == "mesh-quality":
        from hmcli.bench.mesh_quality import mesh_quality_table

        return mesh_quality_table(result)
    rows = result["rows"]
    if kind == "streaming":
        cols = ["model", "method", "params", "B", "context", "step ms", "HumMUSS speed-up", "n", "state", "peak alloc", "FLOPs/step", "note"]
        out = [[r["model"], r["method"], f"{r['params_m']:.2f} M", str(r["batch"]), str(r["context"]),
                _f(r["step_ms"]) if r["step_ms"] is not None else "n/a",
                _f(r["vs_hummuss"], ".1f", "×"), str(r["n_timed"]), fmt_bytes(r["state_bytes"]),
                fmt_bytes(r["peak_alloc_bytes"]), _flops(r["flops"]), r["note"]] for r in rows]
        return "Streaming: per-frame latency (median, interleaved)", cols, out
    if kind == "train":
        cols = ["model", "params", "B", "F", "precision", "fwd+bwd ms", "HumMUSS speed-up", "n", "FLOPs", "note"]
        out = [[r["model"], f"{r['params_m']:.2f} M", str(r["batch"]), str(r["frames"]), r.get("precision", "fp32"),
                _f(r["step_ms"], ".1f") if r["step_ms"] is not None else "n/a",
                _f(r["vs_hummuss"], ".2f", "×"), str(r["n_timed"]), _flops(r["flops"]), r["note"]] for r in rows]
        return "Training step: forward + backward (median, interleaved)", cols, out
    if kind == "throughput":
        cols = ["model", "params", "unit", "unit ms", "frames/s", "× real time", "sequence s", "FLOPs/frame",
                "GFLOP/s", "util.", "HumMUSS speed-up", "note"]
        out = [[r["model"], f"{r['params_m']:.2f} M", r["unit"], _f(r["unit_ms"], ".1f"), _f(r["frames_per_s"], ".1f"),
                _f(r["realtime_x"], ".1f"), _f(r["sequence_s"], ".1f"), _flops(r["flops_per_frame"]), _f(r["gflops"], ".1f"),
                _f(None if r["utilisation"] is None else 100 * r["utilisation"], ".0f", "%"), _f(r["hummuss_x"], ".1f", "×"),
                r["note"]] for r in rows]
        g = result.get("cpu_gflops", {}).get("mean")
        return f"Offline throughput, {result['settings']['frames']} frames (CPU matmul {_f(g, '.0f')} GFLOP/s)", cols, out
    raise ValueError(f"unknown benchmark kind {kind!r}")


def to_markdown(result: dict) -> str:
    title, cols, rows = table(result)
    lines = [f"## {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in r) + " |")
    lines.append("")
    for key in ("ratios", "speedups"):
        if result.get(key):
            lines += [f"**{key}**", ""] + [f"- {k}: {v:.3g}" for k, v in result[key].items()] + [""]
    for m, ms in (result.get("offline_causal_243_ms") or {}).items():
        lines.append(f"- offline causal forward, 243 frames, B=1: {m}: {ms:.1f} ms ({ms / 243:.2f} ms/frame)")
    if result.get("offline_causal_243_ms"):
        lines.append("")
    if result.get("targets"):
        lines += ["**targets**", ""]
        lines += [f"- {'PASS' if t['ok'] else 'FAIL'}: {t['target']} = {t['value']:.3g} (need {t['need']})" for t in result["targets"]]
        lines.append("")
    for n in result.get("notes", []):
        lines.append(f"> {n}")
    if result.get("command"):
        lines += ["", f"Command: `{result['command']}`"]
    m = result.get("machine", {})
    lines += ["", f"_machine: {machine_line(m)}_", ""]
    return "\n".join(lines)


def print_result(result: dict, console=None) -> None:
    """Rich table on stdout plus ratios / targets lines."""
    from rich.console import Console
    from rich.table import Table

    con = console or Console(width=None if sys.stdout.isatty() else 220)  # pipes / files: no squeezing
    title, cols, rows = table(result)
    t = Table(title=title)
    for c in cols:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*r)
    con.print(t)
    for key in ("ratios", "speedups"):
        for k, v in (result.get(key) or {}).items():
            con.print(f"{k} = {v:.3f}", highlight=False)
    for tg in result.get("targets") or []:
        mark = "[green]PASS[/green]" if tg["ok"] else "[red]FAIL[/red]"
        con.print(f"{mark} {tg['target']} = {tg['value']:.3g} (need {tg['need']})")
    if result.get("machine"):
        con.print(f"machine: {machine_line(result['machine'])}", highlight=False)


def write_outputs(result: dict, out_dir: str | os.PathLike, name: str | None = None) -> list[str]:
    """Write ``<name>.json``, ``<name>.md`` and ``<name>.png`` into ``out_dir``."""
    from pathlib import Path

    from hmcli.bench.plot import plot_result
    from hmcli.io.atomic import atomic_write

    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    name = name or result["benchmark"]
    paths = [d / f"{name}.json", d / f"{name}.md", d / f"{name}.png"]
    with atomic_write(paths[0], "w") as f:
        f.write(json.dumps(result, indent=2, default=float) + "\n")
    with atomic_write(paths[1], "w") as f:
        f.write(to_markdown(result))
    with atomic_write(paths[2]) as tmp:
        plot_result(result, tmp)
    return [str(p) for p in paths]


def parse_overrides(items: list[str] | None) -> dict[str, dict]:
    """``["dstformer-lite.dim=64", "hummuss.depth=2"]`` -> ``{preset: {field: value}}``."""
    import yaml

    from hmcli.io.atomic import HMError

    out: dict[str, dict] = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        name, dot, fld = key.rpartition(".")
        if not sep or not dot or not name or not fld:
            raise HMError(f"override '{item}' is not MODEL.field=value")
        out.setdefault(name, {})[fld] = yaml.safe_load(val)
    return out


__all__ = [
    "Unit",
    "run_interleaved",
    "peak_alloc",
    "streaming_compare",
    "train_compare",
    "throughput_compare",
    "table",
    "to_markdown",
    "print_result",
    "write_outputs",
    "parse_overrides",
]
