"""JSON output (``hm lift -o out.json``, ``--json``): the content of the HDF5 ``hm.pose3d``
schema as text, with a person axis (schema version 2).

One document per result::

    {
      "schema": "hm.pose3d", "schema_version": 2, "hm_version": "0.1.0",
      "fps": 25.0, "width": 640, "height": 480,
      "joint_set": "h36m17",            # layout of kpts2d
      "joint_names": [...17 names...],  # layout of joints3d
      "edges": [[parent, child], ...],  # bones of joints3d
      "units": {...}, "axes": "...",    # human-readable reminders (see below)
      "model_id": ..., "model_hash": ..., "detector": ...,
      "source": ... | null, "source_hash": ... | null,
      "num_frames": F, "num_joints": J, "num_persons": P,
      "timestamps": [t0, t1, ...],      # (F,) seconds, every frame, with or without persons
      "persons": [
        {"track_id": 3,                 # tracker id (0 for a one-person result)
         "extra": {"name": nested lists, ...},   # only when that person has extra arrays
         "frames": [
          {"index": 0, "t": 0.0, "detected": true,
           "kpts2d": [[x, y, conf], ...],     # pixels, x right / y down
           "joints3d": [[x, y, z], ...]},     # metres, root-relative camera axes
          ...
        ]},
        ...
      ]
    }

Each person lists only its frames: those where it is detected, and those where it has a 3D
estimate without a detection (the lifter fills short gaps; such a frame has ``"detected":
false``). Frames a person does not list read back as not detected, confidence 0, position 0
and 3D joints NaN. Persons come in row order of the result (``track_ids``); P may be 0.

Streaming output (``-o -``, ``--jsonl``) is JSON lines: :func:`header_record` once (the
document's keys before ``num_frames``), then, frame by frame, one :func:`frame_record` per
person listed in that frame, with its ``"track_id"``; a frame that lists nobody is one
:func:`empty_frame_record` ``{"index", "t", "persons": 0}`` so that time advances.
:func:`result_records` yields the records of a whole result.

Version 1 (hm before multi-person support) had no ``persons``, ``num_frames`` or
``timestamps`` keys but a top-level ``"frames"`` list with every frame, and JSON-lines
records without ``track_id``: readers take it as one person with track id 0. Records without
``track_id`` in a version 2 stream also belong to track id 0.

Values are rounded: pixels to 0.01 px, metres to 0.1 mm (4 decimals), confidences to 4
decimals, times to 1 microsecond. NaN/inf are never written: they become ``null`` (and
read back as NaN). The file has one frame record per line, so it stays diff- and
grep-friendly.

Choosing a person: :func:`read_result_json` and :func:`result_from_records` return one
person (``person``: a track id; None: the only one, refusing files with none or several, as
:func:`hmcli.io.h5.read_result`); :func:`read_results_json` and :func:`results_from_records`
return every person. The 2D-only counterpart (schema ``hm.keypoints2d``) is
:mod:`hmcli.io.keypoints.hm_json`, written and read with the same code.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hmcli import __version__ as HM_VERSION
from hmcli.io.atomic import HMError, atomic_write
from hmcli.io.persons import as_multi_result, select_row
from hmcli.skeleton import H36M17
from hmcli.types import MultiKeypoints2D, MultiPose3DResult, Pose3DResult

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "frame_record",
    "empty_frame_record",
    "header_record",
    "dumps_record",
    "result_to_dict",
    "write_result_json",
    "read_result_json",
    "read_results_json",
    "result_records",
    "result_from_records",
    "results_from_records",
]

SCHEMA = "hm.pose3d"
SCHEMA_VERSION = 2

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
    *,
    track_id: int | None = None,
) -> dict:
    """One person's record of one frame: an entry of a person's ``frames`` in the JSON
    document, or (with ``track_id``) one JSON-lines record when streaming.

    ``xy`` (J, 2) pixels and ``conf`` (J,) give ``kpts2d`` [[x, y, c], ...]; ``joints3d``
    (K, 3) metres gives ``joints3d``. Keys whose input is None are left out; ``track_id``
    comes right after ``t`` when given.
    """
    rec: dict[str, Any] = {"index": int(index), "t": _num(t, T_DECIMALS)}
    if track_id is not None:
        rec["track_id"] = int(track_id)
    rec["detected"] = bool(detected)
    if xy is not None:
        xy = np.asarray(xy, np.float64).reshape(-1, 2)                         # (J, 2)
        c = np.ones(len(xy)) if conf is None else np.asarray(conf, np.float64).reshape(-1)  # (J,)
        if c.shape[0] != xy.shape[0]:
            raise ValueError(f"conf has {c.shape[0]} joints, xy has {xy.shape[0]}")
        pts = _rounded(xy, PX_DECIMALS)
        cs = _rounded(c, CONF_DECIMALS)
        rec["kpts2d"] = [[p[0], p[1], ci] for p, ci in zip(pts, cs)]
    if joints3d is not None:
        rec["joints3d"] = _rounded(np.asarray(joints3d, np.float64).reshape(-1, 3), M_DECIMALS)  # (K, 3)
    return rec


def empty_frame_record(index: int, t: float) -> dict:
    """The JSON-lines record of a frame where nobody is listed: ``{"index", "t", "persons": 0}``."""
    return {"index": int(index), "t": _num(t, T_DECIMALS), "persons": 0}


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


# ------------------------------------------------------------------ writing (shared with hm_json)


def listed_frames(detected: np.ndarray, joints3d: np.ndarray | None = None) -> np.ndarray:
    """(P, F) bool: the frames each person lists in JSON output: detected ones and, with
    ``joints3d`` (P, F, K, 3), those with any finite 3D joint."""
    listed = np.asarray(detected, bool).copy()                               # (P, F)
    if joints3d is not None and joints3d.size:
        listed |= np.isfinite(np.asarray(joints3d)).any(axis=(2, 3))
    return listed


def _person_records(kp: MultiKeypoints2D, p: int, listed: np.ndarray, joints3d: np.ndarray | None,
                    track_id: int | None = None) -> list[dict]:  # fmt: skip
    """Frame records of row ``p`` at its listed frames; ``listed`` (P, F), ``joints3d`` (P, F, K, 3)."""
    return [frame_record(f, kp.timestamps[f], bool(kp.detected[p, f]), kp.xy[p, f], kp.conf[p, f],
                         None if joints3d is None else joints3d[p, f], track_id=track_id)
            for f in np.flatnonzero(listed[p]).tolist()]  # fmt: skip


def stream_records(head: dict, kp: MultiKeypoints2D, joints3d: np.ndarray | None = None) -> Iterator[dict]:
    """JSON-lines records: ``head``, then for each frame one record per listed person (row order,
    with ``track_id``) or one :func:`empty_frame_record`. ``joints3d``: (P, F, K, 3) or None."""
    yield head
    listed = listed_frames(kp.detected, joints3d)                             # (P, F)
    ids = kp.track_ids.tolist()
    for f in range(kp.num_frames):
        rows = np.flatnonzero(listed[:, f]).tolist()
        if not rows:
            yield empty_frame_record(f, kp.timestamps[f])
        for p in rows:
            yield frame_record(f, kp.timestamps[f], bool(kp.detected[p, f]), kp.xy[p, f], kp.conf[p, f],
                               None if joints3d is None else joints3d[p, f], track_id=ids[p])  # fmt: skip


def document_dict(head: dict, kp: MultiKeypoints2D, joints3d: np.ndarray | None = None,
                  extras: Sequence[dict] | None = None) -> dict:  # fmt: skip
    """The version 2 document: ``head``, ``num_frames``, ``num_joints``, ``num_persons``, ``timestamps`` and
    ``persons`` (each with ``track_id``, ``extra`` if any, and its listed ``frames``)."""
    doc = dict(head)
    doc["num_frames"] = int(kp.num_frames)
    doc["num_joints"] = int(kp.xy.shape[2])
    doc["num_persons"] = int(kp.num_persons)
    doc["timestamps"] = _rounded(kp.timestamps, T_DECIMALS)
    listed = listed_frames(kp.detected, joints3d)                             # (P, F)
    persons = []
    for p, tid in enumerate(kp.track_ids.tolist()):
        person: dict[str, Any] = {"track_id": int(tid)}
        if extras is not None and extras[p]:
            person["extra"] = _jsonable(extras[p])
        person["frames"] = _person_records(kp, p, listed, joints3d)
        persons.append(person)
    doc["persons"] = persons
    return doc


def document_text(doc: dict, path: str | os.PathLike) -> str:
    """``doc`` (from :func:`document_dict`) as text with one frame record per line."""
    rest = {k: v for k, v in doc.items() if k != "persons"}
    try:
        head = json.dumps(rest, allow_nan=False, ensure_ascii=False)
        parts = [head[:-1] + (', "persons": [' if rest else '"persons": [')]
        blocks = []
        for person in doc["persons"]:
            top = {k: v for k, v in person.items() if k != "frames"}
            open_ = json.dumps(top, allow_nan=False, ensure_ascii=False)[:-1] + ', "frames": ['
            frames = ",\n".join(dumps_record(fr) for fr in person["frames"])
            blocks.append(open_ + ("\n" + frames + "\n" if frames else "") + "]}")
    except ValueError:  # e.g. an fps of inf read from a damaged file
        raise HMError(f"cannot write {path} as JSON: the header holds NaN or infinite values") from None
    parts.append(("\n" + ",\n".join(blocks) + "\n") if blocks else "")
    parts.append("]}\n")
    return "".join(parts)


def _result_arrays(result: MultiPose3DResult) -> tuple[MultiKeypoints2D, np.ndarray, str | None, str | None]:
    """(2D keypoints, joints3d (P, F, 17, 3), model_id, model_hash); ValueError on bad shapes."""
    kp = result.kpts2d
    for r in result.persons:
        j3 = np.asarray(r.joints3d)
        if j3.shape != (kp.num_frames, H36M17.num_joints, 3):
            raise ValueError(f"joints3d must be ({kp.num_frames}, {H36M17.num_joints}, 3), got {j3.shape}")
    models = {(r.model_id, r.model_hash) for r in result.persons}
    if len(models) > 1:
        raise ValueError(f"all persons must be lifted by one model to share a file, got {sorted(models, key=str)}")
    model_id, model_hash = models.pop() if models else (None, None)
    return kp, np.asarray(result.joints3d, np.float64), model_id, model_hash


def _result_head(kp: MultiKeypoints2D, model_id: str | None, model_hash: str | None) -> dict:
    return header_record(fps=kp.fps, width=kp.width, height=kp.height, joint_set=kp.joint_set, model_id=model_id,
                         model_hash=model_hash, detector=kp.detector, source=kp.source,
                         source_hash=kp.source_hash)  # fmt: skip


def result_to_dict(result: Pose3DResult | MultiPose3DResult) -> dict:
    """The JSON document of ``result`` as a dict (see the module docstring); a one-person
    ``Pose3DResult`` is P = 1 with track id 0."""
    multi = as_multi_result(result)
    kp, j3, model_id, model_hash = _result_arrays(multi)
    return document_dict(_result_head(kp, model_id, model_hash), kp, j3, [r.extra for r in multi.persons])


def write_result_json(path: str | os.PathLike, result: Pose3DResult | MultiPose3DResult) -> None:
    """Write ``result`` as one JSON document (one frame record per line), atomically."""
    text = document_text(result_to_dict(result), path)
    with atomic_write(path, "w") as f:
        f.write(text)


def result_records(result: Pose3DResult | MultiPose3DResult) -> Iterator[dict]:
    """JSON-lines records of a result: :func:`header_record`, then per frame one
    :func:`frame_record` (with ``track_id``) per listed person or one :func:`empty_frame_record`."""
    multi = as_multi_result(result)
    kp, j3, model_id, model_hash = _result_arrays(multi)
    yield from stream_records(_result_head(kp, model_id, model_hash), kp, j3)


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


@dataclass
class PersonTable:
    """What a JSON document or JSON-lines stream holds, as arrays (shared with hm_json).

    xy (P, F, J, 2) float64 (NaN where the file has null), conf (P, F, J) (NaN for null),
    detected (P, F), joints3d (P, F, K, 3) NaN where not listed (None when no record has 3D
    joints), timestamps (F,) (NaN where unknown), track_ids (P,), extras: P dicts."""

    head: dict
    xy: np.ndarray
    conf: np.ndarray
    detected: np.ndarray
    joints3d: np.ndarray | None
    timestamps: np.ndarray
    track_ids: np.ndarray
    extras: list[dict]


def _rows3(rows: Any) -> np.ndarray:
    """[[a, b, c], ...] with nulls -> (N, 3) float64 (null -> NaN)."""
    return _floats(rows, 3)


def _t(value: Any) -> float:
    return math.nan if value is None else float(value)


def _table(head: dict, times: np.ndarray, order: list[int], entries: list[tuple[int, int, dict]],
           extras: dict[int, dict] | None = None) -> PersonTable:  # fmt: skip
    """Arrays from ``entries`` [(track id, row, frame record)]; ``order``: track ids in row order."""
    f = times.shape[0]
    if f == 0:
        raise ValueError("no frames")
    row_of = {tid: p for p, tid in enumerate(order)}
    p_n = len(order)
    j = k = None
    seen: set[tuple[int, int]] = set()
    parsed = []
    for tid, fi, rec in entries:
        if (tid, fi) in seen:
            raise ValueError(f"frame {fi} lists track id {tid} twice")
        seen.add((tid, fi))
        k2 = _rows3(rec["kpts2d"]) if "kpts2d" in rec else None               # (J, 3)
        j3 = _rows3(rec["joints3d"]) if rec.get("joints3d") is not None else None  # (K, 3)
        if k2 is not None:
            if j is None:
                j = k2.shape[0]
            elif k2.shape[0] != j:
                raise ValueError("frames have different numbers of 2D joints")
        if j3 is not None:
            if k is None:
                k = j3.shape[0]
            elif j3.shape[0] != k:
                raise ValueError("frames have different numbers of 3D joints")
        parsed.append((row_of[tid], fi, bool(rec.get("detected", True)), k2, j3))
    if j is None:  # nobody is listed anywhere: the document's joint count, else the joint set's
        j = _joint_count(head)
        if p_n and not j:
            raise ValueError("no frame record has 2D keypoints ('kpts2d') and the joint count is not known")
    xy = np.zeros((p_n, f, j, 2))                                             # (P, F, J, 2)
    conf = np.zeros((p_n, f, j))                                              # (P, F, J)
    det = np.zeros((p_n, f), bool)                                            # (P, F)
    j3a = None if k is None else np.full((p_n, f, k, 3), np.nan)              # (P, F, K, 3)
    for p, fi, d, k2, j3 in parsed:
        if k2 is None:
            raise ValueError(f"frame {fi} of track id {order[p]} has no 'kpts2d'")
        xy[p, fi], conf[p, fi], det[p, fi] = k2[:, :2], k2[:, 2], d
        if j3 is not None:
            j3a[p, fi] = j3
    ext = [dict((extras or {}).get(tid) or {}) for tid in order]
    return PersonTable(head, xy, conf, det, j3a, times, np.asarray(order, np.int64), ext)


def _joint_count(head: dict) -> int:
    """Joints of the 2D layout when no record shows them: the document's ``num_joints``, else
    the registered joint set's count, else 0."""
    from hmcli.skeleton import get_joint_set

    n = head.get("num_joints")
    if isinstance(n, int) and not isinstance(n, bool) and n > 0:
        return n
    try:
        return int(get_joint_set(str(head.get("joint_set"))).num_joints)
    except (ValueError, KeyError):
        return 0


