"""``hm action``: action labels for a clip (top-k, and a timeline of windows), or online labels.

* INPUT: a video (2D detected here), a keypoint file, or an ``hm lift`` / ``hm mesh`` HDF5
  (its stored 2D is used; nothing is detected or lifted again).
* Prints the clip's top-k labels on stdout (on stderr when ``-o -`` takes stdout).
* ``-o actions.json``: the report (clip top-k + timeline of ``--window`` windows every
  ``--stride``); ``-o -``: the same JSON on stdout. ``--causal``: one JSON line per frame
  (online labels from the causal classifier's recurrent step), to the file or to stdout.
* Several persons (a video with up to ``--max-persons``, a keypoint / lift file with several):
  each person is labelled on its own (the report's ``"persons"`` list, schema_version 2;
  ``--causal``: one line per person and frame with its ``"track_id"``), or all pooled into one
  label with ``--group``. A one-person input without tracking (track id 0) gives the
  one-person report as before.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import typer

from hmcli.cli import batching
from hmcli.cli.common import (
    DEFAULT_MAX_PERSONS,
    DEFAULT_MIN_TRACK_LENGTH,
    EXIT_USAGE,
    MAX_PERSONS_HELP,
    MIN_TRACK_HELP,
    TRACK_HELP,
    PERSON_HELP,
    check_person_options,
    cli_errors,
    fail,
    persons_summary,
    progress,
    require,
    stage_bars,
)
from hmcli.io.paths import output_dir_check


def parse_seconds(text: str, option: str) -> float:
    """'2s', '2', '0.5s', '500ms' -> seconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s)?\s*", str(text))
    if not m:
        fail(f"{option} takes a duration such as 2s, 0.5s or 500ms, got {text!r}", EXIT_USAGE)
    v = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
    if v <= 0:
        fail(f"{option} must be positive, got {text!r}", EXIT_USAGE)
    return v


def _action_batch(inputs, manifest, out_dir, shard, log, overwrite, quiet, model, causal, options) -> None:  # noqa: ANN001
    """hm action over a batch (see hmcli.batch): the classifier is loaded once."""
    from hmcli import batch
    from hmcli.action import api as action_api

    suffix = ".actions.jsonl" if causal else ".actions.json"
    plan = batch.plan_batch(inputs or [], batching.require_out_dir(out_dir), suffix, manifest=manifest,
                            shard=batching.shard_option(shard), tag="actions",
                            output_suffixes=(".actions.json", ".actions.jsonl"))  # fmt: skip
    job = batch.ActionJob(action_api.load_classifier(model, causal), causal=causal, **options)
    batching.run("action", plan, job, overwrite=overwrite, log=log, quiet=quiet)


