"""HDF5 files of fitted body meshes (``hm mesh -o out.h5``): schema ``hm.mesh``.

``hm.mesh`` version 2 holds everything of an ``hm.pose3d`` file (see :mod:`hmcli.io.h5`:
``/keypoints2d``, ``/joints3d``, ``/persons``, ``/timestamps``, ``/extra`` and the file
attributes, written by the same code) plus a ``/mesh`` group with the fitted body model of
each of the P tracked persons (:class:`~hmcli.types.MultiMeshResult`; a one-person
:class:`~hmcli.types.MeshResult` is written as P = 1 with track id 0). Row p of every
per-person array is the person with track id ``/persons/track_id[p]``.
:func:`hmcli.io.h5.read_result` therefore reads the lifted part of a mesh file.
P = persons (at least 1), F = frames, K = joints of the body model's kinematic tree (24 for
SMPL), S = shape coefficients, V = mesh vertices, Fc = mesh triangles, Q = a quality
figure's length. The body model, its joints and the faces are shared by all persons (a
result whose persons use different body models is refused).

=========================  ============  ========  ======  ============================================
name                       shape         dtype     units   meaning
=========================  ============  ========  ======  ============================================
@schema                    attr          str       --      ``"hm.mesh"``
@schema_version            attr          int       --      2
(``hm.pose3d`` content)    --            --        --      /keypoints2d, /joints3d (root-relative
                                                           lifted joints), /persons/track_id,
                                                           /timestamps, /extra, @num_persons, @fps,
                                                           @width, @height, @joint_names, @model_id, ...
/mesh/pose                 (P, F, K, 3)  float32   rad     axis-angle local joint rotations; joint 0 is
                                                           the global orientation in camera axes (x
                                                           right, y down, z forward)
/mesh/betas                (P, S)        float32   --      shape coefficients, one shape per person
/mesh/transl               (P, F, 3)     float32   m       translation added to every vertex (SMPL's
                                                           convention), camera space
/mesh/joints3d             (P, F, 17, 3) float32   m       H36M-17 keypoints of the fitted body, camera
                                                           space (not root-relative)
/mesh/valid                (P, F)        bool      --      False on frames without the person
                                                           (parameters there are interpolated)
/mesh/faces                (Fc, 3)       int32     --      triangle vertex ids (counter-clockwise seen
                                                           from outside), shared by all persons
/mesh/vertices             (P, F, V, 3)  float32   m       optional: camera-space vertices; gzip, one
                                                           chunk per person and frame
/mesh/root_rest            (P, 3)        float32   m       optional: rest position of joint 0 for each
                                                           person's ``betas`` in the body-model frame
                                                           (re-orienting the body, e.g. for AMASS
                                                           export); a NaN row: not known
/mesh/camera               (P, 3)        float64   px      pinhole camera (focal, cx, cy) each person
                                                           was fitted with
/mesh@body_model           attr          str       --      ``smpl``, ``smplx``, ``anny``, ``synthetic``
/mesh@gender               attr          str       --      ``neutral``, ``male``, ``female``
/mesh@joint_names          attr          str (K,)  --      names of the kinematic joints, in order
/mesh@parents              attr          int (K,)  --      parent of each joint, -1 for the root
/mesh@focal, @cx, @cy      attr          float64   px      the first person's camera (same focal in x, y)
/mesh/quality/<id>@<name>  attr          float64   --      scalar fit figures of the person with track id
                                                           <id> (``MeshResult.quality``); string
                                                           figures are str attributes
/mesh/quality/<id>/<name>  (Q,)          numeric   --      array-valued fit figures, if any
=========================  ============  ========  ======  ============================================

Writers always write version 2. Version 1 files (hm before multi-person support) have the
same names without the person axis (pose (F, K, 3), betas (S,), ..., vertices (F, V, 3)),
no ``/mesh/camera`` (only the attributes) and the quality figures directly on
``/mesh/quality``; they read as one person with track id 0.

:func:`read_mesh` and :func:`open_vertices` take ``person``, a track id, with the rule of
:func:`hmcli.io.h5.read_result` (None: the only person; several: refused in one line naming
the ids); :func:`read_meshes` reads every person. Readers accept schema versions up to the
one written here and refuse newer ones (upgrade hm); a file without ``/mesh`` (e.g. an
``hm.pose3d`` file) is refused with "<path> has no fitted mesh; run hm mesh on it". Every
problem is an :class:`HMError` with a one-line message; nothing is unpickled.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    _check_results,
    _check_rows,
    _check_schema,
    _dataset,
    _Layout,
    _layout,
    _open,
    _read_pose3d,
    _write_pose3d,
)
from hmcli.io.persons import select_row

if TYPE_CHECKING:  # imported where needed, so that is_mesh_file() stays light
    from hmcli.types import MeshResult, MultiMeshResult

__all__ = ["SCHEMA_MESH", "SCHEMA_MESH_VERSION", "write_mesh", "read_mesh", "read_meshes", "is_mesh_file",
           "open_vertices", "PersonVertices"]  # fmt: skip

NUM_KEYPOINTS = 17
# Per-person datasets of /mesh (version 2: a leading person axis).
_PER_PERSON = ("pose", "betas", "transl", "joints3d", "valid", "vertices", "root_rest", "camera")


# ------------------------------------------------------------------ writing


def _check(result: MeshResult) -> dict[str, np.ndarray]:
    """Validated arrays of one person's ``result`` in their stored dtypes; ValueError on a bad result."""
    from hmcli.io.h5 import _check_joints3d

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
        a["root_rest"] = rr                                      # (3,)
    a["camera"] = np.array([result.camera.focal, result.camera.cx, result.camera.cy], np.float64)  # (3,)
    return a


