"""``hm mesh``: a body mesh (SMPL / SMPL-X / Anny) fitted to the lifted 3D joints of a clip.

* ``hm mesh INPUT -o mesh.h5``: INPUT is a video (detect + lift + fit), a keypoint file
  (lift + fit) or an ``hm lift`` HDF5 (fit only; nothing is detected or lifted again).
* ``hm mesh convert SMPL.pkl -o SMPL.npz``: an official (chumpy) SMPL pickle as a plain npz,
  read through a restricted unpickler that runs no code.
* ``hm mesh prior --data DIR -o prior.npz``: rebuild the pose prior from CMU motion capture.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import typer
from typer.core import TyperGroup

from hmcli.cli import batching
from hmcli.cli.common import (
    DEFAULT_MAX_PERSONS,
    DEFAULT_MIN_TRACK_LENGTH,
    EXIT_USAGE,
    MAX_PERSONS_HELP,
    MIN_TRACK_HELP,
    TRACK_HELP,
    PERSON_HELP,
    check_person_options,
    cli_errors,
    fail,
    note,
    persons_summary,
    progress,
    require,
    stage_bars,
)
from hmcli.io.paths import default_output, input_kind, output_dir_check

MESH_SUFFIXES = (".h5", ".hdf5")


class _DefaultToFit(TyperGroup):
    """``hm mesh X ...`` runs ``hm mesh fit X ...`` unless X names a subcommand."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:  # noqa: ANN001
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["fit", *args]
        return super().parse_args(ctx, args)


mesh_app = typer.Typer(cls=_DefaultToFit, no_args_is_help=True, add_completion=False,
                       help="Body meshes: fit SMPL / SMPL-X / Anny to a clip (hm mesh INPUT -o mesh.h5), "
                            "convert SMPL pickles, rebuild the pose prior.")


def _fit_options(iters, lr, w_3d, w_2d, w_prior, w_smooth, w_shape, w_limits, no_shape):  # noqa: ANN001, ANN202
    """FitOptions from the command line (None: the default)."""
    from hmcli.mesh.fit import FitOptions

    defaults = FitOptions()
    return FitOptions(
        iters=defaults.iters if iters is None else iters,
        lr=lr or defaults.lr,
        w_3d=defaults.w_3d if w_3d is None else w_3d,
        w_2d=defaults.w_2d if w_2d is None else w_2d,
        w_prior=defaults.w_prior if w_prior is None else w_prior,
        w_smooth=defaults.w_smooth if w_smooth is None else w_smooth,
        w_shape=defaults.w_shape if w_shape is None else w_shape,
        w_limits=defaults.w_limits if w_limits is None else w_limits,
        fit_shape=not no_shape,
    )


def _prior_arg(prior: str | None) -> str | None:
    return None if (prior or "").lower() == "none" else (prior or "default")


def _mesh_batch(inputs, manifest, out_dir, shard, log, overwrite, quiet, model, body_model, model_dir, gender,
                options) -> None:  # noqa: ANN001
    """hm mesh over a batch (see hmcli.batch): the lifter and the body model are loaded once."""
    from hmcli import api, batch
    from hmcli.mesh import api as mesh_api

    plan = batch.plan_batch(inputs or [], batching.require_out_dir(out_dir), ".mesh.h5", manifest=manifest,
                            shard=batching.shard_option(shard), tag="mesh")  # fmt: skip
    body = mesh_api.load_body_model(body_model, model_dir, gender, on_status=lambda m: note(f"hm mesh: {m}", quiet))
    job = batch.MeshJob(api.load_lifter(model), body, **options)
    batching.run("mesh", plan, job, overwrite=overwrite, log=log, quiet=quiet)


