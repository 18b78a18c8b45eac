"""HDF5 files written and read by hm (``hm lift -o out.h5``, ``hm detect -o kp.h5``).

Two versioned schemas, named by the file attributes ``schema`` and ``schema_version``:

``hm.pose3d`` version 1 -- a lifted result (:class:`~hmcli.types.Pose3DResult`).
F = frames, J = joints of the 2D layout, K = 3D joints (17, H36M order), E = bones.

=======================  ==========  ========  ======  ==================================================
name                     shape       dtype     units   meaning
=======================  ==========  ========  ======  ==================================================
/keypoints2d/xy          (F, J, 2)   float32   px      2D keypoints the lifter saw; x right, y down,
                                                       origin at the top-left image corner
/keypoints2d/conf        (F, J)      float32   --      confidence in [0, 1]; 0 = joint not seen
/keypoints2d/detected    (F,)        bool      --      False where no person was found in the frame
/keypoints2d@joint_set   attr        str       --      2D layout name (``h36m17``, ``coco17``, ...)
/joints3d                (F, K, 3)   float32   m       3D joints, root-relative (pelvis at 0), camera
                                                       axes: x right, y down, z forward (away from
                                                       the camera); NaN where there is no estimate
/timestamps              (F,)        float64   s       frame times from the start of the video
@schema                  attr        str       --      ``"hm.pose3d"``
@schema_version          attr        int       --      1
@fps                     attr        float64   Hz      median frame rate (NaN for a single frame)
@joint_names             attr        str (K,)  --      names of the 3D joints, in order
@edges                   attr        int (E,2) --      bones of the 3D skeleton as (parent, child)
@width, @height          attr        int       px      video frame size
@model_id, @model_hash   attr        str       --      lifter that produced /joints3d
@source                  attr        str       --      input video path (absent if unknown)
@source_hash             attr        str       --      SHA-256 of the input video (absent if unknown)
@detector                attr        str       --      2D detector name
@hm_version              attr        str       --      hm version that wrote the file
/extra/<name>            any         any       --      optional named arrays (e.g. mesh vertices);
                                                       nested dicts become sub-groups
=======================  ==========  ========  ======  ==================================================

``hm.mesh`` version 1 -- a body model fitted to a lifted clip (``hm mesh``): everything of
``hm.pose3d`` above plus a ``/mesh`` group; see :mod:`hmcli.io.mesh_h5`. :func:`read_result`,
:func:`read_keypoints` and :func:`read_info` accept it too (they read its lifted part).

``hm.keypoints2d`` version 1 -- 2D keypoints only (:class:`~hmcli.types.Keypoints2D`, from
``hm detect``): the same ``/keypoints2d`` group and ``/timestamps``, and the attributes
``schema``, ``schema_version``, ``fps``, ``width``, ``height``, ``source``, ``source_hash``,
``detector``, ``hm_version``, plus ``joint_names``/``edges`` of the 2D layout when it is a
registered joint set.

Readers accept any file whose ``schema_version`` is at most the one this module writes and
refuse newer ones with an :class:`HMError` asking to upgrade hm. Every other problem (not
HDF5, not an hm file, missing or inconsistent datasets) is also an ``HMError`` with a one-line
message. Nothing is unpickled: only numeric and string datasets/attributes are read.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hmcli import __version__ as HM_VERSION
from hmcli.io.atomic import HMError, atomic_write
from hmcli.skeleton import H36M17, get_joint_set
from hmcli.types import Keypoints2D, Pose3DResult

__all__ = [
    "SCHEMA_POSE3D",
    "SCHEMA_KEYPOINTS2D",
    "SCHEMA_MESH",
    "SCHEMA_VERSION",
    "SCHEMA_MESH_VERSION",
    "write_result",
    "read_result",
    "write_keypoints",
    "read_keypoints",
    "read_info",
]

SCHEMA_POSE3D = "hm.pose3d"
SCHEMA_KEYPOINTS2D = "hm.keypoints2d"
SCHEMA_MESH = "hm.mesh"
SCHEMA_VERSION = 1
SCHEMA_MESH_VERSION = 1  # written by hmcli.io.mesh_h5
# The newest version of each schema this hm reads.
_MAX_VERSION = {SCHEMA_POSE3D: SCHEMA_VERSION, SCHEMA_KEYPOINTS2D: SCHEMA_VERSION, SCHEMA_MESH: SCHEMA_MESH_VERSION}

# Arrays at least this big are stored chunked + gzip-compressed.
_COMPRESS_MIN = 4096
_STR = h5py.string_dtype("utf-8")


# ------------------------------------------------------------------ writing helpers


def _dataset(group: h5py.Group, name: str, data: np.ndarray) -> h5py.Dataset:
    data = np.asarray(data)
    if data.dtype.kind in "US":
        return group.create_dataset(name, data=data.astype(object), dtype=_STR)
    if data.dtype.kind not in "biuf":
        raise TypeError(f"cannot store {name!r} with dtype {data.dtype} in HDF5 (numeric, bool or str only)")
    if data.size >= _COMPRESS_MIN and data.ndim > 0:
        return group.create_dataset(name, data=data, compression="gzip", compression_opts=4, shuffle=True)
    return group.create_dataset(name, data=data)


def _write_extra(group: h5py.Group, extra: dict) -> None:
    for key, value in extra.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise TypeError(f"extra keys must be non-empty strings without '/', got {key!r}")
        if isinstance(value, dict):
            _write_extra(group.create_group(key), value)
        elif isinstance(value, str):
            group.create_dataset(key, data=value, dtype=_STR)
        elif isinstance(value, (bool, int, float, np.generic, np.ndarray, list, tuple)):
            _dataset(group, key, np.asarray(value))
        else:
            raise TypeError(f"cannot store extra[{key!r}] of type {type(value).__name__} in HDF5")


def _set_optional(attrs: h5py.AttributeManager, name: str, value: str | None) -> None:
    if value is not None:
        attrs[name] = str(value)


def _write_kpts(h5: h5py.File, kp: Keypoints2D) -> None:
    g = h5.create_group("keypoints2d")
    g.attrs["joint_set"] = str(kp.joint_set)
    _dataset(g, "xy", np.asarray(kp.xy, np.float32))
    _dataset(g, "conf", np.asarray(kp.conf, np.float32))
    _dataset(g, "detected", np.asarray(kp.detected, bool))
    _dataset(h5, "timestamps", np.asarray(kp.timestamps, np.float64))
    a = h5.attrs
    a["fps"] = float(kp.fps)
    a["width"] = int(kp.width)
    a["height"] = int(kp.height)
    a["detector"] = str(kp.detector)
    _set_optional(a, "source", kp.source)
    _set_optional(a, "source_hash", kp.source_hash)
    a["hm_version"] = HM_VERSION


def _skeleton_attrs(h5: h5py.File, names, edges) -> None:
    h5.attrs.create("joint_names", np.array(list(names), dtype=object), dtype=_STR)
    h5.attrs["edges"] = np.asarray(edges, np.int32).reshape(-1, 2)


def _check_joints3d(result: Pose3DResult) -> np.ndarray:
    joints3d = np.asarray(result.joints3d, np.float32)
    f = result.kpts2d.num_frames
    if joints3d.ndim != 3 or joints3d.shape[0] != f or joints3d.shape[2] != 3:
        raise ValueError(f"joints3d must be ({f}, K, 3), got {joints3d.shape}")
    if joints3d.shape[1] != H36M17.num_joints:
        raise ValueError(f"joints3d must have {H36M17.num_joints} (H36M) joints, got {joints3d.shape[1]}")
    return joints3d


def _write_pose3d(h5: h5py.File, result: Pose3DResult) -> None:
    """Everything of ``hm.pose3d`` except the schema attributes (shared with ``hm.mesh``)."""
    joints3d = _check_joints3d(result)
    _write_kpts(h5, result.kpts2d)
    _dataset(h5, "joints3d", joints3d)
    _skeleton_attrs(h5, H36M17.joints, H36M17.edges)
    h5.attrs["model_id"] = str(result.model_id)
    h5.attrs["model_hash"] = str(result.model_hash)
    if result.extra:
        _write_extra(h5.create_group("extra"), result.extra)


def write_result(path: str | os.PathLike, result: Pose3DResult) -> None:
    """Write ``result`` to ``path`` (schema ``hm.pose3d``), atomically."""
    _check_joints3d(result)
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["schema"] = SCHEMA_POSE3D
            h5.attrs["schema_version"] = SCHEMA_VERSION
            _write_pose3d(h5, result)


def write_keypoints(path: str | os.PathLike, kp: Keypoints2D) -> None:
    """Write 2D keypoints to ``path`` (schema ``hm.keypoints2d``), atomically."""
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["schema"] = SCHEMA_KEYPOINTS2D
            h5.attrs["schema_version"] = SCHEMA_VERSION
            _write_kpts(h5, kp)
            try:
                js = get_joint_set(kp.joint_set)
            except ValueError:
                js = None
            if js is not None and js.num_joints == kp.xy.shape[1]:
                _skeleton_attrs(h5, js.joints, js.edges)


# ------------------------------------------------------------------ reading helpers


def _as_str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return _as_str(value.item())
    return str(value)


def _open(path: str | os.PathLike) -> h5py.File:
    p = Path(path)
    if not p.exists():
        raise HMError(f"file not found: {p}")
    if p.is_dir():
        raise HMError(f"expected an HDF5 file, got a directory: {p}")
    if p.stat().st_size == 0:
        raise HMError(f"file is empty (0 bytes): {p}")
    if not h5py.is_hdf5(p):
        raise HMError(f"not an HDF5 file: {p}")
    try:
        return h5py.File(p, "r")
    except OSError as e:
        raise HMError(f"cannot open HDF5 file {p} (corrupt or truncated?): {e}") from None


def _check_schema(h5: h5py.File, path: str | os.PathLike, accepted: tuple[str, ...]) -> str:
    if "schema" not in h5.attrs:
        raise HMError(f"{path} is an HDF5 file but not one written by hm (no 'schema' attribute)")
    schema = _as_str(h5.attrs["schema"])
    if schema not in accepted:
        if schema == SCHEMA_KEYPOINTS2D:
            raise HMError(f"{path} holds only 2D keypoints (from 'hm detect'), not a 3D result; lift it first")
        raise HMError(f"{path} has schema {schema!r}; expected {' or '.join(map(repr, accepted))}")
    try:
        version = int(h5.attrs["schema_version"])
    except (KeyError, TypeError, ValueError):
        raise HMError(f"{path} has no valid 'schema_version' attribute") from None
    newest = _MAX_VERSION.get(schema, SCHEMA_VERSION)
    if version > newest:
        raise HMError(
            f"{path} was written by a newer hm ({schema} version {version}; this hm reads up to "
            f"version {newest}); upgrade hm to read it"
        )
    if version < 1:
        raise HMError(f"{path} has an invalid schema_version {version}")
    return schema


def _array(h5: h5py.Group, name: str, path, dtype=None) -> np.ndarray:
    obj = h5.get(name)
    full = f"{h5.name.rstrip('/')}/{name}"
    if not isinstance(obj, h5py.Dataset):
        raise HMError(f"{path} is missing dataset {full} (corrupt or incomplete file)")
    if obj.dtype.kind not in "biuf":
        raise HMError(f"{path}: dataset {full} is not numeric (corrupt file)")
    try:
        data = obj[()]
    except OSError as e:
        raise HMError(f"{path}: cannot read dataset {full} (corrupt file): {e}") from None
    if dtype is None:
        return np.asarray(data)
    with np.errstate(over="ignore", invalid="ignore"):  # float64 beyond float32's range -> inf, no warning line
        return np.asarray(data, dtype=dtype)


def _attr(h5: h5py.File, name: str, path, default: Any = ...) -> Any:
    if name not in h5.attrs:
        if default is ...:
            raise HMError(f"{path} is missing attribute {name!r} (corrupt or incomplete file)")
        return default
    return h5.attrs[name]


def _opt_str(h5: h5py.File, name: str) -> str | None:
    return _as_str(h5.attrs[name]) if name in h5.attrs else None


def _read_kpts(h5: h5py.File, path) -> Keypoints2D:
    g = h5.get("keypoints2d")
    if not isinstance(g, h5py.Group):
        raise HMError(f"{path} is missing group /keypoints2d (corrupt or incomplete file)")
    if "joint_set" not in g.attrs:
        raise HMError(f"{path} is missing attribute /keypoints2d@joint_set (corrupt file)")
    try:
        return Keypoints2D(
            xy=_array(g, "xy", path, np.float32),
            conf=_array(g, "conf", path, np.float32),
            joint_set=_as_str(g.attrs["joint_set"]),
            timestamps=_array(h5, "timestamps", path, np.float64),
            width=int(_attr(h5, "width", path)),
            height=int(_attr(h5, "height", path)),
            detected=_array(g, "detected", path, bool),
            detector=_as_str(_attr(h5, "detector", path, "unknown")),
            source=_opt_str(h5, "source"),
            source_hash=_opt_str(h5, "source_hash"),
        )
    except (ValueError, TypeError) as e:
        raise HMError(f"{path} has inconsistent 2D keypoint arrays (corrupt file): {e}") from None


def _read_extra(group: h5py.Group) -> dict:
    out: dict = {}
    for key, obj in group.items():
        if isinstance(obj, h5py.Group):
            out[key] = _read_extra(obj)
        elif isinstance(obj, h5py.Dataset):
            if obj.dtype.kind in "biuf":
                value = obj[()]
                out[key] = value.item() if isinstance(value, np.generic) else np.asarray(value)
            elif h5py.check_string_dtype(obj.dtype) is not None:
                value = obj.asstr()[()]
                out[key] = value if isinstance(value, str) else np.asarray(value, dtype=str)
            # other types (compound, opaque, references) are skipped, never deserialised
    return out


def read_result(path: str | os.PathLike) -> Pose3DResult:
    """Read an ``hm.pose3d`` file written by :func:`write_result` (or the lifted part of an ``hm.mesh`` file)."""
    with _open(path) as h5:
        _check_schema(h5, path, (SCHEMA_POSE3D, SCHEMA_MESH))
        return _read_pose3d(h5, path)


def _read_pose3d(h5: h5py.File, path) -> Pose3DResult:
    """The ``hm.pose3d`` part of an open file (schema already checked; shared with ``hm.mesh``)."""
    kp = _read_kpts(h5, path)
    joints3d = _array(h5, "joints3d", path, np.float32)
    names = _attr(h5, "joint_names", path)
    if np.ndim(names) != 1:
        raise HMError(f"{path}: attribute joint_names is not a list of names (corrupt file)")
    if joints3d.shape != (kp.num_frames, len(names), 3):
        raise HMError(
            f"{path}: /joints3d has shape {joints3d.shape}, expected "
            f"({kp.num_frames}, {len(names)}, 3) (corrupt file)"
        )
    extra_group = h5.get("extra")
    extra = _read_extra(extra_group) if isinstance(extra_group, h5py.Group) else {}
    return Pose3DResult(
        kpts2d=kp,
        joints3d=joints3d,
        model_id=_as_str(_attr(h5, "model_id", path, "unknown")),
        model_hash=_as_str(_attr(h5, "model_hash", path, "")),
        extra=extra,
    )


def read_keypoints(path: str | os.PathLike) -> Keypoints2D:
    """Read 2D keypoints from an ``hm.keypoints2d`` file or from the 2D part of an ``hm.pose3d``/``hm.mesh`` file."""
    with _open(path) as h5:
        _check_schema(h5, path, (SCHEMA_KEYPOINTS2D, SCHEMA_POSE3D, SCHEMA_MESH))
        return _read_kpts(h5, path)


def read_info(path: str | os.PathLike) -> dict:
    """Schema, version, frame count and the scalar/string file attributes (for ``hm info``)."""
    with _open(path) as h5:
        schema = _check_schema(h5, path, (SCHEMA_POSE3D, SCHEMA_KEYPOINTS2D, SCHEMA_MESH))
        info: dict[str, Any] = {"schema": schema, "schema_version": int(h5.attrs["schema_version"])}
        for key, value in h5.attrs.items():
            if key in info:
                continue
            if isinstance(value, (str, bytes)):
                info[key] = _as_str(value)
            elif isinstance(value, np.ndarray):
                info[key] = [_as_str(v) for v in value] if value.dtype.kind in "OSU" else value.tolist()
            elif isinstance(value, (np.integer, int)):
                info[key] = int(value)
            elif isinstance(value, (np.floating, float)):
                info[key] = float(value)
        ts = h5.get("timestamps")
        info["num_frames"] = int(ts.shape[0]) if isinstance(ts, h5py.Dataset) and ts.ndim == 1 else 0
        if "fps" in info and isinstance(info["fps"], float) and math.isnan(info["fps"]):
            info["fps"] = None
        if isinstance(h5.get("extra"), h5py.Group):
            info["extra"] = sorted(h5["extra"].keys())
        mesh = h5.get("mesh")
        if isinstance(mesh, h5py.Group):
            m: dict[str, Any] = {k: _as_str(mesh.attrs[k]) for k in ("body_model", "gender") if k in mesh.attrs}
            for name in ("pose", "betas", "faces", "vertices"):
                if isinstance(mesh.get(name), h5py.Dataset):
                    m[f"{name}_shape"] = list(mesh[name].shape)
            q = mesh.get("quality")
            if isinstance(q, h5py.Group):
                m["quality"] = {k: (_as_str(v) if isinstance(v, (str, bytes)) else float(v))
                                for k, v in q.attrs.items() if np.ndim(v) == 0}  # fmt: skip
            info["mesh"] = m
        return info
