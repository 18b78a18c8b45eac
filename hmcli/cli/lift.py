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
* Frames without a person are kept and flagged (``detected`` false). A video in which no
  frame has a person still gives an output (every frame flagged, 3D joints NaN) plus a
  warning line; exit code 0.
* Webcam: capture ends at ``--max-frames`` or Ctrl-C; Ctrl-C there is the normal way to stop
  and the frames so far are written (exit 0).
* Progress (rich bar with frames/s) and the final one-line summary go to stderr; ``--quiet``
  turns both off (warnings and errors are still printed).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import typer

from hmcli.cli.common import EXIT_USAGE, cli_errors, fail

# When the CLI loaded its command modules: start-up (imports, torch) = command start - this.
_T_LOADED = time.perf_counter()

KEYPOINT_SUFFIXES = (".h5", ".hdf5", ".json", ".npz")
RESULT_FORMATS = {".h5": "h5", ".hdf5": "h5", ".json": "json", ".bvh": "bvh", ".csv": "csv"}


# ------------------------------------------------------------------ shared CLI helpers


def warn(message: str) -> None:
    typer.echo(f"hm: warning: {' '.join(str(message).split())}", err=True)


def note(message: str, quiet: bool = False) -> None:
    if not quiet:
        typer.echo(message, err=True)


