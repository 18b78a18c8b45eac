"""Test-time roll averaging of a lifter, measured on the held-out subjects (docs/real-video.md §16).

    PYTHONPATH=. python scripts/roll_tta.py hummuss-small-cmu --angles=-10,0,10 --corrupt-model blazepose

A picture rotated by an angle about its centre is the scene seen by a camera rolled about its optical
axis: the encoded 2D's offsets and location channels are rotated, the model lifts them (with the usual
test-time flip), its 3D is rotated back about the camera's z axis, and the estimates of all angles are
averaged. Prints MPJPE / P-MPJPE as ``hm eval`` scores them (2 cameras per test trial, seed 0).
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch


def rotate_xy(a: np.ndarray, deg: float) -> np.ndarray:
    """(..., 2) rotated by ``deg`` degrees (image axes: x right, y down)."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.stack([c * a[..., 0] - s * a[..., 1], s * a[..., 0] + c * a[..., 1]], -1)


def main() -> None:
    from hmcli.data.dataset import collate_windows, encode_batch
    from hmcli.lift import (
        FrameTiming,
        load_lifter,
        offline_windows,
        run_windows,
        train_fps,
    )
    from hmcli.train.evaluate import EvalSetting, eval_items
    from hmcli.train.metrics import evaluate
    from hmcli.train.trainer import load_split

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--angles", default="-10,0,10", help="roll angles in degrees, comma-separated")
    ap.add_argument("--corrupt-model", default="plain")
    ap.add_argument("--camera-kind", default="any")
    ap.add_argument("--data", default="../shared/data/cmu-amc")
    a = ap.parse_args()
    torch.set_num_threads(1)
    angles = [float(v) for v in a.angles.split(",")]
    lm = load_lifter(a.model)
    setting = EvalSetting(train_fps(lm), camera_kind=a.camera_kind, corrupt_model=a.corrupt_model)
    items = eval_items(load_split(a.data, "test"), setting)
    timing = FrameTiming(fps=train_fps(lm), dt_scale=1.0, steps=None)
    win = offline_windows(lm, timing.fps, False)
    preds = []
    for it in items:
        x = encode_batch(collate_windows([it]), lm.codec)[0][0].numpy()          # (F, J, C)
        outs = []
        for deg in angles:
            xr = x.copy()
            xr[..., 0:2] = rotate_xy(x[..., 0:2], deg)                           # person-unit offsets
            if x.shape[-1] == 6:
                xr[..., 3:5] = rotate_xy(x[..., 3:5], deg)                       # person centre
            y = run_windows(lm.model.eval(), xr, timing, win, flip=lm.codec).copy()  # (F, J, 3)
            y[..., 0:2] = rotate_xy(y[..., 0:2], -deg)                           # back about the camera's z
            outs.append(y)
        preds.append(lm.codec.decode_3d(torch.from_numpy(np.mean(outs, 0)).float()))
    r = evaluate(preds, [torch.as_tensor(it["joints3d"]) for it in items], [it["action_name"] for it in items],
                 fps=setting.fps)
    print(f"{lm.model_id} {a.corrupt_model} {a.camera_kind} angles {angles}: MPJPE {r.mpjpe:.1f} mm, "
          f"P-MPJPE {r.p_mpjpe:.1f} mm")


if __name__ == "__main__":
    with torch.no_grad():
        main()
