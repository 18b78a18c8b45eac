"""hm action with several persons through the CLI (tiny random-weight classifiers) and the API's
per-person online labels."""

from __future__ import annotations

import json

import pytest

from hmcli.action import api as action_api
from hmcli.io.keypoints import save_keypoints
from tests.cli.helpers import make_two_keypoints, write_video
from tests.cli.test_action_cli import FPS, one_line_error, run, tiny_action

pytestmark = pytest.mark.usefixtures("one_thread")

N = 40


@pytest.fixture(scope="module")
def models(ckpts, tmp_path_factory):
    d = tmp_path_factory.mktemp("action-models-persons")
    return {"bi": tiny_action(d / "tiny.pt", ckpts["bi"]), "causal": tiny_action(d / "tiny-causal.pt", ckpts["causal"])}


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    d = tmp_path_factory.mktemp("two")
    mk = make_two_keypoints(N, FPS, late=8, ids=(3, 7))
    save_keypoints(mk, d / "two.h5")
    return d / "two.h5", mk


def test_each_person_on_its_own(models, two, tmp_path):
    path, mk = two
    r = run("action", path, "--model", models["bi"], "-o", tmp_path / "a.json", "--window", "1s")
    assert r.exit_code == 0, r.stderr
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["schema_version"] == 2 and doc["frames"] == N and [p["track_id"] for p in doc["persons"]] == [3, 7]
    # each person's labels are what the API gives for that person alone
    la = action_api.load_classifier(models["bi"])
    for p, tid in enumerate((3, 7)):
        ref = action_api.classify(mk.person(p), la, 1.0, 0.5, 3).to_json()
        entry = doc["persons"][p]
        assert entry["clip"] == ref["clip"] and entry["timeline"] == ref["timeline"]
    lines = r.stdout.splitlines()
    assert "2 persons (track ids 3, 7)" in lines[0]
    assert lines[1].startswith("  #3: ") and lines[2].startswith("  #7: ") and "%" in lines[1]
    # hm render --actions reads it per person
    from hmcli.render.labels import load_action_labels

    track = load_action_labels(tmp_path / "a.json")
    assert track.kind == "persons" and sorted(track.persons) == [3, 7]


def test_group_and_person(models, two):
    path, mk = two
    la = action_api.load_classifier(models["bi"])
    r = run("action", path, "--model", models["bi"], "-o", "-", "--group", "--window", "1s")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    ref = action_api.classify(mk, la, 1.0, 0.5, 3).to_json()  # both pooled into one label
    assert doc["schema_version"] == 1 and doc["clip"] == ref["clip"] and doc["track_ids"] == [3, 7]
    assert "pooled" in r.stderr
    r = run("action", path, "--model", models["bi"], "-o", "-", "--person", 7, "--window", "1s", "-q")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [p["track_id"] for p in doc["persons"]] == [7]
    assert doc["persons"][0]["clip"] == action_api.classify(mk.person(1), la, 1.0, 0.5, 3).to_json()["clip"]


def test_causal_lines_with_track_ids(models, two, tmp_path):
    path, _ = two
    out = tmp_path / "on.jsonl"
    r = run("action", path, "--model", models["causal"], "--causal", "-o", out, "-k", 2)
    assert r.exit_code == 0, r.stderr
    recs = [json.loads(ln) for ln in out.read_text().splitlines()]
    per_frame = [[x["track_id"] for x in recs if x["index"] == i] for i in range(N)]
    assert per_frame == [[3] if i < 8 else [3, 7] for i in range(N)]
    assert "#3:" in r.stdout and "#7:" in r.stdout
    from hmcli.render.labels import load_action_labels

    track = load_action_labels(out)
    assert track.kind == "persons" and sorted(track.persons) == [3, 7]
    # --group: one record per frame, the persons pooled
    r = run("action", path, "--model", models["causal"], "--causal", "-o", "-", "--group", "-q")
    assert r.exit_code == 0, r.stderr
    assert [json.loads(ln)["index"] for ln in r.stdout.splitlines()] == list(range(N))


def test_stream_labels_persons_equals_each_person_alone(models, two):
    _, mk = two
    mk.detected[0, 20:23] = False  # person 3 missing for a while; nobody at all in frame 21 below
    mk.detected[1, 21] = False
    la = action_api.load_classifier(models["causal"], causal=True)
    recs = list(action_api.stream_labels_persons(mk, la, 2, None, 0.4))
    assert {"index": 21, "t": pytest.approx(21 / FPS, abs=1e-4), "persons": 0} in recs
    for p, tid in enumerate(mk.track_ids.tolist()):
        alone = [r for r in action_api.stream_labels(mk.person(p), la, 2, None, 0.4) if mk.detected[p, r["index"]]]
        mine = [{k: v for k, v in r.items() if k != "track_id"} for r in recs if r.get("track_id") == tid]
        assert mine == alone and len(mine) == int(mk.detected[p].sum())
    mk.detected[0, 20:23] = True
    mk.detected[1, 21] = True


def test_video_and_one_line_errors(models, tmp_path, two):
    video = write_video(tmp_path / "v.mp4", n=30, fps=FPS)
    r = run("action", video, "--model", models["bi"], "--detector", "fake-two-test", "-o", "-", "-q")
    assert r.exit_code == 0, r.stderr
    assert len(json.loads(r.stdout)["persons"]) == 2
    path, _ = two
    bad = run("action", path, "--model", models["bi"], "--person", 5, "-o", tmp_path / "x.json")
    one_line_error(bad, 3)
    assert "no person with track id 5" in bad.stderr and "track ids: 3, 7" in bad.stderr
    one_line_error(run("action", path, "--model", models["bi"], "--max-persons", 0), 2)
    one_line_error(run("action", path, "--model", models["bi"], "--min-track-length", 0), 2)
    assert not (tmp_path / "x.json").exists()
    # a batch passes the options on
    out = tmp_path / "out"
    r = run("action", path, video, "--out-dir", out, "--model", models["bi"], "--detector", "fake-two-test", "--group",
            "-q")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert json.loads((out / "two.actions.json").read_text())["track_ids"] == [3, 7]
