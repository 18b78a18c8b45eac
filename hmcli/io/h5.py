"""HDF5 files written and read by hm (``hm lift -o out.h5``, ``hm detect -o kp.h5``).

Two versioned schemas, named by the file attributes ``schema`` and ``schema_version``:

``hm.pose3d`` version 2 -- lifted results of P tracked persons
(:class:`~hmcli.types.MultiPose3DResult`; a one-person :class:`~hmcli.types.Pose3DResult`
is written as P = 1 with track id 0). P = persons (may be 0), F = frames, J = joints of the
2D layout, K = 3D joints (17, H36M order), E = bones. Every per-person array has a leading
person axis; row p of each is the person with track id ``/persons/track_id[p]``.

=======================  ============  ========  ======  ================================================
name                     shape         dtype     units   meaning
=======================  ============  ========  ======  ================================================
/keypoints2d/xy          (P, F, J, 2)  float32   px      2D keypoints the lifter saw; x right, y down,
                                                         origin at the top-left image corner
/keypoints2d/conf        (P, F, J)     float32   --      confidence in [0, 1]; 0 = joint not seen
/keypoints2d/detected    (P, F)        bool      --      validity mask: person p was seen in frame f
/keypoints2d@joint_set   attr          str       --      2D layout name (``h36m17``, ``coco17``, ...)
/joints3d                (P, F, K, 3)  float32   m       3D joints, root-relative (pelvis at 0), camera
                                                         axes: x right, y down, z forward (away from
                                                         the camera); NaN where there is no estimate
/persons/track_id        (P,)          int64     --      tracker id of each row (distinct); 0 for a
                                                         one-person result
/persons/first_frame     (P,)          int32     --      first frame where the person is detected
                                                         (-1: never); convenience, not read back
/persons/last_frame      (P,)          int32     --      last frame where the person is detected (-1)
/timestamps              (F,)          float64   s       frame times from the start of the video
@schema                  attr          str       --      ``"hm.pose3d"``
@schema_version          attr          int       --      2
@num_persons             attr          int       --      P
@fps                     attr          float64   Hz      median frame rate (NaN for a single frame)
@joint_names             attr          str (K,)  --      names of the 3D joints, in order
@edges                   attr          int (E,2) --      bones of the 3D skeleton as (parent, child)
@width, @height          attr          int       px      video frame size
@model_id, @model_hash   attr          str       --      lifter that produced /joints3d (one for all
                                                         persons)
@source                  attr          str       --      input video path (absent if unknown)
@source_hash             attr          str       --      SHA-256 of the input video (absent if unknown)
@detector                attr          str       --      2D detector name
@hm_version              attr          str       --      hm version that wrote the file
/extra/<id>/<name>       any           any       --      optional named arrays of the person with track
                                                         id <id> (``Pose3DResult.extra``); nested
                                                         dicts become sub-groups
=======================  ============  ========  ======  ================================================

Arrays of at least 4096 values are gzip-compressed in chunks of one person and at most 256
frames, ``(1, min(F, 256), ...)``, so reading one person does not read the others.

``hm.mesh`` version 2 -- bodies fitted to a lifted clip (``hm mesh``): everything of
``hm.pose3d`` above plus a ``/mesh`` group; see :mod:`hmcli.io.mesh_h5`. :func:`read_result`,
:func:`read_keypoints` and :func:`read_info` accept it too (they read its lifted part).

``hm.keypoints2d`` version 2 -- 2D keypoints only (:class:`~hmcli.types.MultiKeypoints2D` or
one-person :class:`~hmcli.types.Keypoints2D`, from ``hm detect``): the same ``/keypoints2d``
group, ``/persons`` group and ``/timestamps``, and the attributes ``schema``,
``schema_version``, ``num_persons``, ``fps``, ``width``, ``height``, ``source``,
``source_hash``, ``detector``, ``hm_version``, plus ``joint_names``/``edges`` of the 2D layout
when it is a registered joint set.

Writers always write version 2 (also for one person). Version 1 files (written by hm before
multi-person support) have no person axis: ``/keypoints2d/xy`` (F, J, 2), ``conf`` (F, J),
``detected`` (F,), ``/joints3d`` (F, K, 3), ``/extra/<name>``, no ``/persons`` and no
``@num_persons``. They read as one person with track id 0, exactly as before.

Choosing a person: :func:`read_result` and :func:`read_keypoints` return one person; their
``person`` argument is a *track id* (``--person ID``). With ``person=None`` a file holding one
person returns it and any other file is refused ("<path> has 3 persons (track ids 1, 2, 5):
choose one with --person ID", or "<path> has no persons"). :func:`read_results` and
:func:`read_keypoints_multi` return every person.

Readers accept any file whose ``schema_version`` is at most the one this module writes and
refuse newer ones with an :class:`HMError` asking to upgrade hm. Every other problem (not
HDF5, not an hm file, missing or inconsistent datasets) is also an ``HMError`` with a one-line
message. Nothing is unpickled: only numeric and string datasets/attributes are read.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hmcli import __version__ as HM_VERSION
from hmcli.io.atomic import HMError, atomic_write
from hmcli.io.persons import as_multi_keypoints, as_multi_result, select_row
from hmcli.skeleton import H36M17, get_joint_set
from hmcli.types import Keypoints2D, MultiKeypoints2D, MultiPose3DResult, Pose3DResult

__all__ = [
    "SCHEMA_POSE3D",
    "SCHEMA_KEYPOINTS2D",
    "SCHEMA_MESH",
    "SCHEMA_VERSION",
    "SCHEMA_MESH_VERSION",
    "write_result",
    "read_result",
    "read_results",
    "write_keypoints",
    "read_keypoints",
    "read_keypoints_multi",
    "read_info",
]

SCHEMA_POSE3D = "hm.pose3d"
SCHEMA_KEYPOINTS2D = "hm.keypoints2d"
SCHEMA_MESH = "hm.mesh"
SCHEMA_VERSION = 2
SCHEMA_MESH_VERSION = 2  # written by hmcli.io.mesh_h5
# The newest version of each schema this hm reads.
_MAX_VERSION = {SCHEMA_POSE3D: SCHEMA_VERSION, SCHEMA_KEYPOINTS2D: SCHEMA_VERSION, SCHEMA_MESH: SCHEMA_MESH_VERSION}

# Arrays at least this big are stored chunked + gzip-compressed.
_COMPRESS_MIN = 4096
# Frames per chunk of a per-person array.
_CHUNK_FRAMES = 256
_STR = h5py.string_dtype("utf-8")


# ------------------------------------------------------------------ writing helpers


def _dataset(group: h5py.Group, name: str, data: np.ndarray, per_person: bool = False) -> h5py.Dataset:
    """Store ``data``; big arrays are gzip-compressed. ``per_person``: ``data`` is (P, F, ...)
    and each chunk holds one person and at most 256 frames."""
    data = np.asarray(data)
    if data.dtype.kind in "US":
        return group.create_dataset(name, data=data.astype(object), dtype=_STR)
    if data.dtype.kind not in "biuf":
        raise TypeError(f"cannot store {name!r} with dtype {data.dtype} in HDF5 (numeric, bool or str only)")
    if data.size >= _COMPRESS_MIN and data.ndim > 0:
        chunks: tuple | bool = True
        if per_person and data.ndim >= 2:
            chunks = (1, min(data.shape[1], _CHUNK_FRAMES), *data.shape[2:])
        return group.create_dataset(name, data=data, chunks=chunks, compression="gzip", compression_opts=4,
                                    shuffle=True)  # fmt: skip
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


def _span(detected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) detected frame of each person, -1 where never; ``detected`` (P, F)."""
    p, f = detected.shape
    if f == 0:
        none = np.full(p, -1, np.int32)
        return none, none.copy()
    any_ = detected.any(axis=1)                                               # (P,)
    first = np.where(any_, detected.argmax(axis=1), -1)                       # (P,)
    last = np.where(any_, f - 1 - detected[:, ::-1].argmax(axis=1), -1)       # (P,)
    return first.astype(np.int32), last.astype(np.int32)