def _as_multi_mesh(result: MeshResult | MultiMeshResult) -> MultiMeshResult:
    from hmcli.types import MeshResult, MultiMeshResult

    if isinstance(result, MultiMeshResult):
        return result
    if isinstance(result, MeshResult):
        return MultiMeshResult.from_single(result)
    raise TypeError(f"expected MeshResult or MultiMeshResult, got {type(result).__name__}")


def _stack(result: MultiMeshResult) -> dict[str, np.ndarray]:
    """Every person's arrays stacked on a leading person axis; ValueError when the persons do
    not share one body model (name, gender, joints, faces, shape size) or only some keep vertices."""
    per = [_check(m) for m in result.persons]
    first = result.persons[0]
    model = (str(first.body_model), str(first.gender), tuple(first.joint_names), tuple(first.parents))
    for tid, m in zip(result.track_ids.tolist(), result.persons, strict=True):
        other = (str(m.body_model), str(m.gender), tuple(m.joint_names), tuple(m.parents))
        if other != model:
            raise ValueError(f"all persons of a mesh file must share one body model: track id {tid} has "
                             f"{other[0]} ({other[1]}), track id {result.track_ids[0]} has {model[0]} ({model[1]}) "
                             "or their joints differ")  # fmt: skip
    for name in ("faces",):
        if any(not np.array_equal(a[name], per[0][name]) for a in per):
            raise ValueError("all persons of a mesh file must share the body model's faces")
    if len({a["betas"].shape for a in per}) > 1:
        raise ValueError(f"all persons must have as many shape coefficients, got {sorted({a['betas'].size for a in per})}")
    has_v = [("vertices" in a) for a in per]
    if any(has_v) and not all(has_v):
        raise ValueError("keep the vertices of every person or of none")
    if all(has_v) and len({a["vertices"].shape[1] for a in per}) > 1:
        raise ValueError("all persons must have as many mesh vertices")
    out = {name: np.stack([a[name] for a in per]) for name in ("pose", "betas", "transl", "joints3d", "valid", "camera")}
    # pose (P, F, K, 3), betas (P, S), transl (P, F, 3), joints3d (P, F, 17, 3), valid (P, F), camera (P, 3)
    out["faces"] = per[0]["faces"]                                            # (Fc, 3)
    if all(has_v):
        out["vertices"] = np.stack([a["vertices"] for a in per])              # (P, F, V, 3)
    if any("root_rest" in a for a in per):
        nan3 = np.full(3, np.nan, np.float32)
        out["root_rest"] = np.stack([a.get("root_rest", nan3) for a in per])  # (P, 3)
    return out


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


def write_mesh(path: str | os.PathLike, result: MeshResult | MultiMeshResult) -> None:
    """Write ``result`` to ``path`` (schema ``hm.mesh`` version 2, see the module docstring), atomically.

    A one-person :class:`MeshResult` is written as P = 1 with track id 0. Vertices are stored
    when every person has them. A ``root_rest`` (3,) on a person is stored in its row of
    ``/mesh/root_rest``. Inconsistent arrays, persons with different body models or lifters,
    and bad quality values raise ValueError/TypeError before anything is written.
    """
    from hmcli.types import MultiPose3DResult

    multi = _as_multi_mesh(result)
    arrays = _stack(multi)
    lift = MultiPose3DResult([m.lift for m in multi.persons], multi.track_ids)
    _check_results(lift)
    first = multi.persons[0]
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["schema"] = SCHEMA_MESH
            h5.attrs["schema_version"] = SCHEMA_MESH_VERSION
            _write_pose3d(h5, lift)
            g = h5.create_group("mesh")
            for name in ("pose", "betas", "transl", "joints3d", "valid", "root_rest", "camera"):
                if name in arrays:
                    _dataset(g, name, arrays[name], per_person=True)
            _dataset(g, "faces", arrays["faces"])
            if "vertices" in arrays:
                v = arrays["vertices"]                                        # (P, F, V, 3)
                chunks = (1, 1, v.shape[2], 3) if v.size else None
                g.create_dataset("vertices", data=v, chunks=chunks, compression="gzip" if chunks else None,
                                 compression_opts=4 if chunks else None, shuffle=bool(chunks))  # fmt: skip
            g.attrs["body_model"] = str(first.body_model)
            g.attrs["gender"] = str(first.gender)
            g.attrs.create("joint_names", np.array([str(n) for n in first.joint_names], dtype=object), dtype=_STR)
            g.attrs["parents"] = np.asarray(first.parents, np.int32).reshape(-1)
            g.attrs["focal"] = float(first.camera.focal)
            g.attrs["cx"] = float(first.camera.cx)
            g.attrs["cy"] = float(first.camera.cy)
            q = g.create_group("quality")
            for tid, m in zip(multi.track_ids.tolist(), multi.persons, strict=True):
                _write_quality(q.create_group(str(int(tid))), dict(m.quality or {}))


