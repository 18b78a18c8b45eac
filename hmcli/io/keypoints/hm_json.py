"""Our keypoint JSON (schema ``hm.keypoints2d``: ``hm detect -o x.json`` or ``--json -o -`` JSON
lines; also the 2D input stored in ``hm lift --json`` output, ``hm.pose3d``): reader and
writers."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hmcli.io.atomic import HMError, atomic_write
from hmcli.io.keypoints.base import FormatError, default_timestamps, guarded, image_size
from hmcli.types import Keypoints2D

KEYPOINTS_SCHEMA = "hm.keypoints2d"
KEYPOINTS_SCHEMA_VERSION = 1

# Our writers put "schema" first, so a look at the head of the file is enough to tell.
_HM_JSON_HEAD = re.compile(rb'^\s*\{\s*"schema"\s*:\s*"hm\.(keypoints2d|pose3d)"')


def _hm_json_records(path: Path) -> tuple[dict, list]:
    """(header, frame records) of our JSON document or JSON lines (header line + frame lines)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise HMError(f"{path} is not valid JSON ({e})") from None
    except OSError as e:
        raise HMError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict):
            raise FormatError("expected a JSON object")
        return doc, doc.get("frames") or []
    except json.JSONDecodeError as e:
        if e.msg != "Extra data":
            raise HMError(f"{path} is not valid JSON ({e})") from None
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise HMError(f"{path} line {lineno} is not valid JSON ({e.msg})") from None
    head = records[0]
    return head, [r for r in records[1:] if isinstance(r, dict) and "index" in r]


def _hm_json_load(path: Path, fps, width, height) -> Keypoints2D:
    head, frames = _hm_json_records(path)
    version = head.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise FormatError("no valid 'schema_version'")
    if version > 1:
        raise HMError(f"{path} was written by a newer hm (schema version {version}); upgrade hm to read it")
    if not frames:
        raise HMError(f"{path} contains no frames")
    frames = sorted(frames, key=lambda r: int(r["index"]))
    rows = []
    for r in frames:
        k = np.array(r.get("kpts2d") or [], dtype=object).reshape(-1, 3)
        k[k == None] = np.nan  # noqa: E711 (elementwise on an object array)
        rows.append(k.astype(np.float64))
    if len({r.shape[0] for r in rows}) != 1 or rows[0].shape[0] == 0:
        raise FormatError("frames have different (or no) numbers of 2D joints")
    k2 = np.stack(rows)
    det = np.array([bool(r.get("detected", True)) for r in frames])
    t = np.array([np.nan if r.get("t") is None else float(r["t"]) for r in frames], np.float64)
    if fps or not np.isfinite(t).all():
        t = default_timestamps(len(frames), fps or head.get("fps"))
    w, h = image_size(head.get("width"), head.get("height"), width, height, path)
    conf = np.clip(np.nan_to_num(k2[..., 2], nan=0.0), 0.0, 1.0)
    conf[~det] = 0.0
    return Keypoints2D(
        xy=np.nan_to_num(k2[..., :2], nan=0.0).astype(np.float32),
        conf=conf.astype(np.float32),
        joint_set=str(head["joint_set"]),
        timestamps=t,
        width=w,
        height=h,
        detected=det,
        detector=str(head.get("detector") or "unknown"),
        source=head.get("source"),
        source_hash=head.get("source_hash"),
    )


def read_hm_json(path, fps: float | None = None, width: int | None = None, height: int | None = None) -> Keypoints2D:
    """Our JSON (``hm detect -o x.json`` / ``--json -o -``, schema ``hm.keypoints2d``; also the 2D
    part of ``hm lift --json`` output, ``hm.pose3d``), as one document or as JSON lines."""
    path = Path(path)
    return guarded("hm keypoint JSON", path, _hm_json_load, path, fps, width, height)


def is_hm_json(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return _HM_JSON_HEAD.match(f.read(4096)) is not None
    except OSError:
        return False


def keypoints_header_record(kp_or_meta: Keypoints2D | dict) -> dict:
    """First record of our keypoints JSON (schema ``hm.keypoints2d``), also the document head.

    Read back by :func:`hmcli.io.keypoints.load_keypoints` (document or JSON lines)."""
    from hmcli import __version__

    if isinstance(kp_or_meta, Keypoints2D):
        kp = kp_or_meta
        m = dict(fps=kp.fps, width=kp.width, height=kp.height, joint_set=kp.joint_set, detector=kp.detector,
                 source=kp.source, source_hash=kp.source_hash)  # fmt: skip
    else:
        m = dict(kp_or_meta)
    fps = m.get("fps")
    return {
        "schema": KEYPOINTS_SCHEMA,
        "schema_version": KEYPOINTS_SCHEMA_VERSION,
        "hm_version": __version__,
        "fps": float(fps) if fps is not None and np.isfinite(fps) else None,
        "width": int(m["width"]),
        "height": int(m["height"]),
        "joint_set": str(m["joint_set"]),
        "units": {"kpts2d": "px (x right, y down, origin top-left) + confidence in [0, 1]", "t": "s"},
        "detector": m.get("detector"),
        "source": m.get("source"),
        "source_hash": m.get("source_hash"),
    }


def keypoints_frame_records(kp: Keypoints2D) -> Iterator[dict]:
    from hmcli.io.jsonio import frame_record

    for i in range(kp.num_frames):
        yield frame_record(i, kp.timestamps[i], bool(kp.detected[i]), kp.xy[i], kp.conf[i])


def write_keypoints_json(path: str | os.PathLike, kp: Keypoints2D) -> None:
    """Our keypoints JSON document (header keys + ``frames``, one frame per line), atomically."""
    from hmcli.io.jsonio import dumps_record

    head = json.dumps(keypoints_header_record(kp), allow_nan=False, ensure_ascii=False)
    body = ",\n".join(dumps_record(r) for r in keypoints_frame_records(kp))
    with atomic_write(path, "w") as f:
        f.write(head[:-1] + ', "frames": [\n' + body + "\n]}\n")
