"""``hm render``: side-by-side preview video (2D skeleton over the video | 3D view) of a result.

With a fitted mesh (``hm render mesh.h5``, or ``hm render lift.h5 --mesh mesh.h5``) the body
mesh is drawn over the video instead of the 2D skeleton, and the 3D panel shows the fitted
body's keypoints (see :mod:`hmcli.render.overlay`).

``--actions actions.json`` (from ``hm action``: the report, or the ``--causal`` JSON lines)
shows each frame's current action label and probability, e.g. "dance 82 %"
(:mod:`hmcli.render.labels`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hmcli.cli.common import EXIT_USAGE, PERSON_HELP, cli_errors, fail, note, progress, warn
from hmcli.io.paths import find_source_video, output_dir_check

if TYPE_CHECKING:
    import numpy as np


def mesh_vertices_for(result, path) -> "np.ndarray":
    """(F, V, 3) camera-space vertices of a mesh result whose file stores none, rebuilt from
    the body model (``hmcli.mesh.api.mesh_vertices``); HMError when that is unavailable."""
    from hmcli.io.atomic import HMError

    try:
        from hmcli.mesh.api import mesh_vertices
    except ImportError as e:
        raise HMError(
            f"{path} stores no mesh vertices and they cannot be rebuilt from the body model here ({e}); "
            "rerun hm mesh keeping the vertices"
        ) from None
    return mesh_vertices(result)


def register(app: typer.Typer) -> None:
    @app.command()
    @cli_errors
    def render(
        result: str = typer.Argument(None, metavar="RESULT", show_default=False,
                                     help="Result of hm lift (.h5 or .json) or of hm mesh (.h5)."),
        output: str = typer.Option(None, "--output", "-o", show_default=False,
                                   help="MP4 to write (default <result stem>.overlay.mp4 next to the result)."),
        video: str = typer.Option(None, "--video", show_default=False,
                                  help="Video to draw on (default: the source video recorded in the result, if found)."),
        fps: float = typer.Option(None, "--fps", show_default=False, help="Output frame rate (default: the result's)."),
        mesh: str = typer.Option(None, "--mesh", show_default=False,
                                 help="Fitted mesh (.h5 from hm mesh) to draw over the video (default: RESULT "
                                      "itself when it is a mesh file)."),
        mesh_style: str = typer.Option("shaded", "--mesh-style", help="Mesh look: shaded, filled or wireframe."),
        mesh_alpha: float = typer.Option(0.6, "--mesh-alpha", help="Mesh opacity, 0 to 1."),
        actions: str = typer.Option(None, "--actions", show_default=False,
                                    help="Action labels from hm action (its -o report .json, or --causal JSON lines) "
                                         "to show on each frame."),
        person: int = typer.Option(None, "--person", show_default=False, help=PERSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary line."),
    ) -> None:
        """Render the 2D keypoints (or a fitted mesh) over the video next to a 3D view of the joints (MP4)."""
        from hmcli.io.export import read_any_results
        from hmcli.render.mesh import STYLES

        if fps is not None and not (fps > 0 and fps != float("inf")):
            fail(f"--fps must be a positive number, got {fps}", EXIT_USAGE)
        if result is None and mesh is None:
            fail("give the RESULT file to render (or --mesh MESH.h5)", EXIT_USAGE)
        if mesh_style not in STYLES:
            fail(f"unknown --mesh-style {mesh_style!r}; choose one of: {', '.join(STYLES)}", EXIT_USAGE)
        if not 0.0 <= mesh_alpha <= 1.0:
            fail(f"--mesh-alpha must be between 0 and 1, got {mesh_alpha}", EXIT_USAGE)
        rpath = Path(result) if result is not None else Path(mesh)
        out = Path(output) if output else rpath.with_name(f"{rpath.stem}.overlay.mp4")
        if out.suffix.lower() != ".mp4":
            fail(f"hm render writes MP4 video: use an output name ending in .mp4 (got {out.name!r})", EXIT_USAGE)
        output_dir_check(out)
        track = None
        if actions is not None:
            from hmcli.render.labels import load_action_labels

            track = load_action_labels(actions)
        mesh_path = Path(mesh) if mesh is not None else None
        if mesh_path is None:
            from hmcli.io.mesh_h5 import is_mesh_file

            if is_mesh_file(rpath):
                mesh_path = rpath
        if mesh_path is None:
            from hmcli.io.persons import only_person

            res = only_person(read_any_results(result), person, result)
            kp = res.kpts2d.person_or_empty()
        else:
            from hmcli.render.meshfile import load_mesh_for_render

            mres = load_mesh_for_render(mesh_path, person=person)  # every person, or the one asked for
            kp = mres.persons[0].lift.kpts2d
            if result is not None and rpath != mesh_path:
                other = read_any_results(result).kpts2d.person_or_empty()
                if other.num_frames != kp.num_frames:
                    from hmcli.io.atomic import HMError

                    raise HMError(f"{mesh_path} has {kp.num_frames} frames but {rpath} has {other.num_frames}; "
                                  "give the lift result the mesh was fitted to")  # fmt: skip
                kp = other  # its recorded source video is looked up below
        if track is not None:
            track.check_frames(kp.num_frames, str(rpath))
        if video is not None:
            vpath: Path | None = Path(video)
            if not vpath.is_file():
                from hmcli.io.atomic import HMError

                raise HMError(f"video file not found: {video}")
        else:
            vpath = find_source_video(kp.source, rpath)
        # warned once the render has worked: a failing command prints its error line only
        no_video = (None if vpath is not None else
                    f"source video {kp.source!r} not found; drawing on a black background (pass --video)"
                    if kp.source else "the result records no source video; drawing on a black background "
                    "(pass --video)")  # fmt: skip
        t0 = time.perf_counter()
        import numpy as np

        # non-finite joints (frames without a person, a damaged file) are skipped when drawn; numpy's
        # 'invalid value' warnings about them would be extra lines on stderr
        with progress(quiet) as bar, np.errstate(invalid="ignore", over="ignore"):
            upd = bar("render", kp.num_frames)
            if mesh_path is None:
                from hmcli.render.overlay import render_overlay

                n = render_overlay(res, vpath, out, on_frame=upd, fps=fps, actions=track)
            else:
                from hmcli.render.meshfile import mesh_vertices_for_render
                from hmcli.render.overlay import render_mesh_overlay

                with mesh_vertices_for_render(mesh_path, mres, rebuild=mesh_vertices_for) as verts:
                    n = render_mesh_overlay(mres, vpath, out, vertices=verts, style=mesh_style, alpha=mesh_alpha,
                                            on_frame=upd, fps=fps, actions=track)  # fmt: skip
        if no_video:
            warn(no_video)
        note(f"hm render: {n} frames -> {out} in {time.perf_counter() - t0:.2f} s"
             + (f" (video {vpath})" if vpath else " (no video)")
             + (f" (mesh {mesh_path})" if mesh_path else "")
             + (f" (actions {actions})" if actions else ""), quiet)  # fmt: skip
