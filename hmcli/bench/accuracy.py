"""Accuracy comparison (``hm bench accuracy``): every architecture trained with the same budget,
then evaluated on held-out subjects at several frame rates.

For each architecture and variant (bidirectional / causal) one run of ``hm train`` is made
with identical data, steps, batch size, clip lengths, learning rate, schedule and seed
(:class:`AccuracyBudget`); only the model differs (presets in :data:`PRESETS`, plus any
overrides). Each run's best checkpoint (lowest validation MPJPE, validation subjects only)
is then evaluated on the held-out split with :func:`hmcli.train.evaluate.evaluate_model`:
MPJPE, P-MPJPE, N-MPJPE and velocity error at the training rate divided by each
``subsample`` factor (1×, 2×, 4×, 8×: every k-th frame). HumMUSS gets Δ scaled by k;
the transformers see the frames as they are (they have no notion of time step).

Long test sequences, per architecture (this is :func:`hmcli.nn.call.call_model`):

* HumMUSS: the whole sequence in one forward pass.
* DSTformer / MixSTE (max window ``maxlen`` = 243): consecutive non-overlapping 243-frame
  chunks; a short last chunk is replaced by the sequence's last full 243 frames and only
  its new frames are kept. Causal variants therefore restart their context at every chunk.
* P-STMO (seq2frame): one 243-frame window per output frame, sliding by one frame, the
  output frame at the window's centre (causal: its last frame); frames before the start /
  after the end repeat the first / last frame.

Convergence: the validation MPJPE of every evaluation step, read from each run's
``metrics.jsonl``. Runs live in ``runs_dir/<arch>-<variant>``; a finished run with the same
configuration is reused, an interrupted one resumed, a different one refused. A run's
held-out results are stored beside it (``test_eval.json``, keyed by the checkpoint's hash
and the evaluation settings), so that running the benchmark again, for instance with more
architectures, or in several processes that share ``--runs``, evaluates each run once.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from hmcli.bench.common import machine
from hmcli.io.atomic import HMError, atomic_write

Progress = Callable[[str], None] | None

#: (bidirectional preset, causal preset) per architecture.
PRESETS: dict[str, tuple[str, str]] = {
    "hummuss": ("hummuss-small", "hummuss-small-causal"),
    "dstformer": ("dstformer-lite", "dstformer-lite-causal"),
    "mixste": ("mixste", "mixste-causal"),
    "pstmo": ("pstmo-s", "pstmo-s-causal"),
}
VARIANTS = ("bidirectional", "causal")


@dataclass
class AccuracyBudget:
    """What every architecture gets, identically."""

    steps: int = 300
    batch_size: int = 8
    clip_min: int = 27
    clip_max: int = 81
    lr: float = 1e-3
    eval_every: int = 50
    seed: int = 0
    threads: int = 0
    val_clip: int = 243
    fps: float = 30.0


#: Held-out results of a run, kept beside its checkpoints and reused while the checkpoint
#: and the evaluation settings are the same.
EVAL_CACHE = "test_eval.json"
#: Version of the evaluation protocol in the cache key: 2 = HumMUSS lifted in windows of its
#: trained clip length, as hm lift does (1 was one pass over each whole sequence).
EVAL_PROTOCOL = 2


def _val_curve(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if "val_mpjpe_mm" in rec:
            out.append({"step": rec["step"], "val_mpjpe_mm": rec["val_mpjpe_mm"], "time_s": rec.get("time_s")})
    return out


def _train_config(data: str, arch: str, variant: str, budget: AccuracyBudget, overrides: dict[str, dict], run: Path):
    from hmcli.nn.registry import make_config
    from hmcli.train.config import TrainConfig

    preset = PRESETS[arch][VARIANTS.index(variant)]
    mo = {**overrides.get(arch, {}), **overrides.get(preset, {}), "causal": variant == "causal"}
    _, mcfg = make_config(preset, **mo)
    clip_min, clip_max, note = budget.clip_min, budget.clip_max, ""
    maxlen = getattr(mcfg, "maxlen", None)
    if maxlen is not None and clip_max > maxlen:
        clip_max, clip_min = maxlen, min(clip_min, maxlen)
        note = f"training clips capped at maxlen {maxlen}"
    if arch == "pstmo":
        note = f"trains on {mcfg.frames}-frame windows (seq2frame)"
    cfg = TrainConfig(
        model=preset, model_overrides=mo, data=str(data), out=str(run), steps=budget.steps,
        batch_size=budget.batch_size, clip_min=clip_min, clip_max=clip_max, lr=budget.lr,
        warmup=max(1, min(100, budget.steps // 10)), eval_every=budget.eval_every, save_every=budget.steps,
        val_clip=budget.val_clip, seed=budget.seed, threads=budget.threads, fps=budget.fps, half_export=False,
    )
    return preset, cfg, note


def _run_training(cfg, on_progress: Progress, label: str) -> tuple[dict | None, bool]:
    """Train (or reuse / resume) the run in ``cfg.out``; returns (summary or None when reused, resumed)."""
    from hmcli.io.checkpoint import read_checkpoint
    from hmcli.train.config import TrainConfig
    from hmcli.train.trainer import train

    out = Path(cfg.out)
    last = out / "last.pt"
    resume = False
    if last.is_file():
        obj = read_checkpoint(last)
        saved = obj.get("meta", {}).get("train") or {}
        # fields added to TrainConfig after the run was made count as their defaults
        saved = {**TrainConfig().to_dict(), **saved}
        same = json.loads(json.dumps(saved, default=list)) == json.loads(json.dumps(cfg.to_dict()))
        if not same:
            raise HMError(f"{out} holds a run with another configuration; remove it or pick another runs directory")
        if int(obj.get("train_state", {}).get("step", 0)) >= cfg.steps:
            return None, False
        resume = True

    def on_step(info):
        if on_progress:
            val = "" if info.val_mpjpe is None else f", val {info.val_mpjpe:.1f} mm"
            on_progress(f"{label}: step {info.step}/{info.total}, loss {info.loss:.4f}{val}")

    return train(cfg, resume=resume, on_step=on_step), resume


def evaluate_run(run: Path, data: str, split: str, subsample: list[int], cameras: int, seed: int,
                 on_progress: Progress = None, label: str = "") -> tuple[dict, Any]:
    """Held-out metrics of ``run/best.pt`` at train fps / k for each k in ``subsample``."""
    from hmcli.io.checkpoint import load_checkpoint
    from hmcli.train.evaluate import EvalSetting, evaluate_model
    from hmcli.train.trainer import load_split

    ckpt = run / "best.pt" if (run / "best.pt").is_file() else run / "last.pt"
    lm = load_checkpoint(ckpt)
    key = {"checkpoint_sha256": lm.sha256, "data": str(data), "split": split, "subsample": list(subsample),
           "cameras": cameras, "seed": seed, "protocol": EVAL_PROTOCOL}
    cache = run / EVAL_CACHE
    if cache.is_file():
        try:
            saved = json.loads(cache.read_text())
        except (OSError, ValueError):
            saved = {}
        if saved.get("key") == key:
            return saved["result"], lm
    seqs = load_split(data, split)
    train_fps = float(lm.config.get("fps", 30.0))
    out = {}
    for k in subsample:
        if on_progress:
            on_progress(f"{label}: evaluating at {train_fps / k:g} fps ({k}x subsampled)")
        # Each architecture's single estimate (no test-time flip), as protocol 2 measured it.
        rep = evaluate_model(lm, seqs, EvalSetting(train_fps / k, True, cameras, seed, flip=False))
        out[str(k)] = {"fps": train_fps / k, "mpjpe": rep.mpjpe, "p_mpjpe": rep.p_mpjpe, "n_mpjpe": rep.n_mpjpe,
                       "mpjve": rep.mpjve, "num_frames": rep.num_frames}
    with atomic_write(cache, "w") as f:
        f.write(json.dumps({"key": key, "result": out}, indent=1))
    return out, lm


def accuracy_compare(
    data: str,
    archs: list[str],
    variants: list[str],
    budget: AccuracyBudget | None = None,
    subsample: list[int] | None = None,
    cameras: int = 2,
    split: str = "test",
    overrides: dict[str, dict] | None = None,
    runs_dir: str | Path = "bench_results/runs",
    on_progress: Progress = None,
    skip: list[str] | None = None,
) -> dict:
    """Train and evaluate every (arch, variant) except those named ``"<arch>-<variant>"`` in
    ``skip``; see the module docstring."""
    from hmcli.nn.registry import count_parameters

    budget = budget or AccuracyBudget()
    subsample = subsample or [1, 2, 4, 8]
    overrides = overrides or {}
    for a in archs:
        if a not in PRESETS:
            raise KeyError(f"unknown architecture '{a}' (accuracy bench knows: {', '.join(PRESETS)})")
    for v in variants:
        if v not in VARIANTS:
            raise HMError(f"unknown variant '{v}' (bidirectional, causal)")
    skip = list(skip or [])
    names = {f"{a}-{v}" for a in archs for v in variants}
    for name in skip:
        if name not in names:
            raise HMError(f"--skip {name}: not among the runs ({', '.join(sorted(names))})")
    runs_dir = Path(runs_dir)
    runs = []
    for a in archs:
        for v in variants:
            if f"{a}-{v}" in skip:
                continue
            label = f"{a} {v}"
            run = runs_dir / f"{a}-{v}"
            preset, cfg, note = _train_config(data, a, v, budget, overrides, run)
            entry: dict[str, Any] = {"arch": a, "variant": v, "preset": preset, "model_overrides": cfg.model_overrides,
                                     "run_dir": str(run), "clip": [cfg.clip_min, cfg.clip_max], "note": note}
            t0 = time.time()
            summary, resumed = _run_training(cfg, on_progress, label)
            entry["reused_run"] = summary is None
            entry["resumed"] = resumed
            entry["train_wall_s"] = time.time() - t0 if summary is not None else None
            curve = _val_curve(run)
            entry["val_curve"] = curve
            entry["train_time_s"] = curve[-1]["time_s"] if curve else None
            entry["best_val_mpjpe_mm"] = min((p["val_mpjpe_mm"] for p in curve), default=None)
            entry["test"], lm = evaluate_run(run, data, split, subsample, cameras, budget.seed, on_progress, label)
            entry["params_m"] = count_parameters(lm.model) / 1e6
            runs.append(entry)
    return {
        "benchmark": "accuracy",
        "machine": machine(),
        "settings": {"data": str(data), "archs": archs, "variants": variants, "budget": asdict(budget),
                     "subsample": subsample, "cameras": cameras, "split": split, "overrides": overrides,
                     "skipped": skip,
                     "runs_dir": str(runs_dir)},
        "runs": runs,
        "notes": [
            "Same budget for every run (steps, batch, clips, lr, schedule, seed, data); best checkpoint by validation MPJPE.",
            "Test: held-out subjects, whole sequences; k× = every k-th frame (train fps / k). HumMUSS: Δ scaled by k; "
            "transformers: frames as they are.",
            "Windowing: DSTformer/MixSTE non-overlapping max-window chunks (last chunk end-aligned); P-STMO one sliding "
            "window per output frame (centre, causal: last), edges repeated; HumMUSS as hm lift runs it: cross-faded windows of its trained clip length (the same span of time at k×).",
        ] + ([f"Left out on request (--skip): {', '.join(skip)}."] if skip else []),
    }


def accuracy_table(result: dict) -> tuple[str, list[str], list[list[str]]]:
    ks = [str(k) for k in result["settings"]["subsample"]]
    cols = ["arch", "variant", "params", "train s", "best val mm"]
    cols += [f"MPJPE {k}×" for k in ks] + [f"P-MPJPE {ks[0]}×", "note"]

    def f(v, spec=".1f"):
        return "-" if v is None else f"{v:{spec}}"

    rows = []
    for r in result["runs"]:
        t = r.get("test") or {}
        rows.append([r["arch"], r["variant"], f(r.get("params_m"), ".2f") + " M", f(r.get("train_time_s"), ".0f"),
                     f(r.get("best_val_mpjpe_mm"))] + [f(t.get(k, {}).get("mpjpe")) for k in ks]
                    + [f(t.get(ks[0], {}).get("p_mpjpe")), r.get("note", "")])
    return f"Accuracy on held-out '{result['settings']['split']}' subjects (mm)", cols, rows
