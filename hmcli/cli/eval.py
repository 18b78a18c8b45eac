"""``hm eval``: held-out metrics of a checkpoint, optionally at other frame rates."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from hmcli.cli.common import EXIT_USAGE, cli_errors, echo_json, fail, require


def register(app: typer.Typer) -> None:
    @app.command("eval")
    @cli_errors
    def eval_cmd(
        model: str = typer.Argument(..., help="Checkpoint path or shipped model name."),
        data: str = typer.Option("../shared/data/cmu-amc", help="Motion capture directory (CMU ASF/AMC layout)."),
        split: str = typer.Option("test", help="Subject split: test, val or train."),
        fps: float = typer.Option(None, help="Evaluate at this frame rate (default: the model's training rate)."),
        subsample: int = typer.Option(None, help="Evaluate at training fps / k (real frames, every k-th)."),
        no_dt_scale: bool = typer.Option(False, "--no-dt-scale", help="Do not scale Δ to the new frame rate."),
        one_pass: bool = typer.Option(False, "--one-pass", help="HumMUSS: each whole sequence in one pass instead of "
                                      "windows of the trained clip length (as hm lift --one-pass)."),
        stream: bool = typer.Option(False, "--stream", help="Causal models: frame by frame through the streamer, as live "
                                    "lifting runs it (memory horizon: the trained clip length; none with --one-pass)."),
        no_flip: bool = typer.Option(False, "--no-flip", help="No test-time flip: the model's single estimate "
                                     "(as hm lift --no-flip)."),
        cameras: int = typer.Option(2, help="Virtual cameras per test sequence."),
        seed: int = typer.Option(0, help="Seed of the evaluation cameras and corruption."),
        per_action: bool = typer.Option(False, "--per-action", help="Show the per-action table."),
        camera_kind: str = typer.Option("any", "--camera-kind", help="Test cameras (docs/real-video.md): any (the "
                                        "standard ones), standard, ceiling, phone, webcam, sports, handheld, mixed; "
                                        "several comma-separated, or all (every named kind): a table per kind."),
        proportions: str = typer.Option("none", "--proportions", help="Test bodies: none (as captured), wide or adult "
                                        "(other shoulder/hip widths, leg/torso ratios, limbs; wide also children)."),
        corrupt_model: str = typer.Option("plain", "--corrupt-model", help="2D corruption of the test items: plain (the "
                                          "shipped models' training corruption), blazepose (BlazePose's measured error "
                                          "pattern, docs/real-video.md) or mixed."),
        refine: str = typer.Option(None, "--refine", show_default=False, help="Refine the test 2D over time first, as "
                                   "hm lift --refine does: a 2D refiner (path or shipped name, e.g. refine2d-cmu)."),
        bones: bool = typer.Option(False, "--bones", help="Also show bone-length error and shoulder/hip width ratios."),
        compare: str = typer.Option(None, "--compare", help="With --camera-kind: an earlier hm eval --json output (e.g. "
                                    "the shipped model's) whose figures are shown next to the new ones, per kind."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
        card: str = typer.Option(None, "--card", help="Write a model card (markdown) with the standard frame-rate table."),
        command: str = typer.Option("", help="With --card: the training command to print in the card."),
        run: str = typer.Option(None, help="With --card: the training run directory (metrics.jsonl)."),
        notes: str = typer.Option(None, help="With --card: a markdown file whose text becomes the card's Notes section."),
    ) -> None:
        """MPJPE, P-MPJPE, N-MPJPE, PCK@150, AUC and velocity error on held-out subjects (per camera kind with
        --camera-kind all; bone-length error and shoulder/hip width ratios with --bones)."""
        from hmcli.data.splits import SPLITS
        from hmcli.io.checkpoint import load_checkpoint, resolve_model
        from hmcli.train.evaluate import EvalSetting, evaluate_model, trained_on
        from hmcli.train.metrics import markdown_table
        from hmcli.train.trainer import load_split

        if fps is not None and subsample is not None:
            fail("give --fps or --subsample, not both", EXIT_USAGE)
        require((fps is None or (math.isfinite(fps) and fps > 0), f"--fps must be a positive number, got {fps}"),
                (subsample is None or subsample >= 1, f"--subsample must be at least 1, got {subsample}"),
                (cameras >= 1, f"--cameras must be at least 1, got {cameras}"),
                (seed >= 0, f"--seed must be >= 0, got {seed}"),
                (split in SPLITS, f"--split must be one of {', '.join(SPLITS)}, got '{split}'"))
        from hmcli.data.augment import proportion_preset
        from hmcli.data.camera import KIND_NAMES, check_camera_kind

        kinds = list(KIND_NAMES) if camera_kind == "all" else [k.strip() for k in camera_kind.split(",") if k.strip()]
        try:
            for k in kinds or [camera_kind]:
                check_camera_kind(k)
        except ValueError as e:
            fail(f"--camera-kind: {e}; or all", EXIT_USAGE)
        try:
            proportion_preset(proportions)
        except ValueError as e:
            fail(f"--proportions: {e}", EXIT_USAGE)
        from hmcli.data.corrupt import CORRUPT_MODELS

        if corrupt_model not in CORRUPT_MODELS:
            fail(f"--corrupt-model must be one of {', '.join(CORRUPT_MODELS)}, got '{corrupt_model}'", EXIT_USAGE)
        if card and corrupt_model != "plain":
            fail("--card measures the standard 2D corruption; leave out --corrupt-model", EXIT_USAGE)
        baseline = None
        if compare:
            from hmcli.io.atomic import HMError
            from hmcli.train.evaluate import baseline_kinds

            try:
                baseline = baseline_kinds(json.loads(Path(compare).read_text(encoding="utf-8")))
            except OSError as e:
                fail(f"cannot read --compare {compare}: {e.strerror or e}", EXIT_USAGE)
            except (HMError, ValueError, AttributeError, TypeError, KeyError) as e:
                fail(f"--compare {compare}: not an hm eval --json output ({e})", EXIT_USAGE)
        if card and (kinds != ["any"] or proportion_preset(proportions) is not None):
            fail("--card measures the standard cameras and bodies; leave out --camera-kind and --proportions", EXIT_USAGE)
        if card:  # before the evaluation: the card's folder must exist
            from hmcli.io.paths import output_dir_check

            output_dir_check(Path(card))
        if stream and refine:
            fail("--refine runs the bidirectional 2D refiner over whole clips; it does not stream (leave out --stream)",
                 EXIT_USAGE)
        if card and refine:
            fail("--card measures the model on its own; leave out --refine", EXIT_USAGE)
        refiner = None
        if refine:
            from hmcli.refine.checkpoint import load_refiner

            refiner = load_refiner(refine)
        lm = load_checkpoint(resolve_model(model))
        train_fps = float(lm.config.get("fps", 30.0))
        rate = fps if fps is not None else train_fps / (subsample or 1)
        seqs = load_split(data, split)
        seen = trained_on(lm, seqs)
        if seen:
            typer.echo(f"warning: {lm.model_id} was trained on subject(s) {', '.join(seen)} of the '{split}' split; "
                       "these figures are not on held-out people", err=True)
        if card:
            note_text = ""
            if notes:
                try:
                    note_text = Path(notes).read_text(encoding="utf-8")
                except OSError as e:
                    fail(f"cannot read --notes {notes}: {e.strerror or e}", EXIT_USAGE)
            _write_card(lm, seqs, data, split, cameras, seed, card, command, run, note_text)
            return
        body = "" if proportions == "none" else proportions
        setting = EvalSetting(rate, not no_dt_scale, cameras, seed, one_pass, stream, not no_flip, kinds[0], body,
                              corrupt_model)
        head = {"model": lm.model_id, "split": split, "fps": rate, "dt_scaled": not no_dt_scale, "one_pass": one_pass,
                "stream": stream, "flip": not no_flip}
        if body:
            head["proportions"] = body
        if corrupt_model != "plain":
            head["corrupt_model"] = corrupt_model
        if refiner is not None:
            head["refine"] = refiner.model_id
        flags = [(no_dt_scale, " (no Δ scaling)"), (one_pass, " (one pass)"), (stream, " (streamed)"), (no_flip, " (no flip)"),
                 (bool(body), f" ({body} bodies)"), (corrupt_model != "plain", f" ({corrupt_model} 2D)"),
                 (refiner is not None, f" (2D refined by {refiner.model_id if refiner else ''})")]
        name = f"{lm.model_id} @ {rate:g} fps" + "".join(text for on, text in flags if on)
        if camera_kind == "all" or len(kinds) > 1 or baseline is not None:
            from hmcli.train.evaluate import compare_table, evaluate_kinds, kinds_table

            def on_kind(r) -> None:
                if not json_out:
                    typer.echo(f"{r.kind}: MPJPE {r.report.mpjpe:.1f} mm, P-MPJPE {r.report.p_mpjpe:.1f} mm", err=True)

            results = evaluate_kinds(lm, seqs, setting, ["standard" if k == "any" else k for k in kinds], on_kind, refiner)
            if json_out:
                echo_json({**head, "cameras": cameras, "kinds": [r.to_dict() for r in results]})
                return
            typer.echo(f"{name}, {cameras} camera(s) per test sequence and kind"
                       + (f"; old: {compare}, new: {lm.model_id}" if baseline is not None else "") + "\n")
            typer.echo(kinds_table(results) if baseline is None else compare_table(results, baseline))
            return
        rep = evaluate_model(lm, seqs, setting, refiner)
        if kinds[0] != "any":
            head["camera_kind"] = kinds[0]
            name += f" ({kinds[0]} cameras)"
        out = {**head, **rep.to_dict()}
        if json_out:
            echo_json(out)
            return
        typer.echo(markdown_table({name: rep}, per_action=per_action, bones=bones or bool(body)))


def _write_card(lm, seqs, data, split, cameras, seed, card, command, run, notes: str = "") -> None:
    from hmcli.train.modelcard import card_reports, model_card, write_model_card

    def on_report(label, rep) -> None:
        typer.echo(f"{label}: MPJPE {rep.mpjpe:.1f} mm, P-MPJPE {rep.p_mpjpe:.1f} mm", err=True)

    reports = card_reports(lm, seqs, cameras, seed, on_report)
    eval_cmd = f"hm eval {lm.path} --data {data} --split {split} --card ..."
    text = model_card(lm, reports, command or "(not given)", eval_cmd, Path(run) if run else None, notes=notes)
    write_model_card(card, text)
    typer.echo(f"wrote {card}")
