"""JSON output (``hm lift --json``): the content of the HDF5 ``hm.pose3d`` schema as text.

One document per result::

    {
      "schema": "hm.pose3d", "schema_version": 1, "hm_version": "0.1.0",
      "fps": 25.0, "width": 640, "height": 480,
      "joint_set": "h36m17",            # layout of kpts2d
      "joint_names": [...17 names...],  # layout of joints3d
      "edges": [[parent, child], ...],  # bones of joints3d
      "units": {...}, "axes": "...",    # human-readable reminders (see below)
      "model_id": ..., "model_hash": ..., "detector": ...,
      "source": ... | null, "source_hash": ... | null,
      "frames": [
        {"index": 0, "t": 0.0, "detected": true,
         "kpts2d": [[x, y, conf], ...],     # pixels, x right / y down
         "joints3d": [[x, y, z], ...]},     # metres, root-relative camera axes
        ...
      ],
      "extra": {"name": nested lists, ...}   # only when the result has extra arrays
    }

Values are rounded: pixels to 0.01 px, metres to 0.1 mm (4 decimals), confidences to 4
decimals, times to 1 microsecond. NaN/inf are never written: they become ``null`` (and
read back as NaN). The file has one frame per line, so it stays diff- and grep-friendly.

Streaming output (``--json -o -``) is JSON lines: :func:`header_record` once, then one
:func:`frame_record` per frame, each serialised with :func:`dumps_record`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import numpy as np

from hmcli import __version__ as HM_VERSION
from hmcli.io.atomic import HMError, atomic_write
from hmcli.skeleton import H36M17
from hmcli.types import Keypoints2D, Pose3DResult

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "frame_record",
    "header_record",
    "dumps_record",
    "result_to_dict",
    "write_result_json",
    "read_result_json",
    "result_records",
    "result_from_records",
]

SCHEMA = "hm.pose3d"
SCHEMA_VERSION = 1

PX_DECIMALS = 2
M_DECIMALS = 4
CONF_DECIMALS = 4
T_DECIMALS = 6

UNITS = {"kpts2d": "px (x, y) + confidence in [0, 1]", "joints3d": "m", "t": "s"}
AXES = "joints3d: root-relative (pelvis at 0), camera axes x right, y down, z forward"


def _rounded(a: Any, decimals: int) -> Any:
    """Nested lists of floats rounded to ``decimals``; non-finite values become None."""
    arr = np.asarray(a, dtype=np.float64)
    finite = np.isfinite(arr)
    if finite.all():
        return np.round(arr, decimals).tolist()
    obj = np.round(np.where(finite, arr, 0.0), decimals).astype(object)
    obj[~finite] = None
    return obj.tolist()


def _num(x: Any, decimals: int | None = None) -> float | None:
    x = float(x)
    if not math.isfinite(x):
        return None
    return round(x, decimals) if decimals is not None else x


def frame_record(
    index: int,
    t: float,
    detected: bool,
    xy: np.ndarray | None = None,
    conf: np.ndarray | None = None,
    joints3d: np.ndarray | None = None,
) -> dict:
    """The per-frame dict of the JSON output (also one JSON-lines record when streaming).

    ``xy`` (J, 2) pixels and ``conf`` (J,) give ``kpts2d`` [[x, y, c], ...]; ``joints3d``
    (K, 3) metres gives ``joints3d``. Keys whose input is None are left out.
    """
    rec: dict[str, Any] = {"index": int(index), "t": _num(t, T_DECIMALS), "detected": bool(detected)}
    if xy is not None:
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        c = np.ones(len(xy)) if conf is None else np.asarray(conf, np.float64).reshape(-1)
        if c.shape[0] != xy.shape[0]:
            raise ValueError(f"conf has {c.shape[0]} joints, xy has {xy.shape[0]}")
        pts = _rounded(xy, PX_DECIMALS)
        cs = _rounded(c, CONF_DECIMALS)
        rec["kpts2d"] = [[p[0], p[1], ci] for p, ci in zip(pts, cs)]
    if joints3d is not None:
        rec["joints3d"] = _rounded(np.asarray(joints3d, np.float64).reshape(-1, 3), M_DECIMALS)
    return rec


def header_record(
    *,
    fps: float,
    width: int,
    height: int,
    joint_set: str,
    model_id: str | None = None,
    model_hash: str | None = None,
    detector: str | None = None,
    source: str | None = None,
    source_hash: str | None = None,
) -> dict:
    """Everything of the JSON document except ``frames`` and ``extra`` (first JSON-lines record)."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "hm_version": HM_VERSION,
        "fps": _num(fps),
        "width": int(width),
        "height": int(height),
        "joint_set": str(joint_set),
        "joint_names": list(H36M17.joints),
        "edges": [list(e) for e in H36M17.edges],
        "units": dict(UNITS),
        "axes": AXES,
        "model_id": model_id,
        "model_hash": model_hash,
        "detector": detector,
        "source": source,
        "source_hash": source_hash,
    }


