"""Shared helpers for benchmarks: timing with warm-up and medians, machine description."""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Any, Callable

import torch


def parse_cpu_model(cpuinfo: str) -> str | None:
    """The first ``model name`` in the text of Linux's /proc/cpuinfo, or None."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "model name" and value.strip():
            return value.strip()
    return None


def cpu_model() -> str:
    """The CPU's model name (e.g. 'Intel(R) Xeon(R) Processor'); the architecture where it is unknown.
    Timings from different CPUs of one "2-core machine" kind differ by tens of per cent (and
    oneDNN picks its kernels by instruction set), so every benchmark result names its CPU."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            name = parse_cpu_model(f.read())
    except OSError:
        name = None
    return name or platform.processor() or platform.machine()


def machine() -> dict:
    return {
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # the kernels ATen dispatches to (e.g. AVX512)
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def machine_line(m: dict) -> str:
    """One line naming the machine a result was measured on."""
    cap = f" ({m['cpu_capability']})" if m.get("cpu_capability") else ""
    return f"{m.get('cpu')}{cap}, {m.get('cores')} cores, {m.get('torch_threads')} torch threads, torch {m.get('torch')}"


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def tensor_bytes(obj: Any) -> int:
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(o) for o in obj)
    if hasattr(obj, "tensors"):  # KVCache
        return tensor_bytes(obj.tensors())
    return 0


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b not in (None, 0) else None


def target_check(name: str, value: float, need: float, op: str) -> dict:
    ok = value >= need if op == ">=" else value <= need
    return {"target": name, "value": value, "need": f"{op} {need:g}", "ok": bool(ok)}
