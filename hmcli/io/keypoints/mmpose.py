"""mmpose predictions: ``{"meta_info": ..., "instance_info": [{"frame_id", "instances"}]}`` or a
list per frame of instances with ``keypoints`` [[x, y], ...] and ``keypoint_scores``.
:func:`mmpose_from_data` keeps the most confident instance of each frame;
:func:`mmpose_multi_from_data` keeps every instance and gives them track ids with
:mod:`hmcli.track`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hmcli.io.atomic import HMError
from hmcli.io.keypoints.base import (FormatError, best_person, build_keypoints, build_multi_keypoints, file_sha256,
                                     image_size, joint_set_for, read_json_as)
from hmcli.types import Keypoints2D, MultiKeypoints2D


def _mmpose_instance(inst: dict) -> tuple[np.ndarray, np.ndarray]:
    xy = np.asarray(inst["keypoints"], np.float64)
    if xy.ndim == 3 and xy.shape[0] == 1:  # some versions nest one more level
        xy = xy[0]
    if xy.ndim != 2 or xy.shape[1] < 2:
        raise FormatError(f"'keypoints' has shape {xy.shape}, expected (J, 2)")
    scores = inst.get("keypoint_scores")
    conf = np.ones(xy.shape[0]) if scores is None else np.asarray(scores, np.float64).reshape(-1)
    if conf.shape[0] != xy.shape[0]:
        raise FormatError("'keypoint_scores' and 'keypoints' have different lengths")
    return xy[:, :2], conf


def _mmpose(data: Any, path: Path, fps, width, height, multi: bool) -> Keypoints2D | MultiKeypoints2D:
    if isinstance(data, dict):
        info = data["instance_info"]
        if not isinstance(info, list):
            raise FormatError("'instance_info' is not a list")
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
        raise FormatError("expected a list of frames or a dict with 'instance_info'")
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
                raise FormatError(f"instances have different joint counts ({pxy.shape[0]} vs {n_joints})")
        frames.append(people)
    if n_joints is None:
        raise HMError(f"{path}: no frame contains a person")
    joint_set, keep = joint_set_for(n_joints, "mmpose keypoints")
    w, h = image_size(None, None, width, height, path)
    meta = dict(fps=fps, width=w, height=h, detector="mmpose", path=path, source_hash=file_sha256(path))
    if multi:
        return build_multi_keypoints([[(xy[:keep], c[:keep]) for xy, c in people] for people in frames], keep,
                                     joint_set, **meta)  # fmt: skip
    best = [best_person(people) for people in frames]
    return build_keypoints([None if fr is None else (fr[0][:keep], fr[1][:keep]) for fr in best], keep, joint_set,
                           **meta)  # fmt: skip


def mmpose_from_data(data: Any, path: Path, fps, width, height) -> Keypoints2D:
    """One person per frame: the instance with the highest mean keypoint score."""
    return _mmpose(data, path, fps, width, height, multi=False)


def mmpose_multi_from_data(data: Any, path: Path, fps, width, height) -> MultiKeypoints2D:
    """Every instance of every frame, followed across frames by the keypoint tracker."""
    return _mmpose(data, path, fps, width, height, multi=True)


def read_mmpose_predictions(
    path, fps: float | None = None, width: int | None = None, height: int | None = None
) -> Keypoints2D:
    """mmpose saved predictions (demo ``--save-predictions`` or inferencer JSON)."""
    return read_json_as("mmpose predictions JSON", mmpose_from_data, path, fps, width, height)


def read_mmpose_predictions_multi(path, fps: float | None = None, width: int | None = None,
                                  height: int | None = None) -> MultiKeypoints2D:  # fmt: skip
    """Every person of mmpose predictions (see :func:`mmpose_multi_from_data`)."""
    return read_json_as("mmpose predictions JSON", mmpose_multi_from_data, path, fps, width, height)
