"""HDF5 files of fitted body meshes (``hm mesh -o out.h5``): schema ``hm.mesh``.

``hm.mesh`` version 1 holds everything of an ``hm.pose3d`` file (see :mod:`hmcli.io.h5`:
``/keypoints2d``, ``/joints3d``, ``/timestamps``, ``/extra`` and the file attributes, written
by the same code) plus a ``/mesh`` group with the fitted body model
(:class:`~hmcli.types.MeshResult`). :func:`hmcli.io.h5.read_result` therefore reads the
lifted part of a mesh file as a :class:`~hmcli.types.Pose3DResult`.
F = frames, K = joints of the body model's kinematic tree (24 for SMPL), S = shape
coefficients, V = mesh vertices, Fc = mesh triangles, Q = a quality figure's length.

=========================  ==========  ========  ======  ================================================
name                       shape       dtype     units   meaning
=========================  ==========  ========  ======  ================================================
@schema                    attr        str       --      ``"hm.mesh"``
@schema_version            attr        int       --      1
(``hm.pose3d`` content)    --          --        --      /keypoints2d, /joints3d (root-relative lifted
                                                         joints), /timestamps, /extra, @fps, @width,
                                                         @height, @joint_names, @edges, @model_id, ...
/mesh/pose                 (F, K, 3)   float32   rad     axis-angle local joint rotations; joint 0 is the
                                                         global orientation in camera axes (x right,
                                                         y down, z forward)
/mesh/betas                (S,)        float32   --      shape coefficients, one shape for the clip
/mesh/transl               (F, 3)      float32   m       translation added to every vertex (SMPL's
                                                         convention), camera space
/mesh/joints3d             (F, 17, 3)  float32   m       H36M-17 keypoints of the fitted body, camera
                                                         space (not root-relative)
/mesh/valid                (F,)        bool      --      False on frames without a person (parameters
                                                         there are interpolated)
/mesh/faces                (Fc, 3)     int32     --      triangle vertex ids (counter-clockwise seen from
                                                         outside), once for the clip
/mesh/vertices             (F, V, 3)   float32   m       optional: camera-space vertices; gzip, one
                                                         chunk per frame
/mesh/root_rest            (3,)        float32   m       optional: rest position of joint 0 for
                                                         ``betas`` in the body-model frame (needed to
                                                         re-orient the body, e.g. for AMASS export)
/mesh@body_model           attr        str       --      ``smpl``, ``smplx``, ``anny``, ``synthetic``
/mesh@gender               attr        str       --      ``neutral``, ``male``, ``female``
/mesh@joint_names          attr        str (K,)  --      names of the kinematic joints, in order
/mesh@parents              attr        int (K,)  --      parent of each joint, -1 for the root
/mesh@focal, @cx, @cy      attr        float64   px      pinhole camera of the video (same focal in x, y)
/mesh/quality@<name>       attr        float64   --      scalar fit figures (``MeshResult.quality``);
                                                         string figures are str attributes
/mesh/quality/<name>       (Q,)        numeric   --      array-valued fit figures, if any
=========================  ==========  ========  ======  ================================================

Readers accept schema versions up to the one written here and refuse newer ones (upgrade
hm); a file without ``/mesh`` (e.g. an ``hm.pose3d`` file) is refused with "<path> has no
fitted mesh; run hm mesh on it". Every problem is an :class:`HMError` with a one-line message;
nothing is unpickled.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from hmcli.io.atomic import HMError, atomic_write
from hmcli.io.h5 import (
    _STR,
    SCHEMA_MESH,
    SCHEMA_MESH_VERSION,
    SCHEMA_POSE3D,
    _array,
    _as_str,
    _check_joints3d,
    _check_schema,
    _dataset,
    _open,
    _read_pose3d,
    _write_pose3d,
)

if TYPE_CHECKING:  # imported where needed, so that is_mesh_file() stays light
    from hmcli.types import MeshResult

__all__ = ["SCHEMA_MESH", "SCHEMA_MESH_VERSION", "write_mesh", "read_mesh", "is_mesh_file", "open_vertices"]

NUM_KEYPOINTS = 17


# ------------------------------------------------------------------ writing


def _check(result: MeshResult) -> dict[str, np.ndarray]:
    """Validated arrays of ``result`` in their stored dtypes; ValueError on a bad result."""
    _check_joints3d(result.lift)
    f = result.lift.kpts2d.num_frames
    k = len(result.parents)
    if len(result.joint_names) != k:
        raise ValueError(f"joint_names has {len(result.joint_names)} names for {k} parents")
    a = {
        "pose": np.asarray(result.pose, np.float32),             # (F, K, 3)
        "betas": np.asarray(result.betas, np.float32),           # (S,)
        "transl": np.asarray(result.transl, np.float32),         # (F, 3)
        "joints3d": np.asarray(result.joints3d, np.float32),     # (F, 17, 3)
        "valid": np.asarray(result.valid, bool),                 # (F,)
    }
    want = {"pose": (f, k, 3), "transl": (f, 3), "joints3d": (f, NUM_KEYPOINTS, 3), "valid": (f,)}
    for name, shape in want.items():
        if a[name].shape != shape:
            raise ValueError(f"{name} must be {shape}, got {a[name].shape}")
    if a["betas"].ndim != 1:
        raise ValueError(f"betas must be (S,), got {a['betas'].shape}")
    faces = np.asarray(result.faces)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype.kind not in "iu":
        raise ValueError(f"faces must be (Fc, 3) integers, got {faces.shape} {faces.dtype}")
    if faces.size and faces.min() < 0:
        raise ValueError("faces has negative vertex ids")
    a["faces"] = faces.astype(np.int32)                          # (Fc, 3)
    if result.vertices is not None:
        v = np.asarray(result.vertices, np.float32)              # (F, V, 3)
        if v.ndim != 3 or v.shape[0] != f or v.shape[2] != 3:
            raise ValueError(f"vertices must be ({f}, V, 3), got {v.shape}")
        if faces.size and faces.max() >= v.shape[1]:
            raise ValueError(f"faces refer to vertex {faces.max()} of {v.shape[1]}")
        a["vertices"] = v
    root_rest = getattr(result, "root_rest", None)
    if root_rest is not None:
        rr = np.asarray(root_rest, np.float32).reshape(-1)
        if rr.shape != (3,):
            raise ValueError(f"root_rest must be (3,), got {np.shape(root_rest)}")
        a["root_rest"] = rr
    return a


def _write_quality(group: h5py.Group, quality: dict) -> None:
    for key, value in quality.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise TypeError(f"quality keys must be non-empty strings without '/', got {key!r}")
        if isinstance(value, str):
            group.attrs[key] = value
        elif isinstance(value, (Real, np.number)) and np.ndim(value) == 0:
            group.attrs[key] = float(value)
        elif isinstance(value, (np.ndarray, list, tuple)) and np.asarray(value).dtype.kind in "biuf":
            _dataset(group, key, np.asarray(value))
        else:
            raise TypeError(f"cannot store quality[{key!r}] of type {type(value).__name__} (numbers, str or arrays)")


def write_mesh(path: str | os.PathLike, result: MeshResult) -> None:
    """Write ``result`` to ``path`` (schema ``hm.mesh``, see the module docstring), atomically.

    ``result.vertices`` is stored when not None. A ``root_rest`` (3,) attribute on the
    result, if present, is stored as ``/mesh/root_rest``. Inconsistent arrays raise
    ValueError before anything is written.
    """
    arrays = _check(result)
    f = result.lift.kpts2d.num_frames
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["schema"] = SCHEMA_MESH
            h5.attrs["schema_version"] = SCHEMA_MESH_VERSION
            _write_pose3d(h5, result.lift)
            g = h5.create_group("mesh")
            for name in ("pose", "betas", "transl", "joints3d", "valid", "faces", "root_rest"):
                if name in arrays:
                    _dataset(g, name, arrays[name])
            if "vertices" in arrays:
                v = arrays["vertices"]
                chunks = (1, v.shape[1], 3) if f and v.shape[1] else None
                g.create_dataset("vertices", data=v, chunks=chunks, compression="gzip" if chunks else None,
                                 compression_opts=4 if chunks else None, shuffle=bool(chunks))  # fmt: skip
            g.attrs["body_model"] = str(result.body_model)
            g.attrs["gender"] = str(result.gender)
            g.attrs.create("joint_names", np.array([str(n) for n in result.joint_names], dtype=object), dtype=_STR)
            g.attrs["parents"] = np.asarray(result.parents, np.int32).reshape(-1)
            g.attrs["focal"] = float(result.camera.focal)
            g.attrs["cx"] = float(result.camera.cx)
            g.attrs["cy"] = float(result.camera.cy)
            _write_quality(g.create_group("quality"), dict(result.quality or {}))


# ------------------------------------------------------------------ reading


def _mesh_group(h5: h5py.File, path) -> h5py.Group:
    g = h5.get("mesh")
    if not isinstance(g, h5py.Group):
        raise HMError(f"{path} has no fitted mesh; run hm mesh on it")
    return g


def _check_mesh_schema(h5: h5py.File, path) -> h5py.Group:
    _check_schema(h5, path, (SCHEMA_MESH, SCHEMA_POSE3D))
    return _mesh_group(h5, path)


def _mesh_attr(g: h5py.Group, name: str, path):
    if name not in g.attrs:
        raise HMError(f"{path} is missing attribute /mesh@{name} (corrupt or incomplete file)")
    return g.attrs[name]


def _read_quality(g: h5py.Group) -> dict:
    q = g.get("quality")
    out: dict = {}
    if not isinstance(q, h5py.Group):
        return out
    for key, value in q.attrs.items():
        if isinstance(value, (str, bytes)):
            out[key] = _as_str(value)
        elif np.ndim(value) == 0 and np.asarray(value).dtype.kind in "biuf":
            out[key] = float(value)
    for key, obj in q.items():
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "biuf":
            out[key] = np.asarray(obj[()])
    return out


def _expect(name: str, arr: np.ndarray, shape: tuple, path) -> None:
    if arr.shape != shape:
        raise HMError(f"{path}: /mesh/{name} has shape {arr.shape}, expected {shape} (corrupt file)")


def read_mesh(path: str | os.PathLike, load_vertices: bool = True) -> MeshResult:
    """Read an ``hm.mesh`` file written by :func:`write_mesh`.

    ``load_vertices=False`` leaves ``vertices`` None even when the file stores them (use
    :func:`open_vertices` to read them frame by frame). A stored ``/mesh/root_rest`` is set
    as the result's ``root_rest`` attribute (None when absent).
    """
    from hmcli.types import Camera, MeshResult

    with _open(path) as h5:
        g = _check_mesh_schema(h5, path)
        lift = _read_pose3d(h5, path)
        f = lift.kpts2d.num_frames
        names = tuple(_as_str(n) for n in np.atleast_1d(_mesh_attr(g, "joint_names", path)))
        parents = tuple(int(p) for p in np.atleast_1d(_mesh_attr(g, "parents", path)))
        k = len(parents)
        if len(names) != k:
            raise HMError(f"{path}: /mesh@joint_names has {len(names)} names for {k} joints (corrupt file)")
        pose = _array(g, "pose", path, np.float32)
        _expect("pose", pose, (f, k, 3), path)
        betas = _array(g, "betas", path, np.float32)
        if betas.ndim != 1:
            raise HMError(f"{path}: /mesh/betas has shape {betas.shape}, expected (S,) (corrupt file)")
        transl = _array(g, "transl", path, np.float32)
        _expect("transl", transl, (f, 3), path)
        joints3d = _array(g, "joints3d", path, np.float32)
        _expect("joints3d", joints3d, (f, NUM_KEYPOINTS, 3), path)
        valid = _array(g, "valid", path, bool)
        _expect("valid", valid, (f,), path)
        faces = _array(g, "faces", path)
        if faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype.kind not in "iu":
            raise HMError(f"{path}: /mesh/faces has shape {faces.shape}, expected (Fc, 3) integers (corrupt file)")
        vertices = None
        if load_vertices and "vertices" in g:
            vertices = _array(g, "vertices", path, np.float32)
            if vertices.ndim != 3 or vertices.shape[0] != f or vertices.shape[2] != 3:
                raise HMError(f"{path}: /mesh/vertices has shape {vertices.shape}, expected ({f}, V, 3) (corrupt file)")
            if faces.size and (faces.min() < 0 or faces.max() >= vertices.shape[1]):
                raise HMError(f"{path}: /mesh/faces refer to vertices that do not exist (corrupt file)")
        root_rest = None
        if "root_rest" in g:
            root_rest = _array(g, "root_rest", path, np.float32)
            _expect("root_rest", root_rest, (3,), path)
        try:
            camera = Camera(float(_mesh_attr(g, "focal", path)), float(_mesh_attr(g, "cx", path)),
                            float(_mesh_attr(g, "cy", path)))  # fmt: skip
        except (TypeError, ValueError):
            raise HMError(f"{path}: /mesh camera attributes are not numbers (corrupt file)") from None
        result = MeshResult(
            body_model=_as_str(_mesh_attr(g, "body_model", path)),
            gender=_as_str(g.attrs.get("gender", "neutral")),
            joint_names=names,
            parents=parents,
            pose=pose,
            betas=betas,
            transl=transl,
            joints3d=joints3d,
            valid=valid,
            faces=faces.astype(np.int32),
            camera=camera,
            lift=lift,
            vertices=vertices,
            quality=_read_quality(g),
            root_rest=root_rest,
        )
        return result


def is_mesh_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is an HDF5 file with schema ``hm.mesh`` (never raises)."""
    p = Path(path)
    try:
        if not p.is_file() or not h5py.is_hdf5(p):
            return False
        with h5py.File(p, "r") as h5:
            return _as_str(h5.attrs.get("schema", "")) == SCHEMA_MESH
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def open_vertices(path: str | os.PathLike) -> Iterator[h5py.Dataset | None]:
    """The stored ``/mesh/vertices`` (F, V, 3) as an open h5py dataset (index it per frame:
    ``ds[i]`` -> (V, 3) float32), or None when the file stores no vertices."""
    with _open(path) as h5:
        g = _check_mesh_schema(h5, path)
        ds = g.get("vertices")
        if ds is not None and (not isinstance(ds, h5py.Dataset) or ds.ndim != 3 or ds.shape[2] != 3
                               or ds.dtype.kind != "f"):  # fmt: skip
            raise HMError(f"{path}: /mesh/vertices is not an (F, V, 3) float dataset (corrupt file)")
        yield ds

