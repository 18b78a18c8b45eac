"""``hm lift``: video / keypoint file / stdin / webcam -> 3D joints (HDF5, JSON, JSON lines, BVH, CSV).

Behaviour worth knowing (also in ``hm lift --help``):

* INPUT is a video, a keypoint file (.h5 / .json / .npz, an OpenPose folder), or ``-``: a
  keypoint file's bytes on stdin (JSON, our JSON lines, NPZ), so ``hm detect v.mp4 -o - |
  hm lift - -o out.h5`` works. ``--source N`` reads webcam N instead (causal streaming).
* Output: ``-o out.h5`` (default: ``<input stem>.h5`` next to the input, ``stdin.h5`` /
  ``cameraN.h5`` in the current folder; ``<stem>.3d.h5`` if that would overwrite the input),
  ``.json``, ``.bvh``, ``.csv``; ``-o -`` prints JSON lines (a header record, then one record
  per frame) to stdout; with ``--causal`` each line is written and flushed as soon as its
  frame is lifted. Files are written atomically: never a partial file.
* Every person in a video is detected, tracked and lifted on its own (``--max-persons``, 4 by
  default). A video where a quick look (a frame per second, 4 to 12) finds one person at most takes the faster
  one-person path (``--track`` always tracks; ``--max-persons 1`` never does). Outputs have a person axis
  with track ids (``--person ID`` keeps one); BVH and CSV hold one person, so several persons
  give one file each, ``<name>.p<track id>.bvh``.
* Frames without a person are kept and flagged (``detected`` false). A video in which no
  frame has a person still gives an output (no persons; with ``--max-persons 1`` every
  frame flagged and 3D joints NaN) plus a warning line; exit code 0.
* Webcam: capture ends at ``--max-frames`` or Ctrl-C; Ctrl-C there is the normal way to stop
  and the frames so far are written (exit 0).
* Progress (rich bar with frames/s) and the final one-line summary go to stderr; ``--quiet``
  turns both off (warnings and errors are still printed).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import typer

from hmcli.cli import batching
from hmcli.cli.common import (DEFAULT_MAX_PERSONS, DEFAULT_MIN_TRACK_LENGTH, EXIT_USAGE, MAX_PERSONS_HELP,
                              MIN_TRACK_HELP, TRACK_HELP, PERSON_HELP, StdoutLines, check_person_options, cli_errors, fail, note,
                              persons_summary, progress, stage_bars, warn)  # fmt: skip
from hmcli.io.paths import default_output
from hmcli.refine import REFINE_BY_DEFAULT

# When the CLI loaded its command modules: start-up (imports, torch) = command start - this.
_T_LOADED = time.perf_counter()


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def _plan_output(output: str | None, json_out: bool, input_path: Path | None, default_name: str) -> tuple[Path | None, str]:
    """(path or None for stdout, format)."""
    from hmcli.io.export import SUFFIXES as RESULT_FORMATS

    if output == "-":
        return None, "jsonl"
    if output is not None:
        p = Path(output)
        suffix = p.suffix.lower()
        if json_out and suffix != ".json":
            fail(f"--json writes JSON: use an output name ending in .json or '-o -' (got {output!r})", EXIT_USAGE)
        if suffix not in RESULT_FORMATS:
            fail(f"cannot tell the output format from {p.name!r}; use .h5, .json, .bvh, .csv or '-' (JSON lines)",
                 EXIT_USAGE)  # fmt: skip
        return p, RESULT_FORMATS[suffix]
    suffix = ".json" if json_out else ".h5"
    if input_path is None:
        return Path(default_name + suffix), ("json" if json_out else "h5")
    return default_output(input_path, suffix, "3d"), ("json" if json_out else "h5")


def _lift_batch(inputs, manifest, out_dir, shard, log, overwrite, quiet, json_out, model, causal, options) -> None:  # noqa: ANN001
    """hm lift over a batch (see hmcli.batch): plan, load the model once, run, report."""
    from hmcli import api, batch

    plan = batch.plan_batch(inputs or [], batching.require_out_dir(out_dir), ".json" if json_out else ".h5",
                            manifest=manifest, shard=batching.shard_option(shard), tag="3d",
                            output_suffixes=(".h5", ".json"))  # fmt: skip
    job = batch.LiftJob(api.load_lifter(model, causal=causal), **options)
    batching.run("lift", plan, job, overwrite=overwrite, log=log, quiet=quiet)


def register(app: typer.Typer) -> None:
    @app.command()
    @cli_errors
    def lift(
        input: list[str] = typer.Argument(None, metavar="INPUT", show_default=False,
                                          help="Video, keypoint file (.h5/.json/.npz/OpenPose folder) or '-' (keypoints on stdin); several, a folder or a glob: a batch."),
        output: str = typer.Option(None, "--output", "-o", show_default=False,
                                   help="Output .h5 (default <input stem>.h5), .json, .bvh, .csv, or '-' for JSON lines on stdout."),
        model: str = typer.Option(None, "--model", "-m", show_default=False,
                                  help="Checkpoint path or shipped model name (default: hummuss-small-cmu; with --causal hummuss-small-causal-cmu)."),
        causal: bool = typer.Option(False, "--causal", help="Causal model, frame-by-frame (streams with -o -)."),
        fps: float = typer.Option(None, "--fps", show_default=False,
                                  help="Frame rate to assume (overrides the timestamps; needed for keypoint files without them)."),
        json_out: bool = typer.Option(False, "--json", help="Write JSON (a .json file, or JSON lines with -o -)."),
        source: str = typer.Option(None, "--source", show_default=False, help="Webcam index (e.g. 0): live causal lifting."),
        detector: str = typer.Option("mediapipe", "--detector", help="2D detector for video input."),
        max_frames: int = typer.Option(None, "--max-frames", show_default=False, help="Stop after N frames."),
        width: int = typer.Option(None, "--width", show_default=False, help="Image width for keypoint files that do not record it."),
        height: int = typer.Option(None, "--height", show_default=False, help="Image height for keypoint files that do not record it."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary line."),
        one_pass: bool = typer.Option(False, "--one-pass",
                                      help="Let the model see the whole sequence: one pass offline instead of windows of its trained clip length; unbounded memory when streaming."),
        no_flip: bool = typer.Option(False, "--no-flip",
                                     help="Skip the test-time flip (averaging with the mirrored input's estimate): half the lifting work, 1-3 mm less accurate."),
        refine: bool = typer.Option(None, "--refine/--no-refine", show_default=False,
                                    help="Repair the 2D over time (jitter, swaps, missed joints) with the 2D refiner before lifting; offline only. Off by default: it lowers the 2D error but not the lift's (docs/real-video.md §10)."),
        refine_model: str = typer.Option(None, "--refine-model", show_default=False,
                                         help="2D refiner checkpoint or shipped name (default: refine2d-cmu); implies --refine."),
        max_persons: int = typer.Option(DEFAULT_MAX_PERSONS, "--max-persons", help=MAX_PERSONS_HELP),
        min_track_length: int = typer.Option(DEFAULT_MIN_TRACK_LENGTH, "--min-track-length", help=MIN_TRACK_HELP),
        track: bool = typer.Option(False, "--track", help=TRACK_HELP),
        person: int = typer.Option(None, "--person", show_default=False, help=PERSON_HELP),
        manifest: str = typer.Option(None, "--manifest", show_default=False, help=batching.MANIFEST_HELP),
        out_dir: str = typer.Option(None, "--out-dir", show_default=False, help=batching.out_dir_help("<stem>.h5 (<stem>.json with --json)")),
        overwrite: bool = typer.Option(False, "--overwrite", help=batching.OVERWRITE_HELP),
        shard: str = typer.Option(None, "--shard", show_default=False, help=batching.SHARD_HELP),
        log: str = typer.Option(None, "--log", show_default=False, help=batching.LOG_HELP),
    ) -> None:
        """2D keypoints -> 3D joints (H36M-17, metres, root-relative) with HumMUSS (or, with --model, any lifter
        checkpoint from hm train: DSTformer, MixSTE and P-STMO too).

        Examples: hm lift clip.mp4 | hm lift clip.mp4 --causal -o - | hm lift kpts.json -o out.h5 |
        hm detect clip.mp4 -o - | hm lift - -o out.h5 | hm lift --source 0 -o - --json |
        hm lift videos/ --out-dir out/ --shard 0/10"""
        batch = batching.is_batch(input, manifest=manifest, out_dir=out_dir, shard=shard, log=log)
        if not batch and (not input) == (source is None):
            fail("give one INPUT (video, keypoint file or '-') or --source N (webcam)", EXIT_USAGE)
        if source is not None and not source.isdigit():
            fail(f"--source takes a webcam index such as 0, got {source!r}", EXIT_USAGE)
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            fail(f"--fps must be a positive number, got {fps}", EXIT_USAGE)
        if max_frames is not None and max_frames < 1:
            fail(f"--max-frames must be at least 1, got {max_frames}", EXIT_USAGE)
        for name, value in (("--width", width), ("--height", height)):
            if value is not None and value < 1:
                fail(f"{name} must be a positive number of pixels, got {value}", EXIT_USAGE)
        check_person_options(max_persons, min_track_length, person)
        if refine is False and refine_model is not None:
            fail("--refine-model names the refiner for --refine; drop --no-refine", EXIT_USAGE)
        streams = source is not None or (causal and output == "-")
        if streams and (refine or refine_model is not None):
            fail("--refine repairs the 2D over the whole clip; it cannot run in a stream (webcam, or --causal with -o -)",
                 EXIT_USAGE)
        use_refine = (refine or refine_model is not None or (refine is None and REFINE_BY_DEFAULT and not causal)) and not streams
        refiner = None
        if use_refine:
            from hmcli.refine.checkpoint import load_refiner

            refiner = load_refiner(refine_model)
        if batch:
            batching.refuse(("-o/--output", output is not None), ("--source", source is not None),
                            ("--person", person is not None))  # fmt: skip
            return _lift_batch(input, manifest, out_dir, shard, log, overwrite, quiet, json_out, model, causal,
                               dict(detector=detector, fps=fps, max_frames=max_frames, width=width, height=height,
                                    one_pass=one_pass, flip=not no_flip, max_persons=max_persons,
                                    min_track_length=min_track_length, probe=not track, refiner=refiner))  # fmt: skip
        input = input[0] if input else None

        from hmcli.io.atomic import HMError
        from hmcli.io.paths import input_kind, output_dir_check

        t_cmd = time.perf_counter()
        kind = "camera" if source is not None else "stdin" if input == "-" else None
        in_path = None
        if kind is None:
            in_path = Path(input)
            if not in_path.exists():
                raise HMError(f"input not found: {in_path}")
            kind = input_kind(in_path)
        default_name = "stdin" if kind == "stdin" else f"camera{source}"
        out_path, fmt = _plan_output(output, json_out, in_path, default_name)
        if out_path is not None:
            output_dir_check(out_path)
            if in_path is not None and out_path.exists() and out_path.resolve() == in_path.resolve():
                fail(f"output {out_path} is the input file; choose another -o", EXIT_USAGE)

        from hmcli import api
        from hmcli.io.export import export_persons
        from hmcli.types import MultiKeypoints2D

        clock = api.Timings()
        # Cheap input checks first, so a bad input fails before the model loads.
        mk = info = None
        if kind in ("keypoints", "stdin"):
            t0 = time.perf_counter()
            mk = api.read_keypoints_persons(sys.stdin.buffer.read() if kind == "stdin" else in_path, fps, width,
                                            height, max_frames)  # fmt: skip
            mk = api.select_person(mk, person, "stdin" if kind == "stdin" else str(in_path))
            clock.decode = time.perf_counter() - t0
        elif kind == "video":
            from hmcli.io.video import probe_video

            info = probe_video(in_path)
        t0 = time.perf_counter()
        lifter = api.load_lifter(model, causal=causal or kind == "camera")
        clock.load = time.perf_counter() - t0

        streamed = kind == "camera" or (causal and fmt == "jsonl")  # each record out as its frame is lifted
        with progress(quiet) as bar:
            src = mk if mk is not None else int(source) if kind == "camera" else in_path
            run = dict(info=info, detector=detector, fps=fps, max_frames=max_frames, timings=clock,
                       on_progress=stage_bars(bar), one_pass=one_pass, flip=not no_flip, max_persons=max_persons)  # fmt: skip
            if streamed:
                out = StdoutLines() if fmt == "jsonl" else None
                result = api.run_stream_persons(lifter, src, on_record=out.write if out is not None else None, **run)
            else:
                if not isinstance(src, MultiKeypoints2D):
                    src = api.select_person(api.detect_persons(src, detector, max_persons=max_persons,
                                                               min_track_length=min_track_length, info=info,
                                                               probe=not track,
                                                               max_frames=max_frames, timings=clock,
                                                               on_progress=run["on_progress"]),
                                            person, str(in_path))  # fmt: skip
                result = api.run_offline_persons(lifter, src, refiner=refiner, **run)
            if person is not None and streamed:
                from hmcli.io.persons import only_person

                result = only_person(result, person, "the stream")
            t0 = time.perf_counter()
            written: list[Path] = []
            if fmt != "jsonl":
                written = export_persons(result, out_path, fmt)
            elif not streamed:
                from hmcli.io.jsonio import result_records

                out = StdoutLines()
                for rec in result_records(result):
                    out.write(rec, flush=False)
                out.write_flush()
            clock.write += time.perf_counter() - t0

        import numpy as np

        n = result.num_frames
        if result.num_persons == 0:
            missing = n
            warn(f"no person found in any of the {n} frames; the output has no persons")
        else:
            seen = result.kpts2d.detected.any(axis=0)  # (F,) somebody in the frame
            missing = int((~seen).sum())
            if missing == n:
                what = "NaN 3D joints" if np.isnan(result.joints3d).all() else "3D joints from empty input"
                warn(f"no person found in any of the {n} frames; the output has every frame flagged "
                     f"(detected false) and {what}")  # fmt: skip
            elif missing and result.num_persons == 1 and int(result.track_ids[0]) == 0:
                note(f"hm lift: {missing} of {n} frames have no person (flagged detected=false; their 3D joints "
                     "are the model's estimate from the other frames)", quiet)  # fmt: skip
        where = "stdout" if out_path is None else ", ".join(str(p) for p in written) if len(written) > 1 else str(out_path)
        if kind in ("keypoints", "stdin"):
            detect_part = f"read {_fmt_s(clock.decode)}"
        else:
            detect_part = (f"decode+detect {_fmt_s(clock.decode + clock.detect)} "
                           f"(decode {_fmt_s(clock.decode)}, detect {_fmt_s(clock.detect)})")  # fmt: skip
        fps_now = result.kpts2d.fps
        note(f"hm lift: {n} frames ({missing} without a person), {persons_summary(result.track_ids)}, at "
             f"{fps_now:.2f} fps -> {where}; {detect_part}, lift {_fmt_s(clock.lift)}, write {_fmt_s(clock.write)}, "
             f"total {_fmt_s(time.perf_counter() - t_cmd)} + start-up {_fmt_s(max(0.0, t_cmd - _T_LOADED))}; "
             f"model {lifter.model_id} (load {_fmt_s(clock.load)})"
             + (f", 2D refiner {refiner.model_id}" if refiner is not None else ""), quiet)  # fmt: skip

