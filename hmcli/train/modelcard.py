"""Model cards written from measured evaluations (nothing typed in by hand)."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from pathlib import Path

from hmcli.data.splits import VAL_SUBJECTS
from hmcli.io.checkpoint import LoadedModel
from hmcli.train.metrics import EvalReport

#: (label, fps, Δ scaled, one pass, test-time flip) rows of the standard frame-rate table. The
#: first row is what ``hm lift`` does at the training rate (trained-length windows, flip).
STANDARD_SETTINGS: tuple[tuple[str, float, bool, bool, bool], ...] = (
    ("30 fps", 30.0, True, False, True),
    ("15 fps, Δ scaled", 15.0, True, False, True),
    ("15 fps, Δ not scaled", 15.0, False, False, True),
    ("60 fps, Δ scaled", 60.0, True, False, True),
    ("60 fps, Δ not scaled", 60.0, False, False, True),
    ("30 fps, one pass (--one-pass)", 30.0, True, True, True),
    ("30 fps, no test-time flip (--no-flip)", 30.0, True, False, False),
)
#: The extra row of causal models: streamed frame by frame (Streamer with its memory horizon).
STREAM_LABEL = "30 fps, streamed frame by frame (--stream)"


_PERSON_TEXT = "person units: per frame, centred on the hips and divided by the keypoints' rms spread"
_NORM_TEXT = {
    "image": "image units: centre of the image at 0, longer side spanning [-1, 1]",
    "person": _PERSON_TEXT + ", so the person's place and size in the picture do not matter",
    "person+location": _PERSON_TEXT + ", plus three location channels, the person's centre relative to the image "
                       "centre and the log of the spread, over an assumed focal length of the image diagonal",
}


def _run_info(run_dir: Path | None) -> dict:
    if run_dir is None or not (run_dir / "metrics.jsonl").is_file():
        return {}
    recs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    vals = [(r["step"], r["val_mpjpe_mm"]) for r in recs if "val_mpjpe_mm" in r]
    return {"steps": recs[-1]["step"] if recs else 0, "time_s": recs[-1].get("time_s") if recs else None, "val": vals}


def _val_text(train: dict) -> str:
    """How the run validated (``val_mode``): whole trials as hm lift runs the model, or clips."""
    if train.get("val_mode") == "lift":
        cams = int(train.get("val_cameras") or 2)
        seen = f", {cams} cameras each," if cams != 2 else ""
        return f"whole validation trials{seen} lifted as `hm lift` runs the model"
    clip = train.get("val_clip")
    return f"{clip}-frame validation clips" if clip else "validation clips"


#: The card's line for a run trained with ``train_on: train+val``.
_FINAL_FIT_TEXT = (f"- Final fit (`train_on: train+val`): the validation subjects ({', '.join(VAL_SUBJECTS)}) join the training data. "
                   "The recipe and its step count were chosen on validation in runs without them; this run has "
                   "nothing left to validate on, so it keeps its last checkpoint.")


def _kept_text(meta: dict, info: dict) -> str:
    """Which checkpoint of the run this is: the best by validation MPJPE (the trainer's
    ``best.pt``) or, without that record, the one at ``meta.step`` (e.g. the final one)."""
    step = meta.get("step", "?")
    how = _val_text(meta.get("train") or {})
    if "val_mpjpe_mm" in meta:
        return f"- Checkpoint kept: best validation MPJPE ({meta['val_mpjpe_mm']:.1f} mm at step {step}; {how})."
    at = dict(info.get("val") or []).get(step)
    val = f" (validation MPJPE {at:.1f} mm; {how})" if at is not None else ""
    final = " the final one," if step == info.get("steps") else ""
    return f"- Checkpoint kept:{final} step {step}{val}."


def _input_text(train: dict) -> str:
    """The card's line on the training 2D: cameras, bodies and corruption as the run's config says."""
    kind = str(train.get("camera_kind") or "any")
    cams = ("random virtual cameras (phone- and webcam-like intrinsics, 360° around the subject)" if kind in ("any", "standard")
            else "virtual cameras of every kind in docs/real-video.md (standard 40 %; ceiling, phone, webcam, sports, "
                 "handheld 12 % each)" if kind == "mixed" else f"virtual cameras of the `{kind}` kind (docs/real-video.md)")
    plain = "detector-like corruption (jitter, outliers, ~15 % masked joints, error-correlated confidence)"
    bp = ("BlazePose-like corruption (drifting per-joint errors, limb-pair swaps, whole lost frames, far-side low "
          "visibility; docs/real-video.md §7)")
    corr = {"plain": plain, "blazepose": bp, "mixed": f"per clip either {plain} or {bp}"}.get(
        str(train.get("corrupt_model") or "plain"), plain)
    bodies = str(train.get("proportions") or "")
    body = f", bodies of `{bodies}` proportions (docs/real-video.md §3)" if bodies else ""
    share = float(train.get("rendered_p") or 0.0)
    rendered = (f" {share:.0%} of the 30 fps windows instead: the real detector's 2D (BlazePose through the learned map, "
                "as `hm lift` gives it) of training-subject motion posed on rendered bodies (`data_rendered`, "
                "scripts/render_pairs.py; docs/real-video.md §14)." if share > 0 and train.get("data_rendered") else "")
    return (f"- 2D input: {cams}{body} and {corr}.{rendered} Evaluation uses fixed standard cameras from a random "
            "stream training never draws, and the plain corruption.")


def model_card(lm: LoadedModel, reports: dict[str, EvalReport], command: str, eval_command: str,
               run_dir: Path | None = None, hardware: str | None = None, notes: str = "") -> str:  # fmt: skip
    meta, cfg = lm.meta, lm.config
    norm_key = lm.codec.input_norm + ("+location" if lm.codec.location else "")
    norm = _NORM_TEXT.get(norm_key, norm_key)
    data = meta.get("data", {})
    train = meta.get("train", {})
    bones = float(train.get("bone_jitter") or 0.0)
    splice = float(train.get("splice_prob") or 0.0)
    arms = float(train.get("splice_arms") or 0.0)
    speed = float(train.get("speed_aug") or 1.0)
    extra = list(train.get("data_extra") or [])
    final_fit = data.get("train_on") == "train+val"  # judged on test, with no validation subjects left
    info = _run_info(run_dir)
    hw = hardware or meta.get("hardware") or f"{platform.machine()} CPU, torch threads per run: {train.get('threads') or 'all cores'}"
    kind = "causal (streaming, O(1) per frame)" if cfg.get("causal") else "bidirectional (offline)"
    size_mb = Path(lm.path).stat().st_size / 1e6 if lm.path else float("nan")
    lines = [
        f"# {lm.model_id}",
        "",
        f"HumMUSS 2D→3D lifter, {kind}. Architecture `{lm.arch}`, preset `{train.get('model', '?')}`: "
        f"Dm {cfg['dim']}, {cfg['depth']} layers, state N {cfg['state']}, Drep {cfg['rep_dim']}, "
        f"k {cfg['k_spatial']}/{cfg['k_temporal']}, expansion {cfg['expand']}; "
        f"{meta.get('params', 0) / 1e6:.2f} M parameters, stored as float16 ({size_mb:.1f} MB), sha256 `{lm.sha256}`.",
        "",
        "Input: H36M-17 2D keypoints (x, y, confidence) normalised by the codec stored in the checkpoint"
        f" ({norm}). "
        f"Output: H36M-17 3D joints in metres, root-relative, camera axes. Trained at {cfg.get('fps', 30):g} fps; "
        "other frame rates scale Δ (done automatically from video timestamps by `hm lift`).",
        "",
        "## Data",
        "",
        f"- Source: CMU Graphics Lab Motion Capture Database, ASF/AMC (`{data.get('source', '?')}`), "
        f"{data.get('train_sequences', '?')} training trials.",
        f"- Split by whole subject: train {', '.join(data.get('train_subjects', []))}; "
        + (f"validation {', '.join(data.get('val_subjects', []))}; " if data.get("val_subjects") else "")
        + f"test {', '.join(data.get('test_subjects', []))} (held out, never seen in training"
        + (")." if final_fit else " or model selection)."),
        f"- Resampled from 120 fps to {data.get('fps', 30):g} fps with real frames; training also draws clips at "
        f"{', '.join(f'{r:g}' for r in data.get('fps_aug', [])) or 'no other'} fps (Δ scaled). 15 and 60 fps "
        "below are rates the model never saw.",
        *([f"- More data (`data_extra`): {', '.join(f'`{d}`' for d in extra)} (their trials join training and "
           "validation by subject; the test subjects stay those of the main source)."] if extra else []),
        _input_text(train),
        f"- Acknowledgement: {data.get('acknowledgement', '')}",
        "",
        "## Training",
        "",
        f"- Reproduce: `{command}`",
        *([f"- Initialised from `{train['init_from']}` (all matching weights), then trained as below."]
          if train.get("init_from") else []),
        f"- {info.get('steps', train.get('steps'))} steps, batch {train.get('batch_size')}, clips of "
        f"{train.get('clip_min')}–{train.get('clip_max')} frames, AdamW lr {train.get('lr')} (warm-up "
        f"{train.get('warmup')}, cosine), loss MPJPE + {train.get('lambda_vel')}·velocity, flip augmentation "
        f"p={train.get('flip_prob')}"
        + (f", bone-length augmentation (per-bone factors, std {bones:g})" if bones else "")
        + (f", upper-body splicing (the upper body of another clip on {splice:.0%} of clips)" if splice else "")
        + (f", each arm of a spliced clip from a third clip with probability {arms:g}" if splice and arms else "")
        + (f", playback speed ×{1 / speed:.2f}–×{speed:.2f} per clip (Δ unchanged)" if speed != 1.0 else "")
        + f", seed {train.get('seed')}.",
        f"- Wall time: {info['time_s'] / 60:.0f} min on {hw}." if info.get("time_s") else f"- Hardware: {hw}.",
        *([_FINAL_FIT_TEXT] if final_fit else []),
        _kept_text(meta, info),
        "",
        "## Held-out test subjects",
        "",
        f"Measured with `{eval_command}` (whole test sequences, 2 cameras each; lifted as `hm lift` does, "
        f"in cross-faded windows of the {train.get('clip_max', '?')}-frame training clip length, the same span "
        "of time at other rates, except the one-pass row; causal models also streamed frame by frame, as live "
        "lifting runs them). Every row but the `--no-flip` one averages the estimate of the mirrored input, "
        "mirrored back, with the direct one (test-time flip, as `hm lift` does by default).",
        "",
        "| setting | MPJPE (mm) | P-MPJPE (mm) | N-MPJPE (mm) | PCK@150 (%) | AUC (%) | MPJVE (mm/s) | frames |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in reports.items():
        lines.append(f"| {name} | {r.mpjpe:.1f} | {r.p_mpjpe:.1f} | {r.n_mpjpe:.1f} | {r.pck150:.1f} | {r.auc:.1f} | "
                     f"{r.mpjve:.0f} | {r.num_frames} |")
    first = next(iter(reports.values()))
    if first.per_action:
        lines += ["", f"Per action, {next(iter(reports))}:", "", "| action | MPJPE (mm) | P-MPJPE (mm) | frames |", "|---|---|---|---|"]
        for a, r in first.per_action.items():
            lines.append(f"| {a} | {r.mpjpe:.1f} | {r.p_mpjpe:.1f} | {r.num_frames} |")
    if info.get("val"):
        lines += ["", "Validation MPJPE during training (mm): " + ", ".join(f"{s}: {v:.0f}" for s, v in info["val"]) + "."]
    if notes:
        lines += ["", "## Notes", "", notes.strip()]
    lines += ["", "## License", "", "Weights: Apache-2.0, like the code. Training data terms: mocap.cs.cmu.edu "
              "(free to use and redistribute, not to resell the data itself).", ""]
    return "\n".join(lines)


def card_reports(lm: LoadedModel, sequences: list, cameras: int, seed: int,
                 on_report: Callable[[str, EvalReport], None] | None = None) -> dict[str, EvalReport]:  # fmt: skip
    """The evaluations a model card shows: every :data:`STANDARD_SETTINGS` row, plus the streamed
    row (:data:`STREAM_LABEL`) for a causal model, on ``sequences``. ``on_report(label, report)``
    as each one is done."""
    from hmcli.lift import is_causal
    from hmcli.train.evaluate import EvalSetting, evaluate_model

    settings = [(label, EvalSetting(rate, scaled, cameras, seed, whole, flip=flip))
                for label, rate, scaled, whole, flip in STANDARD_SETTINGS]
    if is_causal(lm):  # any causal architecture streams
        settings.append((STREAM_LABEL, EvalSetting(30.0, True, cameras, seed, stream=True)))
    reports = {}
    for label, setting in settings:
        reports[label] = evaluate_model(lm, sequences, setting)
        if on_report is not None:
            on_report(label, reports[label])
    return reports


def write_model_card(path: str | os.PathLike, text: str) -> None:
    """Write a card's markdown atomically."""
    from hmcli.io.atomic import atomic_write

    with atomic_write(path, "w") as f:
        f.write(text)
