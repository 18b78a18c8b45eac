"""Cross-validate an action training recipe over subject folds of the CMU data.

    PYTHONPATH=. python scripts/action_folds.py runs/folds --model hummuss-small-cmu-v1 \
        threads=1 "rate_range=[5, 60]" rate_p=0.5 ...          # the recipe's key=value options

Trains one classifier per fold of ``hmcli.action.cmu.SUBJECT_FOLDS`` (every labelled subject
held out once; ``--folds 1,2`` runs some of them, e.g. one process per core) into
``OUT/fold-K`` (a fold whose ``summary.json`` exists is not trained again), then pools every
finished fold into ``OUT/folds.json`` and ``OUT/folds.md``: per fold and per held-out subject,
and the confusion of all held-out windows together. ``--pool`` only pools.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hmcli.action.cmu import SUBJECT_FOLDS
from hmcli.action.train import (
    action_config,
    balanced_accuracy,
    pool_folds,
    train_action,
)
from hmcli.io.atomic import HMError, atomic_write


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def fold_report(summaries: dict[int, dict]) -> tuple[dict, str]:
    """(JSON, markdown) of the finished folds' summaries (fold index -> ``summary.json``)."""
    import numpy as np

    classes = next(iter(summaries.values()))["classes"]
    folds = sorted(summaries)
    tests = [summaries[k]["test"] for k in folds]
    pooled = pool_folds(tests)
    unseen = [summaries[k]["test"] for k in folds if k in (0, 1)]
    report = {"classes": classes, "folds": {str(k): {"test_subjects": list(SUBJECT_FOLDS[k]),
                                                     **{m: summaries[k]["test"][m] for m in
                                                        ("balanced_accuracy", "top1", "windows", "confusion")}}
                                            for k in folds},
              "pooled": pooled, "recipe": summaries[folds[0]]["config"]}
    if len(unseen) == 2:
        report["pooled_unseen_backbone"] = pool_folds(unseen)
    lines = ["| fold | held-out subjects | windows | balanced accuracy | top-1 |", "|---|---|---:|---:|---:|"]
    for k, t in zip(folds, tests):
        lines.append(f"| {k} | {', '.join(SUBJECT_FOLDS[k])} | {t['windows']} | {_pct(t['balanced_accuracy'])} | "
                     f"{_pct(t['top1'])} |")
    lines.append(f"| all | {len(folds)} folds | {pooled['windows']} | **{_pct(pooled['balanced_accuracy'])}** | "
                 f"{_pct(pooled['top1'])} |")
    lines += ["", "Per held-out subject (windows; recall of each class it has):", "",
              "| subject | windows | " + " | ".join(classes) + " |", "|---|---:|" + "---:|" * len(classes)]
    for k in folds:
        for subj, r in sorted(summaries[k]["test"].get("per_subject", {}).items()):
            cm = np.asarray(r["confusion"])
            cells = [f"{_pct(cm[i, i] / cm[i].sum())} ({cm[i].sum()})" if cm[i].sum() else "" for i in range(len(classes))]
            lines.append(f"| {subj} | {r['windows']} | " + " | ".join(cells) + " |")
    cm = np.asarray(pooled["confusion"])
    header = "| true \\ predicted | " + " | ".join(classes) + " | recall |"
    lines += ["", "All held-out windows (rows: true class, columns: predicted):", "", header,
              "|---|" + "---|" * (len(classes) + 1)]
    for i, name in enumerate(classes):
        rec = _pct(cm[i, i] / cm[i].sum()) if cm[i].sum() else "-"
        lines.append(f"| {name} | " + " | ".join(str(v) for v in cm[i]) + f" | {rec} |")
    lines += ["", (f"Mean of the folds' balanced accuracies {_pct(pooled['fold_balanced_accuracy_mean'])} "
                   f"(std {_pct(pooled['fold_balanced_accuracy_std'])}); pooled balanced accuracy "
                   f"{_pct(balanced_accuracy(cm))}.")]
    if "pooled_unseen_backbone" in report:
        u = report["pooled_unseen_backbone"]
        lines.append(f"Folds 0 and 1 only (subjects the backbone never saw): balanced accuracy "
                     f"{_pct(u['balanced_accuracy'])}, top-1 {_pct(u['top1'])}, {u['windows']} windows.")
    return report, "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("overrides", nargs="*", help="key=value options of hm train --task action")
    ap.add_argument("--model", default="hummuss-small-cmu-v1", help="backbone lifter (as hm train --model)")
    ap.add_argument("--data", default="../shared/data/cmu-amc")
    ap.add_argument("--folds", default=",".join(str(k) for k in range(len(SUBJECT_FOLDS))))
    ap.add_argument("--pool", action="store_true", help="only pool the finished folds")
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
            print(f"fold {k} ({subjects}): balanced accuracy {_pct(s['test']['balanced_accuracy'])}", flush=True)
        summaries = {k: json.loads((out / f"fold-{k}" / "summary.json").read_text(encoding="utf-8"))
                     for k in range(len(SUBJECT_FOLDS)) if (out / f"fold-{k}" / "summary.json").is_file()}
    except (HMError, ValueError) as e:
        sys.exit(f"error: {e}")
    if not summaries:
        sys.exit(f"error: no finished fold in {out}")
    report, md = fold_report(summaries)
    with atomic_write(out / "folds.json", "w") as f:
        f.write(json.dumps(report, indent=1))
    with atomic_write(out / "folds.md", "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
