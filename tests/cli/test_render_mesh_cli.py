"""hm render and hm export on mesh files (hm.mesh) through the CLI."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from hmcli.cli.main import app
from hmcli.io.h5 import write_result
from hmcli.io.mesh_h5 import write_mesh
from tests.cli.helpers import write_video
from tests.mesh.result_helpers import make_mesh_result

F, W, H = 6, 320, 240
GREY = 160


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(r, code):
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.startswith("hm: error: ") and r.stderr.count("\n") == 1, r.stderr


def read_all(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, fr = cap.read()
        if not ok:
            break
        frames.append(fr)
    cap.release()
    return frames


@pytest.fixture
def files(tmp_path):
    """A 6-frame grey video, the mesh file of a cube moving right (frame 4 not valid) and its lift."""
    res = make_mesh_result(f=F, width=W, height=H, invalid=(4,))
    res.root_rest = np.array([0.0, -0.2, 0.0], np.float32)
    write_mesh(tmp_path / "clip.mesh.h5", res)
    write_result(tmp_path / "clip.h5", res.lift)
    video = write_video(tmp_path / "clip.mp4", n=F, size=(W, H))
    return tmp_path, res, video


def cube_centre_px(res, i):
    return np.round(res.camera.project(res.vertices[i].mean(axis=0).astype(np.float64))).astype(int)


def test_render_mesh_file(files):
    d, res, video = files
    out = d / "o.mp4"
    r = run("render", d / "clip.mesh.h5", "--video", video, "-o", out)
    assert r.exit_code == 0, r.stderr
    assert "(mesh " in r.stderr
    frames = read_all(out)
    assert len(frames) == F and frames[0].shape == (H, W + H, 3)
    for i in range(F):
        x, y = cube_centre_px(res, i)
        changed = np.abs(frames[i][y, x].astype(int) - GREY).max()
        if i == 4:  # not a valid fit: the video is untouched there
            assert changed < 12, (i, frames[i][y, x])
        else:
            assert changed > 25, (i, frames[i][y, x])
        assert np.abs(frames[i][5, 5].astype(int) - GREY).max() < 12  # far from the mesh
    assert sorted(p.name for p in d.iterdir()) == ["clip.h5", "clip.mesh.h5", "clip.mp4", "o.mp4"]


def test_render_lift_with_mesh_option_and_styles(files):
    d, res, video = files
    r = run("render", d / "clip.h5", "--mesh", d / "clip.mesh.h5", "--video", video, "--mesh-style", "wireframe",
            "--mesh-alpha", "1", "-q")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    frames = read_all(d / "clip.overlay.mp4")  # default name from RESULT
    assert len(frames) == F
    x, y = cube_centre_px(res, 0)
    # wireframe: inside the front face (off its edges and diagonal) the video shows through
    assert np.abs(frames[0][y - 5, x + 20].astype(int) - GREY).max() < 12
    r = run("render", "--mesh", d / "clip.mesh.h5", "--video", video, "--mesh-style", "filled", "-q")
    assert r.exit_code == 0 and len(read_all(d / "clip.mesh.overlay.mp4")) == F


def test_render_rebuilds_vertices_when_not_stored(files, monkeypatch):
    d, res, video = files
    write_mesh(d / "novert.h5", make_mesh_result(f=F, width=W, height=H, with_vertices=False))
    import hmcli.cli.render as render_cli

    monkeypatch.setitem(sys.modules, "hmcli.mesh.models", None)  # body-model support unavailable
    one_line_error(run("render", d / "novert.h5", "--video", video, "-o", d / "n.mp4"), 3)
    assert not (d / "n.mp4").exists()
    monkeypatch.setattr(render_cli, "mesh_vertices_for", lambda result, path: res.vertices)
    assert run("render", d / "novert.h5", "--video", video, "-o", d / "n.mp4", "-q").exit_code == 0
    assert len(read_all(d / "n.mp4")) == F


def test_render_mesh_bad_input(files):
    d, _, video = files
    before = sorted(p.name for p in d.iterdir())
    r = run("render", d / "clip.h5", "--mesh", d / "clip.h5", "--video", video, "-o", d / "x.mp4")
    one_line_error(r, 3)
    assert "has no fitted mesh; run hm mesh on it" in r.stderr
    one_line_error(run("render", d / "clip.mesh.h5", "--mesh-style", "glossy", "-o", d / "x.mp4"), 2)
    one_line_error(run("render", d / "clip.mesh.h5", "--mesh-alpha", "1.5", "-o", d / "x.mp4"), 2)
    one_line_error(run("render", "-o", d / "x.mp4"), 2)
    (d / "junk.h5").write_bytes(b"junk")
    one_line_error(run("render", d / "clip.h5", "--mesh", d / "junk.h5", "-o", d / "x.mp4"), 3)
    short = make_mesh_result(f=3, width=W, height=H)
    write_mesh(d / "short.h5", short)
    one_line_error(run("render", d / "clip.h5", "--mesh", d / "short.h5", "-o", d / "x.mp4"), 3)
    assert sorted(p.name for p in d.iterdir()) == sorted(before + ["junk.h5", "short.h5"])  # no partial video


def test_export_mesh_formats(files):
    d, res, _ = files
    r = run("export", d / "clip.mesh.h5", "--format", "obj", "-o", d / "objs")
    assert r.exit_code == 0, r.stderr
    objs = sorted((d / "objs").iterdir())
    assert [p.name for p in objs] == [f"frame_{i:06d}.obj" for i in range(F)]
    v = np.array([[float(x) for x in line.split()[1:]] for line in objs[2].read_text().splitlines()
                  if line.startswith("v ")])  # fmt: skip
    np.testing.assert_allclose(v, res.vertices[2] * [1, -1, -1], atol=1e-5)  # Y-up world
    assert run("export", d / "clip.mesh.h5", "--format", "ply", "-q").exit_code == 0
    assert len(list((d / "clip.mesh_ply").iterdir())) == F
    assert run("export", d / "clip.mesh.h5", "-o", d / "a.npz", "-q").exit_code == 0  # amass from the suffix
    with np.load(d / "a.npz", allow_pickle=False) as z:
        assert z["poses"].shape == (F, 72) and z["trans"].shape == (F, 3)
    # the lifted joints still export as before
    assert run("export", d / "clip.mesh.h5", "--format", "csv", "-o", d / "j.csv", "-q").exit_code == 0
    assert len((d / "j.csv").read_text().splitlines()) == 1 + F * 17
    assert run("export", d / "clip.mesh.h5", "--format", "json", "-o", d / "j.json", "-q").exit_code == 0
    assert run("export", d / "clip.mesh.h5", "--format", "bvh", "-o", d / "j.bvh", "-q").exit_code == 0
    assert run("export", d / "clip.mesh.h5", "--format", "h5", "-o", d / "copy.h5", "-q").exit_code == 0
    from hmcli.io.mesh_h5 import read_mesh

    np.testing.assert_array_equal(read_mesh(d / "copy.h5").vertices, res.vertices)


def test_export_mesh_errors(files):
    d, _, _ = files
    before = sorted(p.name for p in d.iterdir())
    r = run("export", d / "clip.h5", "--format", "obj", "-o", d / "objs")
    one_line_error(r, 3)
    assert "has no fitted mesh" in r.stderr
    one_line_error(run("export", d / "clip.mesh.h5", "-o", d / "one.obj"), 3)  # 6 frames, one file
    one_line_error(run("export", d / "clip.mesh.h5", "--format", "fbx"), 2)
    write_mesh(d / "noroot.h5", make_mesh_result(f=2))
    one_line_error(run("export", d / "noroot.h5", "--format", "amass", "-o", d / "x.npz"), 3)
    assert sorted(p.name for p in d.iterdir()) == sorted(before + ["noroot.h5"])
