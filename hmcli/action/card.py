"""Model cards of action classifiers (markdown from a training summary)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hmcli.io.atomic import atomic_write

__all__ = ["folds_markdown", "write_action_card"]


def _recalls(cm: np.ndarray) -> list[str]:
    return [f"{100 * cm[i, i] / cm[i].sum():.0f} %" if cm[i].sum() else "-" for i in range(len(cm))]


def _confusion_table(cm: np.ndarray, classes) -> list[str]:
    """Markdown lines of a confusion matrix (K, K) (rows: true class) with each class's recall."""
    cm = cm if cm.size else np.zeros((len(classes), len(classes)), int)
    lines = ["| true \\ predicted | " + " | ".join(classes) + " | recall |", "|---|" + "---|" * (len(classes) + 1)]
    return lines + [f"| {c} | " + " | ".join(str(int(v)) for v in cm[i]) + f" | {r} |"
                    for i, (c, r) in enumerate(zip(classes, _recalls(cm)))]


#: What the card's cross-validation section measures (before its tables).
FOLDS_INTRO = ["The held-out figure above is two people, one per class for walk, jump, dance and exercise. The "
               "same recipe trained four times, each time without one fold of subjects "
               "(`hmcli.action.cmu.SUBJECT_FOLDS`; fold 0 is the split above), scores every labelled subject once "
               "(`scripts/action_folds.py OUT --model hummuss-small-cmu-v1 <the recipe's options>`). Folds 2 and 3 "
               "hold out subjects whose motion trained the backbone lifter (3D only, no labels)."]

