"""Recording a detector's 3D world landmarks (hmcli.detect.world); no mediapipe needed."""

import numpy as np
import pytest

from hmcli.detect import WorldRecorder, detect_video_world, run_detector
from hmcli.io.atomic import HMError
from tests.cli.helpers import FakeDetector, write_video


class FakeWorld(FakeDetector):
    """The fake 2D detector plus ``last_world``: frame k's world landmarks are all k (stale on
    misses, as a careless backend would leave them: the recorder must not use them)."""

    joint_set = "blazepose33"

    def __init__(self):
        self.k = 0
        self.last_world = None

    def detect(self, frame_bgr, timestamp):
        self.k += 1
        found = frame_bgr.mean() >= 80
        if found:
            self.last_world = np.full((33, 3), float(self.k), np.float32)
        return np.zeros((33, 2), np.float32), np.full(33, 0.9 if found else 0.0, np.float32), found


def test_recorder_stacks_world_landmarks_with_nan_for_misses():
    frames = [(i, i / 25, np.full((8, 8, 3), 10 if i == 2 else 160, np.uint8)) for i in range(4)]
    rec = WorldRecorder(FakeWorld())
    kp = run_detector(rec, frames)
    assert kp.detected.tolist() == [True, True, False, True] and rec.name == "fake-detector-v1"
    w = rec.world
    assert w.shape == (4, 33, 3) and w.dtype == np.float32
    assert w[0, 0, 0] == 1 and w[1, 0, 0] == 2 and np.isnan(w[2]).all() and w[3, 0, 0] == 4


def test_tasks_backend_lists_are_taken_when_one_person():
    det = FakeWorld()
    rec = WorldRecorder(det)
    frame = np.full((8, 8, 3), 160, np.uint8)
    det.last_world = None
    orig = det.detect

    def detect(f, t):  # a Tasks-like backend: one array per person found
        out = orig(f, t)
        det.last_world = [det.last_world]
        return out

    det.detect = detect
    rec.detect(frame, 0.0)
    assert rec.world.shape == (1, 33, 3) and rec.world[0, 0, 0] == 1


def test_detectors_without_world_landmarks_are_refused():
    with pytest.raises(HMError, match="no 3D world landmarks"):
        WorldRecorder(FakeDetector())


def test_detect_video_world(tmp_path):
    video = write_video(tmp_path / "v.mp4", n=5, dark=(1,))
    det = FakeWorld()
    kp, world = detect_video_world(video, det)
    assert kp.num_frames == 5 and world.shape == (5, 33, 3)
    assert np.isnan(world[1]).all() and np.isfinite(world[[0, 2, 3, 4]]).all()
    assert kp.joint_set == "blazepose33"