@contextlib.contextmanager
def progress(quiet: bool) -> Iterator[Callable[..., Callable]]:
    """Yields ``bar(label, total=None) -> update(done, total=None)``; a rich progress display
    with frames/s on stderr (nothing when quiet or when stderr is not a terminal)."""
    from rich.console import Console

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield lambda label, total=None: (lambda done, total=None: None)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class FpsColumn(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:6.1f} frames/s" if speed else "      - frames/s")

    cols = (TextColumn("[bold]{task.description:<7}"), BarColumn(), MofNCompleteColumn(), FpsColumn(),
            TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    with Progress(*cols, console=console, transient=True) as prog:

        def bar(label: str, total: int | None = None):
            tid = prog.add_task(label, total=total)

            def update(done: int, n: int | None = None) -> None:
                prog.update(tid, completed=done, total=n if n is not None else prog.tasks[tid].total)

            return update

        yield bar


def output_dir_check(path: Path) -> None:
    from hmcli.io.atomic import HMError

    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise HMError(f"output directory does not exist: {parent}")


def default_output(input_path: Path, suffix: str, tag: str) -> Path:
    """``<stem><suffix>`` next to the input, or ``<stem>.<tag><suffix>`` if that is the input."""
    out = input_path.with_suffix(suffix) if input_path.suffix else input_path.with_name(input_path.name + suffix)
    if input_path.is_dir():  # OpenPose folder: put the file beside it
        out = input_path.parent / f"{input_path.name}{suffix}"
    with contextlib.suppress(OSError):
        if out.exists() and out.resolve() == input_path.resolve():
            out = input_path.with_name(f"{input_path.stem}.{tag}{suffix}")
    return out


class StdoutLines:
    """Writes JSON lines to stdout, flushing each; a closed pipe (``| head``) ends quietly."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def write(self, record: dict, flush: bool = True) -> None:
        from hmcli.io.jsonio import dumps_record

        t0 = time.perf_counter()
        try:
            sys.stdout.write(dumps_record(record) + "\n")
            if flush:
                sys.stdout.flush()
        except BrokenPipeError:
            import os

            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None
        self.seconds += time.perf_counter() - t0

    def write_flush(self) -> None:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            raise typer.Exit(0) from None


class TimedDetector:
    """A detector (created from its name on first use) that adds up the seconds spent in
    ``detect``; creating it lazily lets a missing camera fail before a slow detector starts."""

    def __init__(self, det) -> None:
        self._spec, self._det, self.seconds = det, None, 0.0

    @property
    def det(self):
        if self._det is None:
            if isinstance(self._spec, str):
                from hmcli.detect import get_detector

                self._det = get_detector(self._spec)
            else:
                self._det = self._spec
        return self._det

    @property
    def name(self) -> str:
        return self.det.name

    @property
    def joint_set(self) -> str:
        return self.det.joint_set

    def detect(self, frame, timestamp):
        t0 = time.perf_counter()
        try:
            return self.det.detect(frame, timestamp)
        finally:
            self.seconds += time.perf_counter() - t0

    def close(self) -> None:
        if self._det is not None:
            self._det.close()


def timed_frames(frames, clock: dict) -> Iterator:
    """Pass frames through, adding decode time to ``clock['decode']``."""
    it = iter(frames)
    while True:
        t0 = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            clock["decode"] += time.perf_counter() - t0
            return
        clock["decode"] += time.perf_counter() - t0
        yield item


def result_records(result) -> Iterator[dict]:
    """JSON-lines records of a result: header, then one per frame."""
    from hmcli.io.jsonio import frame_record, header_record

    kp = result.kpts2d
    yield header_record(fps=kp.fps, width=kp.width, height=kp.height, joint_set=kp.joint_set,
                        model_id=result.model_id, model_hash=result.model_hash, detector=kp.detector,
                        source=kp.source, source_hash=kp.source_hash)  # fmt: skip
    for i in range(kp.num_frames):
        yield frame_record(i, kp.timestamps[i], kp.detected[i], kp.xy[i], kp.conf[i], result.joints3d[i])


def result_from_records(header: dict, records: list[dict]):
    """Rebuild a Pose3DResult from streamed records (header + frames)."""
    import numpy as np

    from hmcli.io.atomic import HMError
    from hmcli.types import Keypoints2D, Pose3DResult

    if not records:
        raise HMError("no frames were captured")

    def arr(rows):
        a = np.array(rows, dtype=object)
        a[a == None] = np.nan  # noqa: E711
        return a.astype(np.float64)

    k2 = np.stack([arr(r["kpts2d"]) for r in records])
    j3 = np.stack([arr(r["joints3d"]) for r in records]).astype(np.float32)
    kp = Keypoints2D(
        xy=k2[..., :2].astype(np.float32),
        conf=np.nan_to_num(k2[..., 2]).astype(np.float32),
        joint_set=header["joint_set"],
        timestamps=np.array([r["t"] if r["t"] is not None else np.nan for r in records], np.float64),
        width=int(header["width"]),
        height=int(header["height"]),
        detected=np.array([r["detected"] for r in records], bool),
        detector=header.get("detector") or "unknown",
        source=header.get("source"),
        source_hash=header.get("source_hash"),
    )
    return Pose3DResult(kpts2d=kp, joints3d=j3, model_id=header.get("model_id") or "unknown",
                        model_hash=header.get("model_hash") or "")  # fmt: skip


def write_result_file(result, path: Path, fmt: str) -> None:
    if fmt == "h5":
        from hmcli.io.h5 import write_result

        write_result(path, result)
    elif fmt == "json":
        from hmcli.io.jsonio import write_result_json

        write_result_json(path, result)
    else:
        from hmcli.io.export import export

        export(result, path, fmt)


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s"


# ------------------------------------------------------------------ the command


def _plan_output(output: str | None, json_out: bool, input_path: Path | None, default_name: str) -> tuple[Path | None, str]:
    """(path or None for stdout, format)."""
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


def register(app: typer.Typer) -> None:
    @app.command()
    @cli_errors
    def lift(
        input: str = typer.Argument(None, metavar="INPUT", show_default=False,
                                    help="Video, keypoint file (.h5/.json/.npz/OpenPose folder) or '-' (keypoints on stdin)."),
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
    ) -> None:
        """2D keypoints -> 3D joints (H36M-17, metres, root-relative) with HumMUSS (or, with --model, any lifter
        checkpoint from hm train: DSTformer, MixSTE and P-STMO too).

        Examples: hm lift clip.mp4 | hm lift clip.mp4 --causal -o - | hm lift kpts.json -o out.h5 |
        hm detect clip.mp4 -o - | hm lift - -o out.h5 | hm lift --source 0 -o - --json"""
        if (input is None) == (source is None):
            fail("give one INPUT (video, keypoint file or '-') or --source N (webcam)", EXIT_USAGE)
        if source is not None and not source.isdigit():
            fail(f"--source takes a webcam index such as 0, got {source!r}", EXIT_USAGE)
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            fail(f"--fps must be a positive number, got {fps}", EXIT_USAGE)
        if max_frames is not None and max_frames < 1:
            fail(f"--max-frames must be at least 1, got {max_frames}", EXIT_USAGE)

        from hmcli.io.atomic import HMError

        t_cmd = time.perf_counter()
        kind = "camera" if source is not None else "stdin" if input == "-" else None
        in_path = None
        if kind is None:
            in_path = Path(input)
            if not in_path.exists():
                raise HMError(f"input not found: {in_path}")
            kind = "keypoints" if in_path.is_dir() or in_path.suffix.lower() in KEYPOINT_SUFFIXES else "video"
        default_name = "stdin" if kind == "stdin" else f"camera{source}"
        out_path, fmt = _plan_output(output, json_out, in_path, default_name)
        if out_path is not None:
            output_dir_check(out_path)
            if in_path is not None and out_path.exists() and out_path.resolve() == in_path.resolve():
                fail(f"output {out_path} is the input file; choose another -o", EXIT_USAGE)

        from hmcli import api

        clock = {"decode": 0.0, "detect": 0.0, "lift": 0.0, "write": 0.0}
        # Cheap input checks first, so a bad input fails before the model loads.
        kp = info = None
        if kind in ("keypoints", "stdin"):
            t0 = time.perf_counter()
            kp = _read_keypoints(api, kind, in_path, fps, width, height, max_frames)
            clock["decode"] = time.perf_counter() - t0
        elif kind == "video":
            from hmcli.io.video import probe_video

            info = probe_video(in_path)
        t0 = time.perf_counter()
        lifter = api.load_lifter(model, causal=causal or kind == "camera")
        clock["load"] = time.perf_counter() - t0

        with progress(quiet) as bar:
            if kind == "camera" or (causal and fmt == "jsonl"):
                result = _run_stream(api, lifter, kind, in_path, source, kp, info, detector, fps, max_frames,
                                     out_path, fmt, clock, bar, one_pass, not no_flip)  # fmt: skip
            else:
                result = _run_offline(api, lifter, kind, in_path, kp, info, detector, fps, max_frames, clock, bar, one_pass,
                                      not no_flip)
                t0 = time.perf_counter()
                if fmt == "jsonl":
                    out = StdoutLines()
                    for rec in result_records(result):
                        out.write(rec, flush=False)
                    out.write_flush()
                else:
                    write_result_file(result, out_path, fmt)
                clock["write"] += time.perf_counter() - t0

        import numpy as np

        k2 = result.kpts2d
        n = k2.num_frames
        missing = int((~k2.detected).sum())
        if missing == n:
            what = "NaN 3D joints" if np.isnan(result.joints3d).all() else "3D joints from empty input"
            warn(f"no person found in any of the {n} frames; the output has every frame flagged "
                 f"(detected false) and {what}")  # fmt: skip
        elif missing:
            note(f"hm lift: {missing} of {n} frames have no person (flagged detected=false; their 3D joints "
                 "are the model's estimate from the other frames)", quiet)  # fmt: skip
        where = "stdout" if out_path is None else str(out_path)
        if kind in ("keypoints", "stdin"):
            detect_part = f"read {_fmt_s(clock['decode'])}"
        else:
            detect_part = (f"decode+detect {_fmt_s(clock['decode'] + clock['detect'])} "
                           f"(decode {_fmt_s(clock['decode'])}, detect {_fmt_s(clock['detect'])})")  # fmt: skip
        note(f"hm lift: {n} frames ({missing} without a person) at {k2.fps:.2f} fps -> {where}; {detect_part}, "
             f"lift {_fmt_s(clock['lift'])}, write {_fmt_s(clock['write'])}, total {_fmt_s(time.perf_counter() - t_cmd)} "
             f"+ start-up {_fmt_s(max(0.0, t_cmd - _T_LOADED))}; model {lifter.model_id} (load {_fmt_s(clock['load'])})", quiet)  # fmt: skip


def _read_keypoints(api, kind, in_path, fps, width, height, max_frames):
    from dataclasses import replace

    if kind == "stdin":
        kp = api.read_keypoints_bytes(sys.stdin.buffer.read(), fps=fps, width=width, height=height)
    else:
        from hmcli.io.keypoints import load_keypoints

        kp = load_keypoints(in_path, fps=fps, width=width, height=height)
    if max_frames is not None and kp.num_frames > max_frames:
        m = max_frames
        kp = replace(kp, xy=kp.xy[:m], conf=kp.conf[:m], timestamps=kp.timestamps[:m], detected=kp.detected[:m])
    return kp


def _run_offline(api, lifter, kind, in_path, kp, info, detector, fps, max_frames, clock, bar, one_pass=False, flip=True):
    if kind == "video":
        from hmcli.detect import run_detector
        from hmcli.io.video import iter_frames, sha256_file

        t0 = time.perf_counter()
        total = info.num_frames if max_frames is None else min(info.num_frames, max_frames)
        src_hash = sha256_file(in_path)
        det = TimedDetector(detector)
        upd = bar("detect", total)
        try:
            kp = run_detector(det, timed_frames(iter_frames(in_path, max_frames=max_frames), clock),
                              lambda i, n: upd(i + 1, n), num_frames=total, source=str(in_path),
                              source_hash=src_hash)  # fmt: skip
        finally:
            det.close()
        clock["detect"] = det.seconds
        clock["decode"] = time.perf_counter() - t0 - det.seconds
    t0 = time.perf_counter()
    upd = bar("lift", kp.num_frames)
    result = api.lift(kp, lifter, fps, on_progress=upd, one_pass=one_pass, flip=flip)
    clock["lift"] = time.perf_counter() - t0
    return result


def _run_stream(api, lifter, kind, in_path, source, kp, info, detector, fps, max_frames, out_path, fmt, clock, bar,
                one_pass=False, flip=True):
    """Causal streaming (webcam, or --causal with -o -): each record is written as soon as its
    frame is lifted. Returns the result (also written to ``out_path`` when there is one)."""
    from hmcli.io.atomic import HMError

    t_begin = time.perf_counter() - clock["decode"]
    det = None
    if kp is not None:
        src, total, nominal = kp, kp.num_frames, None
    else:
        from hmcli.io.video import iter_frames, sha256_file

        cam = kind == "camera"
        arg = int(source) if cam else in_path
        total = None if cam else (info.num_frames if max_frames is None else min(info.num_frames, max_frames))
        nominal = None if cam else info.fps
        src = timed_frames(iter_frames(arg, max_frames=max_frames), clock)
        det = TimedDetector(detector)
        src_name, src_hash = (f"camera:{arg}", None) if cam else (str(arg), sha256_file(arg))
    out = StdoutLines() if fmt == "jsonl" else None
    upd = bar("lift", total)
    header, records = None, []
    gen = api.stream(src, lifter, det, fps=fps, max_frames=max_frames, header=True,
                     on_frame=lambda i, n: upd(i + 1, total), nominal_fps=nominal, one_pass=one_pass, flip=flip)  # fmt: skip
    try:
        for rec in gen:
            if header is None:
                header = rec
                if det is not None:  # a frame iterator: api.stream does not know where it came from
                    rec["source"], rec["source_hash"] = src_name, src_hash
                    if rec.get("fps") is None and nominal:
                        rec["fps"] = nominal
            else:
                records.append(rec)
            if out is not None:
                out.write(rec)
    except KeyboardInterrupt:
        if kind != "camera":  # Ctrl-C is how a webcam capture ends: keep what was captured
            raise
    finally:
        gen.close()
        if det is not None:
            det.close()
    if header is None or not records:
        raise HMError("no frames were captured")
    result = result_from_records(header, records)
    t0 = time.perf_counter()
    if out is None:
        write_result_file(result, out_path, fmt)
    clock["write"] = (time.perf_counter() - t0) + (out.seconds if out is not None else 0.0)
    if det is not None:
        clock["detect"] = det.seconds
    clock["lift"] = time.perf_counter() - t_begin - clock["decode"] - clock["detect"] - clock["write"]
    return result
