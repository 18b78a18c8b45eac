"""What every keypoint reader shares: the Keypoints2D builder (frames of one person ->
arrays, NaN/Inf cleaned, confidence clipped), image size and timestamp defaults, the joint
set of an unnamed layout, JSON reading, and the guard that turns a malformed file's
exception into a one-line :class:`HMError`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from hmcli.io.atomic import HMError
from hmcli.skeleton.joints import BLAZEPOSE33, COCO17
from hmcli.types import Keypoints2D, MultiKeypoints2D

DEFAULT_FPS = 30.0

# One person in one frame: (xy (J, 2), conf (J,)).
Person = tuple[np.ndarray, np.ndarray]

COCO17_NAMES = COCO17.joints
BLAZEPOSE33_NAMES = BLAZEPOSE33.joints

# Number of joints -> joint set name, for formats that do not name their layout.
_JOINT_SETS = {17: "coco17", 26: "halpe26", 33: "blazepose33"}
# COCO-WholeBody (133) starts with the 17 COCO body joints.
_WHOLEBODY = 133


class FormatError(ValueError):
    """Content does not match the expected structure (turned into HMError)."""


def joint_set_for(n: int, what: str) -> tuple[str, int]:
    """(joint_set, number of leading joints to keep) for an unnamed layout of n joints."""
    if n in _JOINT_SETS:
        return _JOINT_SETS[n], n
    if n == _WHOLEBODY:
        return "coco17", 17
    raise FormatError(f"{what} has {n} joints; supported: 17 (COCO), 26 (Halpe), 33 (BlazePose), 133 (COCO-WholeBody)")


def image_size(file_w: Any, file_h: Any, width: int | None, height: int | None, path: Path) -> tuple[int, int]:
    w = file_w if file_w else width
    h = file_h if file_h else height
    if not w or not h:
        raise HMError(f"{path} does not record the image size; pass width and height (e.g. from the video)")
    try:
        size = float(w), float(h)
    except (TypeError, ValueError):
        size = (math.nan, math.nan)
    if isinstance(w, bool) or isinstance(h, bool) or not all(math.isfinite(v) and 1 <= v <= 1e6 for v in size):
        raise HMError(f"{path}: image size must be positive numbers of pixels, got width {w!r} and height {h!r}")
    return int(size[0]), int(size[1])


def default_timestamps(n: int, fps: float | None) -> np.ndarray:
    rate = float(fps) if fps else DEFAULT_FPS
    if not np.isfinite(rate) or rate <= 0:
        raise HMError(f"fps must be a positive number, got {fps}")
    return np.arange(n, dtype=np.float64) / rate


def build_keypoints(
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
        xy[i], conf[i] = clean_person(*item)
        det[i] = True
    return Keypoints2D(
        xy=xy,
        conf=conf,
        joint_set=joint_set,
        timestamps=default_timestamps(f, fps),
        width=width,
        height=height,
        detected=det,
        detector=detector,
        source=str(path),
        source_hash=source_hash,
    )


def clean_person(xy: np.ndarray, conf: np.ndarray) -> Person:
    """(xy (J, 2) float32 with NaN/inf -> 0, conf (J,) float32 clipped to [0, 1], NaN -> 0)."""
    pxy = np.nan_to_num(np.asarray(xy, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    pc = np.clip(np.nan_to_num(np.asarray(conf, np.float32), nan=0.0), 0.0, 1.0)
    return pxy, pc


def build_multi_keypoints(
    frames: list[list[Person]],
    n_joints: int,
    joint_set: str,
    *,
    fps: float | None,
    width: int,
    height: int,
    detector: str,
    path: Path,
    source_hash: str | None,
) -> MultiKeypoints2D:
    """Every person of every frame (``frames[f]``: that frame's people, in any order) tracked
    across frames with :func:`hmcli.track.track_detections` and stacked by
    :func:`hmcli.track.assemble_tracks` into a person axis (track ids from 1, rows by first
    appearance). A file where nobody appears gives P = 0."""
    from hmcli.track import assemble_tracks, track_detections

    template = build_keypoints([None] * len(frames), n_joints, joint_set, fps=fps, width=width, height=height,
                               detector=detector, path=path, source_hash=source_hash)  # fmt: skip
    dets = []
    for people in frames:
        cleaned = [clean_person(xy, c) for xy, c in people]
        if cleaned:
            dets.append((np.stack([xy for xy, _ in cleaned]), np.stack([c for _, c in cleaned])))  # (N, J, 2), (N, J)
        else:
            dets.append((np.zeros((0, n_joints, 2), np.float32), np.zeros((0, n_joints), np.float32)))
    ids = track_detections(dets)
    return assemble_tracks(dets, ids, template)


def file_sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    from hmcli.io.video import sha256_file

    return sha256_file(path)


def read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise HMError(f"keypoint file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HMError(f"{path} is not valid JSON ({e})") from None
    except OSError as e:
        raise HMError(f"cannot read {path}: {e.strerror or e}") from None


def best_person(people: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray] | None:
    """The person with the highest mean confidence (None if there is nobody)."""
    if not people:
        return None
    return max(people, key=lambda p: float(np.mean(p[1])) if p[1].size else 0.0)


def guarded(fmt: str, path: Path, fn, *args, **kw) -> Any:
    try:
        return fn(*args, **kw)
    except HMError:
        raise
    except (FormatError, KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as e:
        msg = str(e) if isinstance(e, FormatError) else f"{type(e).__name__}: {e}"
        raise HMError(f"{path} is not a valid {fmt} file ({msg})") from None


def read_json_as(fmt: str, parse, path, fps: float | None, width: int | None, height: int | None) -> Any:
    """Read the JSON file ``path`` and ``parse(data, path, fps, width, height)`` it as ``fmt`` (see
    :func:`guarded`)."""
    path = Path(path)
    return guarded(fmt, path, parse, read_json(path), path, fps, width, height)