def dumps_record(record: dict) -> str:
    """One compact line of JSON (no trailing newline); refuses NaN rather than writing it."""
    return json.dumps(record, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return value
    arr = np.asarray(value)
    if arr.dtype.kind == "b":
        return arr.tolist()
    if arr.dtype.kind in "iu":
        return arr.tolist()
    if arr.dtype.kind == "f":
        return _rounded(arr, 9) if arr.ndim else _num(arr, 9)
    if arr.dtype.kind in "US":
        return arr.astype(str).tolist()
    raise TypeError(f"cannot write extra value of type {type(value).__name__} as JSON")


def result_to_dict(result: Pose3DResult) -> dict:
    """The JSON document of ``result`` as a dict (see the module docstring)."""
    kp = result.kpts2d
    j3 = np.asarray(result.joints3d)
    if j3.shape != (kp.num_frames, H36M17.num_joints, 3):
        raise ValueError(f"joints3d must be ({kp.num_frames}, {H36M17.num_joints}, 3), got {j3.shape}")
    doc = header_record(
        fps=kp.fps,
        width=kp.width,
        height=kp.height,
        joint_set=kp.joint_set,
        model_id=result.model_id,
        model_hash=result.model_hash,
        detector=kp.detector,
        source=kp.source,
        source_hash=kp.source_hash,
    )
    doc["frames"] = [
        frame_record(i, kp.timestamps[i], kp.detected[i], kp.xy[i], kp.conf[i], j3[i]) for i in range(kp.num_frames)
    ]
    if result.extra:
        doc["extra"] = _jsonable(result.extra)
    return doc


def write_result_json(path: str | os.PathLike, result: Pose3DResult) -> None:
    """Write ``result`` as one JSON document (one frame per line), atomically."""
    doc = result_to_dict(result)
    frames = doc.pop("frames")
    try:
        head = json.dumps(doc, allow_nan=False, ensure_ascii=False)
    except ValueError:  # e.g. an fps of inf read from a damaged file
        raise HMError(f"cannot write {path} as JSON: the result's header holds NaN or infinite values") from None
    parts = [head[:-1], ', "frames": [\n']
    parts.append(",\n".join(dumps_record(fr) for fr in frames))
    parts.append("\n]}\n")
    with atomic_write(path, "w") as f:
        f.write("".join(parts))


# ------------------------------------------------------------------ reading


def _floats(rows: Any, width: int) -> np.ndarray:
    """List of rows of numbers or nulls -> float array (null -> NaN)."""
    arr = np.array(rows, dtype=object)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"expected rows of {width} numbers, got shape {arr.shape}")
    arr[arr == None] = np.nan  # noqa: E711 (elementwise comparison on an object array)
    return arr.astype(np.float64)


def _from_json_extra(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _from_json_extra(v) for k, v in value.items()}
    if isinstance(value, list):
        try:
            arr = np.array(value)
        except ValueError:  # ragged
            return value
        if arr.dtype == object:
            try:
                return _floats_nd(value)
            except (TypeError, ValueError):
                return value
        return arr
    return value


def _floats_nd(value: list) -> np.ndarray:
    arr = np.array(value, dtype=object)
    arr[arr == None] = np.nan  # noqa: E711
    return arr.astype(np.float64)


def _opt_str(value, key: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"'{key}' is not a string")
    return value


