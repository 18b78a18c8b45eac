"""``hm render``: side-by-side preview video (2D skeleton over the video | 3D view) of a result."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from hmcli.cli.common import EXIT_USAGE, cli_errors, fail


def read_any_result(path: str):
    """A result from our .h5 or .json output (HMError otherwise)."""
    from hmcli.io.atomic import HMError

    p = Path(path)
    if not p.exists():
        raise HMError(f"file not found: {p}")
    if p.suffix.lower() == ".json":
        from hmcli.io.jsonio import read_result_json

        return read_result_json(p)
    from hmcli.io.h5 import read_result

    return read_result(p)


def find_source_video(source: str | None, result_path: Path) -> Path | None:
    """The video a result was made from, if it can be found: the stored path as is, relative to
    the result's folder, or its file name in the result's folder."""
    if not source or source.startswith("camera:"):
        return None
    p = Path(source)
    for cand in (p, result_path.parent / p, result_path.parent / p.name):
        if cand.is_file():
            return cand
    return None


def register(app: typer.Typer) -> None:
    @app.command()
    @cli_errors
    def render(
        result: str = typer.Argument(..., metavar="RESULT", help="Result of hm lift (.h5 or .json)."),
        output: str = typer.Option(None, "--output", "-o", show_default=False,
                                   help="MP4 to write (default <result stem>.overlay.mp4 next to the result)."),
        video: str = typer.Option(None, "--video", show_default=False,
                                  help="Video to draw on (default: the source video recorded in the result, if found)."),
        fps: float = typer.Option(None, "--fps", show_default=False, help="Output frame rate (default: the result's)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary line."),
    ) -> None:
        """Render the 2D keypoints over the video next to a 3D view of the joints (MP4)."""
        from hmcli.cli.lift import note, output_dir_check, progress, warn
        from hmcli.render.overlay import render_overlay

        if fps is not None and not fps > 0:
            fail(f"--fps must be a positive number, got {fps}", EXIT_USAGE)
        rpath = Path(result)
        out = Path(output) if output else rpath.with_name(f"{rpath.stem}.overlay.mp4")
        if out.suffix.lower() != ".mp4":
            fail(f"hm render writes MP4 video: use an output name ending in .mp4 (got {out.name!r})", EXIT_USAGE)
        output_dir_check(out)
        res = read_any_result(result)
        if video is not None:
            vpath: Path | None = Path(video)
            if not vpath.is_file():
                from hmcli.io.atomic import HMError

                raise HMError(f"video file not found: {video}")
        else:
            vpath = find_source_video(res.kpts2d.source, rpath)
            if vpath is None:
                warn(f"source video {res.kpts2d.source!r} not found; drawing on a black background (pass --video)"
                     if res.kpts2d.source else "the result records no source video; drawing on a black background "
                     "(pass --video)")  # fmt: skip
        t0 = time.perf_counter()
        with progress(quiet) as bar:
            upd = bar("render", res.kpts2d.num_frames)
            n = render_overlay(res, vpath, out, on_frame=upd, fps=fps)
        note(f"hm render: {n} frames -> {out} in {time.perf_counter() - t0:.2f} s"
             + (f" (video {vpath})" if vpath else " (no video)"), quiet)
