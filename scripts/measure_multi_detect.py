#!/usr/bin/env python3
"""Measure multi-person detection on side-by-side composites (docs/multi-person.md, "Implemented").

    python scripts/measure_multi_detect.py CLIP [CLIP ...] [--height 720] [--max-persons N] [--json out.json]

Composes the clips side by side in memory (scripts/compose_side_by_side.py; one true person per
clip), then, in this one process and on the same decoded frames:

1. the single-person path (``MediaPipePose.detect``, what ``hm detect`` runs),
2. ``MediaPipeTasksPose.detect_multi`` with tiling (the default) through ``run_detector_multi``,
3. the same without tiling,
4. the single-person path again (to see the machine's drift).

For each run: median ms/frame of the detector call (first frame left out), persons found per
frame, frames in which each panel's person is found, and for the multi runs the tracker's
output: distinct track ids per panel (1 = no id switch) and rows that visit more than one panel.
A person belongs to the panel its hip midpoint (landmarks 23, 24) is in.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("GLOG_minloglevel", "2")

import compose_side_by_side as csbs  # noqa: E402

from hmcli.detect import run_detector_multi  # noqa: E402
from hmcli.detect.mediapipe_pose import MediaPipePose  # noqa: E402
from hmcli.detect.mediapipe_tasks import MediaPipeTasksPose  # noqa: E402


class _Clock:
    """Wraps a detector; records the seconds of every call and the persons it returned."""

    def __init__(self, det) -> None:
        self.det, self.secs, self.found = det, [], []
        self.name, self.joint_set = det.name, det.joint_set

    def detect_multi(self, frame, t):
        t0 = time.perf_counter()
        if hasattr(self.det, "detect_multi"):
            people = self.det.detect_multi(frame, t)
        else:
            xy, conf, ok = self.det.detect(frame, t)
            people = [(xy, conf)] if ok else []
        self.secs.append(time.perf_counter() - t0)
        self.found.append(people)
        return people

    def close(self) -> None:
        self.det.close()


def _hip_x(xy: np.ndarray) -> np.ndarray:
    return xy[..., 23:25, 0].mean(-1)


def run(label: str, det, frames, comp: csbs.Composite) -> dict:
    clock = _Clock(det)
    t0 = time.perf_counter()
    m = run_detector_multi(clock, frames, max_persons=None)
    wall = time.perf_counter() - t0
    clock.close()
    n_panels = len(comp.edges) - 1
    counts = Counter(len(p) for p in clock.found)
    panel_frames = [0] * n_panels
    for people in clock.found:
        hit = {int(comp.panel_of(_hip_x(xy))) for xy, _ in people}
        for k in hit:
            panel_frames[k] += 1
    ids_per_panel: list[set[int]] = [set() for _ in range(n_panels)]
    multi_panel_rows = 0
    for p in range(m.num_persons):
        panels = set(comp.panel_of(_hip_x(m.xy[p, m.detected[p]])).tolist())
        multi_panel_rows += len(panels) > 1
        for k in panels:
            ids_per_panel[k].add(int(m.track_ids[p]))
    ms = np.asarray(clock.secs[1:]) * 1000.0
    out = {
        "run": label,
        "frames": m.num_frames,
        "size": f"{comp.width}x{comp.height}",
        "median_ms": round(float(np.median(ms)), 1),
        "persons_per_frame": {str(k): v for k, v in sorted(counts.items())},
        "frames_found_per_panel": panel_frames,
        "track_rows": m.num_persons,
        "ids_per_panel": [sorted(s) for s in ids_per_panel],
        "rows_on_several_panels": multi_panel_rows,
        "track_assemble_ms": round((wall - sum(clock.secs)) * 1000.0 / m.num_frames, 2),
    }
    if hasattr(det, "tiles"):
        out["tiles"] = [(t.x0, t.x1) for t in det.tiles]
    print(json.dumps(out), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--max-persons", type=int, default=None, help="default: the number of clips")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    comp = csbs.plan(a.clips, a.height, max_frames=a.max_frames)
    frames = list(csbs.frames(a.clips, a.height, max_frames=a.max_frames))  # decoded once, in memory
    k = a.max_persons or len(a.clips)
    results = [
        run("single (MediaPipePose.detect)", MediaPipePose(), frames, comp),
        run(f"tasks, tiled, max_persons={k}", MediaPipeTasksPose(k), frames, comp),
        run(f"tasks, untiled, max_persons={k}", MediaPipeTasksPose(k, tile=False), frames, comp),
        run("single again", MediaPipePose(), frames, comp),
    ]
    if a.json:
        Path(a.json).write_text(json.dumps({"clips": a.clips, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