#: The same when the report has the real detector's figures (``scripts/action_folds.py --renders``).
FOLDS_REAL_INTRO = ("The real-detector columns score each fold's classifier on its own subjects' windows posed on random Anny "
                    "bodies, rendered through a framed camera and run through BlazePose (one render per window; "
                    "`scripts/render_pairs.py --task action --split test --subjects ...`, `scripts/action_folds.py ... "
                    "--renders FILE`), the 2D `hm action` gives it.")


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def folds_markdown(report: dict) -> list[str]:
    """Markdown lines of a subject-fold cross-validation (``scripts/action_folds.py``'s report):
    each fold, each held-out subject's recall per class, the pooled confusion."""
    classes = report["classes"]
    pooled = report["pooled"]
    real = report.get("pooled_real_detector")
    head = "| fold | held-out subjects | windows | balanced accuracy | top-1 |"
    lines = [head + (" real detector: windows | balanced accuracy |" if real else ""),
             "|---|---|---:|---:|---:|" + ("---:|---:|" if real else "")]

    def real_cells(r: dict | None) -> str:
        if not real:
            return ""
        return f" {r['windows']} | {_pct(r['balanced_accuracy'])} |" if r else " - | - |"

    for k, f in sorted(report["folds"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"| {k} | {', '.join(f['test_subjects'])} | {f['windows']} | {_pct(f['balanced_accuracy'])} | "
                     f"{_pct(f['top1'])} |" + real_cells(f.get("real_detector")))
    lines.append(f"| all | {pooled['folds']} folds | {pooled['windows']} | **{_pct(pooled['balanced_accuracy'])}** | "
                 f"{_pct(pooled['top1'])} |" + (f" {real['windows']} | **{_pct(real['balanced_accuracy'])}** |"
                                                if real else ""))
    lines += ["", "Per held-out subject, recall of each class it has (windows):", "",
              "| subject | windows | " + " | ".join(classes) + " |", "|---|---:|" + "---:|" * len(classes)]
    for _, f in sorted(report["folds"].items(), key=lambda kv: int(kv[0])):
        for subj, r in sorted((f.get("per_subject") or {}).items()):
            cm = np.asarray(r["confusion"])
            cells = [f"{_pct(cm[i, i] / cm[i].sum())} ({cm[i].sum()})" if cm[i].sum() else "" for i in range(len(classes))]
            lines.append(f"| {subj} | {r['windows']} | " + " | ".join(cells) + " |")
    lines += ["", "All held-out windows of all folds (rows: true class, columns: predicted):", "",
              *_confusion_table(np.asarray(pooled["confusion"]), classes)]
    lines += ["", f"Pooled balanced accuracy {_pct(pooled['balanced_accuracy'])}; the folds' own: mean "
              f"{_pct(pooled['fold_balanced_accuracy_mean'])}, std {_pct(pooled['fold_balanced_accuracy_std'])}."]
    u = report.get("pooled_unseen_backbone")
    if u:
        lines[-1] += (f" Folds 0 and 1 alone (subjects the backbone never saw): {_pct(u['balanced_accuracy'])}, "
                      f"top-1 {_pct(u['top1'])}, {u['windows']} windows.")
    return lines


def _extra_lines(folders: list[str], used: list[dict] | None = None) -> list[str]:
    """The card's line on ``data_extra`` (none without it): the trials the run trained on (its
    summary's ``extra_trials``; for runs that predate it, :data:`hmcli.action.cmu.EXTRA_DESCRIPTIONS`)."""
    if not folders:
        return []
    if used:
        trials = "; ".join(f"{u['trial']} \"{u['description']}\" ({u['seconds']:g} s)" for u in used)
    else:
        from hmcli.action.cmu import EXTRA_DESCRIPTIONS

        trials = "; ".join(f"{t} \"{d}\"" + (f" (its first {keep:g} s)" if keep else "")
                           for t, (d, keep) in EXTRA_DESCRIPTIONS.items())
    return [f"- More data (`data_extra`: {', '.join(f'`{d}`' for d in folders)}): files without descriptions, the "
            f"labelled ones by CMU's own index (`hmcli.action.cmu.EXTRA_DESCRIPTIONS`): {trials}. They only train."]


def write_action_card(path: str | Path, summary: dict, model_id: str, command: str, sha256: str, size_bytes: int,
                      limits: list[str], backbone_note: str, previous: list[tuple[str, dict]] | None = None,
                      folds: dict | None = None) -> None:
    """The model card (markdown) of a trained classifier from its ``summary.json``;
    ``previous``: (name, held-out metrics {balanced_accuracy, top1, windows, confusion}) of
    earlier versions, shown next to this one's figures; ``folds``: the recipe's subject-fold
    cross-validation (:func:`folds_markdown`)."""
    classes = summary["classes"]
    t = summary.get("test") or {}
    cm = np.array(t.get("confusion") or np.zeros((len(classes), len(classes)), int))
    counts = summary.get("counts", {})
    cfg = summary.get("config", {})
    lines = [f"# {model_id}", "",
             f"Action classifier for `hm action`: {backbone_note} + the paper's action head (the motion "
             "representation averaged over persons and time, joint axis kept, then Linear → BatchNorm → ReLU → "
             f"Linear with dropout {cfg.get('dropout')}, hidden {cfg.get('hidden')}). Input: 2D keypoints of "
             f"windows of {cfg.get('window_s')} s at 30 fps. {size_bytes / 1e6:.1f} MB (float16), sha256 `{sha256}`.",
             "", f"Classes: {', '.join(classes)}.", "", "## Data", "",
             "- CMU Graphics Lab Motion Capture (`../shared/data/cmu-amc`), labels from the trial descriptions "
             "(`hmcli/action/cmu.py`): walk; run (and jog); jump (and forward jump); dance; exercise (CMU's "
             "\"streching\" trials: jumping jacks, squats, side twists, bending, stretches, with some jogging in "
             "between). Basketball is dropped: one subject (06), so it cannot be split by subject.",
             *_extra_lines(cfg.get("data_extra") or [], summary.get("extra_trials")),
             "- Split by subject: test subjects 09 and 49 never seen in training; all others train.",
             "- 2D: random virtual cameras (phone and webcam intrinsics, all around the person) and the lifter's "
             "detector-like corruption (jitter, swaps, outliers, dropped joints and frames); mirrored with p = 0.5; "
             "balanced sampling (each class drawn equally often, whatever its size).",
             "- Acknowledgement: The data used in this project was obtained from mocap.cs.cmu.edu. The database "
             "was created with funding from NSF EIA-0196217.", "",
             "| class | train trials | train subjects | test trials | test subjects | test windows |",
             "|---|---|---|---|---|---|"]
    for i, c in enumerate(classes):
        tr = counts.get("train", {}).get(c, {})
        te = counts.get("test", {}).get(c, {})
        lines.append(f"| {c} | {tr.get('clips', 0)} | {', '.join(tr.get('subjects', []))} | {te.get('clips', 0)} | "
                     f"{', '.join(te.get('subjects', []))} | {int(cm[i].sum()) if cm.size else 0} |")
    lines += ["", "The classes are imbalanced (dance and exercise have far more minutes than run and jump; "
              "run trials are 1-2 s long), hence balanced sampling in training and balanced accuracy as the "
              "headline figure.", "", "## Training", "", f"- Reproduce: `{command}`",
              f"- Stage 1: the head on the pooled features of {cfg.get('feature_windows')} windows through the "
              f"frozen backbone, {cfg.get('head_steps')} steps (AdamW, lr {cfg.get('lr')}, batch "
              f"{cfg.get('head_batch')}, cosine). Stage 2: {cfg.get('steps')} end-to-end steps, batch "
              f"{cfg.get('batch_size')}, backbone at {cfg.get('backbone_lr_mult')} x the head's learning rate."]
    if cfg.get("rate_range"):
        lo, hi = cfg["rate_range"]
        lines.append(f"- Frame-rate augmentation: {100 * float(cfg.get('rate_p', 0.5)):.0f} % of the training batches "
                     f"(both stages) drawn at one random rate, log-uniform in {lo:g}-{hi:g} fps, {cfg.get('window_s')} s "
                     "of frames at that rate, Δ scaled to it (as `hm action` runs a clip of that rate)"
                     + ("; the rest at 30 fps" if float(cfg.get("rate_p", 0.5)) < 1 else "")
                     + ". The held-out evaluation below is at 30 fps.")
    if cfg.get("proportions") or cfg.get("bone_jitter"):
        body = []
        if cfg.get("proportions"):
            body.append(f"the lifter's `{cfg['proportions']}` proportions (docs/real-video.md §3)")
        if cfg.get("bone_jitter"):
            body.append(f"per-bone length factors (std {cfg['bone_jitter']:g})")
        share = float(cfg.get("body_p", 1.0))
        who = "every training window's body is" if share >= 1 else f"{100 * share:.0f} % of the training windows' bodies are"
        lines.append(f"- Body shapes: {who} redrawn with " + " and ".join(body)
                     + ", so the head cannot learn the few training subjects' builds; the held-out bodies are as captured.")
    if cfg.get("camera_kind", "any") not in ("any", "standard"):
        lines.append(f"- Cameras: the training windows are seen through the lifter's `{cfg['camera_kind']}` camera kinds "
                     "(docs/real-video.md §1; `mixed`: standard 40 %, ceiling, phone, webcam, sports, handheld 12 % each); "
                     "the held-out evaluation below uses standard cameras, `hm bench action-rendered --camera-kind` the "
                     "others.")
    if cfg.get("data_rendered") and cfg.get("rendered_p"):
        n = summary.get("rendered", {}).get("train_clips")
        lines.append(f"- The real detector's 2D: {100 * float(cfg['rendered_p']):.0f} % of each class's 30 fps training "
                     f"windows (both stages) come from {n if n is not None else 'the'} rendered clips "
                     f"({', '.join(cfg['data_rendered'])}: `scripts/render_pairs.py --task action`, random 4 s windows of "
                     "the training subjects' labelled trials, class-balanced, each on a random Anny body through a framed "
                     "camera, BlazePose run on the frames), given to the classifier as `hm action` gives them.")
    if cfg.get("label_smoothing"):
        lines.append(f"- Label smoothing {cfg['label_smoothing']}.")
    if cfg.get("mixup"):
        lines.append(f"- Mixup of the pooled features in stage 1, Beta({cfg['mixup']}, {cfg['mixup']}).")
    lines += [f"- Wall time: {summary.get('time_s', 0) / 60:.0f} min on the 2-core CPU (1 torch thread, next to "
              "another run).", "", "## Held-out test subjects (09, 49)", "",
              f"Whole test trials cut into {cfg.get('window_s')} s windows every {cfg.get('eval_stride_s')} s "
              f"(shorter trials whole), each seen by {cfg.get('eval_cameras')} fixed random cameras with the same "
              "corruption as training.", "",
              f"- **Balanced accuracy {100 * t.get('balanced_accuracy', float('nan')):.1f} %** (mean per-class "
              f"recall; goal 85 %), top-1 {100 * t.get('top1', float('nan')):.1f} %, {t.get('windows', 0)} windows.",
              "", "Confusion (rows: true class, columns: predicted; counts of windows):", "",
              *_confusion_table(cm, classes)]
    tr = summary.get("test_rendered")
    if tr:
        lines += ["", "### The same held-out subjects through the real detector (`hm bench action-rendered`)", "",
                  "Every held-out window above posed on a random Anny body, rendered through framed cameras and run "
                  "through BlazePose; the classifier gets the landmarks as `hm action` gives them.", "",
                  f"- **Balanced accuracy {100 * tr['balanced_accuracy']:.1f} %**, top-1 {100 * tr['top1']:.1f} %, "
                  f"{tr['windows']} windows.", "", *_confusion_table(np.array(tr["confusion"]), classes)]
    if previous:
        lines += ["", "Against earlier versions (same test windows, cameras and seed):", "",
                  "| version | balanced accuracy | top-1 | windows | " + " | ".join(f"{c} recall" for c in classes) + " |",
                  "|---|---|---|---|" + "---|" * len(classes)]
        now = dict(t, rendered=tr) if tr else t
        for name, m in [*previous, (f"{model_id} (this card)", now)]:
            for label, mm in ((name, m), (f"{name}, real detector on renders", m.get("rendered"))):
                if not mm:
                    continue
                pcm = np.array(mm.get("confusion") or np.zeros((len(classes), len(classes)), int))
                lines.append(f"| {label} | {100 * mm.get('balanced_accuracy', float('nan')):.1f} % | "
                             f"{100 * mm.get('top1', float('nan')):.1f} % | {mm.get('windows', 0)} | "
                             + " | ".join(_recalls(pcm)) + " |")
    if folds:
        real = [FOLDS_REAL_INTRO, ""] if folds.get("pooled_real_detector") else []
        lines += ["", "## Cross-validation by subject", "", *FOLDS_INTRO, "", *real, *folds_markdown(folds)]
    lines += ["", "## Limits", ""] + [f"- {x}" for x in limits] + [""]
    with atomic_write(path, "w") as f:
        f.write("\n".join(lines))
