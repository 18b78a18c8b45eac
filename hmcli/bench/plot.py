"""PNG figures for ``hm bench`` results (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import math
import os
from typing import Any


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _label(r: dict) -> str:
    return f"{r['model']}\n{r['method']}" if "method" in r else r["model"]


def _bars(ax, labels: list[str], values: list[float | None], notes: list[str], ylabel: str, log: bool = True) -> None:
    from matplotlib.transforms import blended_transform_factory

    foot = blended_transform_factory(ax.transData, ax.transAxes)
    xs = list(range(len(labels)))
    vals = [v if v is not None else 0.0 for v in values]
    bars = ax.bar(xs, vals, color=["tab:blue" if "hummuss" in l.lower() else "tab:orange" for l in labels])
    for x, v, b, n in zip(xs, values, bars, notes):
        if v is None:
            ax.text(x, 0.03, n or "n/a", rotation=90, ha="center", va="bottom", fontsize=7, transform=foot)
        else:
            ax.text(x, b.get_height(), f"{v:.3g}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, fontsize=7, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    if log and any(v for v in values if v):
        ax.set_yscale("log")


def plot_streaming(result: dict, ax_grid) -> None:
    rows = result["rows"]
    groups = sorted({(r["batch"], r["context"]) for r in rows})
    for ax, (b, c) in zip(ax_grid, groups):
        sel = [r for r in rows if r["batch"] == b and r["context"] == c]
        _bars(ax, [_label(r) for r in sel], [r["step_ms"] for r in sel], [r["note"].split(";")[0] for r in sel],
              "ms per frame (log)")
        ax.set_title(f"B={b}, context {c}", fontsize=9)


def plot_train(result: dict, ax) -> None:
    rows = result["rows"]
    precs = list(dict.fromkeys(r.get("precision", "fp32") for r in rows))
    for m in dict.fromkeys(r["model"] for r in rows):
        for prec in precs:
            pts = [(r["frames"], r["step_ms"]) for r in rows
                   if r["model"] == m and r.get("precision", "fp32") == prec and r["step_ms"] is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", linestyle="-" if prec == "fp32" else "--",
                        label=m if len(precs) == 1 else f"{m} {prec}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("frames F")
    ax.set_ylabel("forward+backward ms (log)")
    ax.legend(fontsize=8)
    ax.set_title(f"Training step, B={result['settings']['batch']}", fontsize=9)


def plot_throughput(result: dict, ax) -> None:
    rows = result["rows"]
    _bars(ax, [r["model"] for r in rows], [r["frames_per_s"] for r in rows], [r["note"] for r in rows], "frames/s (log)")
    ax.set_title(f"Offline throughput, {result['settings']['frames']} frames", fontsize=9)


def plot_accuracy(result: dict, axes) -> None:
    ax_bar, ax_conv = axes
    runs = result["runs"]
    labels, vals, notes = [], [], []
    for r in runs:
        labels.append(f"{r['arch']}\n{r['variant']}")
        vals.append((r.get("test") or {}).get("1") and r["test"]["1"]["mpjpe"])
        notes.append(r.get("error", ""))
    _bars(ax_bar, labels, vals, notes, "test MPJPE mm (1×)", log=False)
    ax_bar.set_title("Held-out MPJPE", fontsize=9)
    for r in runs:
        pts = [(p["step"], p["val_mpjpe_mm"]) for p in r.get("val_curve", [])]
        if pts:
            ax_conv.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=f"{r['arch']} {r['variant']}")
    ax_conv.set_xlabel("step")
    ax_conv.set_ylabel("val MPJPE mm")
    ax_conv.set_title("Convergence", fontsize=9)
    if runs:
        ax_conv.legend(fontsize=7)


def plot_mesh_quality(result: dict, axes) -> None:
    """PVE (mm) of the round trips and the chain; reprojection error of the videos."""
    ax_pve, ax_vid = axes
    sel = [r for r in result["rows"] if r.get("pve_mm") is not None]
    short = {"CMU test poses (IK)": "CMU", "prior draws": "prior"}
    labels = [(f"{r['body_model']} {short.get(r['case'], 'chain')}\n"
               f"{'shape ' + r['shape'] if r['part'] == 'round trip' else ''} {r['fit']}") for r in sel]
    _bars(ax_pve, labels, [r["pve_mm"] for r in sel], ["" for _ in sel], "PVE mm", log=False)
    ax_pve.axhline(25.0, color="k", linestyle=":", linewidth=1)
    ax_pve.set_title("Mean per-vertex error (round trip: vs truth; chain: vs clean-GT fit)", fontsize=9)
    vid = [r for r in result["rows"] if r.get("part") == "video" and r.get("reproj_px") is not None]
    _bars(ax_vid, [f"{r['case']}\n{r['fit']}" for r in vid], [r["reproj_pct_height"] for r in vid],
          ["" for _ in vid], "reprojection, % of person height", log=False)
    ax_vid.set_title("Real videos: fitted keypoints vs detector", fontsize=9)


def plot_multi_person(result: dict, ax) -> None:
    """Per-person MPJPE (bidirectional lifter): tracked in the scene vs alone vs clean 2D."""
    import numpy as np

    labels, series = [], {"multi": [], "alone": [], "clean": []}
    for s in result["scenes"]:
        for p, sc in enumerate(s["lift"]["bidirectional"]["persons"]):
            labels.append(f"{s['scene']}\n{'ABCDEFGH'[p]} {sc['label']}")
            for k in series:
                series[k].append(sc[f"{k}_mm"])
    x = np.arange(len(labels))
    for i, (k, vals) in enumerate(series.items()):
        ax.bar(x + (i - 1) * 0.27, vals, 0.27, label=k)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("MPJPE mm (root-relative)")
    ax.legend(fontsize=8)
    ax.set_title("Multi-person scenes: each person tracked and lifted vs lifted alone", fontsize=9)


def plot_truth_free(result: dict, axes) -> None:
    """Grouped bars per clip: bone CV, asymmetry, jitter and agreement with MediaPipe, one bar per model."""
    import numpy as np

    rows = result["rows"]
    clips = list(dict.fromkeys(r["clip"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    width = 0.8 / max(1, len(models))
    x = np.arange(len(clips))
    panels = (("bone_cv_pct", "bone-length CV %"), ("asym_pct", "L/R asymmetry %"),
              ("jitter_mm_f2", "jitter mm/frame²"), ("p_mpjpe_vs_mp_mm", "P-MPJPE vs MediaPipe mm"))
    for ax, (key, title) in zip(axes, panels):
        for i, m in enumerate(models):
            vals = []
            for c in clips:
                v = next((r[key] for r in rows if r["clip"] == c and r["model"] == m), None)
                vals.append(math.nan if v is None else v)
            ax.bar(x + (i - (len(models) - 1) / 2) * width, vals, width, label=m)
        ax.set_xticks(x, clips, fontsize=7, rotation=15)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)


def plot_refine(result: dict, axes) -> None:
    """hm bench refine: 2D error (found joints) and the first lifter's MPJPE, as given vs refined, per setting."""
    import numpy as np

    rows = result["rows"]
    labels = [f"{r['corrupt_model']}\n{r['camera_kind']}" for r in rows]
    x = np.arange(len(rows))
    pairs = [([r["err2d_found_before"] for r in rows], [r["err2d_found_after"] for r in rows], "2D error, % of height"),
             ([r["lifters"][0]["mpjpe_before"] if r["lifters"] else float("nan") for r in rows],
              [r["lifters"][0]["mpjpe_after"] if r["lifters"] else float("nan") for r in rows],
              f"MPJPE mm ({rows[0]['lifters'][0]['model'] if rows and rows[0]['lifters'] else 'no lifter'})")]
    for ax, (before, after, title) in zip(axes, pairs):
        ax.bar(x - 0.2, before, 0.4, label="as given")
        ax.bar(x + 0.2, after, 0.4, label=f"refined ({result['refiner']})")
        ax.set_xticks(x, labels, fontsize=7, rotation=30)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)


