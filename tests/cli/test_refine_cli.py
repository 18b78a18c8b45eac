"""The 2D refiner through the CLI: hm lift --refine, hm detect --refine, hm eval --refine, hm train --task refine2d."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from hmcli.cli.main import app
from hmcli.io.h5 import read_keypoints, read_result
from hmcli.io.keypoints import save_keypoints_npz
from tests.cli.helpers import make_keypoints, write_video
from tests.refine.helpers import TINY, tiny_refiner_file
from tests.train.fixtures import make_mini_cmu

pytestmark = pytest.mark.usefixtures("one_thread")


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(r, code=2):
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.startswith("hm: error: ") and r.stderr.count("\n") == 1, r.stderr


@pytest.fixture(scope="module")
def refiners(tmp_path_factory):
    d = tmp_path_factory.mktemp("refiners")
    return {"id": tiny_refiner_file(d / "id.pt"), "rand": tiny_refiner_file(d / "rand.pt", identity=False)}


@pytest.fixture
def kp_file(tmp_path):
    save_keypoints_npz(make_keypoints(24), tmp_path / "walk.npz")
    return tmp_path / "walk.npz"


def test_lift_with_a_refiner(tmp_path, kp_file, ckpts, refiners):
    plain, refined = tmp_path / "plain.h5", tmp_path / "refined.h5"
    assert run("lift", kp_file, "--model", ckpts["bi"], "-o", plain).exit_code == 0
    r = run("lift", kp_file, "--model", ckpts["bi"], "-o", refined, "--refine-model", refiners["rand"])
    assert r.exit_code == 0, r.output
    assert "2D refiner tiny-refiner" in r.stderr
    a, b = read_result(plain), read_result(refined)
    assert a.joints3d.shape == b.joints3d.shape and not np.allclose(a.joints3d, b.joints3d)


def test_refine_cannot_stream_and_options_must_agree(tmp_path, kp_file, ckpts, refiners):
    one_line_error(run("lift", kp_file, "--model", ckpts["causal"], "--causal", "-o", "-", "--refine"))
    one_line_error(run("lift", kp_file, "--no-refine", "--refine-model", refiners["id"], "-o", tmp_path / "x.h5"))
    r = run("lift", kp_file, "--model", ckpts["bi"], "--refine-model", tmp_path / "missing.pt", "-o", tmp_path / "y.h5")
    assert r.exit_code != 0 and "2D refiner not found" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "y.h5").exists()


def test_detect_refine_writes_h36m_keypoints(tmp_path, refiners):
    v = write_video(tmp_path / "v.mp4", n=10)
    out = tmp_path / "v.kpts.h5"
    r = run("detect", v, "--detector", "fake-test", "-o", out, "--refine-model", refiners["id"])
    assert r.exit_code == 0, r.output
    assert "refine" in r.stderr
    kp = read_keypoints(out)
    assert kp.joint_set == "h36m17" and kp.xy.shape == (10, 17, 2) and (kp.conf > 0).all()
    bad = run("detect", v, "--detector", "fake-test", "-o", tmp_path / "w.h5", "--refine-model", tmp_path / "no.pt")
    assert bad.exit_code != 0 and "2D refiner not found" in bad.stderr and not (tmp_path / "w.h5").exists()


def test_eval_and_train_refine2d(tmp_path, ckpts):
    data = make_mini_cmu(tmp_path / "cmu")
    out = tmp_path / "run"
    args = ["train", "--task", "refine2d", "--data", data, "-o", out, "--steps", 4, "-q", "batch_size=2", "clip_min=8",
            "clip_max=8", "val_every=2", "camera_kind=standard", "proportions=none"] + [f"model.{k}={v}" for k, v in TINY.items()]
    r = run(*args, "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["task"] == "refine2d" and s["steps"] == 4 and (out / "best.pt").is_file()
    one_line_error(run("train", "--task", "refine2d", "bogus=1", "-o", tmp_path / "z"))
    one_line_error(run("train", "--task", "refine2d", "--resume", "-o", out))

    def ev(*flags):
        res = run("eval", ckpts["bi"], "--data", data, "--json", "--cameras", 1, *flags)
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)

    plain, refined = ev(), ev("--refine", out / "best.pt")
    assert refined["refine"] == "refine2d" and "refine" not in plain
    assert refined["num_frames"] == plain["num_frames"] and refined["mpjpe"] != plain["mpjpe"]
    one_line_error(run("eval", ckpts["causal"], "--data", data, "--stream", "--refine", out / "best.pt"))


def test_batches_refine_every_input_as_one_input_is_refined(tmp_path, ckpts, refiners):
    from hmcli import api

    d = tmp_path / "in"
    d.mkdir()
    for name, n in (("a", 10), ("b", 8)):
        write_video(d / f"{name}.mp4", n=n)
    out = tmp_path / "out"
    r = run("lift", d, "--out-dir", out, "--detector", "fake-test", "--model", ckpts["bi"], "--refine-model",
            refiners["rand"], "-q")
    assert r.exit_code == 0, r.stderr
    lifter, refiner = api.load_lifter(ckpts["bi"]), api.load_refiner(refiners["rand"])
    for name in ("a", "b"):
        want = api.run_offline_persons(lifter, d / f"{name}.mp4", detector="fake-test", refiner=refiner)
        np.testing.assert_allclose(read_result(out / f"{name}.h5").joints3d, want.joints3d[0], atol=1e-6)
    kout = tmp_path / "kout"
    r = run("detect", d, "--out-dir", kout, "--detector", "fake-test", "--refine-model", refiners["id"], "-q")
    assert r.exit_code == 0, r.stderr
    assert read_keypoints(kout / "a.kpts.h5").joint_set == "h36m17"
