from hmcli.detect.timed import TimedDetector, TimedFrames


class _Det:
    name, joint_set, closed = "d", "coco17", False

    def detect(self, frame, t):
        return frame, t, True

    def close(self):
        self.closed = True


def test_timed_detector_and_frames():
    inner = _Det()
    det = TimedDetector(inner)
    frames = TimedFrames([(0, 0.0, "a"), (1, 0.04, "b")])
    out = [det.detect(f, t) for _, t, f in frames]
    assert out == [("a", 0.0, True), ("b", 0.04, True)] and (det.name, det.joint_set) == ("d", "coco17")
    assert det.seconds >= 0.0 and frames.seconds >= 0.0
    det.close()
    assert inner.closed
    TimedDetector("mediapipe").close()  # created lazily: nothing to close, nothing created
