"""Mesh exports of ``hm mesh`` results: per-frame OBJ / PLY files and AMASS-style ``.npz``.

The writers take arrays as they are (OBJ / PLY write exactly the coordinates given); the
``hm export`` command turns camera-space vertices (x right, y down, z forward) into a Y-up
world first with :func:`camera_to_yup` -- a 180 degree rotation about X (x right, y up,
z towards the camera), which keeps triangle winding (outward normals stay outward) and
makes meshes stand upright in Blender, MeshLab and most viewers.

OBJ (text, one file per frame ``<stem>_000000.obj``): a comment line, ``v x y z`` lines
(metres, 6 decimals) and ``f a b c`` lines (1-based vertex ids). Non-finite coordinates are
written as ``nan``.

PLY (``format binary_little_endian 1.0``): ``element vertex V`` with ``float x, y, z``,
``element face Fc`` with ``property list uchar int vertex_indices``.

AMASS-style npz (:func:`write_amass_npz`), read with ``np.load(path, allow_pickle=False)``:

======================  ==========  ========  ===================================================
key                     shape       dtype     meaning
======================  ==========  ========  ===================================================
poses                   (F, 3K)     float32   axis-angle of all K joints, root first; for SMPL
                                              K = 24, the SMPL 72-vector layout (AMASS's own
                                              SMPL-H files hold 156 = 52 joints; hands are not
                                              written here)
root_orient             (F, 3)      float32   = poses[:, :3], the global orientation (Y-up world)
pose_body               (F, 63)     float32   = poses[:, 3:66], the 21 body joints after the root
                                              (as AMASS / SMPL-X tools read); only when K >= 22
trans                   (F, 3)      float32   metres, Y-up world
betas                   (S,)        float32   shape coefficients
gender                  ()          unicode   ``neutral``, ``male`` or ``female``
mocap_framerate         ()          float64   frames per second (also as ``mocap_frame_rate``,
                                              the SMPL-X-era key)
surface_model_type      ()          unicode   body model name (``smpl``, ``smplx``, ``anny``, ...)
======================  ==========  ========  ===================================================

All frames are written (parameters on frames without a person are the fit's interpolation).
World axes: AMASS bodies are usually Z-up; we write Y-up (x right, y up, z towards the
camera), the body models' own rest frame, which SMPL/SMPL-X viewers show upright.

:func:`export_mesh` (``hm export --format obj|ply|amass``) writes a result in the Y-up world:
OBJ / PLY as a directory of per-frame files (or one file when the path ends in ``.obj`` /
``.ply`` and the result has a single frame), AMASS as one ``.npz``.

Re-orienting an SMPL body is not "rotate root_orient and trans": the body turns about its
root joint's rest position J0 (a function of ``betas``), so for a world rotation R the new
parameters are ``root_orient' = R * root_orient`` and ``trans' = R (J0 + trans) - J0``.
:class:`~hmcli.types.MeshResult` does not carry J0, so :func:`write_amass_npz` takes it
as the ``root_rest`` argument.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from hmcli import __version__ as HM_VERSION
from hmcli.io.atomic import HMError, atomic_write

__all__ = [
    "MESH_FORMATS",
    "export_mesh",
    "CAM_TO_YUP",
    "camera_to_yup",
    "write_obj",
    "write_obj_frames",
    "write_ply",
    "write_ply_frames",
    "amass_arrays",
    "write_amass_npz",
]

MESH_FORMATS = ("obj", "ply", "amass")

# Camera axes (x right, y down, z forward) -> Y-up world (x right, y up, z towards the camera).
CAM_TO_YUP = np.diag([1.0, -1.0, -1.0])
_QUAT_CAM_TO_YUP = np.array([0.0, 1.0, 0.0, 0.0])  # (w, x, y, z): 180 degrees about X


def camera_to_yup(points: np.ndarray) -> np.ndarray:
    """(..., 3) camera-space points -> the same points in the Y-up world (180 degrees about X)."""
    p = np.asarray(points)
    return p * np.array([1.0, -1.0, -1.0], dtype=p.dtype if p.dtype.kind == "f" else np.float64)


# ------------------------------------------------------------------ OBJ / PLY


def _check_mesh(vertices: np.ndarray, faces: np.ndarray, frames: bool) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(vertices, np.float32)
    f = np.asarray(faces)
    want = 3 if frames else 2
    if v.ndim != want or v.shape[-1] != 3:
        raise ValueError(f"vertices must be {'(F, V, 3)' if frames else '(V, 3)'}, got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3 or (f.size and f.dtype.kind not in "iu"):
        raise ValueError(f"faces must be (Fc, 3) integers, got {f.shape} {f.dtype}")
    if f.size and (f.min() < 0 or f.max() >= v.shape[-2]):
        raise ValueError(f"faces refer to vertices outside 0..{v.shape[-2] - 1}")
    return v, f.astype(np.int64)


def _obj_text(v: np.ndarray, face_text: str, comment: str) -> str:
    verts = ("v %.6f %.6f %.6f\n" * v.shape[0]) % tuple(v.ravel().tolist())  # (V, 3)
    return f"# {comment}\n{verts}{face_text}"


def _face_text(faces: np.ndarray) -> str:
    return ("f %d %d %d\n" * faces.shape[0]) % tuple((faces + 1).ravel().tolist())


def write_obj(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray) -> None:
    """One mesh, vertices (V, 3), faces (Fc, 3) 0-based, as a Wavefront OBJ (atomic)."""
    v, f = _check_mesh(vertices, faces, frames=False)
    with atomic_write(path, "w") as out:
        out.write(_obj_text(v, _face_text(f), f"hm {HM_VERSION}"))


def _frames_dir(directory: str | os.PathLike) -> Path:
    d = Path(directory)
    parent = d.parent if str(d.parent) else Path(".")
    if not parent.is_dir():
        raise HMError(f"output directory does not exist: {parent}")
    if d.exists() and not d.is_dir():
        raise HMError(f"{d} exists and is not a directory")
    d.mkdir(exist_ok=True)
    return d


def _write_frames(directory: str | os.PathLike, stem: str, ext: str, mode: str, contents: Iterable) -> list[Path]:
    """Frame i's content (text or bytes, made as it is written) as ``<directory>/<stem>_<i:06d>.<ext>``,
    each atomically; the paths in frame order."""
    d = _frames_dir(directory)
    paths = []
    for i, content in enumerate(contents):
        p = d / f"{stem}_{i:06d}.{ext}"
        with atomic_write(p, mode) as out:
            out.write(content)
        paths.append(p)
    return paths


def write_obj_frames(directory: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray,
                     stem: str = "frame") -> list[Path]:  # fmt: skip
    """One OBJ per frame, ``<directory>/<stem>_000000.obj`` ..., each written atomically.

    vertices: (F, V, 3); faces: (Fc, 3) 0-based. ``directory`` is created if missing (its
    parent must exist). Returns the paths written, in frame order.
    """
    v, f = _check_mesh(vertices, faces, frames=True)
    faces_txt = _face_text(f)
    texts = (_obj_text(v[i], faces_txt, f"hm {HM_VERSION} frame {i}") for i in range(v.shape[0]))
    return _write_frames(directory, stem, "obj", "w", texts)


def _ply_bytes(v: np.ndarray, face_block: bytes, num_faces: int) -> bytes:
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"comment hm {HM_VERSION}\n"
        f"element vertex {v.shape[0]}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {num_faces}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    return header.encode("ascii") + np.ascontiguousarray(v, "<f4").tobytes() + face_block


def _ply_faces(f: np.ndarray) -> bytes:
    rec = np.empty(f.shape[0], dtype=[("n", "u1"), ("idx", "<i4", (3,))])  # packed: 13 bytes per face
    rec["n"] = 3
    rec["idx"] = f
    return rec.tobytes()


def write_ply(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray) -> None:
    """One mesh, vertices (V, 3), faces (Fc, 3) 0-based, as binary little-endian PLY (atomic)."""
    v, f = _check_mesh(vertices, faces, frames=False)
    with atomic_write(path, "wb") as out:
        out.write(_ply_bytes(v, _ply_faces(f), f.shape[0]))


def write_ply_frames(directory: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray,
                     stem: str = "frame") -> list[Path]:  # fmt: skip
    """One binary PLY per frame, ``<directory>/<stem>_000000.ply`` ... (as :func:`write_obj_frames`)."""
    v, f = _check_mesh(vertices, faces, frames=True)
    block = _ply_faces(f)
    return _write_frames(directory, stem, "ply", "wb", (_ply_bytes(v[i], block, f.shape[0]) for i in range(v.shape[0])))


# ------------------------------------------------------------------ AMASS


def _rotvec_to_quat(r: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 4) unit quaternions (w, x, y, z)."""
    r = np.asarray(r, np.float64)
    theta = np.linalg.norm(r, axis=-1, keepdims=True)                # (..., 1)
    half = 0.5 * theta
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(theta > 1e-8, np.sin(half) / theta, 0.5 - theta**2 / 48.0)
    return np.concatenate([np.cos(half), r * k], axis=-1)


