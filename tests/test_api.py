"""hmcli.api: detect / lift / lift_video / lift_file / stream."""

from __future__ import annotations


import numpy as np
import pytest

from hmcli import api
from hmcli.io.atomic import HMError
from hmcli.io.keypoints import save_keypoints_npz
from hmcli.io.video import sha256_file
from hmcli.io.checkpoint import CheckpointError
from tests.cli.helpers import FakeDetector, make_keypoints, write_video


pytestmark = pytest.mark.usefixtures("one_thread")


def joints(records):
    return np.array([r["joints3d"] for r in records], np.float64)


def test_detect_with_registered_fake_detector(tmp_path):
    v = write_video(tmp_path / "v.mp4", n=10, dark={3, 4})
    calls = []
    kp = api.detect(v, "fake-test", on_frame=lambda i, n: calls.append((i, n)))
    assert kp.num_frames == 10 and kp.joint_set == "coco17" and kp.detector == "fake-detector-v1"
    assert kp.detected.tolist() == [i not in (3, 4) for i in range(10)]
    assert kp.source == v and kp.source_hash == sha256_file(v)
    assert calls[-1] == (9, 10)
    assert api.detect(v, "fake-test", max_frames=4).num_frames == 4


def test_lift_video_provenance(tmp_path, ckpts):
    v = write_video(tmp_path / "v.mp4", n=12)
    res = api.lift_video(v, model=ckpts["bi"], detector="fake-test")
    assert res.joints3d.shape == (12, 17, 3)
    assert res.model_hash == sha256_file(ckpts["bi"]) and res.model_id == "tiny-bi"
    kp = res.kpts2d
    assert (kp.detector, kp.source, kp.source_hash) == ("fake-detector-v1", v, sha256_file(v))
    assert kp.fps == pytest.approx(25.0, rel=1e-3)
    # equals detect + lift
    ref = api.lift(api.detect(v, "fake-test"), api.load_lifter(ckpts["bi"]))
    np.testing.assert_allclose(res.joints3d, ref.joints3d, atol=1e-6)


def test_lift_video_fails_on_model_before_detecting(tmp_path):
    v = write_video(tmp_path / "v.mp4", n=3)

    class Exploding(FakeDetector):
        def detect(self, frame, t):
            raise AssertionError("detector must not run")

    with pytest.raises(CheckpointError):
        api.lift_video(v, model=str(tmp_path / "missing.pt"), detector=Exploding())


def test_lift_file_npz_and_json(tmp_path, ckpts):
    kp = make_keypoints(20)
    save_keypoints_npz(kp, tmp_path / "k.npz")
    api.write_keypoints_json(tmp_path / "k.json", kp)
    a = api.lift_file(tmp_path / "k.npz", model=ckpts["bi"])
    b = api.lift_file(tmp_path / "k.json", model=ckpts["bi"])
    ref = api.lift(kp, api.load_lifter(ckpts["bi"]))
    np.testing.assert_allclose(a.joints3d, ref.joints3d, atol=1e-6)
    np.testing.assert_allclose(b.joints3d, ref.joints3d, atol=1e-3)  # JSON rounds pixels to 0.01


@pytest.mark.parametrize("variable, flip", [(False, True), (True, True), (False, False)])
def test_stream_equals_offline_causal(ckpts, variable, flip):
    rng = np.random.default_rng(3)
    ts = np.cumsum(rng.uniform(0.02, 0.06, 40)) if variable else np.arange(40) / 25.0
    det = np.ones(40, bool)
    det[7:9] = False
    kp = make_keypoints(timestamps=ts, detected=det)
    lm = api.load_lifter(ckpts["causal"], causal=True)
    offline = api.lift(kp, lm, flip=flip)
    recs = list(api.stream(kp, lm, flip=flip))  # with flip: the frame and its mirror image as a batch of 2
    assert [r["index"] for r in recs] == list(range(40))
    assert [r["detected"] for r in recs] == det.tolist()
    np.testing.assert_allclose([r["t"] for r in recs], ts, atol=1e-6)
    # first frame: the stream cannot know the median gap in advance (nominal rate instead)
    skip = 1 if variable else 0
    np.testing.assert_allclose(joints(recs)[skip:], offline.joints3d[skip:], atol=2e-4)
    k2 = np.array([r["kpts2d"] for r in recs])
    np.testing.assert_allclose(k2[..., :2], offline.kpts2d.xy, atol=0.006)


