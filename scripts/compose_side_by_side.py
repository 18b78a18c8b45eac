#!/usr/bin/env python3
"""Place video clips side by side: a quick multi-person test video from one-person clips.

    python scripts/compose_side_by_side.py out.mp4 a.mp4 b.mp4 [c.mp4 ...] --height 720

Each clip's frame is resized to ``--height`` (INTER_AREA, aspect kept) and the frames are
concatenated left to right (``np.hstack``). Frame i of the output holds frame i of every clip
(no resampling between clips of different frame rates); the output stops at the shortest clip
(or ``--max-frames``) and plays at the first clip's rate. ``--flip`` mirrors the given clips
(1-based positions), ``--lag`` starts a clip N frames late, so one clip can play two persons:

    python scripts/compose_side_by_side.py two.mp4 clip.mp4 clip.mp4 --flip 2 --lag 0,12

The panel edges (x of each clip's left edge) are printed; a person belongs to the panel its hip
midpoint is in. Used for docs/multi-person.md ("Implemented"); output videos are not committed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hmcli.io.atomic import HMError  # noqa: E402
from hmcli.io.video import iter_frames, probe_video  # noqa: E402


@dataclass(frozen=True)
class Composite:
    """Where each clip lands: ``edges`` (N + 1,) x of panel borders; ``fps`` of the first clip;
    ``num_frames`` of the output."""

    edges: np.ndarray
    height: int
    fps: float
    num_frames: int

    @property
    def width(self) -> int:
        return int(self.edges[-1])

    def panel_of(self, x: np.ndarray) -> np.ndarray:
        """Panel index of x positions (any shape), clipped to the panels."""
        return np.clip(np.searchsorted(self.edges, x, side="right") - 1, 0, len(self.edges) - 2)


def _panel_width(w: int, h: int, height: int) -> int:
    return max(1, round(w * height / h))


def plan(paths: Sequence[str | Path], height: int = 720, *, lag: Sequence[int] | None = None,
         max_frames: int | None = None) -> Composite:  # fmt: skip
    """The layout of ``paths`` side by side at ``height`` (see :func:`frames`)."""
    if not paths:
        raise HMError("give at least one clip")
    lag = list(lag) if lag is not None else [0] * len(paths)
    infos = [probe_video(p) for p in paths]
    widths = [_panel_width(i.width, i.height, height) for i in infos]
    n = min(i.num_frames - g for i, g in zip(infos, lag, strict=True))
    if max_frames is not None:
        n = min(n, max_frames)
    if n < 1:
        raise HMError("the clips (after --lag) have no frame in common")
    return Composite(np.concatenate([[0], np.cumsum(widths)]).astype(np.int64), int(height), float(infos[0].fps), int(n))


def frames(paths: Sequence[str | Path], height: int = 720, *, flip: Sequence[int] = (), lag: Sequence[int] | None = None,
           max_frames: int | None = None) -> Iterator[tuple[int, float, np.ndarray]]:  # fmt: skip
    """``(index, t, frame_bgr (height, W, 3))`` of the composite; ``flip``: 0-based clip positions
    to mirror; ``lag``: frames to skip at the start of each clip."""
    comp = plan(paths, height, lag=lag, max_frames=max_frames)
    lag = list(lag) if lag is not None else [0] * len(paths)
    its = [iter_frames(p) for p in paths]
    try:
        for it, g in zip(its, lag, strict=True):
            for _ in range(g):
                next(it)
        for i in range(comp.num_frames):
            panels = []
            for k, it in enumerate(its):
                _, _, f = next(it)
                w = int(comp.edges[k + 1] - comp.edges[k])
                f = cv2.resize(f, (w, comp.height), interpolation=cv2.INTER_AREA)  # (height, w, 3)
                panels.append(f[:, ::-1] if k in flip else f)
            yield i, i / comp.fps, np.ascontiguousarray(np.hstack(panels))  # (height, W, 3)
    finally:
        for it in its:
            close = getattr(it, "close", None)
            if close is not None:
                close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="output .mp4")
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--flip", default="", help="comma-separated 1-based clip positions to mirror")
    ap.add_argument("--lag", default="", help="comma-separated frames to skip at the start of each clip")
    a = ap.parse_args(argv)
    try:
        flip = [int(x) - 1 for x in a.flip.split(",") if x.strip()]
        lag = [int(x) for x in a.lag.split(",") if x.strip()] or None
        if lag is not None and len(lag) != len(a.clips):
            raise HMError(f"--lag needs {len(a.clips)} values, got {len(lag)}")
        comp = plan(a.clips, a.height, lag=lag, max_frames=a.max_frames)
        from hmcli.render.overlay import _write_mp4

        _write_mp4(a.out, comp.fps, (comp.width, comp.height),
                   (f for _, _, f in frames(a.clips, a.height, flip=flip, lag=lag, max_frames=a.max_frames)),
                   comp.num_frames, None)  # fmt: skip
    except HMError as e:
        print(f"compose_side_by_side: error: {e}", file=sys.stderr)
        return 2
    print(f"{a.out}: {comp.width}x{comp.height}, {comp.num_frames} frames at {comp.fps:g} fps; "
          f"panel edges {comp.edges.tolist()}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
