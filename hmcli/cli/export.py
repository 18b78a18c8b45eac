"""``hm export``: convert a result (.h5 or .json from hm lift) to BVH, CSV, JSON or HDF5."""

from __future__ import annotations

from pathlib import Path

import typer

from hmcli.cli.common import EXIT_USAGE, cli_errors, fail


def register(app: typer.Typer) -> None:
    @app.command()
    @cli_errors
    def export(
        result: str = typer.Argument(..., metavar="RESULT", help="Result of hm lift (.h5 or .json)."),
        fmt: str = typer.Option(None, "--format", "-f", show_default=False,
                                help="bvh, csv, json or h5 (default: from the -o suffix)."),
        output: str = typer.Option(None, "--output", "-o", show_default=False,
                                   help="File to write (default <result stem>.<format> next to the result)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary line."),
    ) -> None:
        """Export 3D joints: BVH (Y-up, cm), long CSV (frame,t,joint,x,y,z in m), JSON or HDF5."""
        from hmcli.cli.lift import note, output_dir_check
        from hmcli.cli.render import read_any_result
        from hmcli.io.export import FORMATS, export as do_export

        suffixes = {".bvh": "bvh", ".csv": "csv", ".json": "json", ".h5": "h5", ".hdf5": "h5"}
        if fmt is not None:
            fmt = fmt.lower().lstrip(".")
            fmt = "h5" if fmt == "hdf5" else fmt
            if fmt not in FORMATS:
                fail(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}", EXIT_USAGE)
        if output is None:
            if fmt is None:
                fail("give --format (bvh, csv, json, h5) or -o with one of those suffixes", EXIT_USAGE)
            out = Path(result).with_suffix(f".{fmt}")
        else:
            out = Path(output)
            implied = suffixes.get(out.suffix.lower())
            if fmt is None:
                if implied is None:
                    fail(f"cannot tell the format from {out.name!r}; give --format (bvh, csv, json, h5)", EXIT_USAGE)
                fmt = implied
        if out.exists() and Path(result).exists() and out.resolve() == Path(result).resolve():
            fail(f"output {out} is the input file; choose another -o", EXIT_USAGE)
        output_dir_check(out)
        res = read_any_result(result)
        do_export(res, out, fmt)
        note(f"hm export: {res.kpts2d.num_frames} frames -> {out} ({fmt})", quiet)
