"""hm detect / hm lift / hm export / hm render with several persons (a two-person fake detector)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from hmcli.cli.main import app
from hmcli.io.h5 import read_keypoints_multi, read_result, read_results
from tests.cli.helpers import write_video

pytestmark = pytest.mark.usefixtures("one_thread")


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(r, code=None):
    assert r.exit_code != 0, (r.stdout, r.stderr)
    if code is not None:
        assert r.exit_code == code, (r.exit_code, r.stderr)
    assert r.stderr.startswith("hm: error: ") and r.stderr.count("\n") == 1, r.stderr


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "two.mp4", n=12)


def test_detect_follows_both_persons(tmp_path, video):
    r = run("detect", video, "--detector", "fake-two", "-o", tmp_path / "k.h5")
    assert r.exit_code == 0, r.stderr
    assert "2 persons (track ids 1, 2)" in r.stderr
    mk = read_keypoints_multi(tmp_path / "k.h5")
    assert mk.track_ids.tolist() == [1, 2] and mk.detected.all()
    assert (mk.xy[0, :, :, 0].mean() - mk.xy[1, :, :, 0].mean()) == pytest.approx(150, abs=1e-3)  # 1 = right
    r = run("detect", video, "--detector", "fake-two", "--max-persons", "1", "-o", tmp_path / "one.h5")
    assert r.exit_code == 0 and read_keypoints_multi(tmp_path / "one.h5").track_ids.tolist() == [0]
    one_line_error(run("detect", video, "--detector", "fake-two", "--max-persons", "0"), 2)


def test_lift_every_person_and_pick_one(tmp_path, video, ckpts):
    r = run("lift", video, "--detector", "fake-two", "--model", ckpts["bi"], "-o", tmp_path / "r.h5")
    assert r.exit_code == 0, r.stderr
    assert "2 persons (track ids 1, 2)" in r.stderr
    res = read_results(tmp_path / "r.h5")
    assert res.track_ids.tolist() == [1, 2] and res.joints3d.shape == (2, 12, 17, 3)
    assert np.isfinite(res.joints3d).all()
    # a person alone equals lifting that person's keypoints alone (the 2D of the left figure)
    r = run("lift", video, "--detector", "fake-two", "--model", ckpts["bi"], "--person", "2", "-o", tmp_path / "p2.h5")
    assert r.exit_code == 0, r.stderr
    p2 = read_result(tmp_path / "p2.h5")
    np.testing.assert_allclose(p2.joints3d, res.persons[1].joints3d, atol=1e-6)
    one_line_error(run("lift", video, "--detector", "fake-two", "--model", ckpts["bi"], "--person", "7",
                       "-o", tmp_path / "p7.h5"), 3)  # fmt: skip
    assert not (tmp_path / "p7.h5").exists()
    # one-person readers refuse the two-person file with the ids to choose from
    with pytest.raises(Exception, match=r"2 persons \(track ids 1, 2\): choose one with --person"):
        read_result(tmp_path / "r.h5")


def test_bvh_and_csv_are_one_file_per_person(tmp_path, video, ckpts):
    r = run("lift", video, "--detector", "fake-two", "--model", ckpts["bi"], "-o", tmp_path / "m.bvh")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "m.p1.bvh").is_file() and (tmp_path / "m.p2.bvh").is_file() and not (tmp_path / "m.bvh").exists()
    r = run("lift", video, "--detector", "fake-two", "--model", ckpts["bi"], "--person", "1", "-o", tmp_path / "one.csv")
    assert r.exit_code == 0 and (tmp_path / "one.csv").is_file()
    # hm export of a two-person result: BVH per person too, or one with --person
    run("lift", video, "--detector", "fake-two", "--model", ckpts["bi"], "-o", tmp_path / "r.h5", "-q")
    r = run("export", tmp_path / "r.h5", "-o", tmp_path / "e.bvh")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "e.p1.bvh").is_file() and (tmp_path / "e.p2.bvh").is_file()
    r = run("export", tmp_path / "r.h5", "-o", tmp_path / "only.bvh", "--person", "2")
    assert r.exit_code == 0 and (tmp_path / "only.bvh").is_file() and not (tmp_path / "only.p2.bvh").exists()
    assert (tmp_path / "e.p2.bvh").read_text() == (tmp_path / "only.bvh").read_text()


def test_json_lines_and_keypoint_files_with_persons(tmp_path, video, ckpts):
    r = run("lift", video, "--detector", "fake-two", "--model", ckpts["bi"], "-o", "-")
    assert r.exit_code == 0, r.stderr
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert recs[0]["schema"] == "hm.pose3d" and len(recs) == 1 + 2 * 12
    assert sorted({x["track_id"] for x in recs[1:]}) == [1, 2]
    # keypoints with two persons lift both; the causal stream keeps one state per person
    run("detect", video, "--detector", "fake-two", "-o", tmp_path / "k.json", "-q")
    r = run("lift", tmp_path / "k.json", "--model", ckpts["causal"], "--causal", "-o", "-")
    assert r.exit_code == 0, r.stderr
    recs = [json.loads(x) for x in r.stdout.splitlines()][1:]
    assert [x["track_id"] for x in recs[:2]] in ([1, 2], [2, 1]) and len(recs) == 24
    r = run("lift", tmp_path / "k.json", "--model", ckpts["bi"], "--person", "2", "-o", tmp_path / "k2.h5", "-q")
    assert r.exit_code == 0 and read_results(tmp_path / "k2.h5").track_ids.tolist() == [2]


def test_a_person_who_leaves_gets_nan_outside_their_frames(tmp_path, ckpts, monkeypatch):
    from tests.cli.helpers import TwoPersonFake

    monkeypatch.setattr(TwoPersonFake, "right_absent", frozenset(range(6, 12)))
    v = write_video(tmp_path / "leave.mp4", n=12)
    r = run("lift", v, "--detector", "fake-two", "--model", ckpts["bi"], "-o", tmp_path / "r.h5", "-q")
    assert r.exit_code == 0, r.stderr
    res = read_results(tmp_path / "r.h5")
    right = res.persons[res.kpts2d.index_of(1)]
    assert right.kpts2d.detected.tolist() == [True] * 6 + [False] * 6
    assert np.isfinite(right.joints3d[:6]).all() and np.isnan(right.joints3d[6:]).all()


def test_render_draws_each_person(tmp_path, video, ckpts):
    import cv2

    from hmcli.render.overlay import person_colour

    run("lift", video, "--detector", "fake-two", "--model", ckpts["bi"], "-o", tmp_path / "r.h5", "-q")
    r = run("render", tmp_path / "r.h5", "-o", tmp_path / "r.mp4", "-q")
    assert r.exit_code == 0, r.stderr
    cap = cv2.VideoCapture(str(tmp_path / "r.mp4"))
    ok, frame = cap.read()
    cap.release()
    assert ok
    for tid in (1, 2):
        near = (np.abs(frame[:, :320].astype(int) - person_colour(tid)).max(axis=2) < 40).sum()
        assert near > 20, tid
    r = run("render", tmp_path / "r.h5", "--person", "2", "-o", tmp_path / "p2.mp4", "-q")
    assert r.exit_code == 0, r.stderr
    one_line_error(run("render", tmp_path / "r.h5", "--person", "9", "-o", tmp_path / "p9.mp4"))
    assert not (tmp_path / "p9.mp4").exists()