def plot_result(result: dict, path: str | os.PathLike) -> None:
    """Write a PNG figure for any ``hm bench`` result dict."""
    plt = _plt()
    kind = result["benchmark"]
    if kind == "streaming":
        n = max(1, len({(r["batch"], r["context"]) for r in result["rows"]}))
        cols = min(n, 2)
        rows_n = math.ceil(n / cols)
        fig, axes = plt.subplots(rows_n, cols, figsize=(6 * cols, 4.5 * rows_n), squeeze=False)
        grid = [a for row in axes for a in row]
        plot_streaming(result, grid)
        for a in grid[n:]:
            a.axis("off")
    elif kind == "train":
        fig, ax = plt.subplots(figsize=(6, 4.5))
        plot_train(result, ax)
    elif kind == "throughput":
        fig, ax = plt.subplots(figsize=(6, 4.5))
        plot_throughput(result, ax)
    elif kind == "accuracy":
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        plot_accuracy(result, axes)
    elif kind == "action":
        fig, ax = plt.subplots(figsize=(6, 4.5))
        rows = result["rows"]
        _bars(ax, [f"{r['model']}\n{r['unit']}" for r in rows], [r["ms"] for r in rows], [""] * len(rows), "ms")
        ax.set_title("hm action: cost per window / per streamed frame")
    elif kind == "mesh":
        fig, ax = plt.subplots(figsize=(6, 4.5))
        rows = result["rows"]
        _bars(ax, [f"{r['body_model']}\n{r['stage']}" for r in rows], [r["frames_per_s"] for r in rows],
              [r.get("note", "") for r in rows], "frames/s")
        ax.set_title("hm mesh: frames/s per stage and body model")
    elif kind == "mesh-quality":
        fig, axes = plt.subplots(1, 2, figsize=(13, 5))
        plot_mesh_quality(result, axes)
    elif kind == "truth-free":
        fig, axes = plt.subplots(1, 4, figsize=(18, 4.5))
        plot_truth_free(result, axes)
    elif kind == "refine":
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
        plot_refine(result, axes)
    elif kind == "multi-person":
        fig, ax = plt.subplots(figsize=(max(6, 1.1 * sum(s["persons"] for s in result["scenes"])), 4.5))
        plot_multi_person(result, ax)
    elif kind == "rendered":
        from hmcli.bench.rendered import plot_rendered

        fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
        plot_rendered(result, axes)
    elif kind == "action-rendered":
        from hmcli.bench.action_rendered import plot_action_rendered

        fig, ax = plt.subplots(figsize=(7, 4.5))
        plot_action_rendered(result, ax)
    else:
        raise ValueError(f"unknown benchmark kind {kind!r}")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)


__all__: list[Any] = ["plot_result"]