# ------------------------------------------------------------------ reading


def _mesh_group(h5: h5py.File, path) -> h5py.Group:
    g = h5.get("mesh")
    if not isinstance(g, h5py.Group):
        raise HMError(f"{path} has no fitted mesh; run hm mesh on it")
    return g


def _check_mesh_schema(h5: h5py.File, path) -> tuple[h5py.Group, _Layout]:
    _check_schema(h5, path, (SCHEMA_MESH, SCHEMA_POSE3D))
    g = _mesh_group(h5, path)
    lay = _layout(h5, path)
    _check_rows(g, _PER_PERSON, lay, path)
    return g, lay


def _mesh_attr(g: h5py.Group, name: str, path):
    if name not in g.attrs:
        raise HMError(f"{path} is missing attribute /mesh@{name} (corrupt or incomplete file)")
    return g.attrs[name]


def _read_quality(q: Any) -> dict:
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


def _expect(name: str, arr: np.ndarray, shape: tuple, path, lay: _Layout) -> None:
    if arr.shape != shape:
        if lay.version > 1:  # report the stored dataset's shape
            raise HMError(f"{path}: /mesh/{name} has shape {(lay.num_persons, *arr.shape)}, expected "
                          f"{(lay.num_persons, *shape)} (corrupt file)")  # fmt: skip
        raise HMError(f"{path}: /mesh/{name} has shape {arr.shape}, expected {shape} (corrupt file)")


def _read_mesh_row(h5: h5py.File, g: h5py.Group, path, lay: _Layout, row: int, load_vertices: bool) -> MeshResult:
    """Person ``row`` of the ``/mesh`` group (with its lifted part)."""
    from hmcli.types import Camera, MeshResult

    sel = lay.sel(row)
    lift = _read_pose3d(h5, path, lay, row)
    f = lift.kpts2d.num_frames
    names = tuple(_as_str(n) for n in np.atleast_1d(_mesh_attr(g, "joint_names", path)))
    parents = tuple(int(p) for p in np.atleast_1d(_mesh_attr(g, "parents", path)))
    k = len(parents)
    if len(names) != k:
        raise HMError(f"{path}: /mesh@joint_names has {len(names)} names for {k} joints (corrupt file)")
    pose = _array(g, "pose", path, np.float32, sel)                  # (F, K, 3)
    _expect("pose", pose, (f, k, 3), path, lay)
    betas = _array(g, "betas", path, np.float32, sel)                # (S,)
    if betas.ndim != 1:
        raise HMError(f"{path}: /mesh/betas has shape {g['betas'].shape}, expected "
                      f"{'(S,)' if lay.version == 1 else '(P, S)'} (corrupt file)")  # fmt: skip
    transl = _array(g, "transl", path, np.float32, sel)              # (F, 3)
    _expect("transl", transl, (f, 3), path, lay)
    joints3d = _array(g, "joints3d", path, np.float32, sel)          # (F, 17, 3)
    _expect("joints3d", joints3d, (f, NUM_KEYPOINTS, 3), path, lay)
    valid = _array(g, "valid", path, bool, sel)                      # (F,)
    _expect("valid", valid, (f,), path, lay)
    faces = _array(g, "faces", path)                                 # (Fc, 3)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype.kind not in "iu":
        raise HMError(f"{path}: /mesh/faces has shape {faces.shape}, expected (Fc, 3) integers (corrupt file)")
    vertices = None
    if load_vertices and "vertices" in g:
        vertices = _array(g, "vertices", path, np.float32, sel)      # (F, V, 3)
        if vertices.ndim != 3 or vertices.shape[0] != f or vertices.shape[2] != 3:
            raise HMError(f"{path}: /mesh/vertices has shape {g['vertices'].shape}, expected "
                          f"{'' if lay.version == 1 else '(P, '}({f}, V, 3) (corrupt file)")  # fmt: skip
        if faces.size and (faces.min() < 0 or faces.max() >= vertices.shape[1]):
            raise HMError(f"{path}: /mesh/faces refer to vertices that do not exist (corrupt file)")
    root_rest = None
    if "root_rest" in g:
        root_rest = _array(g, "root_rest", path, np.float32, sel)    # (3,)
        _expect("root_rest", root_rest, (3,), path, lay)
        if not np.isfinite(root_rest).all():
            root_rest = None
    try:
        if lay.version > 1 and "camera" in g:
            cam = _array(g, "camera", path, np.float64, sel)         # (3,) focal, cx, cy
            _expect("camera", cam, (3,), path, lay)
            camera = Camera(float(cam[0]), float(cam[1]), float(cam[2]))
        else:
            camera = Camera(float(_mesh_attr(g, "focal", path)), float(_mesh_attr(g, "cx", path)),
                            float(_mesh_attr(g, "cy", path)))  # fmt: skip
    except (TypeError, ValueError):
        raise HMError(f"{path}: /mesh camera attributes are not numbers (corrupt file)") from None
    q = g.get("quality")
    if lay.version > 1 and isinstance(q, h5py.Group):
        q = q.get(str(int(lay.track_ids[row])))
    return MeshResult(
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
        quality=_read_quality(q),
        root_rest=root_rest,
    )


