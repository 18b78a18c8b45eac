"""hm action and hm train --task action through the CLI, with tiny random-weight models."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hmcli.action.checkpoint import load_action, save_action
from hmcli.action.model import ActionClassifier, ActionHead, ActionHeadConfig
from hmcli.action.readers import NTU60_CLASSES
from hmcli.api import write_keypoints_json
from hmcli.cli.main import app
from hmcli.io.h5 import write_result
from hmcli.lift import load_lifter
from hmcli.types import Pose3DResult
from tests.action.test_readers import ntu_text, pyskl_doc
from tests.cli.helpers import make_keypoints, write_video

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (tests/conftest.py)

CLASSES = ("walk", "jump", "dance")
N, FPS = 50, 25.0  # the keypoint clip: 50 frames at 25 fps = 2 s


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(r, code=None):
    assert r.exit_code != 0, (r.stdout, r.stderr)
    if code is not None:
        assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.startswith("hm: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def tiny_action(path, lifter_ckpt, seed=0) -> str:
    """An ActionClassifier on a tiny random lifter backbone + a 3-class head, saved with save_action."""
    torch.manual_seed(seed)
    lm = load_lifter(lifter_ckpt)
    head = ActionHead(ActionHeadConfig(len(CLASSES), 17, int(lm.model.rep.out_features), hidden=8))
    save_action(path, ActionClassifier(lm.model, head).eval(), lm.arch, lm.codec, CLASSES, 1.0, 30.0,
                meta={"model_id": f"tiny-action-{'causal' if lm.model.causal else 'bi'}"})  # fmt: skip
    return str(path)


@pytest.fixture(scope="module")
def models(ckpts, tmp_path_factory):
    d = tmp_path_factory.mktemp("action-models")
    return {"bi": tiny_action(d / "tiny.pt", ckpts["bi"]), "causal": tiny_action(d / "tiny-causal.pt", ckpts["causal"]),
            "lifter": ckpts["bi"]}  # fmt: skip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip")
    kp = make_keypoints(N, FPS, detected=[i not in (10, 11) for i in range(N)])
    write_keypoints_json(d / "kp.json", kp)
    return d / "kp.json", kp


def check_report(doc, window, stride, topk=3, frames=N):
    assert doc["schema"] == "hm.actions" and doc["classes"] == list(CLASSES) and doc["frames"] == frames
    assert doc["window_s"] == window and doc["stride_s"] == stride and doc["fps"] == pytest.approx(FPS)
    probs = [c["prob"] for c in doc["clip"]]
    assert len(doc["clip"]) == topk and {c["label"] for c in doc["clip"]} <= set(CLASSES)
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-3 and all(0 <= p <= 1 for p in probs)
    tl = doc["timeline"]
    duration = frames / FPS
    assert tl[0]["start"] == 0 and tl[-1]["end"] == pytest.approx(duration, abs=1e-3)
    for a, b in zip(tl, tl[1:]):
        assert b["start"] > a["start"] and b["start"] <= a["end"] + 1e-9  # no gaps
    for w in tl:
        assert w["end"] - w["start"] == pytest.approx(min(window, duration), abs=1e-3)
        ps = [t["prob"] for t in w["topk"]]
        assert len(ps) == topk and ps == sorted(ps, reverse=True) and sum(ps) <= 1 + 1e-3
    return tl


# ------------------------------------------------------------------ hm action


def test_action_report_file(models, clip, tmp_path):
    kp_path, _ = clip
    out = tmp_path / "a.json"
    r = run("action", kp_path, "--model", models["bi"], "-o", out, "--window", "0.8s", "--stride", "300ms")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(out.read_text())
    tl = check_report(doc, 0.8, 0.3)
    # 2 s in windows of 0.8 s every 0.3 s: starts 0, .3, .6, .9, 1.2, and the last one ending at 2 s
    assert [w["start"] for w in tl] == pytest.approx([0, 0.3, 0.6, 0.9, 1.2])
    assert doc["model_id"] == "tiny-action-bi"
    # the summary on stdout names the clip's labels
    assert "kp.json:" in r.stdout and "5 windows of 0.8 s" in r.stdout and doc["clip"][0]["label"] in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_action_stdout_json_and_summary_on_stderr(models, clip):
    kp_path, _ = clip
    r = run("action", kp_path, "--model", models["bi"], "-o", "-", "--window", "1s", "--stride", "0.5s", "-k", "2")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)  # stdout holds only the JSON
    tl = check_report(doc, 1.0, 0.5, topk=2)
    assert [w["start"] for w in tl] == pytest.approx([0, 0.5, 1.0])
    assert "kp.json:" in r.stderr
    # -q: nothing but the JSON
    q = run("action", kp_path, "--model", models["bi"], "-o", "-", "-q", "--topk", "9")  # topk capped at the classes
    assert q.exit_code == 0 and q.stderr == "" and len(json.loads(q.stdout)["clip"]) == 3


def test_action_video_uses_the_chosen_detector(models, tmp_path):
    video = write_video(tmp_path / "clip.mp4", n=30, fps=FPS)
    r = run("action", video, "--model", models["bi"], "--detector", "fake-test", "-o", "-", "-q", "--track")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    # a tracked video (--track; by default only when a quick look finds several persons): the
    # per-person report, schema_version 2
    assert doc["schema_version"] == 2 and doc["frames"] == 30 and [p["track_id"] for p in doc["persons"]] == [1]
    assert doc["persons"][0]["clip"][0]["label"] in CLASSES
    # --max-persons 1: the one-person path (no tracking) and its one-person report, as before
    r1 = run("action", video, "--model", models["bi"], "--detector", "fake-test", "-o", "-", "-q", "--max-persons", "1")
    assert r1.exit_code == 0, r1.stderr
    doc1 = json.loads(r1.stdout)
    assert doc1["schema_version"] == 1 and doc1["frames"] == 30 and doc1["clip"][0]["label"] in CLASSES
    assert doc1["clip"] == doc["persons"][0]["clip"]  # the same person, the same labels
    bad = run("action", video, "--model", models["bi"], "--detector", "no-such-detector")
    one_line_error(bad)
    assert "no-such-detector" in bad.stderr


def test_action_causal_lines(models, clip, tmp_path):
    kp_path, kp = clip
    r = run("action", kp_path, "--model", models["causal"], "--causal", "-o", "-", "-k", "2", "--window", "0.4s")
    assert r.exit_code == 0, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["index"] for x in recs] == list(range(N))
    assert [x["detected"] for x in recs] == [bool(d) for d in kp.detected]
    assert [x["t"] for x in recs] == pytest.approx(np.arange(N) / FPS, abs=1e-4)
    for x in recs:
        ps = [t["prob"] for t in x["topk"]]
        assert len(ps) == 2 and ps == sorted(ps, reverse=True) and {t["label"] for t in x["topk"]} <= set(CLASSES)
    out = tmp_path / "online.jsonl"
    r2 = run("action", kp_path, "--model", models["causal"], "--causal", "-o", out, "-k", "2", "--window", "0.4s")
    assert r2.exit_code == 0, r2.stderr
    assert [json.loads(line) for line in out.read_text().splitlines()] == recs  # the same, as a file
    assert f"{N} frames labelled online" in r2.stdout and str(out) in r2.stdout
    # the labels render: hm render --actions reads them back
    from hmcli.render.labels import load_action_labels

    assert load_action_labels(out).label_at(0.0, 0) is not None


def test_action_causal_needs_a_causal_model(models, clip):
    one_line_error(run("action", clip[0], "--model", models["bi"], "--causal", "-o", "-"), 4)


def test_action_on_a_lift_file(models, clip, tmp_path):
    _, kp = clip
    res = Pose3DResult(kp, np.zeros((N, 17, 3), np.float32), "tiny", "0")
    write_result(tmp_path / "lift.h5", res)
    r = run("action", tmp_path / "lift.h5", "--model", models["bi"], "-o", tmp_path / "a.json", "--window", "1s",
            "--stride", "0.5s")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    doc = json.loads((tmp_path / "a.json").read_text())
    check_report(doc, 1.0, 0.5)
    # its 2D is used: the same labels as from the keypoint file
    r2 = run("action", clip[0], "--model", models["bi"], "-o", "-", "--window", "1s", "--stride", "0.5s", "-q")
    ref = json.loads(r2.stdout)
    assert doc["clip"] == ref["clip"] and doc["timeline"] == ref["timeline"]


# ------------------------------------------------------------------ bad input


@pytest.fixture
def bad_inputs(tmp_path):
    empty = tmp_path / "empty.json"
    write_keypoints_json(empty, make_keypoints(0))
    nobody = tmp_path / "nobody.json"
    write_keypoints_json(nobody, make_keypoints(20, detected=np.zeros(20, bool)))
    return tmp_path, empty, nobody


@pytest.mark.parametrize("causal", [False, True])
def test_action_empty_clip(models, bad_inputs, causal):
    d, empty, nobody = bad_inputs
    model = models["causal" if causal else "bi"]
    extra = ["--causal"] if causal else []
    for src, what in ((empty, "no frames"), (nobody, "no person")):
        for out in (d / "o.json", "-"):
            r = run("action", src, "--model", model, "-o", out, *extra)
            one_line_error(r, 3)
            assert what in r.stderr and r.stdout == ""
    assert sorted(p.name for p in d.iterdir()) == ["empty.json", "nobody.json"]


def test_action_bad_options_and_paths(models, clip, tmp_path):
    kp_path, _ = clip
    m = models["bi"]
    cases = [
        (("action", kp_path, "--model", tmp_path / "missing.pt", "-o", tmp_path / "a.json"), 4, "action model not found"),
        (("action", kp_path, "--model", models["lifter"], "-o", tmp_path / "a.json"), 4, "not an hm action model"),
        (("action", tmp_path / "nope.json", "--model", m, "-o", tmp_path / "a.json"), 3, "input not found"),
        (("action", kp_path, "--model", m, "--window", "abc", "-o", tmp_path / "a.json"), 2, "--window"),
        (("action", kp_path, "--model", m, "--window", "0s", "-o", tmp_path / "a.json"), 2, "must be positive"),
        (("action", kp_path, "--model", m, "--stride", "-1s", "-o", tmp_path / "a.json"), 2, "--stride"),
        (("action", kp_path, "--model", m, "--topk", "0", "-o", tmp_path / "a.json"), 2, "--topk"),
        (("action", kp_path, "--model", m, "-o", tmp_path / "no" / "dir" / "a.json"), None, "does not exist"),
        (("action", kp_path, "--model", m, "-o", kp_path), 2, "is the input file"),
    ]
    before = kp_path.read_bytes()
    for args, code, what in cases:
        r = run(*args)
        one_line_error(r, code)
        assert what in r.stderr, (args, r.stderr)
    assert not list(tmp_path.iterdir())
    assert kp_path.read_bytes() == before


# ------------------------------------------------------------------ hm train --task action

TRAIN = ["steps=1", "feature_windows=8", "head_steps=5", "batch_size=2", "window_s=0.5", "min_window_s=0.2",
         "hidden=16", "eval_cameras=1"]  # fmt: skip


def train(data, lifter, out, *extra):
    return run("train", "--task", "action", "--data", data, "--model", lifter, "-o", out, "-q", "--json",
               *TRAIN, *extra)  # fmt: skip


def test_train_action_ntu(models, tmp_path):
    root = tmp_path / "ntu"
    root.mkdir()
    # P001, P002: xsub train; P003: xsub val
    for name, frames in (("S001C001P001R001A001", 20), ("S001C002P002R001A002", 18), ("S001C001P003R001A001", 16)):
        (root / f"{name}.skeleton").write_text(ntu_text([[0]] * frames))
    out = tmp_path / "run"
    r = train(root, models["lifter"], out, "train_split=xsub_train", "test_split=xsub_val")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["classes"] == list(NTU60_CLASSES) and summary["test"]["windows"] == 1
    la = load_action(out / "last.pt")
    assert la.classes == NTU60_CLASSES and la.window_s == 0.5 and la.model.head.cfg.hidden == 16
    assert summary["counts"]["train"]["drink water"]["clips"] == 1
    assert (out / "metrics.jsonl").is_file() and (out / "summary.json").is_file()
    # and it labels a clip
    write_keypoints_json(tmp_path / "kp.json", make_keypoints(20))
    r2 = run("action", tmp_path / "kp.json", "--model", out / "last.pt", "-o", "-", "-q")
    assert r2.exit_code == 0 and json.loads(r2.stdout)["classes"] == list(NTU60_CLASSES)


def test_train_action_pyskl(models, tmp_path):
    p = tmp_path / "ntu60_2d.pkl"
    with open(p, "wb") as f:
        pickle.dump(pyskl_doc(), f)
    out = tmp_path / "run"
    r = train(p, models["lifter"], out, "train_split=xsub_train", "test_split=''")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert "test" not in summary and summary["classes"] == ["0", "1", "2"]
    la = load_action(out / "last.pt")
    assert la.classes == ("0", "1", "2") and not math.isnan(float(la.model.head.fc1.weight.sum()))
    assert la.meta["train"]["steps"] == 1


def test_train_action_bad_input(models, tmp_path):
    one_line_error(train(tmp_path / "labels.csv", models["lifter"], tmp_path / "run"), 3)   # no such label file
    one_line_error(train(tmp_path, models["lifter"], tmp_path / "run", "nonsense=1"), 2)
    (tmp_path / "l.csv").write_text("file,label\nclips/none.npz,wave\n")
    r = train(tmp_path / "l.csv", models["lifter"], tmp_path / "run")
    one_line_error(r, 3)
    assert "file not found" in r.stderr
    r = train(tmp_path / "l.csv", tmp_path / "missing-lifter.pt", tmp_path / "run")
    one_line_error(r, 4)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_online_labels_wait_for_a_person(models):
    """Frames whose window holds no person yet get no label (not the head's output on zeros)."""
    from hmcli.action import api as action_api

    la = action_api.load_classifier(models["causal"], causal=True)
    kp = make_keypoints(20, FPS, detected=[i >= 5 for i in range(20)])
    recs = list(action_api.stream_labels(kp, la, topk=2, window_s=0.2))  # 6 frames at the model's 30 fps
    assert [bool(x["topk"]) for x in recs] == [False] * 5 + [True] * 15
    from hmcli.io.atomic import HMError

    with pytest.raises(HMError, match="no person"):  # checked when called, before any record is asked for
        action_api.stream_labels(make_keypoints(4, FPS, detected=[False] * 4), la)


def test_train_action_rendered_options(models, tmp_path):
    one_line_error(train(tmp_path, models["lifter"], tmp_path / "run", "rendered_p=0.3"), 2)   # no data_rendered
    cmu = tmp_path / "cmu"
    cmu.mkdir()
    (cmu / "05.asf").write_text("")                                            # a CMU folder: the renders come first
    r = train(cmu, models["lifter"], tmp_path / "run", "data_rendered=[missing.npz]", "rendered_p=0.3")
    one_line_error(r, 3)
    assert "data_rendered: cannot read renders missing.npz" in r.stderr and not (tmp_path / "run").exists()
    root = tmp_path / "ntu"
    root.mkdir()
    (root / "S001C001P001R001A001.skeleton").write_text(ntu_text([[0]] * 20))
    r = train(root, models["lifter"], tmp_path / "run", "eval_rendered=[r.npz]")
    one_line_error(r, 3)
    assert "go with the CMU data" in r.stderr and not (tmp_path / "run").exists()
