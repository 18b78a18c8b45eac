"""Render Anny posed with CMU motion, run BlazePose on the renders, measure its 2D against the truth,
fit the BlazePose -> H36M correction on training subjects and measure it on held-out ones.

    PYTHONPATH=. python scripts/render_detect.py [--renders /tmp/det2d/renders.npz] [--out bench_results/detector-2d]

Writes <out>.json and <out>.md (and <out>-frame.png: one rendered frame, small). The renders are
cached in ``--renders`` (re-used when present). See :mod:`hmcli.bench.detector2d`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch


def _table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def pattern_md(p: dict, title: str) -> str:
    rows = []
    for name, j in p["joints"].items():
        rows.append([name, _pct(j["left"]), _pct(j["up"]), _pct(j["sd_left"]), _pct(j["sd_up"]), _pct(j["err"]),
                     f"{j['conf']:.2f}", f"{1000 * j['accel_det']:.1f}", f"{1000 * j['accel_truth']:.1f}",
                     f"{j['lag1']:.2f}"])
    s = [f"### {title}", "",
         f"{p['detected_frames']} / {p['frames']} frames detected ({_pct(p['detection_rate'])} %); "
         f"lost-frame runs: {p['loss_runs'] or 'none'}; mean 2D error {_pct(p['mpjpe_2d'])} % of height; "
         f"mean acceleration detector {1000 * p['accel_det']:.1f} vs truth {1000 * p['accel_truth']:.1f} "
         "(‰ of height / frame²).", "",
         "Per joint, % of person height: mean offset detector − truth along `left` (towards the person's left) "
         "and `up` (pelvis → thorax), its std, mean error length; mean confidence; acceleration ‰ h/frame² of "
         "the detector and of the truth; lag-1 autocorrelation of the error.", "",
         _table(["joint", "left", "up", "sd left", "sd up", "err", "conf", "acc det", "acc truth", "lag-1"], rows), "",
         "Left/right swaps (share of detected frames; crossed fits better than straight by 2x and straight > 5 % h): "
         + ", ".join(f"{k} {_pct(v)} %" for k, v in p["swap_rate"].items())
         + f"; any pair {_pct(p['swap_any_rate'])} %, all three leg pairs {_pct(p['swap_legs_rate'])} %.", "",
         _table(["confidence", "share of joints", "mean err % h", "p90 err % h", "err > 10 % h"],
                [[b["conf"], _pct(b["share"]), _pct(b["err"]), _pct(b["err_p90"]), _pct(b["over_0.1h"])]
                 for b in p["conf_bins"]]), ""]
    return "\n".join(s)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--renders", default="/tmp/det2d/renders.npz")
    ap.add_argument("--out", default="bench_results/detector-2d")
    ap.add_argument("--no-lift", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from hmcli.bench.detector2d import (Detector2DSettings, error_pattern, lift_errors, load_clips, render_set,
                                        save_clips, stack_training)
    from hmcli.skeleton.blazepose_map import apply_matrix, fit_affine_map, weights_from_matrix

    t0 = time.perf_counter()
    say = lambda m: print(f"[{time.perf_counter() - t0:.0f}s] {m}", flush=True)  # noqa: E731
    settings = Detector2DSettings()
    if Path(args.renders).is_file():
        clips = load_clips(args.renders)
    else:
        clips, frame = render_set(settings, say)
        Path(args.renders).parent.mkdir(parents=True, exist_ok=True)
        save_clips(clips, args.renders)
        if frame is not None:
            import cv2

            small = cv2.resize(frame, (frame.shape[1] // 4, frame.shape[0] // 4), interpolation=cv2.INTER_AREA)
            cv2.imwrite(f"{args.out}-frame.png", small)
    train = [c for c in clips if c.split == "train"]
    test = [c for c in clips if c.split == "test"]
    say(f"{len(train)} training clips, {len(test)} held-out clips")

    x, t, h, valid = stack_training(train)
    m = fit_affine_map(x, t, h, valid)                                           # (17, 33)
    weights = weights_from_matrix(m)
    fitted = lambda k: apply_matrix(k, m)  # noqa: E731

    result = {"benchmark": "detector-2d", "settings": {k: v for k, v in vars(settings).items()},
              "truth": "projected CMU-calibrated H36M-17 keypoints of the posed Anny body",
              "clips": [{"label": c.label, "split": c.split, "frames": len(c.detected),
                         "detected": int(c.detected.sum()), **{k: c.meta[k] for k in ("trial", "action", "look")
                                                               if k in c.meta}} for c in clips],
              "pattern": {"all, today's mapping": error_pattern(clips),
                          "held-out, today's mapping": error_pattern(test),
                          "held-out, fitted mapping": error_pattern(test, fitted),
                          "held-out, today's mapping, vs CMU joints": error_pattern(test, truth="cmu")},
              "fitted_weights": weights}
    if not args.no_lift:
        from hmcli import api

        lifter = api.load_lifter()
        result["lift"] = lift_errors(test, lifter, {"detector, today's mapping": None,
                                                    "detector, fitted mapping": fitted}, say)
    result["seconds"] = time.perf_counter() - t0
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps(result, indent=1))

    md = ["# hm bench detector-2d: BlazePose on rendered CMU motion", "",
          "Generated by `scripts/render_detect.py` (see `hmcli/bench/detector2d.py` for the method). Truth: "
          + result["truth"] + ". Lengths in % of the person's height at the pelvis depth.", "",
          _table(["clip", "split", "action", "look", "detected"],
                 [[c["label"], c["split"], c.get("action", ""), c.get("look", ""), f"{c['detected']}/{c['frames']}"]
                  for c in result["clips"]]), ""]
    for k, p in result["pattern"].items():
        md.append(pattern_md(p, k))
    if "lift" in result:
        md += ["### Shipped lifter on held-out renders (MPJPE mm, root-relative, detected frames)", "",
               _table(["2D input", "vs truth keypoints", "vs CMU joints"] + [j for j in result["lift"]["truth 2D"]["per_joint_mm"]],
                      [[k, f"{v['mpjpe_truth_mm']:.1f}", f"{v['mpjpe_cmu_mm']:.1f}"]
                       + [f"{x:.0f}" for x in v["per_joint_mm"].values()] for k, v in result["lift"].items()]), ""]
    md += ["### Fitted mapping (training-subject renders)", "", "```", json.dumps(weights, indent=1), "```", ""]
    Path(f"{args.out}.md").write_text("\n".join(md))
    say(f"wrote {args.out}.json / .md")


if __name__ == "__main__":
    main()
