"""Cross-validate an action training recipe over subject folds of the CMU data.

    PYTHONPATH=. python scripts/action_folds.py runs/folds --model hummuss-small-cmu-v1 \
        threads=1 "rate_range=[5, 60]" rate_p=0.5 ...          # the recipe's key=value options

Trains one classifier per fold of ``hmcli.action.cmu.SUBJECT_FOLDS`` (every labelled subject
held out once; ``--folds 1,2`` runs some of them, e.g. one process per core) into
``OUT/fold-K`` (a fold whose ``summary.json`` exists is not trained again), then pools every
finished fold into ``OUT/folds.json`` and ``OUT/folds.md``: per fold and per held-out subject,
and the confusion of all held-out windows together. ``--pool`` only pools; ``--renders FILE`` also
scores each fold's classifier on the real detector's 2D of its own subjects' rendered windows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hmcli.action.card import folds_markdown
from hmcli.action.cmu import SUBJECT_FOLDS
from hmcli.action.train import action_config, pool_folds, train_action
from hmcli.io.atomic import HMError, atomic_write


def real_detector(out: Path, folds: list[int], renders: list[str]) -> dict[int, dict]:
    """Each finished fold's classifier (``OUT/fold-K/last.pt``) on the rendered windows of its own
    held-out subjects in ``renders`` (``scripts/render_pairs.py --task action --split test
    --subjects ...``): :func:`hmcli.action.train.evaluate_windows` results by fold."""
    from hmcli.action.checkpoint import load_action
    from hmcli.action.rendered import rendered_actions
    from hmcli.action.train import score_rendered
    from hmcli.data.rendered import load_clip_files

    clips = load_clip_files(renders, "--renders")
    res = {}
    for k in folds:
        la = load_action(out / f"fold-{k}" / "last.pt")
        items = rendered_actions(clips, tuple(la.classes), "test", SUBJECT_FOLDS[k])
        if items:
            res[k] = score_rendered(la, items)
    return res


def fold_report(summaries: dict[int, dict], real: dict[int, dict] | None = None) -> dict:
    """The finished folds' held-out figures (fold index -> its ``summary.json``), each fold's and
    pooled (:func:`hmcli.action.train.pool_folds`; also over folds 0 and 1 alone, whose subjects
    the backbone never saw)."""
    folds = sorted(summaries)
    report = {"classes": summaries[folds[0]]["classes"], "recipe": summaries[folds[0]]["config"],
              "folds": {str(k): {"test_subjects": list(SUBJECT_FOLDS[k]),
                                 **{m: summaries[k]["test"].get(m) for m in
                                    ("balanced_accuracy", "top1", "windows", "confusion", "per_subject")}}
                        for k in folds},
              "pooled": pool_folds([summaries[k]["test"] for k in folds])}
    if 0 in summaries and 1 in summaries:
        report["pooled_unseen_backbone"] = pool_folds([summaries[0]["test"], summaries[1]["test"]])
    if real:
        for k, r in real.items():
            report["folds"][str(k)]["real_detector"] = r
        report["pooled_real_detector"] = pool_folds(list(real.values()))
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("overrides", nargs="*", help="key=value options of hm train --task action")
    ap.add_argument("--model", default="hummuss-small-cmu-v1", help="backbone lifter (as hm train --model)")
    ap.add_argument("--data", default="../shared/data/cmu-amc")
    ap.add_argument("--folds", default=",".join(str(k) for k in range(len(SUBJECT_FOLDS))))
    ap.add_argument("--pool", action="store_true", help="only pool the finished folds")
    ap.add_argument("--renders", action="append", default=[],
                    help="rendered held-out windows with the real detector's 2D (.npz, repeat): each fold's classifier "
                         "is also scored on its own subjects' renders")
    a = ap.parse_intermixed_args()
    out = Path(a.out)
    try:
        wanted = [int(k) for k in a.folds.split(",") if k.strip()]
        if any(not 0 <= k < len(SUBJECT_FOLDS) for k in wanted):
            raise ValueError
    except ValueError:
        sys.exit(f"error: --folds takes fold numbers 0-{len(SUBJECT_FOLDS) - 1}, comma-separated, not {a.folds!r}")
    try:
        for k in [] if a.pool else wanted:
            run = out / f"fold-{k}"
            if (run / "summary.json").is_file():
                continue
            subjects = "[" + ", ".join(SUBJECT_FOLDS[k]) + "]"
            cfg = action_config([*a.overrides, f"test_subjects={subjects}"], backbone=a.model, data=a.data,
                                out=str(run))
            s = train_action(cfg)
            print(f"fold {k} ({subjects}): balanced accuracy {100 * s['test']['balanced_accuracy']:.1f} %", flush=True)
        summaries = {k: json.loads((out / f"fold-{k}" / "summary.json").read_text(encoding="utf-8"))
                     for k in range(len(SUBJECT_FOLDS)) if (out / f"fold-{k}" / "summary.json").is_file()}
    except (HMError, ValueError) as e:
        sys.exit(f"error: {e}")
    if not summaries:
        sys.exit(f"error: no finished fold in {out}")
    try:
        real = real_detector(out, sorted(summaries), a.renders) if a.renders else None
    except HMError as e:
        sys.exit(f"error: {e}")
    report = fold_report(summaries, real)
    md = "\n".join(folds_markdown(report)) + "\n"
    with atomic_write(out / "folds.json", "w") as f:
        f.write(json.dumps(report, indent=1))
    with atomic_write(out / "folds.md", "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
