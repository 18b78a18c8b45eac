"""hm render and hm export through the CLI."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from hmcli.cli.main import app
from hmcli.io.bvh import bvh_fk, read_bvh
from hmcli.io.h5 import read_result
from hmcli.io.jsonio import read_result_json
from hmcli.io.keypoints import save_keypoints_npz
from tests.cli.helpers import make_keypoints, tiny_checkpoint, write_video


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (tests/conftest.py)


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(r, code):
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.startswith("hm: error: ") and r.stderr.count("\n") == 1, r.stderr


@pytest.fixture(scope="module")
def lifted(tmp_path_factory):
    """A video (10 frames, 320x240) lifted with the fake detector -> clip.h5 next to it."""
    d = tmp_path_factory.mktemp("lifted")
    ckpt = tiny_checkpoint(d / "bi.pt")
    v = write_video(d / "clip.mp4", n=10, dark={4})
    r = run("lift", v, "--detector", "fake-test", "--model", ckpt, "-q")
    assert r.exit_code == 0, r.stderr
    return d / "clip.h5", v


def frame_count(path):
    cap = cv2.VideoCapture(str(path))
    n = 0
    size = None
    while True:
        ok, fr = cap.read()
        if not ok:
            break
        size = fr.shape[:2]
        n += 1
    cap.release()
    return n, size


def test_render_uses_recorded_source_video(lifted, tmp_path):
    h5, _ = lifted
    out = tmp_path / "overlay.mp4"
    r = run("render", h5, "-o", out)
    assert r.exit_code == 0, r.stderr
    assert "warning" not in r.stderr and "(video " in r.stderr
    n, size = frame_count(out)
    assert n == 10 and size == (240, 320 + 240)  # video | square 3D panel


def test_render_default_name_and_missing_video(lifted, tmp_path):
    h5, _ = lifted
    r = run("render", h5, "-q")
    assert r.exit_code == 0 and frame_count(h5.with_name("clip.overlay.mp4"))[0] == 10
    one_line_error(run("render", h5, "--video", tmp_path / "nope.mp4", "-o", tmp_path / "x.mp4"), 3)
    one_line_error(run("render", h5, "-o", tmp_path / "x.avi"), 2)
    one_line_error(run("render", tmp_path / "nothing.h5", "-o", tmp_path / "y.mp4"), 3)
    assert not list(tmp_path.iterdir())


def test_render_without_source_warns_and_draws_black(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "bi.pt")
    save_keypoints_npz(make_keypoints(6), tmp_path / "k.npz")  # source "synthetic.npz": no such video
    assert run("lift", tmp_path / "k.npz", "--model", ckpt, "-q").exit_code == 0
    r = run("render", tmp_path / "k.h5", "-o", tmp_path / "o.mp4")
    assert r.exit_code == 0 and r.stderr.startswith("hm: warning: source video")
    assert frame_count(tmp_path / "o.mp4")[0] == 6


def test_export_bvh_csv_json_roundtrip(lifted, tmp_path):
    h5, _ = lifted
    res = read_result(h5)
    r = run("export", h5, "--format", "bvh", "-o", tmp_path / "m.bvh")
    assert r.exit_code == 0, r.stderr
    hier, motion = read_bvh(tmp_path / "m.bvh")
    assert motion.values.shape[0] == 10 and motion.frame_time == pytest.approx(1 / 25.0, rel=1e-3)
    pos = bvh_fk(hier, motion)
    assert pos.shape[0] == 10 and np.isfinite(pos).all()
    assert run("export", h5, "-o", tmp_path / "m.csv").exit_code == 0  # format from the suffix
    rows = (tmp_path / "m.csv").read_text().splitlines()
    assert rows[0] == "frame,t,joint,x,y,z" and len(rows) == 1 + 10 * 17
    assert run("export", h5, "--format", "json", "-q").exit_code == 0  # default name next to the input
    back = read_result_json(h5.with_suffix(".json"))
    np.testing.assert_allclose(back.joints3d, res.joints3d, atol=6e-5)
    np.testing.assert_array_equal(back.kpts2d.detected, res.kpts2d.detected)


def test_export_errors(lifted, tmp_path):
    h5, _ = lifted
    one_line_error(run("export", h5), 2)
    one_line_error(run("export", h5, "--format", "fbx"), 2)
    one_line_error(run("export", h5, "-o", tmp_path / "x.xyz"), 2)
    one_line_error(run("export", h5, "--format", "h5"), 2)  # would overwrite the input
    (tmp_path / "junk.h5").write_bytes(b"junk")
    one_line_error(run("export", tmp_path / "junk.h5", "--format", "bvh", "-o", tmp_path / "j.bvh"), 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.h5"]


def test_export_all_nan_bvh_is_input_error(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "bi.pt")
    v = write_video(tmp_path / "dark.mp4", n=4, dark={0, 1, 2, 3})
    assert run("lift", v, "--detector", "fake-test", "--model", ckpt, "-q").exit_code == 0
    one_line_error(run("export", tmp_path / "dark.h5", "--format", "bvh"), 3)
    assert not (tmp_path / "dark.bvh").exists()