def test_stream_video_frames_with_header(tmp_path, ckpts):
    v = write_video(tmp_path / "v.mp4", n=10, dark={2})
    lm = api.load_lifter(ckpts["causal"], causal=True)
    recs = list(api.stream(v, lm, "fake-test", header=True))
    head, frames = recs[0], recs[1:]
    assert head["schema"] == "hm.pose3d" and (head["width"], head["height"]) == (320, 240)
    assert head["model_hash"] == sha256_file(ckpts["causal"]) and head["detector"] == "fake-detector-v1"
    assert head["source"] == v and head["source_hash"] == sha256_file(v)
    assert len(frames) == 10 and frames[2]["detected"] is False
    offline = api.lift_video(v, model=lm, causal=True, detector="fake-test")
    np.testing.assert_allclose(joints(frames), offline.joints3d, atol=2e-4)
    # any iterable of (index, t, frame) works as well, and stops at max_frames
    from hmcli.io.video import iter_frames

    again = list(api.stream(iter_frames(v), lm, FakeDetector(), max_frames=4, nominal_fps=25.0))
    assert len(again) == 4
    np.testing.assert_allclose(joints(again), joints(frames[:4]), atol=1e-6)


def test_stream_state_is_constant_size(ckpts):
    from hmcli.lift import FrameLifter

    lm = api.load_lifter(ckpts["causal"], causal=True)
    fl = FrameLifter(lm, "coco17", 320, 240, nominal_fps=25.0)
    kp = make_keypoints(50)
    sizes = []
    for i in range(50):
        fl.step(kp.xy[i], kp.conf[i], kp.timestamps[i])
        sizes.append(fl.streamer.state_bytes())
    assert sizes[0] > 0 and len(set(sizes)) == 1


def test_stream_refuses_bidirectional(ckpts):
    with pytest.raises(CheckpointError, match="bidirectional"):
        next(api.stream(make_keypoints(3), api.load_lifter(ckpts["bi"])))


def test_stream_no_camera(ckpts):
    lm = api.load_lifter(ckpts["causal"], causal=True)
    with pytest.raises(HMError, match="camera 97"):
        next(api.stream(97, lm, "fake-test"))


def test_stream_forgets_beyond_the_trained_clip_length(tmp_path):
    import torch

    from hmcli.lift import FrameLifter
    from hmcli.nn.registry import build_from_config
    from hmcli.skeleton import PoseCodec
    from hmcli.io.checkpoint import save_checkpoint
    from tests.cli.helpers import TINY

    torch.manual_seed(0)  # a causal checkpoint trained on clips of at most 20 frames
    save_checkpoint(tmp_path / "c.pt", build_from_config("hummuss", {**TINY, "causal": True}), "hummuss", PoseCodec(),
                    meta={"model_id": "c", "train": {"clip_max": 20}})  # fmt: skip
    lm = api.load_lifter(tmp_path / "c.pt", causal=True)
    bounded = FrameLifter(lm, "coco17", 320, 240, nominal_fps=30.0)
    unbounded = FrameLifter(lm, "coco17", 320, 240, nominal_fps=30.0, one_pass=True)
    assert bounded.streamer.horizon == 20.0 and unbounded.streamer.horizon is None
    kp = make_keypoints(60, fps=30.0)
    recs = list(api.stream(kp, lm))
    recs_all = list(api.stream(kp, lm, one_pass=True))
    diff = np.abs(np.array([r["joints3d"] for r in recs]) - np.array([r["joints3d"] for r in recs_all])).max(axis=(1, 2))
    assert diff[:20].max() < 1e-4 and diff[20:].max() > 1e-4  # identical until the first frame is forgotten


def test_run_offline_and_stream_fill_timings(tmp_path, ckpts):
    v = write_video(tmp_path / "v.mp4", n=8, dark={2})
    stages = []
    t = api.Timings()
    res = api.run_offline(api.load_lifter(ckpts["bi"]), v, detector="fake-test", timings=t,
                          on_progress=lambda stage, done, total: stages.append((stage, done, total)))
    ref = api.lift_video(v, model=ckpts["bi"], detector="fake-test")
    np.testing.assert_allclose(res.joints3d, ref.joints3d, atol=1e-6)
    assert t.detect > 0 and t.lift > 0 and t.decode >= 0
    assert stages[0] == ("detect", 0, 8) and stages[-1][0] == "lift" and ("detect", 8, 8) in stages
    records = []
    s = api.Timings()
    streamed = api.run_stream(api.load_lifter(ckpts["causal"], causal=True), v, detector="fake-test",
                              on_record=records.append, timings=s)
    assert len(records) == 9 and records[0]["source"] == v and streamed.kpts2d.num_frames == 8
    assert s.lift > 0 and s.write >= 0


def test_input_keypoints_and_lift_input(tmp_path, ckpts):
    kp = make_keypoints(12)
    save_keypoints_npz(kp, tmp_path / "k.npz")
    assert api.input_keypoints(tmp_path / "k.npz", max_frames=5).num_frames == 5
    lifted, lifter = api.lift_input(tmp_path / "k.npz", ckpts["bi"], max_frames=7)
    assert lifted.joints3d.shape == (7, 17, 3) and lifter.model_id == "tiny-bi"
    from hmcli.io.h5 import write_result

    write_result(tmp_path / "r.h5", lifted)
    again, none = api.lift_input(tmp_path / "r.h5", max_frames=3)
    assert none is None and again.joints3d.shape == (3, 17, 3)
    assert api.input_keypoints(tmp_path / "r.h5").joint_set == "h36m17"