def _write_kpts(h5: h5py.File, kp: MultiKeypoints2D) -> None:
    g = h5.create_group("keypoints2d")
    g.attrs["joint_set"] = str(kp.joint_set)
    detected = np.asarray(kp.detected, bool)                                  # (P, F)
    _dataset(g, "xy", np.asarray(kp.xy, np.float32), per_person=True)       # (P, F, J, 2)
    _dataset(g, "conf", np.asarray(kp.conf, np.float32), per_person=True)   # (P, F, J)
    _dataset(g, "detected", detected, per_person=True)                      # (P, F)
    _dataset(h5, "timestamps", np.asarray(kp.timestamps, np.float64))       # (F,)
    pg = h5.create_group("persons")
    _dataset(pg, "track_id", np.asarray(kp.track_ids, np.int64))            # (P,)
    first, last = _span(detected)
    _dataset(pg, "first_frame", first)                                      # (P,)
    _dataset(pg, "last_frame", last)                                        # (P,)
    a = h5.attrs
    a["num_persons"] = int(kp.num_persons)
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
    joints3d = np.asarray(result.joints3d, np.float32)  # (F, K, 3)
    f = result.kpts2d.num_frames
    if joints3d.ndim != 3 or joints3d.shape[0] != f or joints3d.shape[2] != 3:
        raise ValueError(f"joints3d must be ({f}, K, 3), got {joints3d.shape}")
    if joints3d.shape[1] != H36M17.num_joints:
        raise ValueError(f"joints3d must have {H36M17.num_joints} (H36M) joints, got {joints3d.shape[1]}")
    return joints3d


