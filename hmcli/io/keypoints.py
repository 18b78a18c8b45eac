"""Importers for 2D keypoint files from other tools, and our own NPZ format.

``load_keypoints(path)`` looks at the extension and the content and returns
``Keypoints2D``. Supported:

* our NPZ (``save_keypoints_npz``): arrays xy, conf, timestamps, detected, and
  scalars width, height, joint_set (+ detector, source, source_hash);
* our HDF5 output (``.h5``/``.hdf5``, read by ``hmcli.io.h5.read_keypoints``);
* our JSON (``hm detect -o x.json`` or ``--json -o -`` JSON lines, schema ``hm.keypoints2d``;
  also the 2D input stored in ``hm lift --json`` output), read by ``read_hm_json``;
* COCO-style JSON: a list of annotations (or a dataset dict with "annotations"
  and "images") with flat ``keypoints`` [x, y, v] * J and ``image_id`` as frame;
* tfjs-models pose-detection JSON: a list per frame of ``{name: {x, y[, score]}}``,
  of ``[[x, y(, z)], ...]``, or of tfjs pose objects ``{"keypoints": [{x, y, score, name}]}``;
* OpenPose output: a folder of per-frame ``*_keypoints.json`` (or one such file),
  BODY_25 or COCO-18, mapped to coco17 by joint name;
* mmpose predictions: ``{"meta_info": ..., "instance_info": [{"frame_id", "instances"}]}``
  or a list per frame of instances with ``keypoints`` [[x, y], ...] and ``keypoint_scores``.

Where a file holds several people in a frame, the one with the highest mean
confidence is kept. Files without timestamps get ``index / fps`` (``fps``
argument, default 30); files without an image size need ``width`` and
``height``. Nothing here unpickles or executes file content.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from hmcli.io.atomic import HMError, atomic_write
from hmcli.skeleton.joints import BLAZEPOSE33, COCO17
from hmcli.types import Keypoints2D

__all__ = [
    "load_keypoints",
    "read_coco_json",
    "read_tfjs_json",
    "read_openpose",
    "read_mmpose_predictions",
    "read_keypoints_npz",
    "save_keypoints_npz",
    "read_hm_json",
    "COCO17_NAMES",
    "BLAZEPOSE33_NAMES",
]

DEFAULT_FPS = 30.0

COCO17_NAMES = COCO17.joints

BLAZEPOSE33_NAMES = BLAZEPOSE33.joints

# OpenPose joint orders (from the OpenPose output documentation), in coco17 names where one exists.
_OPENPOSE_BODY25 = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe",
    "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip
_OPENPOSE_COCO18 = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)  # fmt: skip

# Number of joints -> joint set name, for formats that do not name their layout.
_JOINT_SETS = {17: "coco17", 26: "halpe26", 33: "blazepose33"}
# COCO-WholeBody (133) starts with the 17 COCO body joints.
_WHOLEBODY = 133


class _FormatError(ValueError):
    """Content does not match the expected structure (turned into HMError)."""


# ------------------------------------------------------------------ helpers


def _joint_set_for(n: int, what: str) -> tuple[str, int]:
    """(joint_set, number of leading joints to keep) for an unnamed layout of n joints."""
    if n in _JOINT_SETS:
        return _JOINT_SETS[n], n
    if n == _WHOLEBODY:
        return "coco17", 17
    raise _FormatError(f"{what} has {n} joints; supported: 17 (COCO), 26 (Halpe), 33 (BlazePose), 133 (COCO-WholeBody)")


def _size(file_w: Any, file_h: Any, width: int | None, height: int | None, path: Path) -> tuple[int, int]:
    w = file_w if file_w else width
    h = file_h if file_h else height
    if not w or not h:
        raise HMError(f"{path} does not record the image size; pass width and height (e.g. from the video)")
    return int(w), int(h)


def _timestamps(n: int, fps: float | None) -> np.ndarray:
    rate = float(fps) if fps else DEFAULT_FPS
    if not np.isfinite(rate) or rate <= 0:
        raise HMError(f"fps must be a positive number, got {fps}")
    return np.arange(n, dtype=np.float64) / rate


def _build(
    frames: list[tuple[np.ndarray, np.ndarray] | None],
    n_joints: int,
    joint_set: str,
    *,
    fps: float | None,
    width: int,
    height: int,
    detector: str,
    path: Path,
    source_hash: str | None,
) -> Keypoints2D:
    if not frames:
        raise HMError(f"{path} contains no frames")
    f = len(frames)
    xy = np.zeros((f, n_joints, 2), np.float32)
    conf = np.zeros((f, n_joints), np.float32)
    det = np.zeros((f,), bool)
    for i, item in enumerate(frames):
        if item is None:
            continue
        pxy, pc = item
        pxy = np.nan_to_num(np.asarray(pxy, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        pc = np.clip(np.nan_to_num(np.asarray(pc, np.float32), nan=0.0), 0.0, 1.0)
        xy[i], conf[i], det[i] = pxy, pc, True
    return Keypoints2D(
        xy=xy,
        conf=conf,
        joint_set=joint_set,
        timestamps=_timestamps(f, fps),
        width=width,
        height=height,
        detected=det,
        detector=detector,
        source=str(path),
        source_hash=source_hash,
    )


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    from hmcli.io.video import sha256_file

    return sha256_file(path)


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise HMError(f"keypoint file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HMError(f"{path} is not valid JSON ({e})") from None
    except OSError as e:
        raise HMError(f"cannot read {path}: {e.strerror or e}") from None


def _best(people: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray] | None:
    """The person with the highest mean confidence (None if there is nobody)."""
    if not people:
        return None
    return max(people, key=lambda p: float(np.mean(p[1])) if p[1].size else 0.0)


def _guarded(fmt: str, path: Path, fn, *args, **kw) -> Keypoints2D:
    try:
        return fn(*args, **kw)
    except HMError:
        raise
    except (_FormatError, KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        msg = str(e) if isinstance(e, _FormatError) else f"{type(e).__name__}: {e}"
        raise HMError(f"{path} is not a valid {fmt} file ({msg})") from None


# ------------------------------------------------------------------ COCO


def _coco_flat(kps: list, n_expected: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(kps, dtype=np.float64).reshape(-1)
    if a.size % 3:
        raise _FormatError(f"'keypoints' has {a.size} numbers, not a multiple of 3")
    a = a.reshape(-1, 3)
    if n_expected is not None and a.shape[0] != n_expected:
        raise _FormatError(f"annotations have different joint counts ({a.shape[0]} vs {n_expected})")
    return a[:, :2], a[:, 2]


def _coco_conf(v: np.ndarray) -> np.ndarray:
    # Ground-truth files use visibility flags 0/1/2 (0 = not labelled); result files a score.
    if v.size and np.all(np.isin(v, (0.0, 1.0, 2.0))) and np.any(v == 2.0):
        return (v > 0).astype(np.float32)
    return np.clip(v, 0.0, 1.0).astype(np.float32)


def _coco_from_data(data: Any, path: Path, fps, width, height) -> Keypoints2D:
    images: dict = {}
    if isinstance(data, dict):
        anns = data["annotations"]
        for im in data.get("images", []) or []:
            images[im["id"]] = im
    else:
        anns = data
    if not isinstance(anns, list) or not anns:
        raise _FormatError("no annotations")
    by_frame: dict[int, list] = {}
    n_joints = None
    for ann in anns:
        fid = ann.get("image_id", ann.get("frame_id", ann.get("frame")))
        if fid is None:
            raise _FormatError("an annotation has no 'image_id'")
        pxy, v = _coco_flat(ann["keypoints"], n_joints)
        n_joints = pxy.shape[0]
        conf = _coco_conf(v)
        # Visibility flags leave conf at 1 for every labelled joint; use the box score to rank people.
        score = ann.get("score")
        by_frame.setdefault(fid, []).append((pxy, conf, score))
    joint_set, keep = _joint_set_for(n_joints, "COCO keypoints")
    if images:
        order = sorted(images)  # every image is a frame, with or without a person
        w0, h0 = images[order[0]].get("width"), images[order[0]].get("height")
    else:
        ids = sorted(by_frame)
        if all(isinstance(i, (int, float)) and float(i).is_integer() for i in ids):
            lo, hi = int(ids[0]), int(ids[-1])
            order = list(range(lo, hi + 1))  # frame ids between the first and last; gaps = no person
        else:
            order = ids
        w0 = h0 = None
    frames: list = []
    for fid in order:
        cands = by_frame.get(fid, [])
        if not cands:
            frames.append(None)
            continue
        best = max(cands, key=lambda c: (c[2] if c[2] is not None else float(np.mean(c[1]))))
        frames.append((best[0][:keep], best[1][:keep]))
    w, h = _size(w0, h0, width, height, path)
    return _build(frames, keep, joint_set, fps=fps, width=w, height=h, detector="coco-json",
                  path=path, source_hash=_sha256(path))  # fmt: skip


def read_coco_json(path, fps: float | None = None, width: int | None = None, height: int | None = None) -> Keypoints2D:
    """COCO-style keypoint annotations/results; ``image_id`` is the frame number."""
    path = Path(path)
    return _guarded("COCO keypoint JSON", path, _coco_from_data, _read_json(path), path, fps, width, height)


# ------------------------------------------------------------------ tfjs-models


def _tfjs_frame(fr: Any) -> tuple[list[str] | None, np.ndarray, np.ndarray] | None:
    """(names or None, xy (J,2), conf (J,)) for one frame, None if no person."""
    if fr is None or (hasattr(fr, "__len__") and len(fr) == 0):
        return None
    if isinstance(fr, dict) and "keypoints" in fr:  # one tfjs pose object
        fr = [fr]
    if isinstance(fr, dict):  # {name: {x, y[, score]}}
        names = list(fr)
        xy = np.array([[fr[n]["x"], fr[n]["y"]] for n in names], np.float64)
        conf = np.array([fr[n].get("score", 1.0) for n in names], np.float64)
        return names, xy, conf
    if isinstance(fr, list) and isinstance(fr[0], dict):  # tfjs pose objects: pick the best
        people = []
        for pose in fr:
            kps = pose["keypoints"]
            names = [k.get("name") for k in kps]
            xy = np.array([[k["x"], k["y"]] for k in kps], np.float64)
            conf = np.array([k.get("score", 1.0) for k in kps], np.float64)
            people.append((names if all(names) else None, xy, conf))
        if not people:
            return None
        return max(people, key=lambda p: float(np.mean(p[2])))
    a = np.asarray(fr, np.float64)  # [[x, y(, z or score)], ...]
    if a.ndim != 2 or a.shape[1] not in (2, 3):
        raise _FormatError(f"a frame has shape {a.shape}, expected (J, 2) or (J, 3)")
    if a.shape[1] == 3 and a.shape[0] != 33 and np.all((a[:, 2] >= 0) & (a[:, 2] <= 1)):
        conf = a[:, 2]  # [x, y, score]
    else:
        conf = np.ones(a.shape[0])  # BlazePose "full" keypoints are [x, y, z]: no score
    return None, a[:, :2], conf


def _tfjs_from_data(data: Any, path: Path, fps, width, height) -> Keypoints2D:
    if not isinstance(data, list) or not data:
        raise _FormatError("expected a non-empty list of frames")
    parsed = [_tfjs_frame(fr) for fr in data]
    named = next((p for p in parsed if p is not None), None)
    if named is None:
        raise HMError(f"{path}: no frame contains a person")
    names, xy0, _ = named
    if names is not None:
        name_set = set(names)
        if name_set <= set(COCO17_NAMES) and len(name_set) >= 12:
            order, joint_set = COCO17_NAMES, "coco17"
        elif name_set <= set(BLAZEPOSE33_NAMES) and len(name_set) >= 25:
            order, joint_set = BLAZEPOSE33_NAMES, "blazepose33"
        else:
            raise _FormatError(f"unknown keypoint names {sorted(name_set)[:5]}...")
        keep = len(order)
    else:
        joint_set, keep = _joint_set_for(xy0.shape[0], "tfjs keypoints")
        order = None
    frames: list = []
    for p in parsed:
        if p is None:
            frames.append(None)
            continue
        pnames, pxy, pc = p
        if order is not None:
            if pnames is None:
                raise _FormatError("frames mix named and unnamed keypoints")
            idx = {n: i for i, n in enumerate(pnames)}
            fxy = np.zeros((keep, 2))
            fc = np.zeros(keep)
            for j, n in enumerate(order):
                if n in idx:
                    fxy[j], fc[j] = pxy[idx[n]], pc[idx[n]]
            frames.append((fxy, fc))
        else:
            if pxy.shape[0] != xy0.shape[0]:
                raise _FormatError(f"frames have different joint counts ({pxy.shape[0]} vs {xy0.shape[0]})")
            frames.append((pxy[:keep], pc[:keep]))
    w, h = _size(None, None, width, height, path)
    return _build(frames, keep, joint_set, fps=fps, width=w, height=h, detector="tfjs-json",
                  path=path, source_hash=_sha256(path))  # fmt: skip


def read_tfjs_json(path, fps: float | None = None, width: int | None = None, height: int | None = None) -> Keypoints2D:
    """tfjs-models pose-detection test-data style: a list with one entry per frame."""
    path = Path(path)
    return _guarded("tfjs keypoint JSON", path, _tfjs_from_data, _read_json(path), path, fps, width, height)


# ------------------------------------------------------------------ OpenPose


def _openpose_people(doc: Any) -> tuple[np.ndarray, np.ndarray] | None:
    people = []
    for person in doc["people"]:
        a = np.asarray(person["pose_keypoints_2d"], np.float64).reshape(-1)
        if a.size == 0:
            continue
        if a.size % 3:
            raise _FormatError(f"pose_keypoints_2d has {a.size} numbers, not a multiple of 3")
        a = a.reshape(-1, 3)
        if a.shape[0] == len(_OPENPOSE_BODY25):
            names = _OPENPOSE_BODY25
        elif a.shape[0] == len(_OPENPOSE_COCO18):
            names = _OPENPOSE_COCO18
        else:
            raise _FormatError(f"pose_keypoints_2d has {a.shape[0]} joints; supported: BODY_25 (25), COCO (18)")
        idx = [names.index(n) for n in COCO17_NAMES]
        people.append((a[idx, :2], np.clip(a[idx, 2], 0.0, 1.0)))
    return _best(people)


def _frame_key(p: Path) -> tuple:
    nums = re.findall(r"\d+", p.name)
    return (int(nums[-1]) if nums else -1, p.name)


def _openpose_from_files(files: list[Path], path: Path, fps, width, height) -> Keypoints2D:
    frames = []
    for f in files:
        doc = _read_json(f)
        if not isinstance(doc, dict) or "people" not in doc:
            raise _FormatError(f"{f.name} has no 'people' list")
        frames.append(_openpose_people(doc))
    w, h = _size(None, None, width, height, path)
    return _build(frames, 17, "coco17", fps=fps, width=w, height=h, detector="openpose", path=path,
                  source_hash=_sha256(path))  # fmt: skip


def read_openpose(path, fps: float | None = None, width: int | None = None, height: int | None = None) -> Keypoints2D:
    """OpenPose ``--write_json`` output: a folder of per-frame files (sorted by the frame
    number in the name) or a single file. BODY_25/COCO-18 are mapped to coco17 by name."""
    path = Path(path)
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file()), key=_frame_key)
        if not files:
            raise HMError(f"no OpenPose .json files in {path}")
    elif path.is_file():
        files = [path]
    else:
        raise HMError(f"keypoint file not found: {path}")
    return _guarded("OpenPose JSON", path, _openpose_from_files, files, path, fps, width, height)


# ------------------------------------------------------------------ mmpose


def _mmpose_instance(inst: dict) -> tuple[np.ndarray, np.ndarray]:
    xy = np.asarray(inst["keypoints"], np.float64)
    if xy.ndim == 3 and xy.shape[0] == 1:  # some versions nest one more level
        xy = xy[0]
    if xy.ndim != 2 or xy.shape[1] < 2:
        raise _FormatError(f"'keypoints' has shape {xy.shape}, expected (J, 2)")
    scores = inst.get("keypoint_scores")
    conf = np.ones(xy.shape[0]) if scores is None else np.asarray(scores, np.float64).reshape(-1)
    if conf.shape[0] != xy.shape[0]:
        raise _FormatError("'keypoint_scores' and 'keypoints' have different lengths")
    return xy[:, :2], conf


def _mmpose_from_data(data: Any, path: Path, fps, width, height) -> Keypoints2D:
    if isinstance(data, dict):
        info = data["instance_info"]
        if not isinstance(info, list):
            raise _FormatError("'instance_info' is not a list")
        if info and isinstance(info[0], dict) and "instances" in info[0]:
            ids = [e.get("frame_id", i) for i, e in enumerate(info)]
            if len(set(ids)) == len(ids) and all(isinstance(i, int) for i in ids):
                info = [e for _, e in sorted(zip(ids, info), key=lambda t: t[0])]
            per_frame = [e["instances"] for e in info]
        else:  # one image: instance_info is the list of instances
            per_frame = [info]
    elif isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        per_frame = [data]  # inferencer output for one image: a list of instances
    elif isinstance(data, list):
        per_frame = data
    else:
        raise _FormatError("expected a list of frames or a dict with 'instance_info'")
    frames: list = []
    n_joints = None
    for insts in per_frame:
        if isinstance(insts, dict):
            insts = [insts]
        people = [_mmpose_instance(inst) for inst in (insts or [])]
        for pxy, _ in people:
            if n_joints is None:
                n_joints = pxy.shape[0]
            elif pxy.shape[0] != n_joints:
                raise _FormatError(f"instances have different joint counts ({pxy.shape[0]} vs {n_joints})")
        frames.append(_best(people))
    if n_joints is None:
        raise HMError(f"{path}: no frame contains a person")
    joint_set, keep = _joint_set_for(n_joints, "mmpose keypoints")
    frames = [None if fr is None else (fr[0][:keep], fr[1][:keep]) for fr in frames]
    w, h = _size(None, None, width, height, path)
    return _build(frames, keep, joint_set, fps=fps, width=w, height=h, detector="mmpose", path=path,
                  source_hash=_sha256(path))  # fmt: skip


def read_mmpose_predictions(
    path, fps: float | None = None, width: int | None = None, height: int | None = None
) -> Keypoints2D:
    """mmpose saved predictions (demo ``--save-predictions`` or inferencer JSON)."""
    path = Path(path)
    return _guarded("mmpose predictions JSON", path, _mmpose_from_data, _read_json(path), path, fps, width, height)


# ------------------------------------------------------------------ our NPZ

_NPZ_ARRAYS = ("xy", "conf", "timestamps")
_NPZ_SCALARS = ("width", "height", "joint_set")


def save_keypoints_npz(kp: Keypoints2D, path: str | os.PathLike) -> None:
    """Write ``kp`` as a compressed NPZ with no object arrays (atomically); read back with
    ``read_keypoints_npz``/``load_keypoints``."""
    fields = dict(
        xy=kp.xy.astype(np.float32),
        conf=kp.conf.astype(np.float32),
        timestamps=kp.timestamps.astype(np.float64),
        detected=kp.detected.astype(bool),
        width=np.int64(kp.width),
        height=np.int64(kp.height),
        joint_set=np.str_(kp.joint_set),
        detector=np.str_(kp.detector),
        source=np.str_(kp.source or ""),
        source_hash=np.str_(kp.source_hash or ""),
    )
    with atomic_write(path, "wb") as f:
        np.savez_compressed(f, **fields)


def _npz_str(z, key: str) -> str | None:
    if key not in z.files:
        return None
    a = z[key]
    if a.dtype.kind not in "US" or a.size != 1:
        raise _FormatError(f"'{key}' is not a string")
    s = str(a.reshape(()).item())
    return s or None


def _npz_load(path: Path, fps, width, height) -> Keypoints2D:
    try:
        z = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise HMError(f"keypoint file not found: {path}") from None
    except ValueError as e:  # object arrays (pickles) are refused
        raise HMError(f"{path} is not a valid keypoint NPZ ({e})") from None
    except (OSError, EOFError) as e:
        raise HMError(f"{path} is not a readable NPZ file ({e})") from None
    if not hasattr(z, "files"):
        raise HMError(f"{path} is a single .npy array, not a keypoint NPZ")
    with z:
        missing = [k for k in ("xy", "conf", "joint_set") if k not in z.files]
        if missing:
            raise _FormatError(f"missing arrays: {', '.join(missing)}")
        xy = np.asarray(z["xy"], np.float32)
        conf = np.asarray(z["conf"], np.float32)
        if xy.ndim != 3 or xy.shape[2] != 2 or conf.shape != xy.shape[:2]:
            raise _FormatError(f"xy {xy.shape} / conf {conf.shape} are not (F, J, 2) / (F, J)")
        n = xy.shape[0]
        ts = np.asarray(z["timestamps"], np.float64) if "timestamps" in z.files else _timestamps(n, fps)
        det = np.asarray(z["detected"], bool) if "detected" in z.files else conf.max(axis=1, initial=0.0) > 0
        fw = int(z["width"]) if "width" in z.files else None
        fh = int(z["height"]) if "height" in z.files else None
        w, h = _size(fw, fh, width, height, path)
        return Keypoints2D(
            xy=xy,
            conf=conf,
            joint_set=_npz_str(z, "joint_set") or "",
            timestamps=ts,
            width=w,
            height=h,
            detected=det,
            detector=_npz_str(z, "detector") or "unknown",
            source=_npz_str(z, "source"),
            source_hash=_npz_str(z, "source_hash"),
        )


def read_keypoints_npz(path, fps: float | None = None, width: int | None = None, height: int | None = None) -> Keypoints2D:
    """Our NPZ (see ``save_keypoints_npz``); loaded with ``allow_pickle=False``."""
    path = Path(path)
    return _guarded("keypoint NPZ", path, _npz_load, path, fps, width, height)


# ------------------------------------------------------------------ our JSON (hm detect / hm lift)

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
            raise _FormatError("expected a JSON object")
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
        raise _FormatError("no valid 'schema_version'")
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
        raise _FormatError("frames have different (or no) numbers of 2D joints")
    k2 = np.stack(rows)
    det = np.array([bool(r.get("detected", True)) for r in frames])
    t = np.array([np.nan if r.get("t") is None else float(r["t"]) for r in frames], np.float64)
    if fps or not np.isfinite(t).all():
        t = _timestamps(len(frames), fps or head.get("fps"))
    w, h = _size(head.get("width"), head.get("height"), width, height, path)
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
    return _guarded("hm keypoint JSON", path, _hm_json_load, path, fps, width, height)


def _is_hm_json(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return _HM_JSON_HEAD.match(f.read(4096)) is not None
    except OSError:
        return False


# ------------------------------------------------------------------ dispatch


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


def load_keypoints(
    path: str | os.PathLike, fps: float | None = None, width: int | None = None, height: int | None = None
) -> Keypoints2D:
    """Load 2D keypoints from any supported file (see the module docstring).

    ``fps`` sets timestamps (index / fps) for formats that have none; ``width`` and
    ``height`` are used when the file does not record the image size. Raises
    ``HMError`` for missing files and unknown or malformed content.
    """
    path = Path(path)
    if not path.exists():
        raise HMError(f"keypoint file not found: {path}")
    if path.is_dir():
        return read_openpose(path, fps, width, height)
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
            from hmcli.io.h5 import read_keypoints as read_h5
        except ImportError:
            raise HMError(f"reading HDF5 keypoints is not available in this build: {path}") from None
        return read_h5(path)
    if suffix == ".npz" or head.startswith(b"PK\x03\x04"):
        return read_keypoints_npz(path, fps, width, height)
    if suffix == ".json" or head.lstrip()[:1] in (b"{", b"["):
        if _is_hm_json(path):
            return read_hm_json(path, fps, width, height)
        data = _read_json(path)
        kind = _sniff_json(data)
        readers = {"coco": ("COCO keypoint JSON", _coco_from_data), "tfjs": ("tfjs keypoint JSON", _tfjs_from_data),
                   "mmpose": ("mmpose predictions JSON", _mmpose_from_data)}  # fmt: skip
        if kind == "openpose":
            return read_openpose(path, fps, width, height)
        if kind in readers:
            fmt, fn = readers[kind]
            return _guarded(fmt, path, fn, data, path, fps, width, height)
        raise HMError(
            f"{path}: unrecognised keypoint JSON (expected COCO, tfjs, OpenPose or mmpose predictions)"
        )
    raise HMError(f"{path}: unknown keypoint file format (expected .json, .npz, .h5 or an OpenPose folder)")
