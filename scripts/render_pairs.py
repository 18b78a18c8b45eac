"""Render training pairs: real BlazePose 2D of posed, rendered CMU bodies with their 3D truth (and action).

    PYTHONPATH=. python scripts/render_pairs.py --out runs/pairs-0.npz --clips 120 --seed 0 [--camera-kind mixed]
    PYTHONPATH=. python scripts/render_pairs.py --task action --out runs/action-pairs-0.npz --clips 200 --seed 0
    PYTHONPATH=. python scripts/render_pairs.py --task action --split test --out runs/action-test.npz

``--task lift`` (default): random 120-frame windows (30 fps) of training-split CMU trials (never the
validation or test subjects), drawn by minutes of motion; what ``hm train data_rendered=...`` reads
(docs/real-video.md §14).

``--task action``: trials that carry one of the action classes (:mod:`hmcli.action.cmu`). With
``--split train``, random 120-frame windows of the action training subjects (all but 09 and 49), the
class drawn uniformly, then the trial by length (what ``hm train --task action data_rendered=...``
reads); with ``--split test``, every held-out window the action evaluation scores (2 s every
``--stride`` s of each trial of 09 and 49), each through its own camera (what ``eval_rendered=...`` and
``hm bench action-rendered`` read).

Each window is posed on a random Anny body, seen by one camera of ``--camera-kind`` (default: the
lifter's stage-2 mix for lift pairs, framed cameras for action), rendered and detected as in
``hm bench rendered`` (:func:`hmcli.bench.detector2d.render_set`). About 10 s per 120 frames on one core.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def _lift_windows(seqs, rng: np.random.Generator, clips: int, frames: int) -> list[tuple[str, int]]:
    from hmcli.data.splits import split_of

    seqs = [s for s in seqs if split_of(s.subject) == "train"]
    lengths = np.array([int(s.num_frames * 30.0 / s.fps) for s in seqs])
    ok = np.flatnonzero(lengths >= frames)
    p = lengths[ok] / lengths[ok].sum()                                          # by minutes of motion
    return [(seqs[i].trial_id, int(rng.integers(0, lengths[i] - frames + 1))) for i in rng.choice(ok, size=clips, p=p)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--task", choices=("lift", "action"), default="lift")
    ap.add_argument("--split", choices=("train", "test"), default="train", help="action: training or held-out windows")
    ap.add_argument("--clips", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--camera-kind", default=None)
    ap.add_argument("--stride", type=float, default=1.0, help="action test windows: seconds between starts")
    ap.add_argument("--data", default="../shared/data/cmu-amc")
    ap.add_argument("--subjects", default=None,
                    help="action --split test: the held-out subjects whose windows to render, comma-separated "
                         "(default 09,49; e.g. a fold of hmcli.action.cmu.SUBJECT_FOLDS)")
    args = ap.parse_args()
    if args.task == "lift" and args.split != "train":
        ap.error("--split test is for --task action (the lifter's held-out renders: hm bench rendered)")
    if args.subjects is not None and (args.task, args.split) != ("action", "test"):
        ap.error("--subjects is for --task action --split test")
    from hmcli.data.splits import normalize_subject

    try:
        held = None if args.subjects is None else tuple(normalize_subject(s) for s in args.subjects.split(",") if s.strip())
    except ValueError as e:
        ap.error(f"--subjects: {e}")
    torch.set_num_threads(1)
    from hmcli.bench.detector2d import Detector2DSettings, render_set, save_clips
    from hmcli.data.cmu import load_cmu_dir

    t0 = time.perf_counter()
    seqs = load_cmu_dir(args.data)
    rng = np.random.default_rng(args.seed)
    if args.task == "lift":
        frames, kind = 120, args.camera_kind or "mixed"
        wanted = _lift_windows(seqs, rng, args.clips, frames)
    else:
        frames, kind = (60 if args.split == "test" else 120), args.camera_kind or "framed"
        from hmcli.action.rendered import render_windows

        wanted = render_windows(seqs, rng, args.clips, frames, args.split, args.stride, held)
    train, test = (tuple(wanted), ()) if args.split == "train" else ((), tuple(wanted))
    settings = Detector2DSettings(data=args.data, frames=frames, cameras=1, seed=1000 + args.seed,
                                  camera_kind=kind, train_clips=train, test_clips=test)
    say = lambda m: print(f"[{time.perf_counter() - t0:.0f}s] {m}", flush=True)
    say(f"{len(wanted)} windows of {frames} frames, {kind} cameras")
    clips, _ = render_set(settings, say, keep_frame=None)
    save_clips(clips, args.out)
    say(f"wrote {len(clips)} clips, {sum(int(c.detected.sum()) for c in clips)} frames with a person, to {args.out}")


if __name__ == "__main__":
    main()
