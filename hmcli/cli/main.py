"""The ``hm`` command. Each command group lives in its own module with ``register(app)``."""

from __future__ import annotations

import importlib
import sys
import warnings

import typer
from typer.core import TyperGroup

# typer vendors click: its usage errors (unknown option, bad value, missing argument) derive from this
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class OneLineErrors(TyperGroup):
    """The top-level ``hm`` group: a usage error prints one line, ``hm: error: ... (see 'hm lift
    --help')``, and exits 2, like every other error (typer would print a usage block and a box)."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):  # noqa: ANN002, ANN003, ANN201
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            rc = super().main(*args, standalone_mode=False, **kwargs)
        except _ClickException as e:
            message = " ".join(str(e.format_message()).split())
            if type(e).__name__ == "NoArgsIsHelpError":  # 'hm' or 'hm mesh' alone: just the help
                if message:
                    print(e.format_message(), file=sys.stderr)
                sys.exit(e.exit_code)
            where = getattr(getattr(e, "ctx", None), "command_path", None) or "hm"
            print(f"hm: error: {message} (see '{where} --help')", file=sys.stderr)
            sys.exit(e.exit_code)
        except typer.Abort:  # typer's 'Aborted!' (an EOFError at a prompt), as one line, same exit code
            print("hm: error: aborted", file=sys.stderr)
            sys.exit(1)
        sys.exit(rc if isinstance(rc, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
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
    from hmcli.cli.native_logs import quiet_native_stderr

    warnings.showwarning = _one_line_warning
    with quiet_native_stderr():
        app()


if __name__ == "__main__":
    main()
