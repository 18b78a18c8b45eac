"""COCO-style keypoint JSON: a list of annotations (or a dataset dict with "annotations" and
"images") with flat ``keypoints`` [x, y, v] * J and ``image_id`` as the frame number.
:func:`coco_from_data` keeps the best-scoring annotation of each frame;
:func:`coco_multi_from_data` keeps every annotation and gives them track ids with
:mod:`hmcli.track`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hmcli.io.keypoints.base import (FormatError, build_keypoints, build_multi_keypoints, file_sha256, image_size,
                                     joint_set_for, read_json_as)
from hmcli.types import Keypoints2D, MultiKeypoints2D


def _coco_flat(kps: list, n_expected: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(kps, dtype=np.float64).reshape(-1)
    if a.size % 3:
        raise FormatError(f"'keypoints' has {a.size} numbers, not a multiple of 3")
    a = a.reshape(-1, 3)
    if n_expected is not None and a.shape[0] != n_expected:
        raise FormatError(f"annotations have different joint counts ({a.shape[0]} vs {n_expected})")
    return a[:, :2], a[:, 2]


def _coco_conf(v: np.ndarray) -> np.ndarray:
    # Ground-truth files use visibility flags 0/1/2 (0 = not labelled); result files a score.
    if v.size and np.all(np.isin(v, (0.0, 1.0, 2.0))) and np.any(v == 2.0):
        return (v > 0).astype(np.float32)
    return np.clip(v, 0.0, 1.0).astype(np.float32)


def _coco(data: Any, path: Path, fps, width, height, multi: bool) -> Keypoints2D | MultiKeypoints2D:
    images: dict = {}
    if isinstance(data, dict):
        anns = data["annotations"]
        for im in data.get("images", []) or []:
            images[im["id"]] = im
    else:
        anns = data
    if not isinstance(anns, list) or not anns:
        raise FormatError("no annotations")
    by_frame: dict[int, list] = {}
    n_joints = None
    for ann in anns:
        fid = ann.get("image_id", ann.get("frame_id", ann.get("frame")))
        if fid is None:
            raise FormatError("an annotation has no 'image_id'")
        pxy, v = _coco_flat(ann["keypoints"], n_joints)
        n_joints = pxy.shape[0]
        conf = _coco_conf(v)
        # Visibility flags leave conf at 1 for every labelled joint; use the box score to rank people.
        score = ann.get("score")
        by_frame.setdefault(fid, []).append((pxy, conf, score))
    joint_set, keep = joint_set_for(n_joints, "COCO keypoints")
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
    w, h = image_size(w0, h0, width, height, path)
    meta = dict(fps=fps, width=w, height=h, detector="coco-json", path=path, source_hash=file_sha256(path))
    if multi:
        people = [[(c[0][:keep], c[1][:keep]) for c in by_frame.get(fid, [])] for fid in order]
        return build_multi_keypoints(people, keep, joint_set, **meta)
    frames: list = []
    for fid in order:
        cands = by_frame.get(fid, [])
        if not cands:
            frames.append(None)
            continue
        best = max(cands, key=lambda c: (c[2] if c[2] is not None else float(np.mean(c[1]))))
        frames.append((best[0][:keep], best[1][:keep]))
    return build_keypoints(frames, keep, joint_set, **meta)


def coco_from_data(data: Any, path: Path, fps, width, height) -> Keypoints2D:
    """One person per frame: the annotation with the best score (mean confidence without one)."""
    return _coco(data, path, fps, width, height, multi=False)


def coco_multi_from_data(data: Any, path: Path, fps, width, height) -> MultiKeypoints2D:
    """Every annotation of every frame, followed across frames by the keypoint tracker."""
    return _coco(data, path, fps, width, height, multi=True)


def read_coco_json(path, fps: float | None = None, width: int | None = None, height: int | None = None) -> Keypoints2D:
    """COCO-style keypoint annotations/results; ``image_id`` is the frame number."""
    return read_json_as("COCO keypoint JSON", coco_from_data, path, fps, width, height)


def read_coco_json_multi(path, fps: float | None = None, width: int | None = None,
                         height: int | None = None) -> MultiKeypoints2D:  # fmt: skip
    """Every person of COCO-style keypoints (see :func:`coco_multi_from_data`)."""
    return read_json_as("COCO keypoint JSON", coco_multi_from_data, path, fps, width, height)
