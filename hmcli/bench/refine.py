"""``hm bench refine``: what the temporal 2D refiner does, measured in one run on held-out CMU subjects.

For each 2D error model (plain corruption, BlazePose-like) and camera kind, the test subjects'
whole trials are projected through fixed cameras and corrupted (as ``hm eval`` does), then:

* 2D error against the exact projection, % of the person's height: the found joints as given and
  after refinement, the missed joints as the refiner fills them;
* each lifter's MPJPE / P-MPJPE without and with refinement (the lifter as ``hm lift`` runs it);
* the refiner's cost per frame next to the lifter's (offline, windows of the trained length).
"""

from __future__ import annotations

import time

import numpy as np

from hmcli.bench.common import machine

__all__ = ["refine_bench", "refine_table"]


def _cost_ms_per_frame(fn, frames: int, repeats: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return 1000.0 * best / frames


def refine_bench(refiner=None, lifters=(None, "causal"), data: str = "../shared/data/cmu-amc",
                 kinds=("standard",), corrupt_models=("plain", "blazepose"), cameras: int = 2, seed: int = 0,
                 say=lambda m: None) -> dict:
    """Run the benchmark (see module docstring). ``lifters``: names/paths, None for the shipped
    bidirectional model and ``"causal"`` for the shipped causal one."""
    from hmcli import api
    from hmcli.lift import lift_keypoints
    from hmcli.refine.api import refine_track
    from hmcli.refine.evaluate import refine_items, score_2d
    from hmcli.train.evaluate import EvalSetting, eval_items, score_items
    from hmcli.train.trainer import load_split
    from hmcli.types import Keypoints2D

    lr = refiner if refiner is not None and not isinstance(refiner, str) else api.load_refiner(refiner)
    lms = [api.load_lifter(None, causal=True) if m == "causal" else api.load_lifter(m) for m in lifters]
    seqs = load_split(data, "test")
    rows = []
    for corrupt in corrupt_models:
        for kind in kinds:
            setting = EvalSetting(30.0, cameras=cameras, seed=seed, camera_kind=kind, corrupt_model=corrupt)
            items = eval_items(seqs, setting)
            refined = refine_items(lr, items, float(lr.model.cfg.fps) / setting.fps)
            r2 = score_2d(items, [(it["xy"], it["conf"]) for it in refined])
            row = {"corrupt_model": corrupt, "camera_kind": kind, "frames": int(sum(len(it["xy"]) for it in items)),
                   "err2d_found_before": r2.found_before, "err2d_found_after": r2.found_after,
                   "err2d_missed_after": r2.missed_after, "missed_pct": 100.0 * r2.missed_joints /
                   max(1, r2.missed_joints + r2.found_joints), "lifters": []}
            for lm in lms:
                before = score_items(lm, items, setting)
                after = score_items(lm, refined, setting)
                row["lifters"].append({"model": lm.model_id, "mpjpe_before": before.mpjpe, "mpjpe_after": after.mpjpe,
                                       "p_mpjpe_before": before.p_mpjpe, "p_mpjpe_after": after.p_mpjpe})
            say(f"{corrupt} / {kind}: 2D {r2.found_before:.2f} -> {r2.found_after:.2f} % height; " + ", ".join(
                f"{x['model']} {x['mpjpe_before']:.1f} -> {x['mpjpe_after']:.1f} mm" for x in row["lifters"]))
            rows.append(row)
    # cost: up to 300 frames (10 s at 30 fps) of the longest test clip, refine vs lift (with test-time flip)
    it = max(items, key=lambda x: len(x["xy"]))
    n = min(300, len(it["xy"]))
    xy, conf = it["xy"][:n], it["conf"][:n]
    ref_ms = _cost_ms_per_frame(lambda: refine_track(lr, xy, conf), n)
    kp = Keypoints2D(xy, conf, "h36m17", np.arange(n) / 30.0, it["width"], it["height"], np.ones(n, bool))
    lift_ms = _cost_ms_per_frame(lambda: lift_keypoints(kp, lms[0]), n)
    params = sum(p.numel() for p in lr.model.parameters())
    return {"benchmark": "refine", "refiner": lr.model_id, "refiner_params": params, "cameras": cameras, "seed": seed,
            "rows": rows, "cost": {"frames": n, "refine_ms_per_frame": ref_ms, "lift_ms_per_frame": lift_ms,
                                   "lifter": lms[0].model_id},
            "ratios": {"refine / lift time per frame": ref_ms / lift_ms}, "machine": machine()}


def refine_table(result: dict) -> tuple[str, list[str], list[list[str]]]:
    cols = ["2D errors", "cameras", "frames", "2D found: as given", "refined", "2D missed (%): filled", "lifter",
            "MPJPE: as given", "refined", "P-MPJPE: as given", "refined"]
    rows = []
    for r in result["rows"]:
        for i, x in enumerate(r["lifters"] or [{}]):
            head = [r["corrupt_model"], r["camera_kind"], str(r["frames"]), f"{r['err2d_found_before']:.2f} %",
                    f"{r['err2d_found_after']:.2f} %", f"({r['missed_pct']:.1f}) {r['err2d_missed_after']:.2f} %"]
            if i:
                head = [""] * len(head)
            rows.append(head + ([x["model"], f"{x['mpjpe_before']:.1f}", f"{x['mpjpe_after']:.1f}",
                                 f"{x['p_mpjpe_before']:.1f}", f"{x['p_mpjpe_after']:.1f}"] if x else [""] * 5))
    c = result["cost"]
    rows.append(["cost", "", str(c["frames"]), "", "", "", f"refine {c['refine_ms_per_frame']:.3f} ms/frame",
                 f"lift {c['lift_ms_per_frame']:.3f}", "", "", ""])
    return (f"hm bench refine: {result['refiner']} ({result['refiner_params'] / 1e6:.2f} M parameters), held-out "
            f"subjects, 2D error in % of the person's height, MPJPE in mm", cols, rows)
