"""Streaming benchmark: per-frame latency of causal models at a given context length.

For HumMUSS the context is reached by really streaming ``context - 1`` frames through the
recurrent state, then the next ``repeats`` steps are timed one by one (median). Because the
state has a fixed size, the step at context 2430 should cost what it costs at 243.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import statistics
import time
from typing import Callable

import torch

from hmcli.bench.common import median_time
from hmcli.nn.hummuss import Streamer
from hmcli.nn.registry import build, count_parameters


@dataclass
class StreamingRow:
    model: str
    method: str
    params_m: float
    batch: int
    context: int
    step_ms: float  # median per-frame latency
    state_bytes: int  # memory carried between frames (state / cache)
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def hummuss_streaming(
    preset: str,
    batch: int,
    contexts: list[int],
    repeats: int = 20,
    seed: int = 0,
    on_progress: Callable[[str], None] | None = None,
) -> list[StreamingRow]:
    """One streamer per context, each advanced by really streaming ``context - 1`` frames;
    then their steps are timed round-robin (context A, context B, A, B, ...) so that any
    background load affects every context alike. Returns one row per context."""
    torch.manual_seed(seed)
    model = build(preset).eval()
    cfg = model.cfg
    frames = torch.randn(64, batch, cfg.num_joints, cfg.in_dim)  # (T, B, J, C), cycled
    streamers = []
    for c in contexts:
        s = Streamer(model)
        for t in range(c - 1):
            s.step(frames[t % 64])
            if on_progress and t % 50 == 0:
                on_progress(f"{preset} B={batch}: streamed {t + 1}/{c - 1} frames")
        streamers.append(s)
    times: list[list[float]] = [[] for _ in contexts]
    for r in range(repeats + 2):  # two warm-up rounds
        for i, s in enumerate(streamers):
            t0 = time.perf_counter()
            s.step(frames[(s.frames + r) % 64])
            if r >= 2:
                times[i].append(time.perf_counter() - t0)
    n_params = count_parameters(model) / 1e6
    return [
        StreamingRow(preset, "recurrent step", n_params, batch, c, statistics.median(ts) * 1e3, s.state_bytes())
        for c, s, ts in zip(contexts, streamers, times)
    ]


def offline_causal_ms(preset: str, frames: int = 243, batch: int = 1, repeats: int = 3, seed: int = 0) -> float:
    torch.manual_seed(seed)
    model = build(preset).eval()
    x = torch.randn(batch, frames, model.cfg.num_joints, model.cfg.in_dim)
    with torch.inference_mode():
        return median_time(lambda: model(x), repeats, warmup=1) * 1e3
