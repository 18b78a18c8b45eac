"""Lift the held-out rendered clips (real BlazePose detections of a posed body, ``scripts/render_detect.py``)
with several lifters and compare them: the detector-on-rendered-truth figure of docs/real-video.md §7.

    PYTHONPATH=. python scripts/lift_renders.py MODEL [MODEL ...] [--renders runs/det2d-renders.npz] [--json OUT] [--refine REFINER]

Each model gets the detector's 2D through the shipped learned BlazePose -> H36M map and the exact
projection of the truth (its floor on these bodies); MPJPE (root-relative) and P-MPJPE in mm, detected
frames. Renders that carry the detector's own 3D (world landmarks; renders made since 2026-12-07 (d))
also get its figures on the same frames (``mediapipe world``, through the ``cmu`` and ``midpoints``
maps): the check the issue asks for, whether hm's 3D beats the detector's own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--renders", default="runs/det2d-renders.npz")
    ap.add_argument("--json", default=None)
    ap.add_argument("--refine", default=None, help="also lift after temporal 2D refinement with this refiner")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from hmcli import api
    from hmcli.bench.detector2d import lift_errors, load_clips, world_errors
    from hmcli.skeleton.blazepose_map import blazepose_to_h36m_cmu

    clips = [c for c in load_clips(args.renders) if c.split == "test"]
    refiner = api.load_refiner(args.refine) if args.refine else None
    out = {}
    if all(c.det_world is not None for c in clips):
        for bmap in ("cmu", "midpoints"):
            w = world_errors(clips, bmap)
            out[f"mediapipe world ({bmap} map)"] = w
            print(f"mediapipe world landmarks ({bmap} map): MPJPE {w['mpjpe_truth_mm']:.1f} mm, "
                  f"P-MPJPE {w['pmpjpe_truth_mm']:.1f} mm, {w['frames']} frames", flush=True)
    for m in args.models:
        r = lift_errors(clips, api.load_lifter(m), {"detector, learned map": blazepose_to_h36m_cmu}, refiner=refiner)
        out[m] = r
        for name, v in r.items():
            print(f"  {name}: MPJPE {v['mpjpe_truth_mm']:.1f} mm, P-MPJPE {v['pmpjpe_truth_mm']:.1f} mm, "
                  f"2D error {v['err2d_pct']:.2f} % of height, {v['frames']} frames", flush=True)
        print(f"{m}: detector {r['detector, learned map']['mpjpe_truth_mm']:.1f} mm "
              f"(vs CMU joints {r['detector, learned map']['mpjpe_cmu_mm']:.1f}); exact 2D {r['truth 2D']['mpjpe_truth_mm']:.1f} "
              f"(vs CMU joints {r['truth 2D']['mpjpe_cmu_mm']:.1f})", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
