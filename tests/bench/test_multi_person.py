"""hm bench multi-person without ../shared: scenes from a walker made here, the metrics on
hand-made id sequences, and scene -> tracker -> metrics -> (fake) lifting end to end."""

from dataclasses import replace

import numpy as np
import pytest

from hmcli.bench import multi_person as mp
from hmcli.bench.multi_person import PersonPath, SceneConfig
from hmcli.track import TrackerConfig

FPS = 30.0


def walker(frames: int, phase: float = 0.0) -> np.ndarray:
    """A stick figure walking on the spot, H36M-17 world joints (CMU Y-up, metres): (F, 17, 3)."""
    t = np.arange(frames) / FPS
    s = np.sin(2 * np.pi * 1.0 * t + phase)  # (F,) one stride a second
    j = np.zeros((frames, 17, 3))
    side = {"r": -1.0, "l": 1.0}
    for leg, (hip, knee, ankle) in (("r", (1, 2, 3)), ("l", (4, 5, 6))):
        sw = s if leg == "r" else -s
        x = 0.1 * side[leg]
        j[:, hip] = np.stack([np.full(frames, x), np.full(frames, 0.95), np.zeros(frames)], -1)
        j[:, knee] = np.stack([np.full(frames, x), np.full(frames, 0.5), 0.15 * sw], -1)
        j[:, ankle] = np.stack([np.full(frames, x), np.full(frames, 0.08), 0.3 * sw], -1)
    for arm, (sh, el, wr) in (("l", (11, 12, 13)), ("r", (14, 15, 16))):
        sw = -s if arm == "r" else s
        x = 0.18 * side[arm]
        j[:, sh] = np.stack([np.full(frames, x), np.full(frames, 1.45), np.zeros(frames)], -1)
        j[:, el] = np.stack([np.full(frames, 1.1 * x), np.full(frames, 1.2), -0.15 * sw], -1)
        j[:, wr] = np.stack([np.full(frames, 1.2 * x), np.full(frames, 0.95), -0.25 * sw], -1)
    j[:, 0] = [0.0, 0.95, 0.0]
    j[:, 7] = [0.0, 1.2, 0.0]
    j[:, 8] = [0.0, 1.45, 0.0]
    j[:, 9] = [0.0, 1.6, 0.1]
    j[:, 10] = [0.0, 1.72, 0.0]
    # some drift of its own, which place_clip must remove
    j[:, :, 0] += 0.5 * t[:, None]
    return j


A_PATH = ((0.0, -2.6, 5.5), (1.0, 2.6, 5.5))  # far, one way
B_PATH = ((0.0, 1.7, 3.5), (1.0, -1.7, 3.5))  # near, the other way: passes in front of A


def crossing(frames: int = 90, corruption=None, hidden_a=(), **kw) -> SceneConfig:
    return SceneConfig("cross", (PersonPath(A_PATH, tuple(hidden_a), yaw_deg=90.0), PersonPath(B_PATH, yaw_deg=-90.0)),
                       frames, FPS, corruption=corruption, **kw)


def build(cfg: SceneConfig, seed: int = 0) -> mp.Scene:
    clips = [walker(cfg.frames, phase=k) for k in range(len(cfg.paths))]
    return mp.build_scene(cfg, clips, [f"w{k}" for k in range(len(clips))], seed)


# ----------------------------------------------------------------------------- scene building


def test_place_clip_follows_the_path_and_keeps_heights():
    clip = walker(31)
    out = mp.place_clip(clip, PersonPath(((0.0, -1.0, 4.0), (1.0, 2.0, 6.0))))
    np.testing.assert_allclose(out[:, 0, [0, 2]], np.stack([np.linspace(-1, 2, 31), np.linspace(4, 6, 31)], -1))
    np.testing.assert_allclose(out[..., 1], clip[..., 1])
    # body shape unchanged (no own drift left, no turn)
    np.testing.assert_allclose(out - out[:, :1], clip - clip[:, :1], atol=1e-12)
    turned = mp.place_clip(clip, PersonPath(((0.0, 0.0, 4.0),), yaw_deg=90.0))
    hip = turned[0, 4] - turned[0, 0]  # left hip was +x: after +90 deg about +y it points to -z
    np.testing.assert_allclose(hip, [0.0, 0.0, -0.1], atol=1e-12)
    with pytest.raises(ValueError):
        PersonPath(((0.5, 0, 0), (0.2, 1, 1)))


