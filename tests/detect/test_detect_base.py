import cv2
import numpy as np
import pytest

import hmcli.detect.base as base
from hmcli.detect import Detector, detect_video, get_detector, register_detector, run_detector
from hmcli.io.atomic import HMError


class FakeDetector:
    """Finds a 'person' only in frames whose mean brightness is above 100."""

    name = "fake-v1"
    joint_set = "coco17"

    def __init__(self):
        self.closed = False
        self.seen = []

    def detect(self, frame_bgr, timestamp):
        self.seen.append(timestamp)
        if frame_bgr.mean() <= 100:
            return np.full((17, 2), 7.0), np.full(17, 0.9), False  # garbage that must be dropped
        xy = np.stack([np.arange(17, dtype=np.float32), np.full(17, timestamp, np.float32)], axis=1)
        conf = np.linspace(-0.5, 1.5, 17)  # out of range: must be clipped
        return xy, conf, True

    def close(self):
        self.closed = True


def _frames(pattern, size=(32, 24)):
    w, h = size
    for i, bright in enumerate(pattern):
        yield i, i / 10.0, np.full((h, w, 3), 200 if bright else 0, np.uint8)


def test_fake_is_a_detector():
    assert isinstance(FakeDetector(), Detector)


def test_frames_without_person_are_kept():
    det = FakeDetector()
    calls = []
    kp = run_detector(det, _frames([1, 0, 0, 1]), on_frame=lambda i, n: calls.append((i, n)), source="x")
    assert kp.num_frames == 4
    assert kp.detected.tolist() == [True, False, False, True]
    assert kp.conf[1].tolist() == [0.0] * 17 and kp.conf[2].max() == 0.0
    assert kp.xy[1].max() == 0.0
    assert kp.conf[0].min() == 0.0 and kp.conf[0].max() == 1.0
    np.testing.assert_allclose(kp.timestamps, [0.0, 0.1, 0.2, 0.3])
    assert kp.xy[3, 5].tolist() == [5.0, pytest.approx(0.3)]
    assert (kp.width, kp.height, kp.joint_set, kp.detector, kp.source) == (32, 24, "coco17", "fake-v1", "x")
    assert calls == [(0, None), (1, None), (2, None), (3, None)]
    assert not det.closed  # run_detector does not own the detector


def test_on_frame_total_from_sized_input():
    frames = list(_frames([1, 1, 0]))
    calls = []
    run_detector(FakeDetector(), frames, lambda i, n: calls.append((i, n)))
    assert calls == [(0, 3), (1, 3), (2, 3)]


def test_no_frames_is_hmerror():
    with pytest.raises(HMError, match="no frames"):
        run_detector(FakeDetector(), iter([]))


def test_size_change_is_hmerror():
    frames = [(0, 0.0, np.zeros((10, 10, 3), np.uint8)), (1, 0.1, np.zeros((12, 10, 3), np.uint8))]
    with pytest.raises(HMError, match="frame 1"):
        run_detector(FakeDetector(), frames)


def test_bad_detector_output_shape():
    class Bad(FakeDetector):
        def detect(self, frame_bgr, timestamp):
            return np.zeros((17, 3)), np.zeros(17), True

    with pytest.raises(ValueError, match="returned xy"):
        run_detector(Bad(), _frames([1]))


def test_detect_video_with_registered_detector(tmp_path):
    p = tmp_path / "v.mp4"
    writer = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (32, 32))
    for i in range(6):
        writer.write(np.full((32, 32, 3), 220 if i % 2 == 0 else 10, np.uint8))
    writer.release()
    made = []
    register_detector("fake-unit", lambda **kw: made.append(FakeDetector()) or made[-1])
    try:
        calls = []
        kp = detect_video(p, "fake-unit", lambda i, n: calls.append((i, n)))
    finally:
        base._CUSTOM.pop("fake-unit", None)
    assert kp.detected.tolist() == [True, False] * 3
    assert calls[-1] == (5, 6)
    assert kp.source == str(p) and len(kp.source_hash) == 64
    np.testing.assert_allclose(kp.timestamps, np.arange(6) / 25.0, atol=1e-3)
    assert made[0].closed  # detect_video closes what it created


def test_unknown_detector():
    with pytest.raises(HMError, match="unknown detector 'nope'; available: .*mediapipe"):
        get_detector("nope")


def test_backend_not_installed_message(monkeypatch):
    real = base.importlib.util.find_spec
    monkeypatch.setattr(base.importlib.util, "find_spec", lambda n, *a: None if n == "mediapipe" else real(n, *a))
    with pytest.raises(HMError) as e:
        get_detector("blazepose")
    msg = str(e.value)
    assert "not installed" in msg and "pip install -c constraints.txt -e '.[mediapipe]'" in msg
    assert "\n" not in msg


def test_mmpose_not_installed_message():
    pytest.importorskip("hmcli")
    if base.importlib.util.find_spec("mmpose") is not None:
        pytest.skip("mmpose is installed here")
    with pytest.raises(HMError, match="mmpose.*not installed.*opt-in"):
        get_detector("mmpose", config="x.py")
    from hmcli.detect.mmpose_backend import MMPoseTopDown

    with pytest.raises(HMError, match="not installed"):
        MMPoseTopDown("x.py")
