"""Render training pairs: real BlazePose 2D of posed, rendered training-subject bodies with their 3D truth.

    PYTHONPATH=. python scripts/render_pairs.py --out runs/pairs-0.npz --clips 120 --seed 0 [--camera-kind mixed]

Random 120-frame windows (30 fps) of training-split CMU trials (never the validation or test subjects),
each on a random Anny body through one camera of ``--camera-kind`` (default: the lifter's stage-2 mix),
rendered and detected as in ``hm bench rendered`` (:func:`hmcli.bench.detector2d.render_set`). The file is
what ``hm train data_rendered=...`` reads (docs/real-video.md §14). About 10 s per clip on one core.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--clips", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--camera-kind", default="mixed")
    ap.add_argument("--data", default="../shared/data/cmu-amc")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from hmcli.bench.detector2d import Detector2DSettings, render_set, save_clips
    from hmcli.data.cmu import load_cmu_dir
    from hmcli.data.splits import split_of

    t0 = time.perf_counter()
    seqs = [s for s in load_cmu_dir(args.data) if split_of(s.subject) == "train"]
    rng = np.random.default_rng(args.seed)
    frames = 120
    lengths = np.array([int(s.num_frames * 30.0 / s.fps) for s in seqs])
    ok = np.flatnonzero(lengths >= frames)
    p = lengths[ok] / lengths[ok].sum()                                          # by minutes of motion
    wanted = []
    for i in rng.choice(ok, size=args.clips, p=p):
        wanted.append((seqs[i].trial_id, int(rng.integers(0, lengths[i] - frames + 1))))
    settings = Detector2DSettings(data=args.data, frames=frames, cameras=1, seed=1000 + args.seed,
                                  camera_kind=args.camera_kind, train_clips=tuple(wanted), test_clips=())
    say = lambda m: print(f"[{time.perf_counter() - t0:.0f}s] {m}", flush=True)
    clips, _ = render_set(settings, say, keep_frame=None, split="train")
    save_clips(clips, args.out)
    say(f"wrote {len(clips)} clips, {sum(int(c.detected.sum()) for c in clips)} frames with a person, to {args.out}")


if __name__ == "__main__":
    main()
