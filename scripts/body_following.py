"""Does a lifter follow the body in the 2D or impose its training bodies? (issue #35, docs/real-video.md)

Lifts the held-out test trials with other bodies (``hm eval --proportions PRESET``: the same
cameras and corruption) and, per lifted item, compares the mean predicted and true
shoulder width, hip width and body height (head to the lower ankle, root-relative).
The least-squares slope of predicted on true widths across people tells: 1 = the lift
follows the person, 0 = it imposes one body whatever the 2D shows.

    PYTHONPATH=. python scripts/body_following.py models/hummuss-small-cmu.pt --proportions wide \
        --out bench_results/real-video/hummuss-small-cmu.body-following.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from hmcli.io.checkpoint import load_checkpoint, resolve_model
from hmcli.skeleton.joints import H36M17
from hmcli.train.evaluate import EvalSetting, eval_items, predict_items
from hmcli.train.trainer import load_split

MEASURES = {
    "shoulder": ("left_shoulder", "right_shoulder"),
    "hip": ("left_hip", "right_hip"),
}


def _sizes(x: np.ndarray) -> dict[str, float]:
    """Mean sizes (m) of a (F, 17, 3) sequence: shoulder width, hip width, head-to-lower-ankle height."""
    out = {k: float(np.linalg.norm(x[:, H36M17.index(a)] - x[:, H36M17.index(b)], axis=-1).mean())
           for k, (a, b) in MEASURES.items()}
    head = x[:, H36M17.index("head")]  # (F, 3)
    ankles = x[:, [H36M17.index("left_ankle"), H36M17.index("right_ankle")]]  # (F, 2, 3)
    out["height"] = float(np.linalg.norm(head[:, None] - ankles, axis=-1).max(axis=1).mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--data", default="../shared/data/cmu-amc")
    ap.add_argument("--proportions", default="wide")
    ap.add_argument("--camera-kind", default="any")
    ap.add_argument("--cameras", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_checkpoint(resolve_model(args.model))
    fps = float(lm.config.get("fps", 30.0))
    setting = EvalSetting(fps=fps, cameras=args.cameras, camera_kind=args.camera_kind, proportions=args.proportions)
    items = eval_items(load_split(args.data, "test"), setting)
    preds = predict_items(lm, items, 1.0)  # (F, 17, 3) per item
    rows = []
    for it, p in zip(items, preds):
        rows.append({"trial": f"{it['subject']}_{it['trial']}", "camera": int(it["camera_index"]),
                     "true": _sizes(np.asarray(it["joints3d"], dtype=np.float64)),
                     "pred": _sizes(p.numpy().astype(np.float64))})
    summary = {}
    for key in ("shoulder", "hip", "height"):
        t = np.array([r["true"][key] for r in rows])  # (N,)
        q = np.array([r["pred"][key] for r in rows])  # (N,)
        slope = float(np.polyfit(t, q, 1)[0]) if np.ptp(t) > 0 else float("nan")
        summary[key] = {"slope": slope, "corr": float(np.corrcoef(t, q)[0, 1]), "true_mean_m": float(t.mean()),
                        "true_min_m": float(t.min()), "true_max_m": float(t.max()), "pred_mean_m": float(q.mean()),
                        "pred_min_m": float(q.min()), "pred_max_m": float(q.max()),
                        "mean_abs_log_ratio": float(np.abs(np.log(q / t)).mean())}
    out = {"model": lm.model_id, "proportions": args.proportions, "camera_kind": args.camera_kind,
           "cameras": args.cameras, "items": len(rows), "summary": summary, "rows": rows}
    for key, s in summary.items():
        print(f"{key:8s} slope {s['slope']:.2f}  corr {s['corr']:.2f}  true {s['true_min_m']:.3f}-{s['true_max_m']:.3f} m"
              f"  pred {s['pred_min_m']:.3f}-{s['pred_max_m']:.3f} m  |log ratio| {s['mean_abs_log_ratio']:.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
