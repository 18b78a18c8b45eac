"""``hm export``: convert a result (.h5 or .json from hm lift) to BVH, CSV, JSON or HDF5, and a
fitted mesh (.h5 from hm mesh) also to per-frame OBJ / PLY files or an AMASS-style .npz
(:mod:`hmcli.io.mesh_export`; meshes in a Y-up world). BVH, CSV and JSON of a mesh file hold
its lifted joints; h5 of a mesh file is a mesh file again."""

from __future__ import annotations

from pathlib import Path

import typer

from hmcli.cli.common import EXIT_USAGE, cli_errors, fail, note
from hmcli.io.paths import output_dir_check


def register(app: typer.Typer) -> None:
    @app.command()
    @cli_errors
    def export(
        result: str = typer.Argument(..., metavar="RESULT", help="Result of hm lift (.h5 or .json) or hm mesh (.h5)."),
        fmt: str = typer.Option(None, "--format", "-f", show_default=False,
                                help="bvh, csv, json or h5; for mesh files also obj, ply (a directory of per-frame "
                                     "files) or amass (.npz) (default: from the -o suffix)."),
        output: str = typer.Option(None, "--output", "-o", show_default=False,
                                   help="File (or, for obj/ply, directory) to write (default <result stem>.<format> "
                                        "or <result stem>_<format>/ next to the result)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary line."),
    ) -> None:
        """Export 3D joints: BVH (Y-up, cm), long CSV (frame,t,joint,x,y,z in m), JSON or HDF5; meshes: OBJ, PLY, AMASS."""
        from hmcli.io.export import FORMATS, SUFFIXES, export as do_export, read_any_result
        from hmcli.io.mesh_export import MESH_FORMATS

        all_formats = FORMATS + MESH_FORMATS
        suffixes = {**SUFFIXES, ".obj": "obj", ".ply": "ply", ".npz": "amass"}
        if fmt is not None:
            fmt = fmt.lower().lstrip(".")
            fmt = "h5" if fmt == "hdf5" else fmt
            if fmt not in all_formats:
                fail(f"unknown format {fmt!r}; choose one of: {', '.join(all_formats)}", EXIT_USAGE)
        if output is None:
            if fmt is None:
                fail("give --format (bvh, csv, json, h5, obj, ply, amass) or -o with one of those suffixes", EXIT_USAGE)
            src = Path(result)
            if fmt in ("obj", "ply"):
                out = src.with_name(f"{src.stem}_{fmt}")
            else:
                out = src.with_suffix(".npz" if fmt == "amass" else f".{fmt}")
        else:
            out = Path(output)
            implied = suffixes.get(out.suffix.lower())
            if fmt is None:
                if implied is None:
                    fail(f"cannot tell the format from {out.name!r}; give --format ({', '.join(all_formats)})",
                         EXIT_USAGE)  # fmt: skip
                fmt = implied
        if out.exists() and Path(result).exists() and out.resolve() == Path(result).resolve():
            fail(f"output {out} is the input file; choose another -o", EXIT_USAGE)
        output_dir_check(out)
        if fmt in MESH_FORMATS or fmt == "h5":
            from hmcli.io.mesh_h5 import is_mesh_file, read_mesh

            if fmt == "h5" and not is_mesh_file(result):
                res = read_any_result(result)
                do_export(res, out, fmt)
                note(f"hm export: {res.kpts2d.num_frames} frames -> {out} ({fmt})", quiet)
                return
            if Path(result).suffix.lower() == ".json" and Path(result).is_file():
                from hmcli.io.atomic import HMError

                raise HMError(f"{result} has no fitted mesh; run hm mesh on it")
            mres = read_mesh(result, load_vertices=fmt in ("obj", "ply", "h5"))
            if fmt == "h5":  # a mesh file stays a mesh file
                from hmcli.io.mesh_h5 import write_mesh

                write_mesh(out, mres)
                note(f"hm export: {mres.num_frames} frames -> {out} ({fmt}, with the mesh)", quiet)
                return
            from hmcli.io.mesh_export import export_mesh

            verts = None
            if fmt in ("obj", "ply") and mres.vertices is None:
                from hmcli.cli.render import mesh_vertices_for

                verts = mesh_vertices_for(mres, result)
            written = export_mesh(mres, out, fmt, vertices=verts)
            note(f"hm export: {mres.num_frames} frames -> {out} ({fmt}, {len(written)} file"
                 f"{'s' if len(written) != 1 else ''})", quiet)  # fmt: skip
            return
        res = read_any_result(result)
        do_export(res, out, fmt)
        note(f"hm export: {res.kpts2d.num_frames} frames -> {out} ({fmt})", quiet)
