"""``hm export``: convert a result (.h5 or .json from hm lift) to BVH, CSV, JSON or HDF5, and a
fitted mesh (.h5 from hm mesh) also to per-frame OBJ / PLY files or an AMASS-style .npz
(:mod:`hmcli.io.mesh_export`; meshes in a Y-up world). BVH, CSV and JSON of a mesh file hold
its lifted joints; h5 of a mesh file is a mesh file again.

Several persons: JSON and HDF5 keep them all; BVH and CSV write one file per person
(``<name>.p<track id>.bvh``), OBJ / PLY one folder per person (``<dir>/p<track id>/``) and
AMASS one ``<name>.p<track id>.npz`` each; ``--person ID`` exports one person under the given
name."""

from __future__ import annotations

from pathlib import Path

import typer

from hmcli.cli.common import EXIT_USAGE, PERSON_HELP, cli_errors, fail, note, persons_summary
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
        person: int = typer.Option(None, "--person", show_default=False, help=PERSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary line."),
    ) -> None:
        """Export 3D joints: BVH (Y-up, cm), long CSV (frame,t,joint,x,y,z in m), JSON or HDF5; meshes: OBJ, PLY, AMASS."""
        from hmcli.io.export import FORMATS, SUFFIXES
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
        from hmcli.io.export import export_persons, read_any_results
        from hmcli.io.persons import only_person

        if fmt in MESH_FORMATS or fmt == "h5":
            from hmcli.io.mesh_h5 import is_mesh_file, read_meshes

            if fmt == "h5" and not is_mesh_file(result):
                res = only_person(read_any_results(result), person, result)
                export_persons(res, out, fmt)
                note(f"hm export: {res.num_frames} frames, {persons_summary(res.track_ids)} -> {out} ({fmt})", quiet)
                return
            if Path(result).suffix.lower() == ".json" and Path(result).is_file():
                from hmcli.io.atomic import HMError

                raise HMError(f"{result} has no fitted mesh; run hm mesh on it")
            meshes = only_person(read_meshes(result, load_vertices=fmt in ("obj", "ply", "h5")), person, result)
            if fmt == "h5":  # a mesh file stays a mesh file
                from hmcli.io.mesh_h5 import write_mesh

                write_mesh(out, meshes)
                note(f"hm export: {meshes.num_frames} frames, {persons_summary(meshes.track_ids)} -> {out} "
                     f"({fmt}, with the mesh)", quiet)  # fmt: skip
                return
            written = _export_meshes(meshes, out, fmt, result)
            note(f"hm export: {meshes.num_frames} frames, {persons_summary(meshes.track_ids)} -> {out} ({fmt}, "
                 f"{len(written)} file{'s' if len(written) != 1 else ''})", quiet)  # fmt: skip
            return
        res = only_person(read_any_results(result), person, result)
        written = export_persons(res, out, fmt)
        where = ", ".join(str(p) for p in written)
        note(f"hm export: {res.num_frames} frames, {persons_summary(res.track_ids)} -> {where} ({fmt})", quiet)


def _export_meshes(meshes, out: Path, fmt: str, source: str) -> list[Path]:  # noqa: ANN001
    """OBJ / PLY / AMASS of every person: one person at ``out``; several, one folder
    (``out/p<id>``) or file (``<stem>.p<id>.npz``) each. All or nothing."""
    import shutil

    from hmcli.io.mesh_export import export_mesh

    def one(mres, dest: Path) -> list[Path]:
        verts = None
        if fmt in ("obj", "ply") and mres.vertices is None:
            from hmcli.cli.render import mesh_vertices_for

            verts = mesh_vertices_for(mres, source)
        return export_mesh(mres, dest, fmt, vertices=verts)

    if meshes.num_persons == 1:
        return one(meshes.persons[0], out)
    if fmt == "amass":
        from hmcli.io.export import per_person_paths

        dests = per_person_paths(out, meshes.track_ids)
    else:
        dests = [out / f"p{int(t)}" for t in meshes.track_ids]
    made = [d for d in dests if not d.exists()]
    out_made = fmt != "amass" and not out.exists()
    written: list[Path] = []
    try:
        for mres, dest in zip(meshes.persons, dests, strict=True):
            written += one(mres, dest)
    except BaseException:
        for d in made:
            shutil.rmtree(d, ignore_errors=True) if d.is_dir() else d.unlink(missing_ok=True)
        if out_made:
            shutil.rmtree(out, ignore_errors=True)
        raise
    return written
