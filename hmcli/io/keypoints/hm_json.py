"""Our keypoint JSON (schema ``hm.keypoints2d``: ``hm detect -o x.json`` or ``--json -o -`` JSON
lines; also the 2D input stored in ``hm lift --json`` output, ``hm.pose3d``): readers and
writers.

Schema version 2 has the layout of :mod:`hmcli.io.jsonio` without 3D joints: the document
holds the header keys (:func:`keypoints_header_record`), ``num_frames``, ``num_persons``,
``timestamps`` (F,) and ``persons`` ``[{"track_id": 3, "frames": [{index, t, detected,
kpts2d}, ...]}, ...]``, where each person lists only the frames where it is detected. JSON
lines: the header once, then per frame one record per detected person (with ``track_id``), or
``{"index", "t", "persons": 0}`` when nobody is. Version 1 (a top-level ``frames`` list, no
track ids) reads as one person with track id 0.

:func:`read_hm_json` returns one person (``person``: a track id; None: the only one, refusing
files with none or several); :func:`read_hm_json_multi` returns every person.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hmcli.io.atomic import atomic_write
from hmcli.io.keypoints.base import default_timestamps, guarded, image_size
from hmcli.io.persons import select_row
from hmcli.types import Keypoints2D, MultiKeypoints2D

KEYPOINTS_SCHEMA = "hm.keypoints2d"
KEYPOINTS_SCHEMA_VERSION = 2

# Our writers put "schema" first, so a look at the head of the file is enough to tell.
_HM_JSON_HEAD = re.compile(rb'^\s*\{\s*"schema"\s*:\s*"hm\.(keypoints2d|pose3d)"')


def _as_multi(kp: Keypoints2D | MultiKeypoints2D) -> MultiKeypoints2D:
    from hmcli.io.persons import as_multi_keypoints

    return as_multi_keypoints(kp)


def _hm_json_load_multi(path: Path, fps, width, height) -> MultiKeypoints2D:
    from hmcli.io.jsonio import load_table

    t = load_table(path, (KEYPOINTS_SCHEMA, "hm.pose3d"), "keypoint")
    head = t.head
    ts = t.timestamps                                                        # (F,)
    if fps or not np.isfinite(ts).all():
        ts = default_timestamps(ts.shape[0], fps or head.get("fps"))
    w, h = image_size(head.get("width"), head.get("height"), width, height, path)
    det = t.detected                                                         # (P, F)
    conf = np.clip(np.nan_to_num(t.conf, nan=0.0), 0.0, 1.0)                 # (P, F, J)
    conf[~det] = 0.0
    return MultiKeypoints2D(
        xy=np.nan_to_num(t.xy, nan=0.0).astype(np.float32),                  # (P, F, J, 2)
        conf=conf.astype(np.float32),
        detected=det,
        track_ids=t.track_ids,
        joint_set=str(head["joint_set"]),
        timestamps=ts,
        width=w,
        height=h,
        detector=str(head.get("detector") or "unknown"),
        source=head.get("source"),
        source_hash=head.get("source_hash"),
    )


def read_hm_json_multi(path, fps: float | None = None, width: int | None = None,
                       height: int | None = None) -> MultiKeypoints2D:  # fmt: skip
    """Every person of our keypoint JSON (document or JSON lines; schema ``hm.keypoints2d``, or
    the 2D part of ``hm.pose3d`` output), with their track ids. Version 1 files are P = 1,
    track id 0. ``fps`` replaces the file's timestamps; ``width``/``height`` are used when the
    file does not record the image size."""
    path = Path(path)
    return guarded("hm keypoint JSON", path, _hm_json_load_multi, path, fps, width, height)


def read_hm_json(path, fps: float | None = None, width: int | None = None, height: int | None = None,
                 person: int | None = None) -> Keypoints2D:  # fmt: skip
    """One person of our keypoint JSON (see :func:`read_hm_json_multi`). ``person``: a track
    id; None takes the only person and refuses files with none or several (HMError)."""
    multi = read_hm_json_multi(path, fps, width, height)
    return multi.person(select_row(multi.track_ids, person, Path(path)))


def is_hm_json(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return _HM_JSON_HEAD.match(f.read(4096)) is not None
    except OSError:
        return False


def keypoints_header_record(kp_or_meta: Keypoints2D | MultiKeypoints2D | dict) -> dict:
    """First record of our keypoints JSON lines (schema ``hm.keypoints2d``), also the document head.

    ``kp_or_meta``: keypoints (one person or several) or a dict with ``fps``, ``width``,
    ``height``, ``joint_set`` and optionally ``detector``, ``source``, ``source_hash``. Read
    back by :func:`hmcli.io.keypoints.load_keypoints` (document or JSON lines)."""
    from hmcli import __version__

    if isinstance(kp_or_meta, (Keypoints2D, MultiKeypoints2D)):
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


def keypoints_frame_records(kp: Keypoints2D | MultiKeypoints2D) -> Iterator[dict]:
    """The JSON-lines records after :func:`keypoints_header_record`: per frame, one record per
    detected person (with ``track_id``; a one-person ``Keypoints2D`` is track id 0), or
    ``{"index", "t", "persons": 0}`` when nobody is detected."""
    from hmcli.io.jsonio import stream_records

    records = stream_records({}, _as_multi(kp))
    next(records)  # the head, written by the caller
    yield from records


def write_keypoints_json(path: str | os.PathLike, kp: Keypoints2D | MultiKeypoints2D) -> None:
    """Our keypoints JSON document (version 2: header keys, ``timestamps`` and ``persons``, one
    frame record per line), atomically. A one-person ``Keypoints2D`` is P = 1, track id 0."""
    from hmcli.io.jsonio import document_dict, document_text

    multi = _as_multi(kp)
    text = document_text(document_dict(keypoints_header_record(multi), multi), path)
    with atomic_write(path, "w") as f:
        f.write(text)
