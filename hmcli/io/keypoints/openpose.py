"""OpenPose ``--write_json`` output: a folder of per-frame ``*_keypoints.json`` (or one such
file), BODY_25 or COCO-18, mapped to coco17 by joint name. :func:`read_openpose` keeps the
most confident person of each frame; :func:`read_openpose_multi` keeps every person of
``people[]`` and gives them track ids with :mod:`hmcli.track`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from hmcli.io.atomic import HMError
from hmcli.io.keypoints.base import (COCO17_NAMES, FormatError, Person, best_person, build_keypoints,
                                     build_multi_keypoints, file_sha256, guarded, image_size, read_json)
from hmcli.types import Keypoints2D, MultiKeypoints2D

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


def _openpose_people(doc: Any) -> list[Person]:
    """Every person of one frame's document, as coco17 (xy (17, 2), conf (17,))."""
    people = []
    for person in doc["people"]:
        a = np.asarray(person["pose_keypoints_2d"], np.float64).reshape(-1)
        if a.size == 0:
            continue
        if a.size % 3:
            raise FormatError(f"pose_keypoints_2d has {a.size} numbers, not a multiple of 3")
        a = a.reshape(-1, 3)
        if a.shape[0] == len(_OPENPOSE_BODY25):
            names = _OPENPOSE_BODY25
        elif a.shape[0] == len(_OPENPOSE_COCO18):
            names = _OPENPOSE_COCO18
        else:
            raise FormatError(f"pose_keypoints_2d has {a.shape[0]} joints; supported: BODY_25 (25), COCO (18)")
        idx = [names.index(n) for n in COCO17_NAMES]
        people.append((a[idx, :2], np.clip(a[idx, 2], 0.0, 1.0)))
    return people


def _frame_key(p: Path) -> tuple:
    nums = re.findall(r"\d+", p.name)
    return (int(nums[-1]) if nums else -1, p.name)


def _openpose_from_files(files: list[Path], path: Path, fps, width, height,
                         multi: bool = False) -> Keypoints2D | MultiKeypoints2D:  # fmt: skip
    frames = []
    for f in files:
        doc = read_json(f)
        if not isinstance(doc, dict) or "people" not in doc:
            raise FormatError(f"{f.name} has no 'people' list")
        frames.append(_openpose_people(doc))
    w, h = image_size(None, None, width, height, path)
    meta = dict(fps=fps, width=w, height=h, detector="openpose", path=path, source_hash=file_sha256(path))
    if multi:
        return build_multi_keypoints(frames, 17, "coco17", **meta)
    return build_keypoints([best_person(people) for people in frames], 17, "coco17", **meta)


def _openpose_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file()), key=_frame_key)
        if not files:
            raise HMError(f"no OpenPose .json files in {path}")
        return files
    if path.is_file():
        return [path]
    raise HMError(f"keypoint file not found: {path}")


def read_openpose(path, fps: float | None = None, width: int | None = None, height: int | None = None) -> Keypoints2D:
    """OpenPose ``--write_json`` output: a folder of per-frame files (sorted by the frame
    number in the name) or a single file. BODY_25/COCO-18 are mapped to coco17 by name. The
    most confident person of each frame is kept."""
    path = Path(path)
    return guarded("OpenPose JSON", path, _openpose_from_files, _openpose_files(path), path, fps, width, height)


def read_openpose_multi(path, fps: float | None = None, width: int | None = None,
                        height: int | None = None) -> MultiKeypoints2D:  # fmt: skip
    """Every person of OpenPose output (see :func:`read_openpose`), followed across frames by
    the keypoint tracker: track ids from 1, rows by first appearance."""
    path = Path(path)
    return guarded("OpenPose JSON", path, _openpose_from_files, _openpose_files(path), path, fps, width, height,
                   multi=True)  # fmt: skip
