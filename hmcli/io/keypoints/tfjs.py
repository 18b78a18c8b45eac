"""tfjs-models pose-detection JSON: a list per frame of ``{name: {x, y[, score]}}``, of
``[[x, y(, z)], ...]``, or of tfjs pose objects ``{"keypoints": [{x, y, score, name}]}``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hmcli.io.atomic import HMError
from hmcli.io.keypoints.base import (BLAZEPOSE33_NAMES, COCO17_NAMES, FormatError, build_keypoints,
                                     file_sha256, image_size, joint_set_for, read_json_as)
from hmcli.types import Keypoints2D


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
        raise FormatError(f"a frame has shape {a.shape}, expected (J, 2) or (J, 3)")
    if a.shape[1] == 3 and a.shape[0] != 33 and np.all((a[:, 2] >= 0) & (a[:, 2] <= 1)):
        conf = a[:, 2]  # [x, y, score]
    else:
        conf = np.ones(a.shape[0])  # BlazePose "full" keypoints are [x, y, z]: no score
    return None, a[:, :2], conf


def tfjs_from_data(data: Any, path: Path, fps, width, height) -> Keypoints2D:
    if not isinstance(data, list) or not data:
        raise FormatError("expected a non-empty list of frames")
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
            raise FormatError(f"unknown keypoint names {sorted(name_set)[:5]}...")
        keep = len(order)
    else:
        joint_set, keep = joint_set_for(xy0.shape[0], "tfjs keypoints")
        order = None
    frames: list = []
    for p in parsed:
        if p is None:
            frames.append(None)
            continue
        pnames, pxy, pc = p
        if order is not None:
            if pnames is None:
                raise FormatError("frames mix named and unnamed keypoints")
            idx = {n: i for i, n in enumerate(pnames)}
            fxy = np.zeros((keep, 2))
            fc = np.zeros(keep)
            for j, n in enumerate(order):
                if n in idx:
                    fxy[j], fc[j] = pxy[idx[n]], pc[idx[n]]
            frames.append((fxy, fc))
        else:
            if pxy.shape[0] != xy0.shape[0]:
                raise FormatError(f"frames have different joint counts ({pxy.shape[0]} vs {xy0.shape[0]})")
            frames.append((pxy[:keep], pc[:keep]))
    w, h = image_size(None, None, width, height, path)
    return build_keypoints(frames, keep, joint_set, fps=fps, width=w, height=h, detector="tfjs-json",
                           path=path, source_hash=file_sha256(path))  # fmt: skip


def read_tfjs_json(path, fps: float | None = None, width: int | None = None, height: int | None = None) -> Keypoints2D:
    """tfjs-models pose-detection test-data style: a list with one entry per frame."""
    return read_json_as("tfjs keypoint JSON", tfjs_from_data, path, fps, width, height)