def read_result_json(path: str | os.PathLike) -> Pose3DResult:
    """Read a document written by :func:`write_result_json`. Raises HMError on anything else."""
    p = Path(path)
    try:
        with open(p, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise HMError(f"file not found: {p}") from None
    except IsADirectoryError:
        raise HMError(f"expected a JSON file, got a directory: {p}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HMError(f"{p} is not valid JSON ({e})") from None
    if not isinstance(doc, dict) or "schema" not in doc:
        raise HMError(f"{p} is not an hm result JSON file (no 'schema' key)")
    if doc["schema"] != SCHEMA:
        raise HMError(f"{p} has schema {doc['schema']!r}; expected {SCHEMA!r}")
    version = doc.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise HMError(f"{p} has no valid 'schema_version'")
    if version > SCHEMA_VERSION:
        raise HMError(
            f"{p} was written by a newer hm ({SCHEMA} version {version}; this hm reads up to "
            f"version {SCHEMA_VERSION}); upgrade hm to read it"
        )
    try:
        frames = doc["frames"]
        n3 = len(doc["joint_names"])
        f = len(frames)
        if f == 0:
            raise ValueError("no frames")
        kpts = [_floats(fr["kpts2d"], 3) for fr in frames]
        nj = {k.shape[0] for k in kpts}
        if len(nj) != 1:
            raise ValueError("frames have different numbers of 2D joints")
        k2 = np.stack(kpts)
        j3 = np.stack([_floats(fr["joints3d"], 3) for fr in frames])
        if j3.shape[1] != n3:
            raise ValueError(f"joints3d has {j3.shape[1]} joints, joint_names has {n3}")
        kp = Keypoints2D(
            xy=k2[..., :2].astype(np.float32),
            conf=np.nan_to_num(k2[..., 2], nan=0.0).astype(np.float32),
            joint_set=str(doc["joint_set"]),
            timestamps=np.array([np.nan if fr["t"] is None else fr["t"] for fr in frames], np.float64),
            width=int(doc["width"]),
            height=int(doc["height"]),
            detected=np.array([bool(fr["detected"]) for fr in frames]),
            detector=str(doc.get("detector") or "unknown"),
            source=_opt_str(doc.get("source"), "source"),
            source_hash=_opt_str(doc.get("source_hash"), "source_hash"),
        )
        return Pose3DResult(
            kpts2d=kp,
            joints3d=j3.astype(np.float32),
            model_id=str(doc.get("model_id") or "unknown"),
            model_hash=str(doc.get("model_hash") or ""),
            extra=_from_json_extra(doc.get("extra") or {}),
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as e:  # OverflowError: int(inf)
        what = f"missing key {e}" if isinstance(e, KeyError) else str(e)
        raise HMError(f"{p} is not a valid hm result JSON file ({what})") from None


def result_records(result: Pose3DResult) -> Iterator[dict]:
    """JSON-lines records of a result: :func:`header_record`, then one :func:`frame_record` per frame."""
    kp = result.kpts2d
    yield header_record(fps=kp.fps, width=kp.width, height=kp.height, joint_set=kp.joint_set,
                        model_id=result.model_id, model_hash=result.model_hash, detector=kp.detector,
                        source=kp.source, source_hash=kp.source_hash)  # fmt: skip
    for i in range(kp.num_frames):
        yield frame_record(i, kp.timestamps[i], kp.detected[i], kp.xy[i], kp.conf[i], result.joints3d[i])


def result_from_records(header: dict, records: list[dict]) -> Pose3DResult:
    """Rebuild a Pose3DResult from streamed records (header + frames)."""
    if not records:
        raise HMError("no frames were captured")

    def arr(rows):
        a = np.array(rows, dtype=object)
        a[a == None] = np.nan  # noqa: E711
        return a.astype(np.float64)

    k2 = np.stack([arr(r["kpts2d"]) for r in records])  # (F, J, 3)
    j3 = np.stack([arr(r["joints3d"]) for r in records]).astype(np.float32)  # (F, 17, 3)
    kp = Keypoints2D(
        xy=k2[..., :2].astype(np.float32),
        conf=np.nan_to_num(k2[..., 2]).astype(np.float32),
        joint_set=header["joint_set"],
        timestamps=np.array([r["t"] if r["t"] is not None else np.nan for r in records], np.float64),
        width=int(header["width"]),
        height=int(header["height"]),
        detected=np.array([r["detected"] for r in records], bool),
        detector=header.get("detector") or "unknown",
        source=header.get("source"),
        source_hash=header.get("source_hash"),
    )
    return Pose3DResult(kpts2d=kp, joints3d=j3, model_id=header.get("model_id") or "unknown",
                        model_hash=header.get("model_hash") or "")  # fmt: skip
