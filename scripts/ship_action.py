"""Ship a trained action classifier: float16 checkpoint in models/ + its model card.

    python scripts/ship_action.py runs/action-bi-rate hummuss-action-cmu \
        --command "hm train --task action ..." --limits limits.txt

Reads RUN/last.pt and RUN/summary.json; the figures of the checkpoint it replaces (its
meta "metrics") are shown on the card next to the new ones. Files are written atomically.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from hmcli.action.card import write_action_card
from hmcli.action.checkpoint import load_action, save_action


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run")
    ap.add_argument("model_id")
    ap.add_argument("--command", required=True, help="the exact training command (shown on the card)")
    ap.add_argument("--limits", required=True, help="a text file, one limit per line")
    ap.add_argument("--backbone-note", default="the bidirectional lifter hummuss-small-cmu (0.72 M parameters) as backbone")
    ap.add_argument("--models", default="models")
    ap.add_argument("--previous-label", default=None,
                    help="how the card names the checkpoint it replaces (default: its feature windows)")
    ap.add_argument("--previous-rendered", default=None,
                    help="hm bench action-rendered --json output with the replaced checkpoint's row (for a checkpoint "
                         "made before its training recorded the rendered evaluation)")
    ap.add_argument("--folds", default=None,
                    help="scripts/action_folds.py's folds.json for this recipe (a cross-validation section on the card)")
    a = ap.parse_args()
    run, dst = Path(a.run), Path(a.models) / f"{a.model_id}.pt"
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    previous = []
    if dst.is_file():
        old = load_action(dst)
        if old.meta.get("metrics"):
            windows = old.meta.get("train", {}).get("feature_windows")
            label = a.previous_label or f"previous {a.model_id} ({windows} feature windows)"
            rendered = old.meta.get("metrics_rendered")
            if rendered is None and a.previous_rendered:
                rows = json.loads(Path(a.previous_rendered).read_text(encoding="utf-8"))["rows"]
                rendered = next((r for r in rows if r["model"] == old.model_id), None)
            previous.append((label, dict(old.meta["metrics"], rendered=rendered)))
    la = load_action(run / "last.pt")
    meta = dict(la.meta, model_id=a.model_id)
    if summary.get("test_rendered") and "metrics_rendered" not in meta:     # scored after the run (hm bench action-rendered)
        meta["metrics_rendered"] = summary["test_rendered"]
    save_action(dst, la.model.eval(), la.arch, la.codec, la.classes, la.window_s, la.fps, meta, half=True)
    data = dst.read_bytes()
    limits = [x.strip() for x in Path(a.limits).read_text(encoding="utf-8").splitlines() if x.strip()]
    write_action_card(dst.with_suffix(".md"), summary, a.model_id, a.command, hashlib.sha256(data).hexdigest(),
                      len(data), limits, a.backbone_note, previous,
                      json.loads(Path(a.folds).read_text(encoding="utf-8")) if a.folds else None)
    print(f"{dst}: {len(data) / 1e6:.1f} MB; card {dst.with_suffix('.md')}")


if __name__ == "__main__":
    main()
