"""One entry point for every keypoint file: :func:`load_keypoints` (one person) and
:func:`load_keypoints_multi` (every person, with track ids) tell the format from the extension
and the content; :func:`read_keypoints_bytes` and :func:`read_keypoints_bytes_multi` do the
same for a file's bytes (stdin); :func:`save_keypoints` writes .h5, .json or .npz by suffix,
with a person axis.

Persons: our own files (.h5, JSON, NPZ) store a person axis with track ids (older files
without one are one person with track id 0). Other tools' formats that hold several people
per frame (OpenPose ``people[]``, COCO annotations, mmpose instances) are followed across
frames by :mod:`hmcli.track` for :func:`load_keypoints_multi` (track ids from 1), while
:func:`load_keypoints` keeps the most confident person of each frame, as it always has.
tfjs files are one person (P = 1, track id 0)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from hmcli.io.atomic import HMError
from hmcli.io.keypoints.base import guarded, read_json
from hmcli.io.keypoints.coco import coco_from_data, coco_multi_from_data
from hmcli.io.keypoints.hm_json import is_hm_json, read_hm_json, read_hm_json_multi, write_keypoints_json
from hmcli.io.keypoints.mmpose import mmpose_from_data, mmpose_multi_from_data
from hmcli.io.keypoints.npz import read_keypoints_npz, read_keypoints_npz_multi, save_keypoints_npz
from hmcli.io.keypoints.openpose import read_openpose, read_openpose_multi
from hmcli.io.keypoints.tfjs import tfjs_from_data
from hmcli.io.persons import select_row
from hmcli.types import Keypoints2D, MultiKeypoints2D


def _sniff_json(data: Any) -> str:
    if isinstance(data, dict):
        if "instance_info" in data:
            return "mmpose"
        if "people" in data:
            return "openpose"
        if "annotations" in data:
            return "coco"
        return "unknown"
    if not isinstance(data, list) or not data:
        return "unknown"
    first = next((x for x in data if x), None)
    if first is None:
        return "unknown"
    if isinstance(first, dict):
        if "image_id" in first and "keypoints" in first:
            return "coco"
        if "keypoints" in first and isinstance(first["keypoints"], list) and first["keypoints"]:
            k0 = first["keypoints"][0]
            if isinstance(k0, dict):
                return "tfjs"
            return "mmpose" if isinstance(k0, list) else "coco"
        if first and all(isinstance(v, dict) and "x" in v for v in first.values()):
            return "tfjs"
        return "unknown"
    if isinstance(first, list) and first:
        f0 = first[0]
        if isinstance(f0, dict):
            if "keypoint_scores" in f0 or ("keypoints" in f0 and isinstance(f0["keypoints"], list)
                                           and f0["keypoints"] and isinstance(f0["keypoints"][0], list)):
                return "mmpose"
            if "keypoints" in f0:
                return "tfjs"
            return "unknown"
        if isinstance(f0, list) and f0 and all(isinstance(v, (int, float)) for v in f0):
            return "tfjs"
    return "unknown"


def _tfjs_multi(data: Any, path: Path, fps, width, height) -> MultiKeypoints2D:
    return MultiKeypoints2D.from_single(tfjs_from_data(data, path, fps, width, height))


def _load(path: Path, fps: float | None, width: int | None, height: int | None,
          multi: bool) -> Keypoints2D | MultiKeypoints2D:  # fmt: skip
    """Every person (``multi``) or the one person of any supported file."""
    if not path.exists():
        raise HMError(f"keypoint file not found: {path}")
    if path.is_dir():
        return read_openpose_multi(path, fps, width, height) if multi else read_openpose(path, fps, width, height)
    suffix = path.suffix.lower()
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise HMError(f"cannot read {path}: {e.strerror or e}") from None
    if not head:
        raise HMError(f"keypoint file is empty: {path}")
    if suffix in (".h5", ".hdf5") or head.startswith(b"\x89HDF\r\n\x1a\n"):
        try:
            if multi:
                from hmcli.io.h5 import read_keypoints_multi as read_h5
            else:
                from hmcli.io.h5 import read_keypoints as read_h5
        except ImportError:
            raise HMError(f"reading HDF5 keypoints is not available in this build: {path}") from None
        return read_h5(path)
    if suffix == ".npz" or head.startswith(b"PK\x03\x04"):
        return (read_keypoints_npz_multi if multi else read_keypoints_npz)(path, fps, width, height)
    if suffix == ".json" or head.lstrip()[:1] in (b"{", b"["):
        if is_hm_json(path):
            return (read_hm_json_multi if multi else read_hm_json)(path, fps, width, height)
        data = read_json(path)
        kind = _sniff_json(data)
        if multi:
            readers = {"coco": ("COCO keypoint JSON", coco_multi_from_data), "tfjs": ("tfjs keypoint JSON", _tfjs_multi),
                       "mmpose": ("mmpose predictions JSON", mmpose_multi_from_data)}  # fmt: skip
        else:
            readers = {"coco": ("COCO keypoint JSON", coco_from_data), "tfjs": ("tfjs keypoint JSON", tfjs_from_data),
                       "mmpose": ("mmpose predictions JSON", mmpose_from_data)}  # fmt: skip
        if kind == "openpose":
            return (read_openpose_multi if multi else read_openpose)(path, fps, width, height)
        if kind in readers:
            fmt, fn = readers[kind]
            return guarded(fmt, path, fn, data, path, fps, width, height)
        raise HMError(
            f"{path}: unrecognised keypoint JSON (expected COCO, tfjs, OpenPose or mmpose predictions)"
        )
    raise HMError(f"{path}: unknown keypoint file format (expected .json, .npz, .h5 or an OpenPose folder)")


def load_keypoints(
    path: str | os.PathLike, fps: float | None = None, width: int | None = None, height: int | None = None,
    person: int | None = None,
) -> Keypoints2D:
    """Load one person's 2D keypoints from any supported file (see the module docstring).

    ``fps`` sets timestamps (index / fps) for formats that have none; ``width`` and
    ``height`` are used when the file does not record the image size. ``person``: a track id
    (as :func:`load_keypoints_multi` numbers them). With ``person=None`` our own files must
    hold exactly one person (else HMError: "<path> has 3 persons (track ids 1, 2, 5): choose
    one with --person ID"), and other tools' multi-person files give the most confident
    person of each frame. Raises ``HMError`` for missing files and unknown or malformed
    content.
    """
    path = Path(path)
    if person is None:
        return _load(path, fps, width, height, multi=False)
    multi = load_keypoints_multi(path, fps, width, height)
    return multi.person(select_row(multi.track_ids, person, path))


def load_keypoints_multi(
    path: str | os.PathLike, fps: float | None = None, width: int | None = None, height: int | None = None
) -> MultiKeypoints2D:
    """Every person's 2D keypoints from any supported file, with track ids (see the module
    docstring; P may be 0). ``fps``, ``width``, ``height`` as in :func:`load_keypoints`."""
    return _load(Path(path), fps, width, height, multi=True)


def save_keypoints(kp: Keypoints2D | MultiKeypoints2D, path: str | os.PathLike) -> str:
    """Write 2D keypoints (one person, or several with track ids) as .h5, .json or .npz (by
    suffix), atomically. Returns the format."""
    suffix = Path(path).suffix.lower()
    if suffix in (".h5", ".hdf5"):
        from hmcli.io.h5 import write_keypoints

        write_keypoints(path, kp)
        return "h5"
    if suffix == ".json":
        write_keypoints_json(path, kp)
        return "json"
    if suffix == ".npz":
        save_keypoints_npz(kp, path)
        return "npz"
    raise HMError(f"cannot tell the keypoint format from {Path(path).name!r}; use .h5, .json or .npz")


_MAGIC = ((b"PK\x03\x04", ".npz"), (b"\x89HDF\r\n\x1a\n", ".h5"))


def _from_bytes(data: bytes, fps, width, height, name: str, multi: bool) -> Keypoints2D | MultiKeypoints2D:
    import tempfile

    from hmcli.io.video import sha256_file

    if not data:
        raise HMError(f"{name}: no input (expected keypoints as JSON or NPZ)")
    suffix = next((s for magic, s in _MAGIC if data.startswith(magic)), None)
    if suffix is None:
        if data.lstrip()[:1] in (b"{", b"["):
            suffix = ".json"
        else:
            raise HMError(f"{name}: unknown keypoint format (expected JSON or NPZ bytes)")
    with tempfile.TemporaryDirectory(prefix="hm-stdin-") as d:
        tmp = Path(d) / f"stdin{suffix}"
        tmp.write_bytes(data)
        try:
            kp = _load(tmp, fps, width, height, multi)
        except HMError as e:
            raise HMError(re.sub(re.escape(str(tmp)), name, str(e))) from None
        digest = sha256_file(tmp)
        if kp.source is None or kp.source == str(tmp):
            kp.source = None
            kp.source_hash = digest
    return kp


def read_keypoints_bytes(data: bytes, fps: float | None = None, width: int | None = None,
                         height: int | None = None, name: str = "<stdin>", person: int | None = None) -> Keypoints2D:  # fmt: skip
    """One person's keypoints from a file's bytes (e.g. stdin): JSON (any supported layout,
    our JSON lines), NPZ or our HDF5, told apart by content. ``person`` as in
    :func:`load_keypoints`."""
    if person is None:
        return _from_bytes(data, fps, width, height, name, multi=False)
    multi = read_keypoints_bytes_multi(data, fps, width, height, name)
    return multi.person(select_row(multi.track_ids, person, name))


def read_keypoints_bytes_multi(data: bytes, fps: float | None = None, width: int | None = None,
                               height: int | None = None, name: str = "<stdin>") -> MultiKeypoints2D:  # fmt: skip
    """Every person's keypoints from a file's bytes (see :func:`read_keypoints_bytes`)."""
    return _from_bytes(data, fps, width, height, name, multi=True)
