"""Multi-person detection without a real model: tiling maths, duplicate merging, the
multi-person run loop with a fake detector, the one-person wrapper and the mmpose
backend's ``detect_multi`` with a fake inferencer."""

import numpy as np
import pytest

import hmcli.detect.base as base
from hmcli.detect import (
    MultiDetector,
    SingleAsMulti,
    as_multi,
    get_multi_detector,
    run_detector_multi,
)
from hmcli.detect.mediapipe_tasks import TileSpan, keypoint_similarity, merge_duplicates, tile_spans
from hmcli.detect.timed import TimedDetector
from hmcli.io.atomic import HMError
from hmcli.track import TrackerConfig
from hmcli.types import MultiKeypoints2D

# ------------------------------------------------------------------ tiling


@pytest.mark.parametrize(
    ("size", "spans"),
    [
        ((540, 540), [(0, 540)]),  # square: no tiling
        ((720, 1280), [(0, 720)]),  # portrait
        ((900, 720), [(0, 900)]),  # exactly 1.25 x H
        ((1000, 720), [(0, 1000)]),  # wider than 1.25 H but narrower than one 1.5 H tile
        ((1280, 720), [(0, 1080), (200, 1280)]),  # 16:9
        ((1440, 720), [(0, 1080), (360, 1440)]),  # the 2-person composite
        ((1845, 720), [(0, 1080), (765, 1845)]),  # the 3-person composite
        ((2160, 720), [(0, 1080), (540, 1620), (1080, 2160)]),  # 3:1
        ((720, 360), [(0, 540), (180, 720)]),  # the small test composite
    ],
)
def test_tile_spans(size, spans):
    assert [(t.x0, t.x1) for t in tile_spans(*size)] == spans