def _quat_to_rotvec(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z) -> (..., 3) axis-angle with angle in [0, pi]."""
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., :1] < 0, -q, q)                               # w >= 0: angle <= pi
    w, v = q[..., :1], q[..., 1:]
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    theta = 2.0 * np.arctan2(n, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(n > 1e-8, theta / n, 2.0 / np.maximum(w, 1e-12))
    return v * k


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of (..., 4) quaternions (w, x, y, z)."""
    aw, av = a[..., :1], a[..., 1:]
    bw, bv = b[..., :1], b[..., 1:]
    w = aw * bw - np.sum(av * bv, axis=-1, keepdims=True)
    v = aw * bv + bw * av + np.cross(av, bv)
    return np.concatenate([w, v], axis=-1)


def amass_arrays(result, root_rest: np.ndarray, framerate: float | None = None) -> dict[str, np.ndarray]:
    """The arrays :func:`write_amass_npz` writes (see the module docstring), Y-up world.

    result: a :class:`~hmcli.types.MeshResult`; root_rest: (3,) rest position of the
    root joint for ``result.betas`` in the body-model frame (metres); framerate: default the
    result's frame rate (30 when unknown).
    """
    pose = np.asarray(result.pose, np.float64)                         # (F, K, 3)
    trans = np.asarray(result.transl, np.float64)                      # (F, 3)
    j0 = np.asarray(root_rest, np.float64).reshape(-1)                 # (3,)
    if pose.ndim != 3 or pose.shape[2] != 3 or pose.shape[1] < 1:
        raise ValueError(f"pose must be (F, K, 3), got {pose.shape}")
    if trans.shape != (pose.shape[0], 3):
        raise ValueError(f"transl must be ({pose.shape[0]}, 3), got {trans.shape}")
    if j0.shape != (3,):
        raise ValueError(f"root_rest must be (3,), got {np.shape(root_rest)}")
    root = _quat_to_rotvec(_quat_mul(_QUAT_CAM_TO_YUP, _rotvec_to_quat(pose[:, 0])))  # (F, 3)
    poses = pose.copy()
    poses[:, 0] = root
    trans_w = (j0 + trans) @ CAM_TO_YUP.T - j0                         # (F, 3): R (J0 + t) - J0
    rate = float(framerate) if framerate else float(result.fps)
    if not math.isfinite(rate) or rate <= 0:
        rate = 30.0
    out = {
        "poses": poses.reshape(pose.shape[0], -1).astype(np.float32),  # (F, 3K)
        "root_orient": root.astype(np.float32),                        # (F, 3)
        "trans": trans_w.astype(np.float32),                           # (F, 3)
        "betas": np.asarray(result.betas, np.float32).reshape(-1),     # (S,)
        "gender": np.array(str(result.gender)),                        # () unicode
        "mocap_framerate": np.array(rate, np.float64),
        "mocap_frame_rate": np.array(rate, np.float64),
        "surface_model_type": np.array(str(result.body_model)),
    }
    if pose.shape[1] >= 22:
        out["pose_body"] = poses[:, 1:22].reshape(pose.shape[0], 63).astype(np.float32)  # (F, 63)
    return out


