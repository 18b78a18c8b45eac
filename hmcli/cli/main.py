"""The ``hm`` command. Each command group lives in its own module with ``register(app)``."""

from __future__ import annotations

import importlib
import sys
import warnings

import typer

app = typer.Typer(
    help="hm: human motion from video (2D keypoints -> 3D joints with HumMUSS).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Command modules, in help order. A module not written yet is skipped; a broken one raises.
_COMMANDS = ("info", "lift", "detect", "mesh", "action", "render", "export", "train", "eval", "bench")

for _name in _COMMANDS:
    _mod = f"hmcli.cli.{_name}"
    try:
        importlib.import_module(_mod).register(app)
    except ModuleNotFoundError as _e:
        if _e.name != _mod:
            raise


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """Warnings as users read them: 'warning: <message>' on stderr, without file, line and source."""
    print(f"warning: {message}", file=file if file is not None else sys.stderr)


def main() -> None:
    warnings.showwarning = _one_line_warning
    app()


if __name__ == "__main__":
    main()