@pytest.mark.parametrize("seed", range(5))
def test_tile_spans_cover_and_overlap(seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        h = int(rng.integers(50, 1500))
        w = int(rng.integers(1, 8 * h))
        tiles = tile_spans(w, h)
        assert tiles[0].x0 == 0 and tiles[-1].x1 == w
        if len(tiles) == 1:
            assert tiles[0] == TileSpan(0, w)
            continue
        tw = round(1.5 * h)
        assert w > 1.25 * h and all(t.width == tw for t in tiles)
        for a, b in zip(tiles, tiles[1:], strict=False):
            assert a.x0 < b.x0 and a.x1 - b.x0 >= 0.25 * tw - 1  # neighbours overlap by >= a quarter tile


def test_tile_spans_bad_size():
    with pytest.raises(ValueError):
        tile_spans(0, 10)


# ------------------------------------------------------------------ duplicate merge

J = 17


def _skeleton(cx, cy, size=60.0):
    """(17, 2) px: a fixed, non-degenerate pattern of joints around (cx, cy), ``size`` tall."""
    ang = np.linspace(0, 2 * np.pi, J, endpoint=False)
    r = np.linspace(0.2, 0.5, J)
    return np.stack([cx + size * 0.5 * r * np.cos(ang), cy + size * r * np.sin(ang)], 1).astype(np.float32)


def test_keypoint_similarity():
    a, c = _skeleton(100, 100), np.full(J, 0.9, np.float32)
    assert keypoint_similarity(a, c, a, c) == pytest.approx(1.0)
    assert keypoint_similarity(a, c, a + 1.0, c) > 0.9  # 1.4 px on a ~45 px skeleton
    assert keypoint_similarity(a, c, _skeleton(300, 100), c) < 1e-6
    # scale-normalised: the same relative offset on a 2x larger person scores the same
    big = _skeleton(100, 100, 120.0)
    assert keypoint_similarity(big, c, big + 4.0, c) == pytest.approx(keypoint_similarity(a, c, a + 2.0, c), rel=1e-4)
    # joints seen by only one side do not count
    c2 = c.copy()
    c2[:5] = 0.0
    moved = a.copy()
    moved[:5] += 500.0
    assert keypoint_similarity(a, c, moved, c2) == pytest.approx(1.0)


def test_merge_duplicates_keeps_higher_visibility_in_order():
    a1 = (_skeleton(100, 100), np.full(J, 0.6, np.float32))  # person A, seen by tile 1 (cut off)
    b = (_skeleton(400, 100), np.full(J, 0.9, np.float32))  # person B
    a2 = (_skeleton(102, 101), np.full(J, 0.95, np.float32))  # person A, seen fully by tile 2
    out = merge_duplicates([a1, b, a2])
    assert len(out) == 2
    assert out[0] is b and out[1] is a2  # input order kept, A from the better tile
    assert merge_duplicates([a1]) == [a1] and merge_duplicates([]) == []
    # extra items travel with their person
    out = merge_duplicates([(*a1, "w1"), (*a2, "w2")])
    assert len(out) == 1 and out[0][2] == "w2"


def test_merge_keeps_two_people_standing_close():
    c = np.full(J, 0.9, np.float32)
    out = merge_duplicates([(_skeleton(100, 100), c), (_skeleton(150, 100), c)])  # side by side, touching
    assert len(out) == 2


# ------------------------------------------------------------------ run_detector_multi


class FakeMulti:
    """Two persons crossing: A moves right, B moves left, 10 px lower; they pass each other at
    frame 10. Nobody in frames 20-22. A third, short-lived person in frames 5-6. Detections
    come in a different order on odd frames."""

    name = "fake-multi"
    joint_set = "coco17"

    def __init__(self, ghost=True):
        self.ghost = ghost
        self.closed = False

    @staticmethod
    def pos(i):
        return 20 + 9 * i, 200 - 9 * i  # A's and B's centre x at frame i

    def detect_multi(self, frame_bgr, timestamp):
        i = round(timestamp * 10)
        if 20 <= i <= 22:
            return []
        ax, bx = self.pos(i)
        conf = np.full(J, 0.9, np.float32)
        people = [(_skeleton(ax, 100), conf), (_skeleton(bx, 110), conf.copy())]
        if self.ghost and i in (5, 6):
            people.append((_skeleton(300, 40, 30.0), np.full(J, 0.5, np.float32)))
        return people[::-1] if i % 2 else people

    def close(self):
        self.closed = True


def _frames(n, size=(320, 240)):
    w, h = size
    return [(i, i / 10.0, np.zeros((h, w, 3), np.uint8)) for i in range(n)]


def test_fake_multi_is_a_multi_detector():
    assert isinstance(FakeMulti(), MultiDetector)
    assert as_multi(FakeMulti()).__class__ is FakeMulti


def test_crossing_keeps_ids():
    calls = []
    m = run_detector_multi(FakeMulti(ghost=False), _frames(30), lambda i, n: calls.append((i, n)), source="s",
                           source_hash="h")  # fmt: skip
    assert isinstance(m, MultiKeypoints2D)
    assert m.xy.shape == (2, 30, J, 2) and m.conf.shape == (2, 30, J)
    assert m.track_ids.tolist() == [1, 2]
    assert calls[-1] == (29, 30)
    assert (m.width, m.height, m.joint_set, m.detector, m.source, m.source_hash) == (320, 240, "coco17", "fake-multi", "s", "h")
    np.testing.assert_allclose(m.timestamps, np.arange(30) / 10.0)
    gap = np.zeros(30, bool)
    gap[20:23] = True
    for p in range(2):
        assert (m.detected[p] == ~gap).all()
        assert m.conf[p, gap].max() == 0.0 and m.xy[p, gap].max() == 0.0
    # each row is one person all along: after the crossing and after the gap
    frames = np.flatnonzero(~gap)
    ax = np.array([FakeMulti.pos(i)[0] for i in frames])
    bx = np.array([FakeMulti.pos(i)[1] for i in frames])
    row_a = int(np.argmin([abs(m.xy[p, 0, :, 0].mean() - 20) for p in range(2)]))
    np.testing.assert_allclose(m.xy[row_a, frames, :, 0].mean(-1), ax, atol=3)
    np.testing.assert_allclose(m.xy[1 - row_a, frames, :, 0].mean(-1), bx, atol=3)


def test_short_tracks_and_max_persons():
    m = run_detector_multi(FakeMulti(), _frames(30))
    assert m.num_persons == 3  # the ghost is a third track
    assert m.detected[2].sum() == 2
    m = run_detector_multi(FakeMulti(), _frames(30), min_track_length=3)
    assert m.num_persons == 2 and m.track_ids.tolist() == [1, 2]
    m = run_detector_multi(FakeMulti(), _frames(30), max_persons=1)
    assert m.num_persons == 1 and m.detected[0].sum() == 27
    with pytest.raises(HMError, match="max_persons"):
        run_detector_multi(FakeMulti(), _frames(3), max_persons=0)
    with pytest.raises(HMError, match="min_track_length"):
        run_detector_multi(FakeMulti(), _frames(3), min_track_length=0)


def test_tracker_config_is_used():
    # max_lost=1: the 3-frame gap ends both tracks, so the persons come back with new ids
    m = run_detector_multi(FakeMulti(ghost=False), _frames(30), tracker=TrackerConfig(max_lost=1))
    assert m.num_persons == 4 and m.track_ids.tolist() == [1, 2, 3, 4]


def test_nobody_at_all():
    class Nobody(FakeMulti):
        def detect_multi(self, frame_bgr, timestamp):
            return []

    m = run_detector_multi(Nobody(), _frames(4))
    assert m.xy.shape == (0, 4, J, 2) and m.track_ids.shape == (0,)
    assert m.person_or_empty().num_frames == 4


def test_errors():
    with pytest.raises(HMError, match="no frames"):
        run_detector_multi(FakeMulti(), [])
    frames = _frames(2)
    frames[1] = (1, 0.1, np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(HMError, match="frame 1 is 10x10"):
        run_detector_multi(FakeMulti(), frames)

    class Bad(FakeMulti):
        def detect_multi(self, frame_bgr, timestamp):
            return [(np.zeros((J, 3)), np.zeros(J))]

    with pytest.raises(ValueError, match="returned xy"):
        run_detector_multi(Bad(), _frames(2))


def test_non_finite_values_are_cleaned():
    class Nan(FakeMulti):
        def detect_multi(self, frame_bgr, timestamp):
            xy = _skeleton(100, 100)
            xy[0] = np.nan
            conf = np.full(J, 1.5, np.float32)
            conf[1] = np.nan
            return [(xy, conf)]

    m = run_detector_multi(Nan(), _frames(3))
    assert np.isfinite(m.xy).all() and m.xy[0, :, 0].max() == 0.0
    assert m.conf.max() == 1.0 and m.conf[0, :, 1].max() == 0.0


class OnePerson:
    """A one-person detector: the person only in even frames."""

    name = "one"
    joint_set = "coco17"

    def __init__(self):
        self.closed = False

    def detect(self, frame_bgr, timestamp):
        i = round(timestamp * 10)
        return _skeleton(50 + i, 60), np.full(J, 0.8, np.float32), i % 2 == 0

    def close(self):
        self.closed = True


def test_single_person_detector_through_the_multi_loop():
    one = OnePerson()
    wrapped = as_multi(one)
    assert isinstance(wrapped, SingleAsMulti) and isinstance(wrapped, MultiDetector)
    assert (wrapped.name, wrapped.joint_set) == ("one", "coco17")
    m = run_detector_multi(one, _frames(6))
    assert m.num_persons == 1 and m.detected[0].tolist() == [True, False] * 3
    wrapped.close()
    assert one.closed
    with pytest.raises(TypeError):
        as_multi(object())


def test_timed_detector_multi():
    td = TimedDetector(lambda: FakeMulti(ghost=False))  # a factory, created on first use
    m = run_detector_multi(td, _frames(5))
    assert m.num_persons == 2 and td.seconds > 0 and td.name == "fake-multi"
    td.close()
    assert td.det.closed
    td = TimedDetector(OnePerson())
    assert len(td.detect_multi(np.zeros((8, 8, 3), np.uint8), 0.0)) == 1


def test_get_multi_detector_routing(monkeypatch):
    made = []

    def fake_get(name, **kw):
        made.append((name, kw))
        return OnePerson()

    monkeypatch.setattr(base, "get_detector", fake_get)
    get_multi_detector("mediapipe", 3)
    get_multi_detector("blazepose", 1)
    get_multi_detector("mediapipe", None)
    get_multi_detector("mmpose", 4, config="x.py")
    assert made == [
        ("mediapipe-multi", {"max_persons": 3}),
        ("mediapipe", {}),
        ("mediapipe-multi", {"max_persons": 4}),
        ("mmpose", {"config": "x.py"}),
    ]
    assert isinstance(get_multi_detector("mediapipe", 1), SingleAsMulti)
    with pytest.raises(HMError, match="max_persons"):
        get_multi_detector("mediapipe", 0)


def test_detect_video_multi_and_api(tmp_path):
    import cv2

    from hmcli import api
    from hmcli.detect import register_detector

    p = str(tmp_path / "v.avi")
    vw = cv2.VideoWriter(p, cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for _ in range(12):
        vw.write(np.zeros((48, 64, 3), np.uint8))
    vw.release()
    made = []
    register_detector("fake-multi-unit", lambda **kw: made.append(FakeMulti(**kw)) or made[-1])
    try:
        m = api.detect_multi(p, "fake-multi-unit", max_persons=2, max_frames=10)
        assert m.num_persons == 2 and m.num_frames == 10 and m.source == p and len(m.source_hash) == 64
        assert made[-1].closed
        t = api.Timings()
        stages = []
        m = api.detect_file_multi(p, "fake-multi-unit", max_persons=3, min_track_length=3, timings=t,
                                  on_progress=lambda *a: stages.append(a))  # fmt: skip
        assert m.num_persons == 2 and m.num_frames == 12 and t.detect > 0
        assert stages[0] == ("detect", 0, 12) and stages[-1] == ("detect", 12, 12)
        assert made[-1].closed
    finally:
        base._CUSTOM.pop("fake-multi-unit", None)
    with pytest.raises(HMError, match="max_persons"):
        api.detect_multi(p, max_persons=0)
    with pytest.raises(HMError, match="min_track_length"):
        api.detect_file_multi(p, min_track_length=0)


# ------------------------------------------------------------------ mmpose detect_multi (fake inferencer)


class _Inst:
    def __init__(self, kpts, scores):
        self.keypoints, self.keypoint_scores = kpts, scores


class _Sample:
    def __init__(self, kpts, scores):
        self.pred_instances = _Inst(kpts, scores)


def _fake_mmpose(bbox=None, min_score=0.3):
    from hmcli.detect.mmpose_backend import MMPoseTopDown, _boxes

    det = object.__new__(MMPoseTopDown)  # skip __init__: no mmpose here
    det.calls = []

    def infer(model, frame, boxes, bbox_format):
        det.calls.append(np.asarray(boxes).copy())
        out = []
        for k, b in enumerate(np.asarray(boxes)):
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            kpts = np.concatenate([_skeleton(cx, cy), np.zeros((9, 2), np.float32)])[None]  # (1, 26, 2): halpe-sized
            out.append(_Sample(kpts, np.full((1, 26), 0.9 if k != 1 else 0.1, np.float32)))
        return out

    det._model, det._infer, det.joint_set, det._keep = object(), infer, "coco17", 17
    det.name, det.min_score = "mmpose/fake", float(min_score)
    det.bbox = None if bbox is None else _boxes(bbox)[0]
    det.bboxes = None if bbox is None else _boxes(bbox)
    return det


def test_mmpose_detect_multi_with_fake_inferencer():
    frame = np.zeros((100, 200, 3), np.uint8)
    det = _fake_mmpose()
    people = det.detect_multi(frame, 0.0)
    assert len(people) == 1 and people[0][0].shape == (17, 2) and people[0][1].shape == (17,)
    np.testing.assert_array_equal(det.calls[-1], [[0, 0, 200, 100]])
    boxes = [[0, 0, 60, 100], [60, 0, 120, 100], [120, 0, 200, 100]]
    det = _fake_mmpose(boxes)
    people = det.detect_multi(frame, 0.0)
    assert len(people) == 2  # the middle box's instance scores below min_score
    assert people[0][0][:, 0].mean() < 60 < 120 < people[1][0][:, 0].mean()
    xy, conf, found = det.detect(frame, 0.0)  # the first box only
    assert found and det.calls[-1].shape == (1, 4)
    m = run_detector_multi(det, [(i, i / 10, frame) for i in range(4)])
    assert m.num_persons == 2 and m.detected.all()


def test_mmpose_bad_bbox():
    from hmcli.detect.mmpose_backend import _boxes

    assert _boxes((1, 2, 3, 4)).shape == (1, 4)
    for bad in ([1, 2, 3], [[0, 0, 1, 1, 1]], [5, 0, 1, 1], [0, 0, np.nan, 1]):
        with pytest.raises(HMError, match="bbox"):
            _boxes(bad)


def test_count_persons_counts_each_frame():
    import numpy as np

    from hmcli.detect import count_persons

    class Fake:
        name, joint_set = "fake", "coco17"

        def __init__(self):
            self.seen = []

        def detect_multi(self, frame, t):
            self.seen.append(t)
            return [(np.zeros((17, 2)), np.ones(17))] * int(frame[0, 0, 0])

    det = Fake()
    frames = [np.full((4, 4, 3), k, np.uint8) for k in (1, 3, 0, 2)]
    assert count_persons(frames, det) == [1, 3, 0, 2] and det.seen == [0.0, 1.0, 2.0, 3.0]
    assert count_persons([], det) == []
