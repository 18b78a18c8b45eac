"""Shared CLI plumbing: one-line errors with documented exit codes, progress, JSON output.

Exit codes (also in the README):
  0  success
  1  internal error (a bug: rerun with HM_DEBUG=1 for the traceback)
  2  usage error (bad option or argument)
  3  bad input (missing, corrupt or unsupported file; nothing usable in it)
  4  model problem (unknown model, bad or incompatible checkpoint)
  130 interrupted (Ctrl-C); no partial output is left behind
"""

from __future__ import annotations

import functools
import json
import os
import sys
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