def test_crossing_scene_occludes_the_far_person_hides_and_leaves():
    cfg = crossing(hidden_a=((70, 80),))
    sc = build(cfg)
    assert sc.xy.shape == (2, 90, 17, 2) and sc.conf.shape == (2, 90, 17) and sc.detected.shape == (2, 90)
    assert (sc.depth[1] < sc.depth[0]).all()  # B is the near one
    occluded = (sc.conf[0] < sc.conf_alone[0]) & sc.detected[0][:, None]
    assert occluded.any() and not (sc.conf[1] < sc.conf_alone[1]).any()  # only the far person is occluded
    mid = np.flatnonzero(occluded.any(1))
    assert 30 <= mid.min() and mid.max() <= 60  # around the crossing
    np.testing.assert_allclose(sc.conf[0][occluded], sc.conf_alone[0][occluded] * cfg.occluded_conf, rtol=1e-6)
    assert not sc.detected[0, 70:80].any() and (sc.conf[0, 70:80] == 0).all()
    assert sc.detected[1].all()
    # walking out of the image: not detected while outside
    out = SceneConfig("leave", (PersonPath(((0.0, 0.0, 4.0), (0.5, 4.0, 4.0), (1.0, 0.0, 4.0))),), 60, FPS,
                      corruption=None)
    so = build(out)
    assert so.detected[0, :5].all() and not so.detected[0, 28:32].any() and so.detected[0, -5:].all()


def test_detections_are_shuffled_but_complete():
    sc = build(crossing(corruption=mp.CorruptionConfig()), seed=3)
    dets, truth = mp.detections_of(sc, seed=1)
    assert len(dets) == sc.num_frames
    orders = set()
    for f, ((xy, conf), who) in enumerate(zip(dets, truth)):
        assert sorted(who.tolist()) == np.flatnonzero(sc.detected[:, f]).tolist()
        np.testing.assert_array_equal(xy, sc.xy[who, f])
        np.testing.assert_array_equal(conf, sc.conf[who, f])
        orders.add(tuple(who.tolist()))
    assert {(0, 1), (1, 0)} <= orders


# ----------------------------------------------------------------------------- metrics


def test_person_ids_of_puts_each_id_on_its_true_person():
    ids = [np.array([7, 3]), np.array([3]), np.zeros(0, int)]
    truth = [np.array([1, 0]), np.array([1]), np.zeros(0, int)]
    np.testing.assert_array_equal(mp.person_ids_of(ids, truth, 2), [[3, -1, -1], [7, 3, -1]])


def test_a_swap_is_two_switches_and_two_fragments():
    pid = np.array([[1, 1, 1, 2], [2, 2, 2, 1]])
    sw, exp = mp.id_switches(pid, max_lost=30)
    assert sw.tolist() == [1, 1] and exp.tolist() == [0, 0]
    assert mp.fragments(pid).tolist() == [1, 1]
    np.testing.assert_allclose(mp.coverage(pid), [0.75, 0.75])
    assert mp.majority_ids(pid).tolist() == [1, 2] and mp.false_tracks(pid) == 0


def test_a_fragment_that_comes_back_and_gaps_that_are_skipped():
    # A -> B -> A: two switches, one extra id (one fragment), a false track.
    pid = np.array([[1, 1, 3, 3, 1, 1]])
    assert mp.id_switches(pid)[0].tolist() == [2]
    assert mp.fragments(pid).tolist() == [1]
    np.testing.assert_allclose(mp.coverage(pid), [4 / 6])
    assert mp.false_tracks(pid) == 1
    # undetected frames are skipped: same id on both sides is no switch
    assert mp.id_switches(np.array([[1, -1, -1, 1]]))[0].tolist() == [0]
    # a new id after more than max_lost undetected frames is expected; within max_lost it is not
    gone = np.array([[1, -1, -1, -1, -1, -1, 2]])
    assert [v.tolist() for v in mp.id_switches(gone, max_lost=3)] == [[1], [1]]
    assert [v.tolist() for v in mp.id_switches(gone, max_lost=5)] == [[1], [0]]
    assert mp.longest_gaps(gone >= 0).tolist() == [5]
    never = np.full((1, 4), -1)
    assert mp.fragments(never).tolist() == [0] and np.isnan(mp.coverage(never)[0])


def test_tracking_metrics_sums_over_persons():
    pid = np.array([[1, 1, -1, 1], [2, 2, 2, 4]])
    m = mp.tracking_metrics(pid, pid >= 0, max_lost=30, ms_per_frame=0.5)
    assert (m.idsw, m.idsw_expected, m.fragments, m.false_tracks, m.tracks) == (1, 0, 1, 1, 3)
    assert m.ids == [[1], [2, 4]] and m.detected_frames == [3, 4] and m.longest_gap == [1, 0]