def register(app: typer.Typer) -> None:
    @app.command()
    @cli_errors
    def action(
        input: list[str] = typer.Argument(None, metavar="INPUT", show_default=False,
                                          help="Video, keypoint file, or an hm lift / hm mesh .h5; several, a folder or a glob: a batch."),
        output: str = typer.Option(None, "--output", "-o", show_default=False,
                                   help="Write the report as JSON (.json), or '-' for stdout; with --causal JSON lines."),
        model: str = typer.Option(None, "--model", "-m", show_default=False,
                                  help="Action model path or name (default hummuss-action-cmu; --causal: hummuss-action-causal-cmu)."),
        causal: bool = typer.Option(False, "--causal", help="Online labels: one per frame from the causal classifier."),
        window: str = typer.Option(None, "--window", show_default=False, help="Timeline window, e.g. 2s (default: the model's, 2 s)."),
        stride: str = typer.Option("0.5s", "--stride", help="Timeline stride, e.g. 0.5s."),
        topk: int = typer.Option(3, "--topk", "-k", help="Labels per window / clip."),
        detector: str = typer.Option("mediapipe", "--detector", help="2D detector for video input."),
        fps: float = typer.Option(None, "--fps", show_default=False, help="Frame rate to assume (keypoint files without timestamps)."),
        width: int = typer.Option(None, "--width", show_default=False, help="Image width for keypoint files that do not record it."),
        height: int = typer.Option(None, "--height", show_default=False, help="Image height for keypoint files that do not record it."),
        max_frames: int = typer.Option(None, "--max-frames", show_default=False, help="Use only the first N frames."),
        max_persons: int = typer.Option(DEFAULT_MAX_PERSONS, "--max-persons", help=MAX_PERSONS_HELP),
        min_track_length: int = typer.Option(DEFAULT_MIN_TRACK_LENGTH, "--min-track-length", help=MIN_TRACK_HELP),
        track: bool = typer.Option(False, "--track", help=TRACK_HELP),
        person: int = typer.Option(None, "--person", show_default=False, help=PERSON_HELP),
        group: bool = typer.Option(False, "--group", help="Pool all persons into one label (two-person classes such "
                                                          "as NTU's hugging need it; default: each person on its own)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (and what -o - asks for)."),
        manifest: str = typer.Option(None, "--manifest", show_default=False, help=batching.MANIFEST_HELP),
        out_dir: str = typer.Option(None, "--out-dir", show_default=False,
                                    help=batching.out_dir_help("<stem>.actions.json (<stem>.actions.jsonl with --causal)")),
        overwrite: bool = typer.Option(False, "--overwrite", help=batching.OVERWRITE_HELP),
        shard: str = typer.Option(None, "--shard", show_default=False, help=batching.SHARD_HELP),
        log: str = typer.Option(None, "--log", show_default=False, help=batching.LOG_HELP),
    ) -> None:
        """Action labels: the clip's top-k and a timeline of windows (hm action clip.mp4 -o actions.json),
        or online labels per frame (--causal). Classes of the shipped model: walk, run, jump, dance, exercise."""
        from hmcli.io.atomic import HMError

        require((topk >= 1, f"--topk must be at least 1, got {topk}"),
                (max_frames is None or max_frames >= 1, f"--max-frames must be at least 1, got {max_frames}"),
                (width is None or width >= 1, f"--width must be a positive number of pixels, got {width}"),
                (height is None or height >= 1, f"--height must be a positive number of pixels, got {height}"),
                (fps is None or 0 < fps < float("inf"), f"--fps must be positive, got {fps}"))
        check_person_options(max_persons, min_track_length, person)
        window_s = None if window is None else parse_seconds(window, "--window")
        stride_s = parse_seconds(stride, "--stride")
        if batching.is_batch(input, manifest=manifest, out_dir=out_dir, shard=shard, log=log):
            batching.refuse(("-o/--output", output is not None))
            return _action_batch(input, manifest, out_dir, shard, log, overwrite, quiet, model, causal,
                                 dict(window_s=window_s, stride_s=stride_s, topk=topk, detector=detector, fps=fps,
                                      max_frames=max_frames, width=width, height=height, max_persons=max_persons,
                                      min_track_length=min_track_length, person=person, group=group,
                                      probe=not track))  # fmt: skip
        if not input:
            fail("give an INPUT (video, keypoint file or hm lift / hm mesh .h5)", EXIT_USAGE)
        input = input[0]
        in_path = Path(input)
        if not in_path.exists():
            raise HMError(f"input not found: {in_path}")
        out_path = None if output in (None, "-") else Path(output)
        if out_path is not None:
            output_dir_check(out_path)
            if out_path.exists() and out_path.resolve() == in_path.resolve():
                fail(f"output {out_path} is the input file; choose another -o", EXIT_USAGE)
        from hmcli import api
        from hmcli.action import api as action_api

        la = action_api.load_classifier(model, causal)           # a model problem fails before detection
        with progress(quiet) as bar:
            mk = api.input_keypoints_persons(in_path, fps=fps, width=width, height=height, max_frames=max_frames,
                                             detector=detector, on_progress=stage_bars(bar), max_persons=max_persons,
                                             min_track_length=min_track_length, person=person,
                                             probe=not track)  # fmt: skip
        k = min(topk, len(la.classes))
        say = (lambda m: typer.echo(m, err=True)) if output == "-" else typer.echo
        single = mk.num_persons == 1 and int(mk.track_ids[0]) == 0
        if causal:
            records = action_api.online_labels(mk, la, k, fps, window_s, group=group)
            if output == "-":
                for rec in records:
                    sys.stdout.write(json.dumps(rec) + "\n")
                    sys.stdout.flush()
                return
            recs = list(records)
            if out_path is not None:
                action_api.write_label_lines(out_path, recs)
            if not quiet:
                dest = f" -> {out_path}" if out_path else ""
                if single or group:
                    last = recs[-1]["topk"][0] if recs and recs[-1]["topk"] else None
                    say(f"hm action: {len(recs)} frames labelled online by {la.model_id}"
                        + (f" ({persons_summary(mk.track_ids)} pooled)" if group else "") + "; last frame: "
                        + (f"{last['label']} {100 * last['prob']:.0f} %" if last else "no person") + dest)
                else:
                    say(f"hm action: {mk.num_frames} frames of {persons_summary(mk.track_ids)} labelled online by "
                        f"{la.model_id}{dest}")
                    for tid in mk.track_ids.tolist():
                        own = [r for r in recs if r.get("track_id") == tid and r["topk"]]
                        if own:
                            top = own[-1]["topk"][0]
                            say(f"  #{tid}: last seen frame {own[-1]['index']}: {top['label']} {100 * top['prob']:.0f} %")
            return
        doc, reports = action_api.actions_doc(mk, la, window_s, stride_s, k, fps, group=group, source=str(in_path))
        if output == "-":
            sys.stdout.write(json.dumps(doc) + "\n")
        elif out_path is not None:
            action_api.write_report(out_path, doc)
        if not quiet:
            rep = reports[0][1]
            tail = f"({len(rep.timeline)} windows of {rep.window_s:g} s, model {la.model_id})"
            if single:
                labels = ", ".join(f"{l} {100 * p:.0f} %" for l, p in rep.clip)
                say(f"{in_path.name}: {labels}  {tail}")
            elif group:
                labels = ", ".join(f"{l} {100 * p:.0f} %" for l, p in rep.clip)
                say(f"{in_path.name}: {persons_summary(doc['track_ids'])} pooled: {labels}  {tail}")
            else:
                say(f"{in_path.name}: {persons_summary([t for t, _ in reports])}  {tail}")
                for tid, r in reports:
                    say(f"  #{tid}: " + ", ".join(f"{l} {100 * p:.0f} %" for l, p in r.clip))