@mesh_app.command("fit")
@cli_errors
def fit_cmd(
    input: list[str] = typer.Argument(None, metavar="INPUT", show_default=False,
                                      help="Video, keypoint file, or an hm lift .h5 (then only the fit runs); several, a folder or a glob: a batch."),
    output: str = typer.Option(None, "--output", "-o", show_default=False, help="Output .h5 (default <input stem>.mesh.h5)."),
    body_model: str = typer.Option("auto", "--body-model", "-b",
                                   help="smpl | smplx (your model files) | anny (open, the [mesh] extra) | auto (SMPL if found, else Anny)."),
    model_dir: str = typer.Option(None, "--model-dir", show_default=False,
                                  help="Folder with SMPL/SMPL-X model files (default $HM_SMPL_DIR, else ~/.local/share/hm/body_models)."),
    gender: str = typer.Option("neutral", "--gender", help="SMPL gender: neutral, female or male."),
    model: str = typer.Option(None, "--model", "-m", show_default=False, help="Lifter checkpoint or name (video and keypoint input)."),
    detector: str = typer.Option("mediapipe", "--detector", help="2D detector for video input."),
    fps: float = typer.Option(None, "--fps", show_default=False, help="Frame rate to assume (keypoint files without timestamps)."),
    focal: float = typer.Option(None, "--focal", show_default=False, help="Camera focal length in pixels (default: the image diagonal)."),
    init: str = typer.Option(None, "--init", show_default=False,
                             help="npz of per-frame SMPL parameters from HybrIK or another image-based estimator (pose (F,72), betas (10,), optional transl (F,3)) to refine."),
    vertices: bool = typer.Option(False, "--vertices", help="Store the full mesh per frame in the .h5 (large)."),
    obj: str = typer.Option(None, "--obj", show_default=False, help="Also write one OBJ per frame into this folder."),
    amass: str = typer.Option(None, "--amass", show_default=False, help="Also write an AMASS-style .npz (poses, trans, betas, gender, mocap_framerate)."),
    iters: int = typer.Option(None, "--iters", show_default=False, help="Refinement iterations (default 240; 0 = IK only)."),
    lr: float = typer.Option(None, "--lr", show_default=False, help="Refinement learning rate (default 0.06)."),
    w_3d: float = typer.Option(None, "--w-3d", show_default=False, help="Weight of the lifted-3D term (default 10)."),
    w_2d: float = typer.Option(None, "--w-2d", show_default=False, help="Weight of the 2D reprojection term (default 0.3)."),
    w_prior: float = typer.Option(None, "--w-prior", show_default=False, help="Weight of the pose prior (default 0.002)."),
    w_smooth: float = typer.Option(None, "--w-smooth", show_default=False, help="Weight of the temporal smoothness term (default 20)."),
    w_shape: float = typer.Option(None, "--w-shape", show_default=False, help="Weight of the shape regulariser (default 0.005)."),
    w_limits: float = typer.Option(None, "--w-limits", show_default=False, help="Weight of the knee/elbow limits (default 1)."),
    no_shape: bool = typer.Option(False, "--no-shape", help="Keep the body model's mean shape."),
    prior: str = typer.Option(None, "--prior", show_default=False, help="Pose prior .npz (default the body's: models/pose-prior-gmm-anny.npz for Anny, else models/pose-prior-gmm.npz); 'none' to turn it off."),
    max_frames: int = typer.Option(None, "--max-frames", show_default=False, help="Use only the first N frames."),
    width: int = typer.Option(None, "--width", show_default=False, help="Image width for keypoint files that do not record it."),
    height: int = typer.Option(None, "--height", show_default=False, help="Image height for keypoint files that do not record it."),
    max_persons: int = typer.Option(DEFAULT_MAX_PERSONS, "--max-persons", help=MAX_PERSONS_HELP),
    min_track_length: int = typer.Option(DEFAULT_MIN_TRACK_LENGTH, "--min-track-length", help=MIN_TRACK_HELP),
    track: bool = typer.Option(False, "--track", help=TRACK_HELP),
    person: int = typer.Option(None, "--person", show_default=False, help=PERSON_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print a one-line JSON summary (output, frames, fit figures; "
                                                        "one entry per person under 'persons') on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no summary line on stderr."),
    manifest: str = typer.Option(None, "--manifest", show_default=False, help=batching.MANIFEST_HELP),
    out_dir: str = typer.Option(None, "--out-dir", show_default=False, help=batching.out_dir_help("<stem>.mesh.h5")),
    overwrite: bool = typer.Option(False, "--overwrite", help=batching.OVERWRITE_HELP),
    shard: str = typer.Option(None, "--shard", show_default=False, help=batching.SHARD_HELP),
    log: str = typer.Option(None, "--log", show_default=False, help=batching.LOG_HELP),
) -> None:
    """Fit a body model to a clip: analytic IK from the lifted joints, then refinement against the
    lifted 3D and the detector's 2D with a pose prior. Writes pose, shape, camera-space
    translation and fitted joints (and with --vertices the mesh) to an HDF5 file.

    Several persons (a video with up to --max-persons, a keypoint or lift file with several):
    each tracked person is fitted on its own (its own shape) over the frames it is seen in,
    all into the one .h5; --obj DIR then gets DIR/p<track id>/ and --amass X.npz
    X.p<track id>.npz per person. --init refines one person (pick it with --person).

    Examples: hm mesh clip.mp4 -o clip.mesh.h5 | hm mesh clip.h5 --body-model smpl --obj meshes/ |
    hm mesh clip.mp4 --init hybrik.npz --person 1"""
    from hmcli.io.atomic import HMError

    for name, value in (("--fps", fps), ("--focal", focal), ("--lr", lr)):
        require((value is None or (math.isfinite(value) and value > 0), f"{name} must be a positive number, got {value}"))
    for name, value in (("--w-3d", w_3d), ("--w-2d", w_2d), ("--w-prior", w_prior), ("--w-smooth", w_smooth),
                        ("--w-shape", w_shape), ("--w-limits", w_limits)):
        require((value is None or (math.isfinite(value) and value >= 0), f"{name} must be a number >= 0, got {value}"))
    require((iters is None or iters >= 0, f"--iters must be >= 0, got {iters}"),
            (max_frames is None or max_frames >= 1, f"--max-frames must be at least 1, got {max_frames}"),
            (width is None or width >= 1, f"--width must be a positive number of pixels, got {width}"),
            (height is None or height >= 1, f"--height must be a positive number of pixels, got {height}"),
            (gender in ("neutral", "female", "male"), f"--gender must be neutral, female or male, got {gender!r}"))
    check_person_options(max_persons, min_track_length, person)
    if batching.is_batch(input, manifest=manifest, out_dir=out_dir, shard=shard, log=log):
        batching.refuse(("-o/--output", output is not None), ("--obj", obj is not None), ("--amass", amass is not None),
                        ("--init", init is not None), ("--json", json_out))  # fmt: skip
        opts = _fit_options(iters, lr, w_3d, w_2d, w_prior, w_smooth, w_shape, w_limits, no_shape)
        return _mesh_batch(input, manifest, out_dir, shard, log, overwrite, quiet, model, body_model, model_dir, gender,
                           dict(options=opts, prior=_prior_arg(prior), focal=focal, vertices=vertices, detector=detector,
                                fps=fps, max_frames=max_frames, width=width, height=height,
                                max_persons=max_persons, min_track_length=min_track_length, person=person,
                                probe=not track))  # fmt: skip
    if not input:
        fail("give an INPUT (video, keypoint file or hm lift .h5)", EXIT_USAGE)
    input = input[0]
    t_cmd = time.perf_counter()
    in_path = Path(input)
    if not in_path.exists():
        raise HMError(f"input not found: {in_path}")
    out_path = Path(output) if output else default_output(in_path, ".mesh.h5", "mesh")
    if out_path.suffix.lower() not in MESH_SUFFIXES:
        fail(f"hm mesh writes HDF5: use an output name ending in .h5 (got {out_path.name!r})", EXIT_USAGE)
    if amass is not None and not amass.lower().endswith(".npz"):
        fail(f"--amass writes an .npz file (got {amass!r})", EXIT_USAGE)
    if obj is not None and Path(obj).exists() and not Path(obj).is_dir():
        fail(f"--obj {obj} exists and is not a directory", EXIT_USAGE)
    if amass is not None and Path(amass).is_dir():
        fail(f"--amass {amass} is a directory", EXIT_USAGE)
    output_dir_check(out_path)
    if amass is not None:
        output_dir_check(Path(amass))
    if obj is not None and not Path(obj).is_dir():  # a folder of per-frame files: an existing one is reused
        output_dir_check(Path(obj))
    for p in (out_path, Path(amass) if amass else None):
        if p is not None and p.exists() and p.resolve() == in_path.resolve():
            fail(f"output {p} is the input file; choose another name", EXIT_USAGE)

    from hmcli import api
    from hmcli.mesh import api as mesh_api

    kind = input_kind(in_path, lifted=True)
    init_params = mesh_api.load_init(init) if init is not None else None
    body = mesh_api.load_body_model(body_model, model_dir, gender, on_status=lambda m: note(f"hm mesh: {m}", quiet))
    opts = _fit_options(iters, lr, w_3d, w_2d, w_prior, w_smooth, w_shape, w_limits, no_shape)
    prior_arg = _prior_arg(prior)
    with progress(quiet) as bar:
        on_progress = stage_bars(bar)
        lifted, _ = api.lift_input_persons(in_path, model, kind=kind, detector=detector, fps=fps, max_frames=max_frames,
                                           width=width, height=height, on_progress=on_progress,
                                           max_persons=max_persons, min_track_length=min_track_length,
                                           probe=not track,
                                           person=person)  # fmt: skip
        t0 = time.perf_counter()
        result = mesh_api.fit_lifted(lifted, body, opts, prior_arg, focal, init_params,
                                     vertices=vertices or obj is not None, on_progress=on_progress)  # fmt: skip
        t_fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        mesh_api.save_mesh(result, out_path, keep_vertices=vertices, obj_dir=obj, amass=amass)
        t_write = time.perf_counter() - t0
    _summary(result, out_path, opts.iters, t_fit, t_write, time.perf_counter() - t_cmd, quiet, json_out)


def _figures(q: dict) -> str:
    return (f"joints vs lift {q['mpjpe_to_lift_mm']:.1f} mm (IK alone {q['mpjpe_ik_to_lift_mm']:.1f}), "
            f"2D reprojection {q['reproj_px']:.1f} px ({q['reproj_pct_height']:.1f} % of the person's height)")


def _summary(result, out_path: Path, iters: int, t_fit: float, t_write: float, t_total: float, quiet: bool,
             json_out: bool) -> None:  # noqa: ANN001
    """The summary line(s) on stderr and the --json line. One person with track id 0: the line
    hm mesh always printed; several: the persons and their ids, then one line of figures per person."""
    import numpy as np

    ids = [int(t) for t in result.track_ids]
    persons = result.persons
    n = result.num_frames
    valid = np.stack([np.asarray(m.valid, bool) for m in persons])   # (P, F)
    missing = int((~valid.any(0)).sum())
    single = ids == [0]
    if single:
        q = persons[0].quality
        if missing:
            note(f"hm mesh: {missing} of {n} frames have no person; their parameters are interpolated", quiet)
        note(f"hm mesh: {n} frames, body model {persons[0].body_model} -> {out_path}; IK {q['ik_seconds']:.2f} s, "
             f"refinement {q['refine_seconds']:.2f} s ({iters} iterations), fit {t_fit:.2f} s, write {t_write:.2f} s, "
             f"total {t_total:.2f} s; {_figures(q)}", quiet)  # fmt: skip
    else:
        # figures: the mean over persons; seconds: the sum (the work of all of them)
        q = {k: float((np.sum if k.endswith("seconds") else np.mean)([float(m.quality[k]) for m in persons]))
             for k in persons[0].quality
             if all(np.ndim(m.quality.get(k)) == 0 and not isinstance(m.quality.get(k), str) for m in persons)}
        ik = sum(float(m.quality["ik_seconds"]) for m in persons)
        ref = sum(float(m.quality["refine_seconds"]) for m in persons)
        note(f"hm mesh: {persons_summary(ids)}, {n} frames, body model {persons[0].body_model} -> {out_path}; "
             f"IK {ik:.2f} s, refinement {ref:.2f} s ({iters} iterations, all persons), fit {t_fit:.2f} s, "
             f"write {t_write:.2f} s, total {t_total:.2f} s; averaged over persons: {_figures(q)}", quiet)  # fmt: skip
        for tid, m, v in zip(ids, persons, valid, strict=True):
            note(f"hm mesh: #{tid}: {int(v.sum())} of {n} frames, {_figures(m.quality)}", quiet)
    if json_out:
        sys.stdout.write(json.dumps({
            "output": str(out_path), "frames": n, "body_model": persons[0].body_model,
            "frames_without_person": missing, "seconds": t_total, "quality": q,
            "quality_averaged_over_persons": not single, "track_ids": ids,
            "persons": [{"track_id": tid, "frames_with_person": int(v.sum()), "quality": m.quality}
                        for tid, m, v in zip(ids, persons, valid, strict=True)],
        }, default=float) + "\n")  # fmt: skip


@mesh_app.command("convert")
@cli_errors
def convert_cmd(
    input: str = typer.Argument(..., metavar="IN.pkl", help="Official SMPL / SMPL-X model pickle (chumpy inside)."),
    output: str = typer.Option(..., "--output", "-o", help="Output .npz (plain arrays; smplx loads it)."),
) -> None:
    """Convert an official SMPL .pkl (chumpy objects) into a plain .npz without chumpy. The
    pickle is read by a restricted unpickler: anything but arrays and chumpy/scipy array types is refused."""
    from hmcli.io.atomic import HMError
    from hmcli.mesh.pklsafe import convert_smpl_pkl

    src, dst = Path(input), Path(output)
    if not src.is_file():
        raise HMError(f"input not found: {src}")
    require((dst.suffix.lower() == ".npz", f"the output must end in .npz (got {dst.name!r})"))
    output_dir_check(dst)
    if dst.exists() and dst.resolve() == src.resolve():
        fail("the output is the input file; choose another -o", EXIT_USAGE)
    convert_smpl_pkl(src, dst)
    typer.echo(f"hm mesh convert: {src} -> {dst}", err=True)


@mesh_app.command("prior")
@cli_errors
def prior_cmd(
    data: str = typer.Option(..., "--data", help="CMU motion capture folder (ASF/AMC), e.g. ../shared/data/cmu-amc."),
    output: str = typer.Option(None, "--output", "-o", show_default=False,
                               help="Output .npz (default models/pose-prior-gmm.npz, with --body anny models/pose-prior-gmm-anny.npz)."),
    components: int = typer.Option(8, "--components", help="Mixture components."),
    fps: float = typer.Option(10.0, "--fps", help="Rate to sample the motion at (frames per second)."),
    seed: int = typer.Option(0, "--seed"),
    body: str = typer.Option("synthetic", "--body", help="Body whose IK turns the motion into rotations: synthetic "
                                                          "(the shared prior) or anny (Anny's own, with its calibrated keypoints)."),
) -> None:
    """Fit the Gaussian-mixture pose prior to CMU motion of the training subjects (09 and 49,
    the test subjects, and 02 and 55, the validation subjects, are left out), turned into
    rotations by hm's analytic IK."""
    from hmcli.mesh.prior import BODY_PRIORS, DEFAULT_PRIOR
    from hmcli.mesh.train_prior import PRIOR_BODIES, build_prior

    require((components >= 1, "--components must be at least 1"),
            (math.isfinite(fps) and fps > 0, f"--fps must be a positive number, got {fps}"),
            (body in PRIOR_BODIES, f"--body must be one of {', '.join(PRIOR_BODIES)}, got {body!r}"))
    if output is None:
        default = BODY_PRIORS.get(body, DEFAULT_PRIOR)
        output = str(Path("models") / default.name)
    out = Path(output)
    output_dir_check(out)
    info = build_prior(Path(data), out, components=components, fps=fps, seed=seed, body=body)
    typer.echo(f"hm mesh prior: {info['samples']} poses from {info['sequences']} sequences -> {out}", err=True)


@mesh_app.command("calibrate")
@cli_errors
def calibrate_cmd(
    data: str = typer.Option(..., "--data", help="CMU motion capture folder (ASF/AMC), e.g. ../shared/data/cmu-amc."),
    output: str = typer.Option("models/mesh-keypoint-offsets.npz", "--output", "-o", help="Output .npz."),
    body: list[str] = typer.Option(["anny"], "--body", help="Body model(s) to calibrate: anny, smpl, smplx, synthetic."),
    frames: int = typer.Option(2400, "--frames", help="Training frames (30 fps) to calibrate on."),
    max_frames: int = typer.Option(250, "--max-frames", help="Frames per sequence at most."),
    rounds: int = typer.Option(2, "--rounds", help="Fit-and-correct rounds."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Learn the per-keypoint offsets that place a body model's H36M keypoints where the lifter's
    CMU joints are, from CMU training subjects (09, 49, 02 and 55 are left out)."""
    from hmcli.mesh.train_calibration import build_calibration

    require((frames >= 1, "--frames must be at least 1"), (max_frames >= 1, "--max-frames must be at least 1"),
            (rounds >= 1, "--rounds must be at least 1"))
    out = Path(output)
    output_dir_check(out)
    run = build_calibration(data, out, bodies=tuple(body), frames=frames, max_frames=max_frames, rounds=rounds,
                            say=lambda m: note(f"hm mesh calibrate: {m}", quiet))  # fmt: skip
    typer.echo(f"hm mesh calibrate: {', '.join(run.bodies)} on {len(run.trials)} sequences -> {out}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(mesh_app, name="mesh")