# ----------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("corruption", [None, mp.CorruptionConfig()], ids=["clean", "corrupted"])
def test_crossing_keeps_ids_end_to_end(corruption):
    sc = build(crossing(corruption=corruption), seed=0)
    multi, pid, m = mp.run_tracker(sc, seed=0, repeats=1)
    assert m.idsw == 0 and m.fragments == 0 and m.false_tracks == 0
    assert m.coverage == [1.0, 1.0] and multi.num_persons == 2
    assert sorted(np.unique(r[r >= 0]).size for r in pid) == [1, 1]
    assert m.tracker_ms_per_frame > 0


def test_gone_longer_than_max_lost_gets_a_new_id_which_is_expected():
    sc = build(crossing(hidden_a=((30, 70),)))
    _, _, m = mp.run_tracker(sc, seed=0, tracker_config=TrackerConfig(max_lost=20), repeats=1)
    assert (m.idsw, m.idsw_expected, m.fragments, m.false_tracks) == (1, 1, 1, 1)


def test_score_lifts_matches_tracks_and_uses_covered_frames():
    sc = build(crossing(hidden_a=((70, 80),)))
    multi, pid, _ = mp.run_tracker(sc, seed=0, repeats=1)
    seen = []

    def zero_lift(kp):  # a "lifter" that puts every joint on the pelvis
        seen.append(kp.detector)
        return np.zeros((kp.num_frames, 17, 3), np.float32)

    scores = mp.score_lifts(sc, multi, pid, zero_lift)
    assert seen.count("synthetic-multi") == 2 and seen.count("synthetic-alone") == 2
    for p, s in enumerate(scores):
        rel = sc.joints_cam[p] - sc.joints_cam[p][:, :1]  # (F, J, 3)
        want = 1000 * np.linalg.norm(rel[sc.detected[p]], axis=-1).mean()
        assert s.frames == int(sc.detected[p].sum()) and len(s.tracks) == 1
        np.testing.assert_allclose([s.multi_mm, s.alone_mm, s.clean_mm], want, rtol=1e-4)


def test_bench_result_table_and_missing_data(monkeypatch, tmp_path):
    from hmcli import api
    from hmcli.bench.report import to_markdown, write_outputs
    from hmcli.data.cmu import Sequence
    from hmcli.io.atomic import HMError
    from hmcli.train import trainer

    with pytest.raises(HMError, match="not found"):
        mp.multi_person_bench(str(tmp_path / "none"), ["cross-2"], frames=60)

    seqs = [Sequence(sub, f"0{i}", "walk", "walk", 120.0, walker(4 * 70, phase=i).astype(np.float32), "x.amc")
            for i, sub in enumerate(("09", "49", "49"))]
    monkeypatch.setattr(trainer, "load_split", lambda data, split: seqs)

    class FakeLifter:
        model_id = "fake"

    monkeypatch.setattr(api, "load_lifter", lambda model=None, causal=False: FakeLifter())

    class Res:
        def __init__(self, kp):
            self.joints3d = np.zeros((kp.num_frames, 17, 3), np.float32)

    monkeypatch.setattr(api, "lift", lambda kp, lm: Res(kp))
    res = mp.multi_person_bench("any", ["cross-2", "cross-3-leave"], frames=60, seed=0, causal=True)
    assert [s["scene"] for s in res["scenes"]] == ["cross-2", "cross-3-leave"]
    assert set(res["scenes"][0]["lift"]) == {"bidirectional", "causal"}
    _, cols, rows = mp.multi_person_table(res)
    assert len(rows) == 2 + 3 and len(cols) == len(rows[0]) and "MPJPE bi multi" in cols
    assert "| cross-2 |" in to_markdown(res)
    files = write_outputs(res, tmp_path / "out")
    assert [f.rsplit("/", 1)[-1] for f in files] == ["multi-person.json", "multi-person.md", "multi-person.png"]
    with pytest.raises(HMError, match="unknown scene"):
        mp.multi_person_bench("any", ["nope"], frames=60)


def test_scene_config_checks():
    with pytest.raises(ValueError):
        SceneConfig("x", ())
    with pytest.raises(ValueError):
        replace(crossing(), occluded_conf=2.0)
    with pytest.raises(ValueError, match="shorter"):
        mp.build_scene(crossing(frames=90), [walker(50), walker(90)], ["a", "b"], 0)
