"""Weight interpolation of checkpoints of one architecture (docs/real-video.md §16).

    PYTHONPATH=. python scripts/interpolate_weights.py runs/wise75.pt \
        models/hummuss-small-cmu-v1.pt 0.25 models/hummuss-small-cmu.pt 0.75

Writes OUT (atomically, float16): the weighted sum of the checkpoints' weights, PATH WEIGHT pairs
(e.g. a model and its fine-tuned version with weights 1 - a and a); score it like any lifter
(``hm eval OUT``, ``hm bench rendered -m OUT``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hmcli.io.checkpoint import (
    CheckpointError,
    atomic_torch_save,
    interpolate_checkpoints,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("pairs", nargs="+", help="PATH WEIGHT [PATH WEIGHT ...]")
    a = ap.parse_args()
    if len(a.pairs) % 2:
        sys.exit("error: give PATH WEIGHT pairs")
    try:
        weights = [float(w) for w in a.pairs[1::2]]
    except ValueError:
        sys.exit(f"error: weights must be numbers, not {a.pairs[1::2]}")
    try:
        obj = interpolate_checkpoints(a.pairs[0::2], weights, Path(a.out).stem)
    except CheckpointError as e:
        sys.exit(f"error: {e}")
    atomic_torch_save(obj, Path(a.out))
    print(f"wrote {a.out}: " + " + ".join(f"{w:g} x {p}" for p, w in zip(a.pairs[0::2], weights)))


if __name__ == "__main__":
    main()
