"""hm mesh with several persons through the CLI: a two-person keypoint file and a video seen by a
two-person fake detector, on the small synthetic SMPL-layout model (tiny --iters)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from hmcli.cli.main import app
from hmcli.io.keypoints import save_keypoints
from hmcli.io.mesh_h5 import read_mesh, read_meshes
from hmcli.mesh.synthetic import write_synthetic_smpl
from tests.cli.helpers import make_keypoints, make_two_keypoints, write_video

pytestmark = pytest.mark.usefixtures("one_thread")

F = 12


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(r, code=None):
    assert r.exit_code != 0, (r.exit_code, r.stdout, r.stderr)
    if code is not None:
        assert r.exit_code == code, (r.exit_code, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("hm: error: "), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    return lines[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory, ckpts):
    d = tmp_path_factory.mktemp("mesh-persons")
    models = d / "models"
    models.mkdir()
    write_synthetic_smpl(models / "SMPL_NEUTRAL.npz")
    two = make_two_keypoints(F)
    save_keypoints(two, d / "two.h5")
    save_keypoints(make_keypoints(F), d / "one.h5")
    return {"dir": d, "two": d / "two.h5", "one": d / "one.h5", "kp": two,
            "args": ("--model", ckpts["bi"], "--body-model", "smpl", "--model-dir", models, "--iters", 2)}


def test_two_persons_one_file_per_person_outputs(data, tmp_path):
    out, objs, amass = tmp_path / "two.mesh.h5", tmp_path / "objs", tmp_path / "x.npz"
    r = run("mesh", data["two"], "-o", out, *data["args"], "--obj", objs, "--amass", amass, "--json")
    assert r.exit_code == 0, r.stderr
    res = read_meshes(out)
    assert res.track_ids.tolist() == [1, 2] and res.num_frames == F
    one, two = res.persons
    assert one.valid.all() and two.valid.tolist() == [i >= 3 for i in range(F)]  # person 2 is seen from frame 3
    assert np.isnan(two.joints3d[:3]).all() and np.isfinite(two.joints3d[3:]).all()
    assert np.isfinite(one.pose).all() and np.isfinite(two.pose).all()
    # each person stands where it was seen: person 1 left of person 2
    assert one.joints3d[5, 0, 0] < two.joints3d[5, 0, 0]
    # --obj: one folder per person; --amass: one npz per person
    for tid in (1, 2):
        assert len(list((objs / f"p{tid}").glob("frame_*.obj"))) == F
        with np.load(tmp_path / f"x.p{tid}.npz") as z:
            assert z["poses"].shape == (F, 72)
    assert sorted(p.name for p in objs.iterdir()) == ["p1", "p2"] and not amass.exists()
    # the summary: persons and their ids, averaged figures, one line per person; --json per person
    assert "2 persons (track ids 1, 2)" in r.stderr and "averaged over persons" in r.stderr
    assert "#1: 12 of 12 frames" in r.stderr and "#2: 9 of 12 frames" in r.stderr
    doc = json.loads(r.stdout)
    assert doc["track_ids"] == [1, 2] and [p["track_id"] for p in doc["persons"]] == [1, 2]
    assert [p["frames_with_person"] for p in doc["persons"]] == [12, 9] and doc["quality_averaged_over_persons"]
    q = [p["quality"]["mpjpe_to_lift_mm"] for p in doc["persons"]]
    assert doc["quality"]["mpjpe_to_lift_mm"] == pytest.approx(np.mean(q))


def test_person_picks_one(data, tmp_path):
    full = tmp_path / "full.h5"
    assert run("mesh", data["two"], "-o", full, *data["args"], "-q").exit_code == 0
    out, objs = tmp_path / "p2.h5", tmp_path / "objs"
    r = run("mesh", data["two"], "-o", out, *data["args"], "--person", 2, "--obj", objs, "-q")
    assert r.exit_code == 0, r.stderr
    res = read_meshes(out)
    assert res.track_ids.tolist() == [2]
    ref = read_mesh(full, person=2)
    np.testing.assert_allclose(res.persons[0].pose, ref.pose, atol=1e-5)  # the same fit as among both
    np.testing.assert_array_equal(res.persons[0].valid, ref.valid)
    assert len(list(objs.glob("frame_*.obj"))) == F  # one person: the folder itself, as before


def test_one_person_input_is_fitted_as_before(data, tmp_path):
    """A one-person keypoint file (track id 0): exactly the arrays of the one-person code path."""
    from hmcli import api
    from hmcli.mesh import api as mesh_api
    from hmcli.mesh.fit import FitOptions

    out = tmp_path / "one.h5"
    r = run("mesh", data["one"], "-o", out, *data["args"])
    assert r.exit_code == 0, r.stderr
    assert r.stderr.splitlines()[-1].startswith(f"hm mesh: {F} frames, body model smpl")  # today's summary line
    assert "track id" not in r.stderr
    res = read_meshes(out)
    assert res.track_ids.tolist() == [0]
    lifted, _ = api.lift_input(data["one"], data["args"][1])
    body = mesh_api.load_body_model("smpl", data["args"][5])
    ref = mesh_api.fit(lifted, body, FitOptions(iters=2))
    got = res.persons[0]
    for name in ("pose", "betas", "transl", "joints3d", "valid"):
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), atol=1e-6, err_msg=name)


def test_video_with_two_persons(data, tmp_path):
    video = write_video(tmp_path / "two.mp4", n=F)
    out = tmp_path / "v.h5"
    r = run("mesh", video, "-o", out, *data["args"], "--detector", "fake-two-test", "--max-persons", 2, "-q")
    assert r.exit_code == 0, r.stderr
    res = read_meshes(out)
    assert res.num_persons == 2 and all(i >= 1 for i in res.track_ids.tolist())
    r1 = run("mesh", video, "-o", tmp_path / "v1.h5", *data["args"], "--detector", "fake-two-test", "--max-persons", 1,
             "-q")  # fmt: skip
    assert r1.exit_code == 0, r1.stderr
    assert read_meshes(tmp_path / "v1.h5").track_ids.tolist() == [0]  # the one-person path


def test_batch_of_one_and_two_persons(data, tmp_path):
    out = tmp_path / "out"
    r = run("mesh", data["one"], data["two"], "--out-dir", out, *data["args"], "-q")
    assert r.exit_code == 0, r.stderr
    assert read_meshes(out / "one.mesh.h5").track_ids.tolist() == [0]
    assert read_meshes(out / "two.mesh.h5").track_ids.tolist() == [1, 2]


def test_person_errors_one_line_no_output(data, tmp_path):
    out = tmp_path / "o.h5"
    line = one_line_error(run("mesh", data["two"], "-o", out, *data["args"], "--person", 9), 3)
    assert "no person with track id 9" in line and "track ids: 1, 2" in line
    init = tmp_path / "init.npz"
    np.savez(init, pose=np.zeros((F, 72), np.float32), betas=np.zeros(10, np.float32))
    line = one_line_error(run("mesh", data["two"], "-o", out, *data["args"], "--init", init, "--obj", tmp_path / "o"), 3)
    assert "2 persons" in line and "--person" in line
    one_line_error(run("mesh", data["two"], "-o", out, *data["args"], "--max-persons", 0), 2)
    one_line_error(run("mesh", data["two"], "-o", out, *data["args"], "--person", -1), 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["init.npz"]
    # --init with the one person picked: accepted
    r = run("mesh", data["two"], "-o", out, *data["args"], "--init", init, "--person", 1, "--iters", 0, "-q")
    assert r.exit_code == 0, r.stderr
    assert read_meshes(out).track_ids.tolist() == [1]


def test_save_mesh_all_or_nothing_with_persons(data, tmp_path, monkeypatch):
    """A failing AMASS write of the second person removes everything this run made."""
    from hmcli.io import mesh_export

    real = mesh_export.write_amass_npz

    def fail_second(path, *a, **k):
        if "p2" in str(path):
            raise OSError("disk full")
        return real(path, *a, **k)

    monkeypatch.setattr(mesh_export, "write_amass_npz", fail_second)
    objs = tmp_path / "objs"
    objs.mkdir()  # an existing folder is kept, without the person folders
    r = run("mesh", data["two"], "-o", tmp_path / "o.h5", *data["args"], "--obj", objs, "--amass", tmp_path / "x.npz")
    assert r.exit_code != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["objs"] and not list(objs.iterdir())
