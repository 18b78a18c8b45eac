"""Shared CLI plumbing: one-line errors with documented exit codes, warnings and notes on stderr,
progress bars, JSON output (stdout lines that end quietly on a closed pipe).

Exit codes (also in the README):
  0  success
  1  internal error (a bug: rerun with HM_DEBUG=1 for the traceback)
  2  usage error (bad option or argument)
  3  bad input (missing, corrupt or unsupported file; nothing usable in it)
  4  model problem (unknown model, bad or incompatible checkpoint)
  130 interrupted (Ctrl-C); no partial output is left behind
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, Callable

import typer

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INPUT, EXIT_MODEL, EXIT_INTERRUPT = 0, 1, 2, 3, 4, 130


def fail(message: str, code: int = EXIT_INPUT) -> None:
    typer.echo(f"hm: error: {' '.join(str(message).split())}", err=True)
    raise typer.Exit(code)


def cli_errors(fn: Callable) -> Callable:
    """Turn expected exceptions into one-line messages and exit codes, never tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from hmcli.io.atomic import HMError
        from hmcli.io.checkpoint import CheckpointError

        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except CheckpointError as e:
            fail(str(e), EXIT_MODEL)
        except HMError as e:
            fail(str(e), EXIT_INPUT)
        except KeyError as e:  # registry lookups: unknown model / field
            fail(str(e.args[0]) if e.args else str(e), EXIT_MODEL)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPT)
        except RecursionError:  # json / yaml readers on input nested thousands deep ('[[[[...')
            fail("input is nested too deeply to read (a damaged file?)", EXIT_INPUT)
        except Exception as e:
            if os.environ.get("HM_DEBUG"):
                raise
            fail(f"{type(e).__name__}: {e} (internal error; HM_DEBUG=1 shows the traceback)", EXIT_INTERNAL)

    return wrapper


def require(*rules: tuple[bool, str]) -> None:
    """Usage checks of option values: each rule is (holds, message); the first that fails exits
    with its message and the usage exit code, before any work starts."""
    for holds, message in rules:
        if not holds:
            fail(message, EXIT_USAGE)


def echo_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=float) + "\n")


def parse_list(text: str, cast: Callable = str) -> list:
    try:
        return [cast(t.strip()) for t in text.split(",") if t.strip()]
    except ValueError:
        fail(f"cannot parse list '{text}'", EXIT_USAGE)
        raise  # unreachable


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


def stage_bars(bar: Callable[..., Callable]) -> Callable[[str, int, int | None], None]:
    """An API ``on_progress(stage, done, total)`` drawing one :func:`progress` bar per stage."""
    bars: dict = {}

    def on_progress(stage: str, done: int, total: int | None) -> None:
        if stage not in bars:
            bars[stage] = bar(stage, total)
        bars[stage](done, total)

    return on_progress


class StdoutLines:
    """Writes JSON lines to stdout, flushing each; a closed pipe (``| head``) ends quietly."""

    def write(self, record: dict, flush: bool = True) -> None:
        from hmcli.io.jsonio import dumps_record

        try:
            sys.stdout.write(dumps_record(record) + "\n")
            if flush:
                sys.stdout.flush()
        except BrokenPipeError:
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None

    def write_flush(self) -> None:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            raise typer.Exit(0) from None


# ------------------------------------------------------------------ several persons (shared options)

# re-exported for the commands' option defaults (hmcli.track needs only numpy)
from hmcli.track import DEFAULT_MAX_PERSONS, DEFAULT_MIN_TRACK_LENGTH  # noqa: E402, F401
MAX_PERSONS_HELP = ("Follow up to N persons in a video, each tracked with its own id; 1: the one-person path "
                    "(no tracking, 1.8-3.5x faster detection).")
MIN_TRACK_HELP = "Drop tracks seen in fewer than N frames (one-off false detections)."
TRACK_HELP = ("Always track persons; without it, a video where a quick look (a frame per second, 4 to 12) "
              "finds one person at most takes the faster one-person path.")
PERSON_HELP = "Only the person with this track id (the summary line lists the ids)."


def check_person_options(max_persons: int, min_track_length: int, person: int | None = None) -> None:
    """One-line usage errors for the shared person options."""
    require((max_persons >= 1, f"--max-persons must be at least 1, got {max_persons}"),
            (min_track_length >= 1, f"--min-track-length must be at least 1, got {min_track_length}"),
            (person is None or person >= 0, f"--person takes a track id (0 or more), got {person}"))


def persons_summary(track_ids) -> str:
    """'2 persons (track ids 1, 3)' / '1 person (track id 0)' / 'no person'."""
    ids = [int(i) for i in track_ids]
    if not ids:
        return "no person"
    return (f"{len(ids)} person{'s' if len(ids) != 1 else ''} (track id{'s' if len(ids) != 1 else ''} "
            f"{', '.join(str(i) for i in ids)})")