def _check_results(result: MultiPose3DResult) -> tuple[np.ndarray, str, str]:
    """(joints3d (P, F, K, 3), model_id, model_hash) of ``result``; ValueError when a person's
    arrays are inconsistent or the persons were lifted by different models."""
    joints = [_check_joints3d(r) for r in result.persons]
    models = {(str(r.model_id), str(r.model_hash)) for r in result.persons}
    if len(models) > 1:
        raise ValueError(f"all persons must be lifted by one model to share a file, got {sorted(models)}")
    model_id, model_hash = models.pop() if models else ("unknown", "")
    f = result.num_frames
    j3 = np.stack(joints) if joints else np.zeros((0, f, H36M17.num_joints, 3), np.float32)  # (P, F, K, 3)
    return j3, model_id, model_hash


def _write_pose3d(h5: h5py.File, result: MultiPose3DResult) -> None:
    """Everything of ``hm.pose3d`` except the schema attributes (shared with ``hm.mesh``)."""
    joints3d, model_id, model_hash = _check_results(result)
    _write_kpts(h5, result.kpts2d)
    _dataset(h5, "joints3d", joints3d, per_person=True)                    # (P, F, K, 3)
    _skeleton_attrs(h5, H36M17.joints, H36M17.edges)
    h5.attrs["model_id"] = model_id
    h5.attrs["model_hash"] = model_hash
    if any(r.extra for r in result.persons):
        g = h5.create_group("extra")
        for tid, r in zip(result.track_ids.tolist(), result.persons, strict=True):
            if r.extra:
                _write_extra(g.create_group(str(int(tid))), r.extra)


def write_result(path: str | os.PathLike, result: Pose3DResult | MultiPose3DResult) -> None:
    """Write ``result`` to ``path`` (schema ``hm.pose3d`` version 2), atomically.

    A one-person :class:`Pose3DResult` is written as P = 1 with track id 0; a
    :class:`MultiPose3DResult` with its track ids (P may be 0). Inconsistent arrays, or persons
    lifted by different models, raise ValueError before anything is written."""
    multi = as_multi_result(result)
    _check_results(multi)
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["schema"] = SCHEMA_POSE3D
            h5.attrs["schema_version"] = SCHEMA_VERSION
            _write_pose3d(h5, multi)


def write_keypoints(path: str | os.PathLike, kp: Keypoints2D | MultiKeypoints2D) -> None:
    """Write 2D keypoints to ``path`` (schema ``hm.keypoints2d`` version 2), atomically.

    A one-person :class:`Keypoints2D` is written as P = 1 with track id 0."""
    multi = as_multi_keypoints(kp)
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["schema"] = SCHEMA_KEYPOINTS2D
            h5.attrs["schema_version"] = SCHEMA_VERSION
            _write_kpts(h5, multi)
            try:
                js = get_joint_set(multi.joint_set)
            except ValueError:
                js = None
            if js is not None and js.num_joints == multi.xy.shape[2]:
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
    version = _version(h5, path)
    newest = _MAX_VERSION.get(schema, SCHEMA_VERSION)
    if version > newest:
        raise HMError(
            f"{path} was written by a newer hm ({schema} version {version}; this hm reads up to "
            f"version {newest}); upgrade hm to read it"
        )
    if version < 1:
        raise HMError(f"{path} has an invalid schema_version {version}")
    return schema