def read_mesh(path: str | os.PathLike, load_vertices: bool = True, person: int | None = None) -> MeshResult:
    """One person of an ``hm.mesh`` file written by :func:`write_mesh`.

    ``person``: a track id; None takes the only person and refuses a file with several
    (HMError naming their track ids). ``load_vertices=False`` leaves ``vertices`` None even
    when the file stores them (use :func:`open_vertices` to read them frame by frame). A
    stored root rest position is set as the result's ``root_rest`` (None when absent).
    """
    with _open(path) as h5:
        g, lay = _check_mesh_schema(h5, path)
        return _read_mesh_row(h5, g, path, lay, select_row(lay.track_ids, person, path), load_vertices)


def read_meshes(path: str | os.PathLike, load_vertices: bool = True) -> MultiMeshResult:
    """Every person of an ``hm.mesh`` file, with their track ids (a version 1 file is one
    person with track id 0); ``load_vertices`` as in :func:`read_mesh`."""
    from hmcli.types import MultiMeshResult

    with _open(path) as h5:
        g, lay = _check_mesh_schema(h5, path)
        if lay.num_persons == 0:
            raise HMError(f"{path} has no persons")
        persons = [_read_mesh_row(h5, g, path, lay, p, load_vertices) for p in range(lay.num_persons)]
        return MultiMeshResult(persons, lay.track_ids)


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


class PersonVertices:
    """One person's rows of a stored ``/mesh/vertices`` (P, F, V, 3) dataset, indexed like an
    (F, V, 3) array one frame at a time: ``len(v)``, ``v.shape``, ``v[i]`` -> (V, 3) float32."""

    def __init__(self, ds: h5py.Dataset, row: int) -> None:
        self._ds = ds
        self._row = int(row)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._ds.shape[1:])

    @property
    def ndim(self) -> int:
        return 3

    @property
    def dtype(self) -> np.dtype:
        return self._ds.dtype

    def __len__(self) -> int:
        return int(self._ds.shape[1])

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, tuple):
            return self._ds[(self._row, *index)]
        return self._ds[self._row, index]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        a = self._ds[self._row]
        return a if dtype is None else a.astype(dtype)


@contextlib.contextmanager
def open_vertices(path: str | os.PathLike, person: int | None = None) -> Iterator[h5py.Dataset | PersonVertices | None]:
    """One person's stored vertices, (F, V, 3), read lazily (index per frame: ``v[i]`` ->
    (V, 3) float32): the h5py dataset itself for a version 1 file, a :class:`PersonVertices`
    view of the person's row for version 2; None when the file stores no vertices.
    ``person``: a track id, with the rule of :func:`read_mesh`."""
    with _open(path) as h5:
        g, lay = _check_mesh_schema(h5, path)
        row = select_row(lay.track_ids, person, path)
        ds = g.get("vertices")
        ndim = 3 if lay.version == 1 else 4
        if ds is not None and (not isinstance(ds, h5py.Dataset) or ds.ndim != ndim or ds.shape[-1] != 3
                               or ds.dtype.kind != "f"):  # fmt: skip
            shape = "(F, V, 3)" if lay.version == 1 else "(P, F, V, 3)"
            raise HMError(f"{path}: /mesh/vertices is not an {shape} float dataset (corrupt file)")
        if ds is None or lay.version == 1:
            yield ds
        else:
            yield PersonVertices(ds, row)