def write_amass_npz(path: str | os.PathLike, result, root_rest: np.ndarray,
                    framerate: float | None = None) -> None:  # fmt: skip
    """Write ``result`` as an AMASS-style ``.npz`` (see the module docstring), atomically.

    root_rest: (3,) the root joint's rest position for ``result.betas`` (body-model frame,
    metres), needed to re-orient the body correctly; MeshResult does not carry it.
    """
    arrays = amass_arrays(result, root_rest, framerate)
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


# ------------------------------------------------------------------ hm export


def export_mesh(result, path: str | os.PathLike, fmt: str, vertices: np.ndarray | None = None,
                root_rest: np.ndarray | None = None) -> list[Path]:  # fmt: skip
    """Write a :class:`~hmcli.types.MeshResult` as ``fmt`` (obj, ply, amass) in the Y-up world.

    obj / ply: ``path`` is a directory that gets one file per frame (``frame_000000.obj``
    ...), or, when it ends in ``.obj`` / ``.ply``, a single file (single-frame results only).
    vertices: (F, V, 3) camera space (default ``result.vertices``). amass: ``path`` is the
    ``.npz``; root_rest: (3,) (default the result's ``root_rest`` attribute, as
    :func:`hmcli.io.mesh_h5.read_mesh` sets it). Returns the files written; HMError when
    something needed is missing.
    """
    fmt = str(fmt).lower()
    p = Path(path)
    if fmt == "amass":
        rr = root_rest if root_rest is not None else getattr(result, "root_rest", None)
        if rr is None:
            raise HMError("the mesh result does not record the root joint's rest position (/mesh/root_rest), "
                          "which AMASS export needs; refit it with hm mesh")  # fmt: skip
        write_amass_npz(p, result, rr)
        return [p]
    if fmt not in ("obj", "ply"):
        raise HMError(f"unknown mesh export format {fmt!r}; choose one of: {', '.join(MESH_FORMATS)}")
    verts = result.vertices if vertices is None else vertices
    if verts is None:
        raise HMError("the mesh result holds no vertices to export")
    yup = camera_to_yup(np.asarray(verts, np.float32))               # (F, V, 3)
    if p.suffix.lower() == f".{fmt}":
        if yup.shape[0] != 1:
            raise HMError(f"{p.name}: the result has {yup.shape[0]} frames; {fmt} export writes one file per "
                          f"frame into a directory, so give -o a directory name")  # fmt: skip
        (write_obj if fmt == "obj" else write_ply)(p, yup[0], result.faces)
        return [p]
    return (write_obj_frames if fmt == "obj" else write_ply_frames)(p, yup, result.faces)