def _version(h5: h5py.File, path) -> int:
    try:
        return int(h5.attrs["schema_version"])
    except (KeyError, TypeError, ValueError):
        raise HMError(f"{path} has no valid 'schema_version' attribute") from None


def _array(h5: h5py.Group, name: str, path, dtype=None, sel: Any = ()) -> np.ndarray:
    """Dataset ``name`` of ``h5`` (``sel``: the part to read, e.g. one person's row)."""
    obj = h5.get(name)
    full = f"{h5.name.rstrip('/')}/{name}"
    if not isinstance(obj, h5py.Dataset):
        raise HMError(f"{path} is missing dataset {full} (corrupt or incomplete file)")
    if obj.dtype.kind not in "biuf":
        raise HMError(f"{path}: dataset {full} is not numeric (corrupt file)")
    try:
        data = obj[sel]
    except OSError as e:
        raise HMError(f"{path}: cannot read dataset {full} (corrupt file): {e}") from None
    except (ValueError, IndexError) as e:
        raise HMError(f"{path}: dataset {full} has shape {obj.shape}, not the expected layout (corrupt file): {e}") from None
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


@dataclass(frozen=True)
class _Layout:
    """Where the persons are in an open file: ``version`` 1 (no person axis, one person with
    track id 0) or 2, and ``track_ids`` (P,) in row order."""

    version: int
    track_ids: np.ndarray

    @property
    def num_persons(self) -> int:
        return int(self.track_ids.shape[0])

    def sel(self, row: int) -> Any:
        """Index of one person's row in a per-person dataset."""
        return () if self.version == 1 else row


def _layout(h5: h5py.File, path) -> _Layout:
    """The person layout of a file whose schema was checked."""
    version = _version(h5, path)
    if version == 1:
        return _Layout(1, np.zeros(1, np.int64))
    g = h5.get("persons")
    if not isinstance(g, h5py.Group):
        raise HMError(f"{path} is missing group /persons (corrupt or incomplete file)")
    ids = _array(g, "track_id", path)
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise HMError(f"{path}: /persons/track_id is not a list of integer ids (corrupt file)")
    ids = ids.astype(np.int64)  # (P,)
    if len(set(ids.tolist())) != ids.size:
        raise HMError(f"{path}: /persons/track_id holds repeated ids (corrupt file)")
    n = h5.attrs.get("num_persons", ids.size)
    if np.ndim(n) != 0 or int(n) != ids.size:
        raise HMError(f"{path}: @num_persons is {n} but /persons/track_id has {ids.size} ids (corrupt file)")
    return _Layout(version, ids)


def _kpts_group(h5: h5py.File, path) -> h5py.Group:
    g = h5.get("keypoints2d")
    if not isinstance(g, h5py.Group):
        raise HMError(f"{path} is missing group /keypoints2d (corrupt or incomplete file)")
    if "joint_set" not in g.attrs:
        raise HMError(f"{path} is missing attribute /keypoints2d@joint_set (corrupt file)")
    return g


def _check_rows(g: h5py.Group, names: tuple[str, ...], lay: _Layout, path) -> None:
    """Version 2: the per-person datasets ``names`` of ``g`` have P rows."""
    if lay.version == 1:
        return
    for name in names:
        obj = g.get(name)
        if isinstance(obj, h5py.Dataset) and (obj.ndim == 0 or obj.shape[0] != lay.num_persons):
            raise HMError(f"{path}: {obj.name} has shape {obj.shape}, expected {lay.num_persons} persons "
                          "on its first axis (corrupt file)")  # fmt: skip


