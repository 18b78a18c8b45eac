"""``hm bench train``: forward + backward time of one training step (no optimiser step) at
several clip lengths, per precision (timing: :mod:`hmcli.bench.interleave`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch
import torch.nn as nn

from hmcli.bench.common import machine, ratio, target_check
from hmcli.bench.interleave import Progress, Unit, run_interleaved
from hmcli.bench.presets import build_preset, input_channels, params_m
from hmcli.nn.registry import make_config


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
    x = torch.randn(batch, frames, j, input_channels(model))
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
        arch, model = build_preset(m, overrides, seed, **extra)
        model.train()
        if extra:
            added = (fmax - maxlen0) * model.cfg.dim / 1e6
            ext_note = f"maxlen (temporal positional table) extended {maxlen0}->{fmax} (+{added:.2f} M params)"
        if arch == "hummuss" and ref is None:
            ref = m
        pm = params_m(model)
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
                r.vs_hummuss = ratio(r.step_ms, h.step_ms)
                if r.vs_hummuss is not None:
                    speedups[f"{ref} vs {r.model} F={r.frames}{tag[r.precision]}"] = r.vs_hummuss
                    if "dstformer-lite" in r.model and r.frames in (243, 1024):
                        need = 1.5 if r.frames == 243 else 4.0
                        targets.append(target_check(f"{ref} training step vs {r.model} F={r.frames}{tag[r.precision]}",
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