def _index(rec: dict, f: int | None = None) -> int:
    i = rec["index"]
    if isinstance(i, bool) or not isinstance(i, int):
        raise ValueError(f"frame index {i!r} is not an integer")
    if f is not None and not 0 <= i < f:
        raise ValueError(f"frame index {i} is outside the {f} frames")
    return i


def table_from_document(doc: dict) -> PersonTable:
    """A version 1 or 2 document (``schema_version`` already checked) as arrays."""
    if doc.get("schema_version") == 1:
        frames = doc["frames"]
        if not isinstance(frames, list):
            raise ValueError("'frames' is not a list")
        frames = sorted(frames, key=lambda r: r.get("index", 0))  # stable: position order without indices
        times = np.array([_t(r.get("t")) for r in frames], np.float64)
        entries = [(0, i, r) for i, r in enumerate(frames)]
        return _table(doc, times, [0] if frames else [], entries)
    times = np.array([_t(t) for t in doc["timestamps"]], np.float64)          # (F,)
    persons = doc["persons"]
    if not isinstance(persons, list):
        raise ValueError("'persons' is not a list")
    order, entries, extras = [], [], {}
    for person in persons:
        tid = person["track_id"]
        if isinstance(tid, bool) or not isinstance(tid, int):
            raise ValueError(f"track id {tid!r} is not an integer")
        if tid in extras:
            raise ValueError(f"track id {tid} appears twice")
        order.append(tid)
        extras[tid] = _from_json_extra(person.get("extra") or {})
        entries += [(tid, _index(r, len(times)), r) for r in person["frames"]]
    return _table(doc, times, order, entries, extras)


