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
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path


from hmcli.io.atomic import HMError

__all__ = ["rendered_bench", "rendered_table"]

Say = Callable[[str], None]

MEDIAPIPE_MAPS = ("cmu", "midpoints")
_NOTES = ("Truth: the posed Anny body's own H36M-17 keypoints (CMU-calibrated); held-out CMU subjects 09 and 49, "
          "real BlazePose (MediaPipe, video mode) on the rendered frames.",
          "Shaded meshes on plain or noise backgrounds, CMU motion: in hm's training distribution of motion, not of "
          "MediaPipe's images, so this favours hm; a real multi-view recording remains the arbiter.",
          "MPJPE is root-relative in the camera's axes (MediaPipe's world landmarks follow them); P-MPJPE aligns "
          "every frame by a similarity first.")  # fmt: skip


def _load_or_render(renders: str | None, data: str, say: Say):
    from hmcli.bench.detector2d import Detector2DSettings, load_clips, render_set, save_clips

    if renders is not None and Path(renders).is_file():
        try:
            clips = [c for c in load_clips(renders) if c.split == "test"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise HMError(f"cannot read renders {renders}: {e}") from None
        if not clips:
            raise HMError(f"{renders}: no held-out clips in these renders")
        if any(c.det_world is None for c in clips):
            raise HMError(f"{renders}: made without the detector's world landmarks; remove it to render again")
        say(f"reusing {len(clips)} rendered clips from {renders}")
        return clips
    if not Path(data).is_dir():
        raise HMError(f"motion capture directory not found: {data} (the held-out CMU subjects are rendered from it)")
    clips, _ = render_set(Detector2DSettings(data=data), say, keep_frame=None, split="test")
    if not clips:
        raise HMError(f"{data}: none of the held-out clips was found")
    if renders is not None:
        save_clips(clips, renders)
        say(f"saved the renders to {renders}")
    return clips


def _row(model: str, source: str, r: dict) -> dict:
    return {"model": model, "input": source, "frames": r["frames"], "mpjpe_mm": r["mpjpe_truth_mm"],
            "p_mpjpe_mm": r["pmpjpe_truth_mm"], "per_joint_pa_mm": r["per_joint_pa_mm"],
            "per_joint_mm": r["per_joint_mm"], **({"err2d_pct": r["err2d_pct"]} if "err2d_pct" in r else {})}


def rendered_bench(lifters: Sequence[str | None] = (None, "causal"), renders: str | None = None,
                   data: str = "../shared/data/cmu-amc", say: Say = lambda m: None) -> dict:
    """Run the benchmark (module docstring). ``lifters``: names or paths; None is the shipped
    bidirectional model, ``"causal"`` the shipped causal one."""
    from hmcli import api
    from hmcli.bench.common import machine
    from hmcli.bench.detector2d import lift_errors, world_errors
    from hmcli.skeleton.blazepose_map import blazepose_to_h36m_cmu

    t0 = time.perf_counter()
    clips = _load_or_render(renders, data, say)
    rows, per_clip = [], {c.label: {"clip": c.label, "action": c.meta.get("action", "")} for c in clips}
    for bmap in MEDIAPIPE_MAPS:
        rows.append(_row("MediaPipe", f"world landmarks, {bmap} map", world_errors(clips, bmap)))
    for c in clips:
        per_clip[c.label]["MediaPipe"] = world_errors([c], "cmu")["pmpjpe_truth_mm"]
    det = "detector 2D (as hm lift)"
    for name in lifters:
        lifter = api.load_lifter(None, causal=True) if name == "causal" else api.load_lifter(name)
        label = lifter.model_id
        say(f"lifting with {label}")
        r = lift_errors(clips, lifter, {det: blazepose_to_h36m_cmu})
        rows.append(_row(label, det, r[det]))
        rows.append(_row(label, "exact 2D (the lifter's floor)", r["truth 2D"]))
        for c in clips:
            per_clip[c.label][label] = lift_errors([c], lifter, {det: blazepose_to_h36m_cmu})[det]["pmpjpe_truth_mm"]
    mp = rows[0]
    hm_rows = [r for r in rows if r["input"] == det]
    joints = list(mp["per_joint_pa_mm"])
    sources = [mp] + hm_rows
    tables = [{"title": "P-MPJPE per joint (mm), detector input",
               "columns": ["joint"] + [r["model"] for r in sources],
               "rows": [[j] + [f"{r['per_joint_pa_mm'][j]:.0f}" for r in sources] for j in joints]},
              {"title": "P-MPJPE per clip (mm), detector input; MediaPipe through the cmu map",
               "columns": ["clip", "action", "MediaPipe"] + [r["model"] for r in hm_rows],
               "rows": [[v["clip"], v["action"]] + [f"{v[k]:.1f}" for k in ["MediaPipe"] + [r["model"] for r in hm_rows]]
                        for v in per_clip.values()]}]
    ratios = {f"{r['model']} / MediaPipe, P-MPJPE": r["p_mpjpe_mm"] / mp["p_mpjpe_mm"] for r in hm_rows}
    ratios.update({f"{r['model']} / MediaPipe, MPJPE": r["mpjpe_mm"] / mp["mpjpe_mm"] for r in hm_rows})
    wins = {r["model"]: sum(v[r["model"]] < v["MediaPipe"] for v in per_clip.values()) for r in hm_rows}
    notes = list(_NOTES) + [f"{m} beats MediaPipe's P-MPJPE on {n} of {len(per_clip)} clips" for m, n in wins.items()]
    return {"benchmark": "rendered", "settings": {"clips": len(clips), "frames": int(sum(c.detected.sum() for c in clips)),
                                                  "renders": renders, "data": data},
            "rows": rows, "per_clip": list(per_clip.values()), "tables": tables, "ratios": ratios, "notes": notes,
            "seconds": time.perf_counter() - t0, "machine": machine()}


def rendered_table(result: dict) -> tuple[str, list[str], list[list[str]]]:
    cols = ["model", "3D from", "frames", "MPJPE mm", "P-MPJPE mm", "2D error % of height"]
    rows = [[r["model"], r["input"], str(r["frames"]), f"{r['mpjpe_mm']:.1f}", f"{r['p_mpjpe_mm']:.1f}",
             f"{r['err2d_pct']:.2f}" if "err2d_pct" in r else "-"] for r in result["rows"]]
    return (f"hm bench rendered: 3D error on {result['settings']['clips']} rendered held-out clips "
            "(real BlazePose on the frames)", cols, rows)


def plot_rendered(result: dict, axes) -> None:
    """MPJPE and P-MPJPE per 3D source (bars)."""
    rows = result["rows"]
    labels = [f"{r['model']}\n{r['input']}" for r in rows]
    colours = ["tab:orange" if r["model"] == "MediaPipe" else "tab:blue" for r in rows]
    for ax, key, title in zip(axes, ("mpjpe_mm", "p_mpjpe_mm"), ("MPJPE mm (root-relative)", "P-MPJPE mm")):
        vals = [r[key] for r in rows]
        bars = ax.bar(range(len(rows)), vals, color=colours)
        for b, v in zip(bars, vals):
            ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.1f}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(rows)), labels, fontsize=6, rotation=30, ha="right")
        ax.set_title(title, fontsize=9)