def _read_kpts(h5: h5py.File, path, lay: _Layout, row: int) -> Keypoints2D:
    """Person ``row`` of the ``/keypoints2d`` group."""
    g = _kpts_group(h5, path)
    _check_rows(g, ("xy", "conf", "detected"), lay, path)
    sel = lay.sel(row)
    try:
        return Keypoints2D(
            xy=_array(g, "xy", path, np.float32, sel),               # (F, J, 2)
            conf=_array(g, "conf", path, np.float32, sel),           # (F, J)
            joint_set=_as_str(g.attrs["joint_set"]),
            timestamps=_array(h5, "timestamps", path, np.float64),   # (F,)
            width=int(_attr(h5, "width", path)),
            height=int(_attr(h5, "height", path)),
            detected=_array(g, "detected", path, bool, sel),         # (F,)
            detector=_as_str(_attr(h5, "detector", path, "unknown")),
            source=_opt_str(h5, "source"),
            source_hash=_opt_str(h5, "source_hash"),
        )
    except (ValueError, TypeError) as e:
        raise HMError(f"{path} has inconsistent 2D keypoint arrays (corrupt file): {e}") from None


def _kpts_template(h5: h5py.File, path) -> Keypoints2D:
    """Frames and metadata of a file without persons, as an all-undetected one-person view."""
    g = _kpts_group(h5, path)
    xy = g.get("xy")
    if not isinstance(xy, h5py.Dataset) or xy.ndim != 4:
        raise HMError(f"{path}: /keypoints2d/xy is not a (P, F, J, 2) dataset (corrupt file)")
    ts = _array(h5, "timestamps", path, np.float64)  # (F,)
    f, j = ts.shape[0], xy.shape[2]
    try:
        return Keypoints2D(np.zeros((f, j, 2), np.float32), np.zeros((f, j), np.float32), _as_str(g.attrs["joint_set"]),
                           ts, int(_attr(h5, "width", path)), int(_attr(h5, "height", path)), np.zeros(f, bool),
                           _as_str(_attr(h5, "detector", path, "unknown")), _opt_str(h5, "source"),
                           _opt_str(h5, "source_hash"))  # fmt: skip
    except (ValueError, TypeError) as e:
        raise HMError(f"{path} has inconsistent 2D keypoint arrays (corrupt file): {e}") from None


def _read_kpts_multi(h5: h5py.File, path, lay: _Layout) -> MultiKeypoints2D:
    persons = [_read_kpts(h5, path, lay, p) for p in range(lay.num_persons)]
    template = None if persons else _kpts_template(h5, path)
    try:
        return MultiKeypoints2D.from_persons(persons, lay.track_ids, template=template)
    except ValueError as e:
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


def _read_pose3d(h5: h5py.File, path, lay: _Layout, row: int) -> Pose3DResult:
    """Person ``row`` of the ``hm.pose3d`` part of an open file (schema already checked;
    shared with ``hm.mesh``)."""
    kp = _read_kpts(h5, path, lay, row)
    names = _attr(h5, "joint_names", path)
    if np.ndim(names) != 1:
        raise HMError(f"{path}: attribute joint_names is not a list of names (corrupt file)")
    expected = (kp.num_frames, len(names), 3)
    _check_rows(h5, ("joints3d",), lay, path)
    ds = h5.get("joints3d")
    if isinstance(ds, h5py.Dataset) and ds.shape[lay.version - 1:] != expected:
        want = expected if lay.version == 1 else (lay.num_persons, *expected)
        raise HMError(f"{path}: /joints3d has shape {ds.shape}, expected {want} (corrupt file)")
    joints3d = _array(h5, "joints3d", path, np.float32, lay.sel(row))  # (F, K, 3)
    extra_group = h5.get("extra")
    if lay.version > 1 and isinstance(extra_group, h5py.Group):
        extra_group = extra_group.get(str(int(lay.track_ids[row])))
    extra = _read_extra(extra_group) if isinstance(extra_group, h5py.Group) else {}
    return Pose3DResult(
        kpts2d=kp,
        joints3d=joints3d,
        model_id=_as_str(_attr(h5, "model_id", path, "unknown")),
        model_hash=_as_str(_attr(h5, "model_hash", path, "")),
        extra=extra,
    )


def _read_pose3d_multi(h5: h5py.File, path, lay: _Layout) -> MultiPose3DResult:
    persons = [_read_pose3d(h5, path, lay, p) for p in range(lay.num_persons)]
    template = None if persons else _kpts_template(h5, path)
    if template is not None:
        _check_rows(h5, ("joints3d",), lay, path)
    return MultiPose3DResult(persons, lay.track_ids, template)