# ------------------------------------------------------------------ several persons


class TwoPersonDetector:
    """The synthetic figure and a copy 150 px to its right; the copy is absent in dark frames."""

    name = "fake-two-v1"
    joint_set = "coco17"

    def detect_multi(self, frame_bgr, timestamp):
        from tests.cli.helpers import pose_at

        a = (pose_at(timestamp), np.full(17, 0.9, np.float32))
        if frame_bgr.mean() < 80:
            return [a]
        return [(a[0] + np.float32(150), a[1]), a]  # order must not matter

    def close(self):
        pass


def test_stream_persons_one_state_per_track(tmp_path, ckpts):
    from hmcli.lift import FrameLifter

    lm = api.load_lifter(ckpts["causal"], causal=True)
    v = write_video(tmp_path / "v.mp4", n=10, dark={4, 5})
    recs = list(api.stream_persons(v, lm, TwoPersonDetector(), header=True))
    head, recs = recs[0], recs[1:]
    assert head["schema"] == "hm.pose3d" and head["detector"] == "fake-two-v1" and head["source"] == str(v)
    by_frame = {}
    for r in recs:
        by_frame.setdefault(r["index"], {})[r["track_id"]] = r
    assert sorted(by_frame) == list(range(10))
    assert [sorted(by_frame[i]) for i in range(10)] == [[1, 2]] * 4 + [[2]] * 2 + [[1, 2]] * 4
    # track 2 (the left figure) is the single-person stream of that figure
    ref = FrameLifter(lm, "coco17", 320, 240, nominal_fps=25.0)
    kp = make_keypoints(10)
    for i in range(10):
        np.testing.assert_allclose(by_frame[i][2]["joints3d"], ref.step(kp.xy[i], kp.conf[i], kp.timestamps[i])[2],
                                   atol=1e-4)  # fmt: skip
    # a frame without anybody still gives a record
    from hmcli.types import MultiKeypoints2D

    gone = make_keypoints(3, detected=[True, False, True])
    out = list(api.stream_persons(MultiKeypoints2D.from_persons([gone], [5]), lm))
    assert [r.get("track_id") for r in out] == [5, None, 5] and out[1] == {"index": 1, "t": 0.04, "persons": 0}
    with pytest.raises(HMError, match="max_persons"):
        next(api.stream_persons(v, lm, TwoPersonDetector(), max_persons=0))


def test_detect_persons_looks_first_and_takes_the_one_person_path(tmp_path):
    import tests.cli.helpers  # noqa: F401  (registers the fake detectors)

    v = write_video(tmp_path / "v.mp4", n=20)
    t = api.Timings()
    one = api.detect_persons(v, "fake-test", timings=t)  # a quick look finds one person
    assert one.track_ids.tolist() == [0] and one.detected.all() and t.detect > 0
    tracked = api.detect_persons(v, "fake-test", probe=False)
    assert tracked.track_ids.tolist() == [1]
    np.testing.assert_array_equal(tracked.xy, one.xy)
    two = api.detect_persons(v, "fake-two")
    assert two.track_ids.tolist() == [1, 2]
    assert api.probe_persons(v, "fake-two") == 2 and api.probe_persons(v, "fake-test") == 1
    assert api.detect_persons(v, "fake-two", max_persons=1).track_ids.tolist() == [0]


def test_the_quick_look_takes_one_frame_per_second_from_4_to_12():
    assert [api.probe_samples(n, 30.0) for n in (1, 90, 150, 300, 361, 9000)] == [4, 4, 5, 10, 12, 12]
    assert api.probe_samples(65, 5.0) == 12 and api.probe_samples(100, 0.0) == 4


def test_the_quick_look_needs_a_group_in_two_samples(tmp_path, monkeypatch):
    import hmcli.detect as detect

    v = write_video(tmp_path / "v.mp4", n=20)
    for counts, want in (([1, 2, 1, 1], 1), ([2, 1, 2, 1], 2), ([3, 3, 2, 1], 3), ([2], 2), ([], 0)):
        monkeypatch.setattr(detect, "count_persons", lambda frames, det, c=counts: list(c))
        assert api.probe_persons(v, "fake-test") == want, counts


def test_detect_file_records_the_video_absolute_so_results_find_it_from_elsewhere(tmp_path, monkeypatch):
    from hmcli.io.paths import find_source_video

    write_video(tmp_path / "v.mp4", n=4)
    monkeypatch.chdir(tmp_path)
    kp = api.detect_file("v.mp4", "fake-test")  # a relative path, as a user types it
    assert kp.source == str(tmp_path / "v.mp4")
    elsewhere = tmp_path / "out" / "res.h5"
    elsewhere.parent.mkdir()
    monkeypatch.chdir(elsewhere.parent)
    assert find_source_video(kp.source, elsewhere) == tmp_path / "v.mp4"
