"""hm's mesh API: a body model fitted to the lifter's output.

::

    from hmcli import api
    from hmcli.mesh import api as mesh

    lifted = api.lift_video("clip.mp4")                 # Pose3DResult (H36M-17)
    body = mesh.load_body_model("auto")                 # SMPL if its files are there, else Anny
    res = mesh.fit(lifted, body)                        # MeshResult: pose, betas, transl, ...
    verts = mesh.mesh_vertices(res, body)               # (F, V, 3) camera space

Nothing here prints; long steps take ``on_progress(stage, done, total)``. User-fixable
problems raise :class:`hmcli.io.atomic.HMError` with a one-line message.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from hmcli.io.atomic import HMError
from hmcli.mesh.body import BodyModel, adapt_keypoints_to_cmu
from hmcli.mesh.fit import FitOptions, FitTargets, fit_body
from hmcli.mesh.prior import GMMPrior, default_prior_path, load_prior
from hmcli.mesh.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hmcli.skeleton import h36m_from_midpoints
from hmcli.types import Camera, MeshResult, MultiMeshResult, MultiPose3DResult, Pose3DResult

__all__ = ["BODY_MODELS", "load_body_model", "default_camera", "fit_targets", "fit", "fit_persons", "fit_lifted", "mesh_vertices",
           "save_mesh", "person_outputs", "InitParams", "load_init", "VERTEX_CHUNK"]

BODY_MODELS = ("auto", "smpl", "smplx", "anny")
VERTEX_CHUNK = 64
OnProgress = Callable[[str, int, int], None]


def load_body_model(name: str = "auto", model_dir: str | os.PathLike | None = None, gender: str = "neutral",
                    on_status: Callable[[str], None] | None = None, *, calibrated: bool = True) -> BodyModel:
    """'smpl' / 'smplx' (the user's model files: ``model_dir`` or ``$HM_SMPL_DIR``), 'anny'
    (the open model, ``pip install ".[mesh]"``), or 'auto': SMPL when its files are found,
    else Anny. Its keypoints carry the shipped per-keypoint offsets
    (:mod:`hmcli.mesh.calibration`) unless ``calibrated`` is False."""
    name = name.lower()
    if name not in BODY_MODELS:
        raise HMError(f"unknown body model '{name}' (choose from {', '.join(BODY_MODELS)})")
    from hmcli.mesh.calibration import apply_calibration

    model = adapt_keypoints_to_cmu(_load_body_model(name, model_dir, gender, on_status))
    return apply_calibration(model) if calibrated else model


def _load_body_model(name: str, model_dir, gender: str, on_status) -> BodyModel:
    if name in ("smpl", "smplx"):
        from hmcli.mesh.smpl import load_smpl

        return load_smpl(name, model_dir, gender)
    if name == "anny":
        from hmcli.mesh.anny_body import load_anny

        return load_anny(on_status=on_status)
    from hmcli.mesh.smpl import load_smpl

    try:
        return load_smpl("smpl", model_dir, gender)
    except HMError as smpl_error:
        try:
            from hmcli.mesh.anny_body import load_anny

            return load_anny(on_status=on_status)
        except HMError as anny_error:
            raise HMError(f"no body model available: {anny_error} (or use SMPL: {smpl_error})") from None


def default_camera(width: int, height: int, focal: float | None = None) -> Camera:
    """The camera assumed for a video: principal point at the image centre, focal length
    ``focal`` px or the image diagonal (the lifter's codec assumes the same)."""
    f = float(focal) if focal is not None else float(np.hypot(width, height))
    if not np.isfinite(f) or f <= 0:
        raise HMError(f"focal length must be a positive number of pixels, got {focal}")
    return Camera(f, width / 2.0, height / 2.0)


@dataclass(frozen=True)
class InitParams:
    """Per-frame SMPL parameters from an image-based estimator (HybrIK, ...).

    pose (F, 72) axis-angle (24 joints, SMPL order), betas (10,) or (F, 10) (averaged),
    transl (F, 3) camera-space metres or None (then solved from the 2D)."""

    pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray | None = None


def load_init(path: str | os.PathLike, frames: int | None = None) -> InitParams:
    """Read an ``--init`` npz: keys ``pose`` (or ``poses`` / ``thetas``) (F, 72) or (F, 24, 3),
    ``betas`` (or ``shape``) (10,) or (F, 10), optional ``transl`` (or ``trans``) (F, 3)."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = set(z.files)
            arrays = {k: z[k] for k in keys}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # EOFError: an empty file
        raise HMError(f"cannot read --init file {p}: {' '.join(str(e).split()) or type(e).__name__}") from None

    def pick(*names: str) -> np.ndarray | None:
        for n in names:
            if n in arrays:
                return arrays[n]
        return None

    pose = pick("pose", "poses", "thetas", "body_pose_full")
    betas = pick("betas", "shape")
    transl = pick("transl", "trans", "cam_t")
    if pose is None or betas is None:
        raise HMError(f"--init file {p} needs 'pose' (F, 72) and 'betas' (10,) arrays; it has {sorted(keys)}")
    try:
        pose = np.asarray(pose, np.float32).reshape(pose.shape[0], -1)
    except (ValueError, IndexError):
        raise HMError(f"--init file {p}: 'pose' must be (F, 72), got {pose.shape}") from None
    if pose.ndim != 2 or pose.shape[1] != 72:
        raise HMError(f"--init file {p}: 'pose' must be (F, 72) axis-angle, got {pose.shape}")
    betas = np.asarray(betas, np.float32)
    if betas.ndim == 2:
        betas = betas.mean(0)
    if betas.ndim != 1:
        raise HMError(f"--init file {p}: 'betas' must be (10,) or (F, 10), got {betas.shape}")
    if transl is not None:
        transl = np.asarray(transl, np.float32)
        if transl.shape != (pose.shape[0], 3):
            raise HMError(f"--init file {p}: 'transl' must be ({pose.shape[0]}, 3), got {transl.shape}")
    for name, a in (("pose", pose), ("betas", betas), ("transl", transl)):
        if a is not None and not np.isfinite(a).all():
            raise HMError(f"--init file {p}: '{name}' has NaN or infinite values")
    if frames is not None and pose.shape[0] != frames:
        raise HMError(f"--init file {p} has {pose.shape[0]} frames but the clip has {frames}")
    return InitParams(pose, betas, transl)


def fit_targets(lifted: Pose3DResult, camera: Camera) -> FitTargets:
    """What :func:`fit` fits a body to: the lifted joints, their 2D input and whether that 2D
    has CMU's nose and head (``FitTargets.cmu_2d``: anything but a COCO-style conversion, whose
    "head" is the eyes' midpoint, :func:`hmcli.skeleton.h36m_from_midpoints`)."""
    kp = lifted.kpts2d
    detected = np.asarray(kp.detected, bool)
    fps = kp.fps if np.isfinite(kp.fps) else 30.0
    cmu_2d = not h36m_from_midpoints(kp.xy, detected)
    return FitTargets(lifted.joints3d, kp.xy, kp.conf, detected, camera, fps, cmu_2d=cmu_2d)


def fit(lifted: Pose3DResult, body: BodyModel, options: FitOptions = FitOptions(),
        prior: GMMPrior | str | os.PathLike | None = "default", focal: float | None = None,
        init: InitParams | None = None, vertices: bool = False,
        on_progress: OnProgress | None = None) -> MeshResult:
    """Fit ``body`` to a lifted clip (IK, then refinement; :mod:`hmcli.mesh.fit`)."""
    kp = lifted.kpts2d
    if lifted.joints3d.ndim != 3 or lifted.joints3d.shape[1:] != (17, 3):
        raise HMError(f"expected H36M-17 3D joints (F, 17, 3), got {lifted.joints3d.shape}")
    if kp.joint_set != "h36m17" or kp.xy.shape[1] != 17:
        raise HMError(f"expected the lifter's H36M-17 2D keypoints, got joint set '{kp.joint_set}'")
    if lifted.joints3d.shape[0] == 0:
        raise HMError("the clip has no frames")
    if isinstance(prior, str) and prior == "default":
        path = default_prior_path(body.name)
        prior = load_prior(path) if path.is_file() else None
    elif prior is not None and not isinstance(prior, GMMPrior):
        prior = load_prior(prior)
    cam = default_camera(kp.width, kp.height, focal)
    targets = fit_targets(lifted, cam)
    init_R = init_b = init_t = None
    if init is not None:
        if body.num_joints != 24:
            raise HMError(f"--init gives SMPL's 24 joints; the {body.name} body model has {body.num_joints}")
        if init.pose.shape[0] != lifted.joints3d.shape[0]:
            raise HMError(f"--init has {init.pose.shape[0]} frames but the clip has {lifted.joints3d.shape[0]}")
        init_R = axis_angle_to_matrix(torch.from_numpy(init.pose).reshape(-1, 24, 3))
        init_b = torch.from_numpy(init.betas)
        init_t = None if init.transl is None else torch.from_numpy(init.transl)
    out = fit_body(body, targets, prior, options, init_R, init_b, init_t, on_progress)
    pose = matrix_to_axis_angle(out.rotmats).numpy().astype(np.float32)
    res = MeshResult(
        body_model=body.name,
        gender=getattr(body, "gender", "neutral"),
        joint_names=tuple(body.joint_names),
        parents=tuple(body.parents),
        pose=pose,
        betas=out.betas.numpy().astype(np.float32),
        transl=out.transl.numpy().astype(np.float32),
        joints3d=out.keypoints.numpy().astype(np.float32),
        valid=np.asarray(kp.detected, bool).copy(),
        faces=np.asarray(body.faces, np.int32),
        camera=cam,
        lift=lifted,
        quality=out.quality,
        root_rest=body.rest(out.betas[None]).joints[0, 0].detach().numpy().astype(np.float32),
    )
    if vertices:
        res.vertices = mesh_vertices(res, body, on_progress)
    return res


def _frames(res: Pose3DResult, a: int, b: int) -> Pose3DResult:
    k = res.kpts2d
    return replace(res, joints3d=res.joints3d[a:b],
                   kpts2d=replace(k, xy=k.xy[a:b], conf=k.conf[a:b], timestamps=k.timestamps[a:b],
                                  detected=k.detected[a:b]))  # fmt: skip


def _pad(arr: np.ndarray, a: int, b: int, f: int, fill: float | None = None) -> np.ndarray:
    """Frames [a, b) of an (F, ...) array placed in F frames: outside, the nearest frame's
    values (``fill`` None) or ``fill``."""
    out = np.empty((f, *arr.shape[1:]), arr.dtype)
    out[a:b] = arr
    out[:a] = arr[:1] if fill is None else fill
    out[b:] = arr[-1:] if fill is None else fill
    return out


def fit_persons(lifted: MultiPose3DResult, body: BodyModel, options: FitOptions = FitOptions(),
                prior: GMMPrior | str | os.PathLike | None = "default", focal: float | None = None,
                vertices: bool = False, on_progress: OnProgress | None = None,
                init: InitParams | None = None) -> MultiMeshResult:  # fmt: skip
    """Fit ``body`` to every person of a multi-person lift, each on its own (its own shape),
    over its span (first to last detected frame). Outside the span a person's parameters
    repeat the nearest fitted frame and are flagged not valid (``valid`` False, joints3d NaN),
    so renderers and exports skip them. Persons never detected are left out.
    ``init`` (per-frame parameters of the whole clip, see :class:`InitParams`) is for a
    one-person lift only (HMError otherwise); its frames in the person's span are used."""
    if init is not None:
        if lifted.num_persons != 1:
            raise HMError(f"--init gives one person's parameters but the clip has {lifted.num_persons} persons "
                          f"(track ids {', '.join(str(i) for i in lifted.track_ids.tolist())}); pick one with --person")
        if init.pose.shape[0] != lifted.num_frames:
            raise HMError(f"--init has {init.pose.shape[0]} frames but the clip has {lifted.num_frames}")
    if isinstance(prior, str) and prior == "default":
        path = default_prior_path(body.name)
        prior = load_prior(path) if path.is_file() else None
    elif prior is not None and not isinstance(prior, GMMPrior):
        prior = load_prior(prior)
    out, ids = [], []
    for p, res in enumerate(lifted.persons):
        span = res.kpts2d.span()
        if span is None:
            continue
        a, b = span
        f = res.joints3d.shape[0]
        sub = None if init is None else InitParams(init.pose[a:b], init.betas,
                                                   None if init.transl is None else init.transl[a:b])  # fmt: skip
        m = fit(_frames(res, a, b), body, options, prior, focal, sub, vertices=vertices, on_progress=on_progress)
        m.pose, m.transl = _pad(m.pose, a, b, f), _pad(m.transl, a, b, f)
        m.joints3d = _pad(m.joints3d, a, b, f, np.nan)
        m.valid = _pad(m.valid, a, b, f, False)
        if m.vertices is not None:
            m.vertices = _pad(m.vertices, a, b, f)
        m.lift = res
        out.append(m)
        ids.append(int(lifted.track_ids[p]))
    if not out:
        raise HMError("no frame has a lifted person; nothing to fit")
    return MultiMeshResult(out, np.asarray(ids, np.int64))


def fit_lifted(lifted: Pose3DResult | MultiPose3DResult, body: BodyModel, options: FitOptions = FitOptions(),
               prior: GMMPrior | str | os.PathLike | None = "default", focal: float | None = None,
               init: InitParams | None = None, vertices: bool = False,
               on_progress: OnProgress | None = None) -> MultiMeshResult:  # fmt: skip
    """What ``hm mesh`` fits: a one-person lift with track id 0 (the one-person path, files from
    before multi-person support, a :class:`Pose3DResult`) with :func:`fit` over the whole clip,
    exactly as before (frames without the person interpolated), as P = 1 with track id 0;
    anything else with :func:`fit_persons` (each tracked person over its span). ``init`` needs
    one person (HMError naming the track ids otherwise)."""
    if isinstance(lifted, Pose3DResult):
        lifted = MultiPose3DResult.from_single(lifted)
    if lifted.num_persons == 0:
        raise HMError("no person was found in any frame; nothing to fit")
    if lifted.num_persons == 1 and int(lifted.track_ids[0]) == 0:
        res = fit(lifted.persons[0], body, options, prior, focal, init, vertices=vertices, on_progress=on_progress)
        return MultiMeshResult.from_single(res)
    return fit_persons(lifted, body, options, prior, focal, vertices=vertices, on_progress=on_progress, init=init)


def mesh_vertices(result: MeshResult, body: BodyModel | None = None,
                  on_progress: OnProgress | None = None) -> np.ndarray:
    """(F, V, 3) float32 camera-space vertices of a fitted result (the full mesh, in chunks
    of frames). ``body``: the model it was fitted with (loaded by name when None)."""
    if body is None:
        body = load_body_model(result.body_model, gender=result.gender)
    if body.name != result.body_model:
        raise HMError(f"the result was fitted with '{result.body_model}', not '{body.name}'")
    F = result.num_frames
    out = np.empty((F, body.num_vertices, 3), np.float32)
    betas = torch.from_numpy(np.asarray(result.betas, np.float32))[None]
    with torch.no_grad():
        for s in range(0, F, VERTEX_CHUNK):
            e = min(F, s + VERTEX_CHUNK)
            R = axis_angle_to_matrix(torch.from_numpy(np.asarray(result.pose[s:e], np.float32)))
            v = body.vertices(betas, R) + torch.from_numpy(np.asarray(result.transl[s:e], np.float32))[:, None]
            out[s:e] = v.numpy()
            if on_progress is not None:
                on_progress("vertices", e, F)
    return out


def person_outputs(track_ids, obj_dir: str | os.PathLike | None = None,
                   amass: str | os.PathLike | None = None) -> list[tuple[Path | None, Path | None]]:  # fmt: skip
    """Where ``hm mesh --obj DIR --amass FILE.npz`` writes each person's files, in row order:
    ``(obj folder, amass file)`` per person (None where not asked). One person: ``DIR`` and
    ``FILE.npz`` themselves; several: ``DIR/p<track id>/`` and ``FILE.p<track id>.npz``."""
    ids = [int(t) for t in np.asarray(track_ids).reshape(-1)]
    if len(ids) == 1:
        return [(None if obj_dir is None else Path(obj_dir), None if amass is None else Path(amass))]
    out = []
    for tid in ids:
        o = None if obj_dir is None else Path(obj_dir) / f"p{tid}"
        a = None if amass is None else Path(amass).with_name(f"{Path(amass).stem}.p{tid}{Path(amass).suffix}")
        out.append((o, a))
    return out


def save_mesh(result: MeshResult | MultiMeshResult, path: str | os.PathLike, *, keep_vertices: bool = False,
              obj_dir: str | os.PathLike | None = None, amass: str | os.PathLike | None = None) -> None:  # fmt: skip
    """Write a fitted result as ``hm mesh`` does: the mesh HDF5 at ``path`` (with the per-frame
    vertices only when ``keep_vertices``), and optionally one OBJ per frame into ``obj_dir``
    (needs the vertices) and an AMASS-style npz; with several persons one OBJ folder and one
    npz per person (:func:`person_outputs`). The persons' vertices are dropped unless kept.
    All or nothing: when a later output fails, every file and folder this call created is
    removed again (an ``obj_dir`` that existed before is kept, without the person folders made here)."""
    from hmcli.io.mesh_h5 import write_mesh

    multi = result if isinstance(result, MultiMeshResult) else MultiMeshResult.from_single(result)
    verts = [m.vertices for m in multi.persons]                    # (F, V, 3) or None each
    if not keep_vertices:
        for m in multi.persons:
            m.vertices = None
    where = person_outputs(multi.track_ids, obj_dir, amass)
    # several outputs: if a later one fails, the ones this call created are removed again
    made = [Path(p) for p in (path, obj_dir) if p is not None and not Path(p).exists()]
    made += [Path(p) for pair in where for p in pair if p is not None and not Path(p).exists()]
    try:
        write_mesh(path, multi)
        if obj_dir is not None and len(where) > 1:
            Path(obj_dir).mkdir(exist_ok=True)                     # the person folders go inside
        for m, v, (o, a) in zip(multi.persons, verts, where, strict=True):
            if o is not None:
                from hmcli.io.mesh_export import export_mesh

                export_mesh(m, o, "obj", vertices=v)
            if a is not None:
                from hmcli.io.mesh_export import write_amass_npz

                write_amass_npz(a, m, m.root_rest)
    except BaseException:
        for p in made:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        raise