def read_result(path: str | os.PathLike, person: int | None = None) -> Pose3DResult:
    """One person of an ``hm.pose3d`` file (or of the lifted part of an ``hm.mesh`` file).

    ``person``: a track id; None takes the only person and refuses a file with none or several
    (HMError "<path> has 3 persons (track ids 1, 2, 5): choose one with --person ID").
    Version 1 files hold one person with track id 0."""
    with _open(path) as h5:
        _check_schema(h5, path, (SCHEMA_POSE3D, SCHEMA_MESH))
        lay = _layout(h5, path)
        return _read_pose3d(h5, path, lay, select_row(lay.track_ids, person, path))


def read_results(path: str | os.PathLike) -> MultiPose3DResult:
    """Every person of an ``hm.pose3d`` (or ``hm.mesh``) file, with their track ids (P may be 0;
    a version 1 file is P = 1 with track id 0)."""
    with _open(path) as h5:
        _check_schema(h5, path, (SCHEMA_POSE3D, SCHEMA_MESH))
        return _read_pose3d_multi(h5, path, _layout(h5, path))


def read_keypoints(path: str | os.PathLike, person: int | None = None) -> Keypoints2D:
    """One person's 2D keypoints from an ``hm.keypoints2d`` file or from the 2D part of an
    ``hm.pose3d``/``hm.mesh`` file; ``person`` as in :func:`read_result`."""
    with _open(path) as h5:
        _check_schema(h5, path, (SCHEMA_KEYPOINTS2D, SCHEMA_POSE3D, SCHEMA_MESH))
        lay = _layout(h5, path)
        return _read_kpts(h5, path, lay, select_row(lay.track_ids, person, path))


def read_keypoints_multi(path: str | os.PathLike) -> MultiKeypoints2D:
    """Every person's 2D keypoints (see :func:`read_keypoints`), with their track ids."""
    with _open(path) as h5:
        _check_schema(h5, path, (SCHEMA_KEYPOINTS2D, SCHEMA_POSE3D, SCHEMA_MESH))
        return _read_kpts_multi(h5, path, _layout(h5, path))


def _quality_info(q: h5py.Group) -> dict:
    return {k: (_as_str(v) if isinstance(v, (str, bytes)) else float(v))
            for k, v in q.attrs.items() if np.ndim(v) == 0}  # fmt: skip


def read_info(path: str | os.PathLike) -> dict:
    """Schema, version, frame count, persons (``num_persons``, ``track_ids``) and the
    scalar/string file attributes (for ``hm info``)."""
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
        lay = _layout(h5, path)
        info["num_persons"] = lay.num_persons
        info["track_ids"] = lay.track_ids.tolist()
        ts = h5.get("timestamps")
        info["num_frames"] = int(ts.shape[0]) if isinstance(ts, h5py.Dataset) and ts.ndim == 1 else 0
        if "fps" in info and isinstance(info["fps"], float) and math.isnan(info["fps"]):
            info["fps"] = None
        extra = h5.get("extra")
        if isinstance(extra, h5py.Group):
            if lay.version == 1:
                info["extra"] = sorted(extra.keys())
            else:
                info["extra"] = sorted({k for g in extra.values() if isinstance(g, h5py.Group) for k in g.keys()})
        mesh = h5.get("mesh")
        if isinstance(mesh, h5py.Group):
            m: dict[str, Any] = {k: _as_str(mesh.attrs[k]) for k in ("body_model", "gender") if k in mesh.attrs}
            for name in ("pose", "betas", "faces", "vertices"):
                if isinstance(mesh.get(name), h5py.Dataset):
                    m[f"{name}_shape"] = list(mesh[name].shape)
            q = mesh.get("quality")
            if isinstance(q, h5py.Group):
                if lay.version == 1:
                    m["quality"] = _quality_info(q)
                else:
                    by_track = {k: _quality_info(g) for k, g in q.items() if isinstance(g, h5py.Group)}
                    m["quality_by_track"] = by_track
                    if lay.num_persons == 1:
                        m["quality"] = by_track.get(str(int(lay.track_ids[0])), {})
            info["mesh"] = m
        return info
