"""``hm bench rendered``: hm's 3D against the detector's own 3D, on rendered bodies with known truth.

Issue #35's check is whether hm's single-view 3D beats what the 2D detector already gives for
free: BlazePose's own 3D (MediaPipe's ``pose_world_landmarks``). Real footage has no 3D truth,
so this benchmark makes footage that has it (:mod:`hmcli.bench.detector2d`): held-out CMU motion
(subjects 09 and 49, never trained on) posed on the open Anny body with a random shape per clip,
rendered through virtual cameras, and the real detector run on the frames in order, recording
its 2D and its world landmarks. Then, on the same frames:

* **MediaPipe's 3D**: the world landmarks mapped to H36M-17 with the map the lifter's 2D gets
  (``cmu``) and with plain midpoints, as :func:`hmcli.bench.detector2d.world_errors` scores them;
* **each hm lifter** on the detector's 2D exactly as ``hm lift`` runs it (learned BlazePose map,
  confidence floor), and on the exact projection of the truth (its floor on these bodies).

Errors against the posed body's own H36M-17 keypoints (in mm): root-relative MPJPE in the
camera's axes and P-MPJPE (per-frame similarity alignment, the figure the issue quotes);
per joint and per clip in further tables. Rendering the 10 held-out clips takes about 1.5 min
on one core; ``renders=PATH`` keeps them (and reuses them when the file exists).

Caveats (in the result's notes): the bodies are shaded meshes on plain or noise backgrounds,
not people in clothes, and the motion is CMU's (hm trained on other CMU subjects, MediaPipe on
real images), so this favours hm; the real-recording check stays the arbiter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from hmcli.io.atomic import HMError

__all__ = ["rendered_bench", "rendered_table"]

Say = Callable[[str], None]

MEDIAPIPE_MAPS = ("cmu", "midpoints")
_NOTES = (
    ("Truth: the posed Anny body's own H36M-17 keypoints (CMU-calibrated); held-out CMU subjects 09 and 49, "
     "real BlazePose (MediaPipe, video mode) on the rendered frames."),
    ("Shaded meshes on plain or noise backgrounds, CMU motion: in hm's training distribution of motion, not of "
     "MediaPipe's images, so this favours hm; a real multi-view recording remains the arbiter."),
    ("MPJPE is root-relative in the camera's axes (MediaPipe's world landmarks follow them); P-MPJPE aligns "
     "every frame by a similarity first."),
)


def camera_kinds() -> tuple[str, ...]:
    """What ``kinds`` may name: ``framed`` (the detector study's cameras: the whole body inside a
    1280x720 frame, 0.8-1.8 m high, all around) and the training camera kinds of
    :mod:`hmcli.data.camera` (standard, ceiling, phone, webcam, sports, handheld)."""
    from hmcli.data.camera import KIND_NAMES

    return ("framed",) + KIND_NAMES


def _kind(c) -> str:
    from hmcli.data.rendered import camera_kind_of

    return camera_kind_of(c)


def render_test_clips(data: str, kind: str, say: Say = lambda m: None) -> list:
    """The held-out clips of ``data`` rendered through ``kind`` cameras and run through the detector."""
    from hmcli.bench.detector2d import Detector2DSettings, render_set

    if not Path(data).is_dir():
        raise HMError(f"motion capture directory not found: {data} (the held-out CMU subjects are rendered from it)")
    say(f"rendering the held-out clips through {kind} cameras")
    clips, _ = render_set(Detector2DSettings(data=data, camera_kind=kind), say, keep_frame=None, split="test")
    if not clips:
        raise HMError(f"{data}: none of the held-out clips was found")
    return clips


def _load_or_render(renders: str | None, kinds: Sequence[str], render: Callable[[str], list], say: Say):
    """The held-out clips of ``kinds``: read from ``renders`` where it has them, the rest made by
    ``render(kind)`` (and ``renders`` rewritten with every clip, old and new)."""
    from hmcli.data.rendered import load_or_render

    clips = load_or_render(renders, kinds, render, say)
    if any(c.det_world is None for c in clips):
        raise HMError(f"{renders}: made without the detector's world landmarks; remove it to render again")
    return clips


def _row(kind: str, model: str, source: str, r: dict) -> dict:
    return {"camera_kind": kind, "model": model, "input": source, "frames": r["frames"], "mpjpe_mm": r["mpjpe_truth_mm"],
            "p_mpjpe_mm": r["pmpjpe_truth_mm"], "per_joint_pa_mm": r["per_joint_pa_mm"],
            "per_joint_mm": r["per_joint_mm"], **({"err2d_pct": r["err2d_pct"]} if "err2d_pct" in r else {})}


def rendered_bench(lifters: Sequence[str | None] = (None, "causal"), renders: str | None = None,
                   data: str = "../shared/data/cmu-amc", kinds: Sequence[str] = ("framed",),
                   say: Say = lambda m: None, render: Callable[[str], list] | None = None) -> dict:
    """Run the benchmark (module docstring). ``lifters``: names or paths; None is the shipped
    bidirectional model, ``"causal"`` the shipped causal one. ``kinds``: camera kinds
    (:func:`camera_kinds`), each scored on its own. ``render(kind)``: the held-out clips of a camera
    kind that ``renders`` lacks (default: :func:`render_test_clips` of ``data``)."""
    from hmcli import api
    from hmcli.bench.common import machine
    from hmcli.bench.detector2d import lift_errors, world_errors
    from hmcli.skeleton.blazepose_map import blazepose_to_h36m_cmu

    bad = [k for k in kinds if k not in camera_kinds()]
    if bad or not kinds:
        raise HMError(f"unknown camera kind '{bad[0] if bad else ''}' (known: {', '.join(camera_kinds())})")
    t0 = time.perf_counter()
    if render is None:
        def render(kind: str) -> list:
            return render_test_clips(data, kind, say)
    clips = _load_or_render(renders, kinds, render, say)
    models = [api.load_lifter(None, causal=True) if n == "causal" else api.load_lifter(n) for n in lifters]
    ids = [m.model_id for m in models]
    names = [i if ids.count(i) == 1 else str(n) for i, n in zip(ids, lifters)]   # two runs' best.pt / last.pt
    det = "detector 2D (as hm lift)"
    rows, per_clip, found = [], [], {}
    for kind in kinds:
        every = [c for c in clips if _kind(c) == kind]
        found[kind] = (int(sum(c.detected.sum() for c in every)), int(sum(len(c.detected) for c in every)))
        kc = [c for c in every if c.detected.any()]                            # clips with a person found
        if not kc:
            say(f"{kind}: the detector found nobody in any frame; left out")
            continue
        w = {bmap: world_errors(kc, bmap) for bmap in MEDIAPIPE_MAPS}
        rows += [_row(kind, "MediaPipe", f"world landmarks, {bmap} map", w[bmap]) for bmap in MEDIAPIPE_MAPS]
        clip_rows = [{"camera_kind": kind, "clip": c.label, "action": c.meta.get("action", ""),
                      "frames": int(c.detected.sum()), "MediaPipe": v} for c, v in zip(kc, w["cmu"]["per_clip_pmpjpe_mm"])]
        for lifter, name in zip(models, names):
            say(f"{kind}: lifting with {name}")
            r = lift_errors(kc, lifter, {det: blazepose_to_h36m_cmu})
            rows.append(_row(kind, name, det, r[det]))
            rows.append(_row(kind, name, "exact 2D (the lifter's floor)", r["truth 2D"]))
            for row, v in zip(clip_rows, r[det]["per_clip_pmpjpe_mm"]):
                row[name] = v
        per_clip += clip_rows
    if not rows:
        raise HMError("the detector found nobody in any rendered frame")
    mp = {r["camera_kind"]: r for r in rows if r["model"] == "MediaPipe" and r["input"].endswith("cmu map")}
    hm_rows = [r for r in rows if r["input"] == det]
    scored = [k for k in kinds if k in mp]
    joints = list(next(iter(mp.values()))["per_joint_pa_mm"])
    pooled = {"MediaPipe": [mp[k] for k in scored], **{n: [r for r in hm_rows if r["model"] == n] for n in names}}
    tables = [{"title": "P-MPJPE per joint (mm), detector input, frames of every camera kind pooled",
               "columns": ["joint"] + list(pooled),
               "rows": [[j] + [f"{_pool(rs, 'per_joint_pa_mm', j):.0f}" for rs in pooled.values()] for j in joints]},
              {"title": "P-MPJPE per clip (mm), detector input; MediaPipe through the cmu map",
               "columns": ["camera kind", "clip", "action", "frames", "MediaPipe"] + names,
               "rows": [[v["camera_kind"], v["clip"], v["action"], str(v["frames"])]
                        + ["-" if v[k] is None else f"{v[k]:.1f}" for k in ["MediaPipe"] + names] for v in per_clip]}]
    ratios = {}
    for k in scored:
        for r in (x for x in hm_rows if x["camera_kind"] == k):
            ratios[f"{k}: {r['model']} / MediaPipe, P-MPJPE"] = r["p_mpjpe_mm"] / mp[k]["p_mpjpe_mm"]
    notes = list(_NOTES)
    for n in names:
        scored_clips = [v for v in per_clip if v["MediaPipe"] is not None and v.get(n) is not None]
        wins = sum(v[n] < v["MediaPipe"] for v in scored_clips)
        notes.append(f"{n} beats MediaPipe's P-MPJPE on {wins} of {len(scored_clips)} clips")
    notes += [f"{k}: the detector found the person in {a} of {b} frames" for k, (a, b) in found.items()]
    return {"benchmark": "rendered", "settings": {"camera_kinds": list(kinds), "clips": len(clips),
                                                  "frames": int(sum(a for a, _ in found.values())),
                                                  "renders": renders, "data": data},
            "rows": rows, "per_clip": per_clip, "tables": tables, "ratios": ratios, "notes": notes,
            "seconds": time.perf_counter() - t0, "machine": machine()}


def _pool(rows: list[dict], key: str, joint: str) -> float:
    """A per-joint figure pooled over rows (weighted by their frames)."""
    w = sum(r["frames"] for r in rows)
    return sum(r[key][joint] * r["frames"] for r in rows) / max(w, 1)


def rendered_table(result: dict) -> tuple[str, list[str], list[list[str]]]:
    cols = ["camera kind", "model", "3D from", "frames", "MPJPE mm", "P-MPJPE mm", "2D error % of height"]
    rows = [[r["camera_kind"], r["model"], r["input"], str(r["frames"]), f"{r['mpjpe_mm']:.1f}", f"{r['p_mpjpe_mm']:.1f}",
             f"{r['err2d_pct']:.2f}" if "err2d_pct" in r else "-"] for r in result["rows"]]
    title = (f"hm bench rendered: 3D error on {result['settings']['clips']} rendered held-out clips "
             "(real BlazePose on the frames)")
    return title, cols, rows


def plot_rendered(result: dict, axes) -> None:
    """P-MPJPE and MPJPE per camera kind: MediaPipe (cmu map) and each lifter on the detector's 2D."""
    import numpy as np

    rows = [r for r in result["rows"] if r["model"] != "MediaPipe" and r["input"].startswith("detector")
            or r["model"] == "MediaPipe" and r["input"].endswith("cmu map")]
    kinds = list(dict.fromkeys(r["camera_kind"] for r in rows))
    sources = list(dict.fromkeys(r["model"] for r in rows))
    width = 0.8 / max(1, len(sources))
    x = np.arange(len(kinds))
    for ax, key, title in zip(axes, ("p_mpjpe_mm", "mpjpe_mm"), ("P-MPJPE mm", "MPJPE mm (root-relative)")):
        for i, src in enumerate(sources):
            vals = [next((r[key] for r in rows if r["camera_kind"] == k and r["model"] == src), np.nan) for k in kinds]
            ax.bar(x + (i - (len(sources) - 1) / 2) * width, vals, width, label=src,
                   color="tab:orange" if src == "MediaPipe" else None)
        ax.set_xticks(x, kinds, fontsize=8)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
