"""``hm bench action-rendered``: the action classifiers on the real detector's 2D of rendered held-out motion.

The classifiers' held-out figures (model cards) score synthetic 2D: CMU joints projected through
virtual cameras with the lifter's detector-like corruption. A user's 2D comes from BlazePose on
video. This benchmark gives the classifiers that 2D with known labels: every held-out window the
card's evaluation scores (CMU subjects 09 and 49, 2 s every 1 s of each labelled trial) posed on
the open Anny body with a random shape, rendered through its own camera (``framed`` by default: the whole
body in a 1280x720 frame; or any training camera kind, each scored on its own), and BlazePose run on the frames (:mod:`hmcli.bench.detector2d`,
:mod:`hmcli.action.rendered`). Each classifier then sees the landmarks exactly as ``hm action``
gives them (the lifter's BlazePose map, confidence floor and image mask) and is scored by balanced
accuracy (the headline figure), top-1 and the confusion.

Rendering the 111 windows takes about 6 min per camera kind on one core; ``renders=PATH`` keeps them
(reuses them when the file exists and adds the kinds it lacks; ``scripts/render_pairs.py --task action
--split test`` makes the same file). Caveat: untextured bodies on plain or noise backgrounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from hmcli.io.atomic import HMError

__all__ = ["action_rendered_bench", "action_rendered_table", "plot_action_rendered", "render_action_test"]

Say = Callable[[str], None]


def render_action_test(data: str, say: Say = lambda m: None, seed: int = 0, stride_s: float = 1.0,
                       camera_kind: str = "framed") -> list:
    """Render every held-out action window (module docstring): :class:`hmcli.data.rendered.RenderedClip` list."""
    import numpy as np

    from hmcli.action.rendered import render_windows
    from hmcli.bench.detector2d import Detector2DSettings, render_set
    from hmcli.data.cmu import load_cmu_dir
    from hmcli.data.splits import TEST_SUBJECTS

    if not Path(data).is_dir():
        raise HMError(f"motion capture directory not found: {data} (the held-out CMU subjects are rendered from it)")
    seqs = load_cmu_dir(data, subjects=list(TEST_SUBJECTS))
    wanted = render_windows(seqs, np.random.default_rng(seed), 0, 60, "test", stride_s)
    if not wanted:
        raise HMError(f"{data}: none of the held-out subjects' labelled trials was found")
    settings = Detector2DSettings(data=data, frames=60, cameras=1, seed=1000 + seed, camera_kind=camera_kind,
                                  train_clips=(), test_clips=tuple(wanted))
    say(f"rendering {len(wanted)} held-out windows through {camera_kind} cameras")
    clips, _ = render_set(settings, say, keep_frame=None)
    return clips


def action_rendered_bench(models: Sequence[str | None] = (None, "causal"), renders: str | None = None,
                          data: str = "../shared/data/cmu-amc", kinds: Sequence[str] = ("framed",),
                          say: Say = lambda m: None, render: Callable[[str], list] | None = None) -> dict:
    """Run the benchmark (module docstring). ``models``: action classifiers by name or path; None is the
    shipped bidirectional one, ``"causal"`` the shipped causal one. ``kinds``: camera kinds
    (:func:`hmcli.bench.rendered.camera_kinds`), each scored on its own. ``render(kind)``: the held-out
    clips of a camera kind that ``renders`` lacks (default: :func:`render_action_test` of ``data``)."""
    import numpy as np

    from hmcli.action.checkpoint import load_action
    from hmcli.action.rendered import rendered_actions
    from hmcli.action.train import score_rendered
    from hmcli.bench.common import machine
    from hmcli.bench.rendered import camera_kinds
    from hmcli.data.rendered import camera_kind_of as _kind
    from hmcli.data.rendered import load_or_render

    bad = [k for k in kinds if k not in camera_kinds()]
    if bad or not kinds:
        raise HMError(f"unknown camera kind '{bad[0] if bad else ''}' (known: {', '.join(camera_kinds())})")
    t0 = time.perf_counter()
    if render is None:
        def render(kind: str) -> list:
            return render_action_test(data, say, camera_kind=kind)
    every = load_or_render(renders, kinds, render, say)
    loaded = [load_action(None, causal=True) if name == "causal" else load_action(name) for name in models]
    rows, tables = [], []
    for kind, la in ((k, m) for k in kinds for m in loaded):
        clips = [c for c in every if _kind(c) == kind]
        items = rendered_actions(clips, la.classes, "test")
        if not items:
            raise HMError(f"{renders or 'the renders'}: no held-out {kind} windows with a class of {la.model_id} "
                          f"({', '.join(la.classes)})")
        say(f"classifying {len(items)} windows with {la.model_id}")
        r = score_rendered(la, items)
        synth = la.meta.get("metrics") or {}
        cm = np.array(r["confusion"])
        recall = {c: (float(cm[i, i] / cm[i].sum()) if cm[i].sum() else None) for i, c in enumerate(la.classes)}
        rows.append({"camera_kind": kind, "model": la.model_id, "windows": r["windows"], "balanced_accuracy": r["balanced_accuracy"],
                     "top1": r["top1"], "recall": recall, "confusion": r["confusion"], "classes": list(la.classes),
                     "synthetic_balanced_accuracy": synth.get("balanced_accuracy"), "synthetic_top1": synth.get("top1")})
        tables.append({"title": f"{la.model_id}, {kind} cameras: confusion on the rendered windows (rows true, columns "
                                "predicted)",
                       "columns": ["true \\ predicted", *la.classes, "recall"],
                       "rows": [[c, *[str(v) for v in cm[i]], "-" if recall[c] is None else f"{100 * recall[c]:.0f} %"]
                                for i, c in enumerate(la.classes)]})
    found = {k: (int(sum(c.detected.sum() for c in every if _kind(c) == k)),
                 int(sum(len(c.detected) for c in every if _kind(c) == k))) for k in kinds}
    notes = [("Held-out CMU subjects 09 and 49 (never trained on), each window posed on a random Anny body, rendered "
              "through its own camera of the kind named (framed: the whole body inside a 1280x720 frame; the others: "
              "the lifter's training camera kinds); real BlazePose (MediaPipe, video mode) on the frames."),
             ("Synthetic columns: the same classifier's card figures (projected CMU joints with detector-like "
              "corruption, 2 cameras per window)."),
             "Untextured meshes on plain or noise backgrounds: real video differs.",
             *(f"{k}: the detector found the person in {a} of {b} frames" for k, (a, b) in found.items())]
    ratios = {f"{r['camera_kind']}: {r['model']}: rendered / synthetic balanced accuracy":
              r["balanced_accuracy"] / r["synthetic_balanced_accuracy"] for r in rows if r["synthetic_balanced_accuracy"]}
    return {"benchmark": "action-rendered", "settings": {"windows": len(every), "camera_kinds": list(kinds),
                                                         "renders": renders, "data": data},
            "rows": rows, "tables": tables, "ratios": ratios, "notes": notes,
            "seconds": time.perf_counter() - t0, "machine": machine()}


def action_rendered_table(result: dict) -> tuple[str, list[str], list[list[str]]]:
    def pct(v):
        return "-" if v is None else f"{100 * v:.1f} %"

    cols = ["camera kind", "model", "windows", "balanced accuracy", "top-1", "synthetic 2D: balanced accuracy",
            "synthetic 2D: top-1"]
    rows = [[r.get("camera_kind", "framed"), r["model"], str(r["windows"]), pct(r["balanced_accuracy"]), pct(r["top1"]),
             pct(r["synthetic_balanced_accuracy"]), pct(r["synthetic_top1"])] for r in result["rows"]]
    return ("hm bench action-rendered: action classifiers on real BlazePose 2D of rendered held-out motion",
            cols, rows)


def plot_action_rendered(result: dict, ax) -> None:
    """Balanced accuracy per classifier: real detector on the renders next to its card's synthetic 2D."""
    import numpy as np

    rows = result["rows"]
    several = len({r.get("camera_kind", "framed") for r in rows}) > 1
    x = np.arange(len(rows))
    for i, (key, label) in enumerate((("balanced_accuracy", "real BlazePose on renders"),
                                      ("synthetic_balanced_accuracy", "synthetic 2D (card)"))):
        vals = [100 * r[key] if r[key] is not None else np.nan for r in rows]
        bars = ax.bar(x + (i - 0.5) * 0.38, vals, 0.38, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(x, [f"{r['model']}\n{r.get('camera_kind', 'framed')}" if several else r["model"] for r in rows],
                  fontsize=7 if several else 8)
    ax.set_ylim(0, 100)
    ax.axhline(85, color="grey", lw=0.8, ls="--")
    ax.set_ylabel("balanced accuracy % (dashed: the 85 % goal)")
    ax.set_title("hm action on held-out CMU subjects 09, 49")
    ax.legend(fontsize=8, loc="lower right")
