"""``hm detect``: video -> 2D keypoints only (.h5, .json, .npz, or JSON lines on stdout)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from hmcli.cli import batching
from hmcli.cli.common import (DEFAULT_MAX_PERSONS, DEFAULT_MIN_TRACK_LENGTH, EXIT_USAGE, MAX_PERSONS_HELP,
                              MIN_TRACK_HELP, TRACK_HELP, StdoutLines, check_person_options, cli_errors, fail, note,
                              persons_summary, progress, stage_bars, warn)  # fmt: skip
from hmcli.io.paths import KEYPOINT_SUFFIXES, default_output, output_dir_check


def _detect_batch(videos, manifest, out_dir, shard, log, overwrite, quiet, json_out, detector, max_frames,
                  persons) -> None:  # noqa: ANN001
    """hm detect over a batch of videos (see hmcli.batch)."""
    from hmcli import batch

    suffix = ".kpts.json" if json_out else ".kpts.h5"
    plan = batch.plan_batch(videos or [], batching.require_out_dir(out_dir), suffix, manifest=manifest,
                            shard=batching.shard_option(shard), suffixes=batch.VIDEO_SUFFIXES, openpose_dirs=False,
                            output_suffixes=(".kpts.h5", ".kpts.json"))  # fmt: skip
    batching.run("detect", plan, batch.DetectJob(detector, max_frames, **persons), overwrite=overwrite, log=log, quiet=quiet)


def register(app: typer.Typer) -> None:
    @app.command()
    @cli_errors
    def detect(
        video: list[str] = typer.Argument(None, metavar="VIDEO", show_default=False,
                                          help="Video file, or a webcam index such as 0 (needs --max-frames); several, a folder or a glob: a batch."),
        output: str = typer.Option(None, "--output", "-o", show_default=False,
                                   help="Keypoint file .h5 (default <video stem>.kpts.h5), .json, .npz, or '-' for JSON lines on stdout."),
        detector: str = typer.Option("mediapipe", "--detector", help="2D detector (hm info lists the backends)."),
        max_frames: int = typer.Option(None, "--max-frames", show_default=False, help="Stop after N frames."),
        json_out: bool = typer.Option(False, "--json", help="Write JSON (a .json file, or JSON lines with -o -)."),
        max_persons: int = typer.Option(DEFAULT_MAX_PERSONS, "--max-persons", help=MAX_PERSONS_HELP),
        min_track_length: int = typer.Option(DEFAULT_MIN_TRACK_LENGTH, "--min-track-length", help=MIN_TRACK_HELP),
        track: bool = typer.Option(False, "--track", help=TRACK_HELP),
        refine: bool = typer.Option(False, "--refine", help="Repair each person's 2D over time (jitter, swaps, missed "
                                    "joints) with the 2D refiner; writes H36M-17 keypoints, as hm lift sees them."),
        refine_model: str = typer.Option(None, "--refine-model", show_default=False,
                                         help="2D refiner checkpoint or shipped name (default: refine2d-cmu); implies --refine."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary line."),
        manifest: str = typer.Option(None, "--manifest", show_default=False, help=batching.MANIFEST_HELP),
        out_dir: str = typer.Option(None, "--out-dir", show_default=False, help=batching.out_dir_help("<stem>.kpts.h5 (<stem>.kpts.json with --json)")),
        overwrite: bool = typer.Option(False, "--overwrite", help=batching.OVERWRITE_HELP),
        shard: str = typer.Option(None, "--shard", show_default=False, help=batching.SHARD_HELP),
        log: str = typer.Option(None, "--log", show_default=False, help=batching.LOG_HELP),
    ) -> None:
        """Detect 2D keypoints of every person in every frame, tracked with an id each (--max-persons 1: one
        person, frames without them kept and flagged).

        The output is read back by hm lift: hm detect clip.mp4 -o - | hm lift - -o clip.h5"""
        from hmcli.io.atomic import HMError

        if max_frames is not None and max_frames < 1:
            fail(f"--max-frames must be at least 1, got {max_frames}", EXIT_USAGE)
        check_person_options(max_persons, min_track_length)
        persons = dict(max_persons=max_persons, min_track_length=min_track_length, probe=not track)
        refine = refine or refine_model is not None
        if batching.is_batch(video, manifest=manifest, out_dir=out_dir, shard=shard, log=log, openpose_dirs=False):
            batching.refuse(("-o/--output", output is not None))
            if refine:
                from hmcli.refine.checkpoint import load_refiner

                persons["refiner"] = load_refiner(refine_model)
            return _detect_batch(video, manifest, out_dir, shard, log, overwrite, quiet, json_out, detector, max_frames,
                                 persons)  # fmt: skip
        if not video:
            fail("give a VIDEO (a file, or a webcam index with --max-frames)", EXIT_USAGE)
        video = video[0]
        camera = video.isdigit() and not Path(video).exists()
        if camera and max_frames is None:
            fail("reading a webcam needs --max-frames N", EXIT_USAGE)
        if output == "-":
            out_path = None
        else:
            if output is None:
                out_path = Path(f"camera{video}.kpts.json" if json_out else f"camera{video}.kpts.h5") if camera else \
                    default_output(Path(video), ".kpts.json" if json_out else ".kpts.h5", "kpts")
            else:
                out_path = Path(output)
            suffix = out_path.suffix.lower()
            if suffix not in KEYPOINT_SUFFIXES:
                fail(f"cannot tell the keypoint format from {out_path.name!r}; use .h5, .json, .npz or '-'", EXIT_USAGE)
            if json_out and suffix != ".json":
                fail(f"--json writes JSON: use an output name ending in .json or '-o -' (got {output!r})", EXIT_USAGE)
            output_dir_check(out_path)
        if not camera and not Path(video).exists():
            raise HMError(f"video file not found: {video}")

        from hmcli import api

        refiner = api.load_refiner(refine_model) if refine else None  # a model problem fails before detection
        clock = api.Timings()
        t0 = time.perf_counter()
        with progress(quiet) as bar:
            mk = api.detect_persons(int(video) if camera else video, detector, max_frames=max_frames, timings=clock,
                                    on_progress=stage_bars(bar), **persons)  # fmt: skip
        t_detect = time.perf_counter() - t0
        t_refine = 0.0
        if refiner is not None:
            t0 = time.perf_counter()
            mk = api.refine_persons(mk, refiner)
            t_refine = time.perf_counter() - t0
        t0 = time.perf_counter()
        if out_path is None:
            out = StdoutLines()
            out.write(api.keypoints_header_record(mk), flush=False)
            for rec in api.keypoints_frame_records(mk):
                out.write(rec, flush=False)
            out.write_flush()
        else:
            api.save_keypoints(mk, out_path)
        t_write = time.perf_counter() - t0
        n = mk.num_frames
        missing = int((~mk.detected.any(axis=0)).sum()) if mk.num_persons else n
        if missing == n:
            warn(f"no person found in any of the {n} frames; the output has "
                 + ("every frame flagged (detected false)" if mk.num_persons else "no persons"))  # fmt: skip
        note(f"hm detect: {n} frames ({missing} without a person), {persons_summary(mk.track_ids)}, at "
             f"{mk.fps:.2f} fps -> {'stdout' if out_path is None else out_path}; decode+detect {t_detect:.2f} s "
             f"(detect {clock.detect:.2f} s)" + (f", refine {t_refine:.2f} s ({refiner.model_id})" if refiner else "")
             + f", write {t_write:.2f} s; detector {mk.detector}", quiet)  # fmt: skip
