"""Shared test material for the API, lifting engine and CLI tests: tiny random-weight
checkpoints, smooth synthetic 2D keypoints, synthetic videos and a fake detector."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from hmcli.detect.base import register_detector
from hmcli.nn.registry import build_from_config
from hmcli.skeleton import PoseCodec
from hmcli.io.checkpoint import save_checkpoint
from hmcli.types import Keypoints2D

TINY = dict(dim=16, depth=1, state=8, rep_dim=16)

# A standing COCO-17 figure, pixels, centred in a 320 x 240 frame.
COCO_POSE = np.array(
    [
        [160, 50], [155, 45], [165, 45], [148, 48], [172, 48],  # nose, eyes, ears
        [140, 75], [180, 75], [132, 105], [188, 105], [128, 132], [192, 132],  # shoulders, elbows, wrists
        [148, 135], [172, 135], [146, 172], [174, 172], [145, 210], [175, 210],  # hips, knees, ankles
    ],
    np.float32,
)  # fmt: skip


def tiny_checkpoint(path, causal: bool = False, seed: int = 0, **overrides) -> str:
    """Save a random-weight tiny HumMUSS checkpoint; returns its path as a string."""
    torch.manual_seed(seed)
    model = build_from_config("hummuss", {**TINY, "causal": causal, **overrides})
    save_checkpoint(path, model, "hummuss", PoseCodec(), meta={"model_id": f"tiny-{'causal' if causal else 'bi'}"})
    return str(path)


def pose_at(t: np.ndarray | float) -> np.ndarray:
    """Smooth motion: the figure sways and waves its arms. (..., 17, 2) pixels."""
    t = np.asarray(t, np.float64)[..., None, None]
    xy = np.broadcast_to(COCO_POSE, t.shape[:-2] + COCO_POSE.shape).astype(np.float64).copy()
    xy[..., 0] += 12.0 * np.sin(2 * np.pi * 0.4 * t[..., 0])
    arms = [7, 8, 9, 10]
    xy[..., arms, 1] -= (25.0 * (1 + np.sin(2 * np.pi * 0.7 * t)))[..., 0]
    return xy.astype(np.float32)


def make_keypoints(n: int = 60, fps: float = 25.0, timestamps=None, detected=None, width: int = 320,
                   height: int = 240) -> Keypoints2D:  # fmt: skip
    ts = np.arange(n, dtype=np.float64) / fps if timestamps is None else np.asarray(timestamps, np.float64)
    det = np.ones(len(ts), bool) if detected is None else np.asarray(detected, bool)
    xy = pose_at(ts)
    conf = np.full(xy.shape[:2], 0.9, np.float32)
    xy[~det] = 0.0
    conf[~det] = 0.0
    return Keypoints2D(xy=xy, conf=conf, joint_set="coco17", timestamps=ts, width=width, height=height,
                       detected=det, detector="synthetic", source="synthetic.npz")  # fmt: skip


def write_video(path, n: int = 12, fps: float = 25.0, size=(320, 240), dark=()) -> str:
    """Grey frames (dark ones where listed: the fake detector finds nobody there)."""
    w, h = size
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert vw.isOpened()
    for i in range(n):
        vw.write(np.full((h, w, 3), 10 if i in dark else 160, np.uint8))
    vw.release()
    return str(path)


class FakeDetector:
    """Finds the synthetic figure (pose_at(timestamp)) in bright frames, nobody in dark ones."""

    name = "fake-detector-v1"
    joint_set = "coco17"

    def detect(self, frame_bgr, timestamp):
        if frame_bgr.mean() < 80:
            return np.zeros((17, 2), np.float32), np.zeros(17, np.float32), False
        return pose_at(timestamp), np.full(17, 0.9, np.float32), True

    def close(self):
        pass


register_detector("fake-test", FakeDetector)


class TwoPersonFake:
    """Two persons: the synthetic figure (left) and a copy 150 px to its right that is absent
    from dark frames and from frames listed in ``right_absent`` (class attribute)."""

    name = "fake-two-v1"
    joint_set = "coco17"
    right_absent: frozenset = frozenset()

    def __init__(self) -> None:
        self.frame = -1

    def detect_multi(self, frame_bgr, timestamp):
        self.frame += 1
        left = (pose_at(timestamp), np.full(17, 0.9, np.float32))
        if frame_bgr.mean() < 80:
            return []
        if self.frame in self.right_absent:
            return [left]
        return [(left[0] + np.float32(150), left[1]), left]  # order must not matter

    def detect(self, frame_bgr, timestamp):  # the one-person path: the left figure
        people = self.detect_multi(frame_bgr, timestamp)
        if not people:
            return np.zeros((17, 2), np.float32), np.zeros(17, np.float32), False
        return people[-1][0], people[-1][1], True

    def close(self):
        pass


register_detector("fake-two", TwoPersonFake)

#: Pixels the two figures of :class:`FakeTwoDetector` stand left and right of the centre.
TWO_SHIFT = 70.0


def make_two_keypoints(n: int = 12, fps: float = 25.0, late: int = 3, ids=(1, 2)):
    """Two tracked figures (the synthetic one shifted left / right by TWO_SHIFT px) as a
    MultiKeypoints2D with track ids ``ids``; the second is first seen in frame ``late``."""
    from hmcli.types import MultiKeypoints2D

    a, b = make_keypoints(n, fps), make_keypoints(n, fps, detected=[i >= late for i in range(n)])
    a.xy[..., 0] -= TWO_SHIFT
    b.xy[b.detected, :, 0] += TWO_SHIFT
    return MultiKeypoints2D.from_persons([a, b], list(ids))


class FakeTwoDetector:
    """Finds two synthetic figures side by side (left and right of the centre) in bright frames,
    nobody in dark ones: ``detect_multi`` -> [(xy (17, 2), conf (17,)), ...]."""

    name = "fake-two-detector-v1"
    joint_set = "coco17"

    def detect_multi(self, frame_bgr, timestamp):
        if frame_bgr.mean() < 80:
            return []
        xy = pose_at(timestamp)
        conf = np.full(17, 0.9, np.float32)
        return [(xy - np.array([TWO_SHIFT, 0], np.float32), conf), (xy + np.array([TWO_SHIFT, 0], np.float32), conf)]

    def detect(self, frame_bgr, timestamp):
        """The one-person path (--max-persons 1): the left figure."""
        people = self.detect_multi(frame_bgr, timestamp)
        if not people:
            return np.zeros((17, 2), np.float32), np.zeros(17, np.float32), False
        return people[0][0], people[0][1], True

    def close(self):
        pass


register_detector("fake-two-test", FakeTwoDetector)
