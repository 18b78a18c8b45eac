"""Interleaved timing of the methods a benchmark compares, with an untimed probe that counts
FLOPs and measures memory.

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
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from hmcli.bench.flops import count_flops

Progress = Callable[[str], None] | None


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