def table_from_records(head: dict, records: Sequence[dict]) -> PersonTable:
    """JSON-lines records after the header (version 1 or 2) as arrays: the frames are the
    distinct indices in order, persons are ordered by first appearance."""
    recs = sorted(records, key=_index)
    index_row: dict[int, int] = {}
    times: list[float] = []
    order: list[int] = []
    entries = []
    for r in recs:
        i = _index(r)
        if i not in index_row:
            index_row[i] = len(times)
            times.append(_t(r.get("t")))
        if "kpts2d" not in r and r.get("persons") == 0:
            continue
        tid = r.get("track_id", 0)
        if isinstance(tid, bool) or not isinstance(tid, int):
            raise ValueError(f"track id {tid!r} is not an integer")
        if tid not in order:
            order.append(tid)
        entries.append((tid, index_row[i], r))
    return _table(head, np.array(times, np.float64), order, entries)


def read_json_or_lines(path: str | os.PathLike) -> tuple[Any, list | None]:
    """(document, None) for one JSON document, or (first record, every record) for JSON lines;
    HMError when the file cannot be read or is not JSON. The caller checks the schema."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HMError(f"file not found: {p}") from None
    except IsADirectoryError:
        raise HMError(f"expected a JSON file, got a directory: {p}") from None
    except UnicodeDecodeError as e:
        raise HMError(f"{p} is not valid JSON ({e})") from None
    except OSError as e:
        raise HMError(f"cannot read {p}: {e.strerror or e}") from None
    try:
        doc = json.loads(text)
        lines = None
    except json.JSONDecodeError as e:
        if e.msg != "Extra data":
            raise HMError(f"{p} is not valid JSON ({e})") from None
        lines = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    lines.append(json.loads(line))
                except json.JSONDecodeError as e2:
                    raise HMError(f"{p} line {lineno} is not valid JSON ({e2.msg})") from None
        doc = lines[0]
    return doc, lines  # type: ignore[return-value]


def _check_version(doc: Any, p, schemas: tuple[str, ...], what: str) -> None:
    if not isinstance(doc, dict) or "schema" not in doc:
        raise HMError(f"{p} is not an hm {what} JSON file (no 'schema' key)")
    if doc["schema"] not in schemas:
        raise HMError(f"{p} has schema {doc['schema']!r}; expected {' or '.join(map(repr, schemas))}")
    version = doc.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise HMError(f"{p} has no valid 'schema_version'")
    if version > SCHEMA_VERSION:
        raise HMError(
            f"{p} was written by a newer hm ({doc['schema']} version {version}; this hm reads up to "
            f"version {SCHEMA_VERSION}); upgrade hm to read it"
        )


def load_table(path: str | os.PathLike, schemas: tuple[str, ...], what: str) -> PersonTable:
    """Arrays of our JSON document or JSON lines at ``path`` whose schema is one of
    ``schemas``; HMError (one line) for anything else. ``what`` names the file kind in errors."""
    p = Path(path)
    doc, lines = read_json_or_lines(p)
    _check_version(doc, p, schemas, what)
    try:
        if lines is None:
            return table_from_document(doc)
        return table_from_records(doc, [r for r in lines[1:] if isinstance(r, dict) and "index" in r])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as e:  # OverflowError: int(inf)
        why = f"missing key {e}" if isinstance(e, KeyError) else str(e)
        raise HMError(f"{p} is not a valid hm {what} JSON file ({why})") from None


def _results(t: PersonTable) -> MultiPose3DResult:
    head = t.head
    k = len(head["joint_names"])
    p_n, f = t.detected.shape
    j3 = np.full((p_n, f, k, 3), np.nan, np.float32) if t.joints3d is None else t.joints3d.astype(np.float32)
    if j3.shape[2] != k:
        raise ValueError(f"joints3d has {j3.shape[2]} joints, joint_names has {k}")
    kp = MultiKeypoints2D(
        xy=t.xy.astype(np.float32),                                           # (P, F, J, 2)
        conf=np.nan_to_num(t.conf, nan=0.0).astype(np.float32),               # (P, F, J)
        detected=t.detected,
        track_ids=t.track_ids,
        joint_set=str(head["joint_set"]),
        timestamps=t.timestamps,
        width=int(head["width"]),
        height=int(head["height"]),
        detector=str(head.get("detector") or "unknown"),
        source=_opt_str(head.get("source"), "source"),
        source_hash=_opt_str(head.get("source_hash"), "source_hash"),
    )
    model_id, model_hash = str(head.get("model_id") or "unknown"), str(head.get("model_hash") or "")
    persons = [Pose3DResult(kp.person(p), j3[p], model_id, model_hash, t.extras[p]) for p in range(p_n)]
    return MultiPose3DResult(persons, t.track_ids, kp.person_or_empty() if not persons else None)


def _results_or_error(t: PersonTable, p) -> MultiPose3DResult:
    try:
        return _results(t)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as e:
        why = f"missing key {e}" if isinstance(e, KeyError) else str(e)
        raise HMError(f"{p} is not a valid hm result JSON file ({why})") from None


def read_results_json(path: str | os.PathLike) -> MultiPose3DResult:
    """Every person of a result written by :func:`write_result_json` (or streamed as JSON
    lines), with their track ids; version 1 files are P = 1 with track id 0. HMError on
    anything else."""
    return _results_or_error(load_table(path, (SCHEMA,), "result"), Path(path))


def read_result_json(path: str | os.PathLike, person: int | None = None) -> Pose3DResult:
    """One person of a JSON result (document or JSON lines). ``person``: a track id; None
    takes the only person and refuses files with none or several (HMError naming the ids)."""
    res = read_results_json(path)
    return res.person(select_row(res.track_ids, person, Path(path)))


def results_from_records(header: dict, records: list[dict]) -> MultiPose3DResult:
    """Every person of streamed records (the header, then the frame records of
    :func:`result_records` or of a live stream; records without ``track_id`` are track id 0)."""
    if not records:
        raise HMError("no frames were captured")
    try:
        return _results(table_from_records(header, records))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as e:
        why = f"missing key {e}" if isinstance(e, KeyError) else str(e)
        raise HMError(f"the streamed records are not a valid hm result ({why})") from None


def result_from_records(header: dict, records: list[dict], person: int | None = None) -> Pose3DResult:
    """One person of streamed records (``person`` as in :func:`read_result_json`)."""
    res = results_from_records(header, records)
    return res.person(select_row(res.track_ids, person, "the stream"))
