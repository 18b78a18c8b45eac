"""hm mesh (fit, convert) through the CLI, on the small synthetic SMPL-layout model.

Every fit here uses ``--body-model smpl --model-dir <tmp>`` with the synthetic model written
as SMPL_NEUTRAL.npz (never Anny) and a tiny ``--iters``, so the file runs in seconds.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hmcli.cli.main import app
from hmcli.io.h5 import read_result, write_keypoints, write_result
from hmcli.io.mesh_export import camera_to_yup
from hmcli.io.mesh_h5 import read_mesh
from hmcli.mesh.api import load_body_model
from hmcli.mesh.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hmcli.mesh.synthetic import make_synthetic_smpl, write_synthetic_smpl
from tests.cli.helpers import make_keypoints, pose_at

pytestmark = pytest.mark.usefixtures("one_thread")

F = 8  # frames of the synthetic clip
QUALITY_KEYS = ("mpjpe_to_lift_mm", "mpjpe_ik_to_lift_mm", "reproj_px", "reproj_pct_height")


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def one_line_error(r, code=None):
    """A clean failure: non-zero exit, exactly one non-empty stderr line 'hm: error: ...', no traceback."""
    assert r.exit_code != 0, (r.exit_code, r.stdout, r.stderr)
    if code is not None:
        assert r.exit_code == code, (r.exit_code, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("hm: error: "), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return lines[0]


def no_output(out):
    assert not out.exists(), f"{out} was written"
    if out.parent.is_dir():
        assert not list(out.parent.glob(".*.tmp")), list(out.parent.glob(".*.tmp"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """The synthetic SMPL model in a folder, its body, and an 8-frame hm lift file made by posing it."""
    from hmcli.bench.mesh import synthetic_clip

    d = tmp_path_factory.mktemp("mesh")
    models = d / "models"
    models.mkdir()
    write_synthetic_smpl(models / "SMPL_NEUTRAL.npz")
    body = load_body_model("smpl", models)
    lifted, rotations, kp_cam = synthetic_clip(body, F)
    write_result(d / "lift.h5", lifted)
    return {"dir": d, "models": models, "body": body, "lifted": lifted, "R": rotations, "kp_cam": kp_cam,
            "lift": d / "lift.h5"}


def smpl(clip):
    return ("--body-model", "smpl", "--model-dir", clip["models"])


# ----------------------------------------------------------------------------- fit on an hm lift file


def test_fit_lift_file_with_every_output(clip, tmp_path):
    out, objs, amass = tmp_path / "out.h5", tmp_path / "objs", tmp_path / "x.npz"
    r = run("mesh", clip["lift"], "-o", out, *smpl(clip), "--iters", 3, "--vertices", "--obj", objs,
            "--amass", amass, "--json")
    assert r.exit_code == 0, r.stderr
    model = make_synthetic_smpl()
    V = model["v_template"].shape[0]

    res = read_mesh(out)
    assert res.num_frames == F and res.body_model == "smpl" and res.gender == "neutral"
    assert res.pose.shape == (F, 24, 3) and res.betas.shape == (10,) and res.transl.shape == (F, 3)
    assert res.joints3d.shape == (F, 17, 3) and res.valid.all()
    np.testing.assert_array_equal(res.faces, model["f"])
    np.testing.assert_allclose(res.lift.joints3d, clip["lifted"].joints3d, atol=1e-6)  # the lift is carried
    for k in QUALITY_KEYS:
        assert k in res.quality and np.isfinite(res.quality[k]), (k, res.quality)
    # the quality figure is what the stored joints say
    rel = res.joints3d - res.joints3d[:, :1]
    mpjpe = 1000 * np.linalg.norm(rel - clip["lifted"].joints3d, axis=-1).mean()
    assert mpjpe == pytest.approx(res.quality["mpjpe_to_lift_mm"], rel=1e-3, abs=1e-3)

    # --vertices: the full mesh, equal to the body model posed by the stored parameters
    assert res.vertices.shape == (F, V, 3)
    body = clip["body"]
    with torch.no_grad():
        v = body.vertices(torch.from_numpy(res.betas)[None], axis_angle_to_matrix(torch.from_numpy(res.pose)))
    np.testing.assert_allclose(res.vertices, v.numpy() + res.transl[:, None], atol=1e-5)

    # --obj: one OBJ per frame with the (Y-up) mesh of that frame
    files = sorted(objs.glob("*.obj"))
    assert [f.name for f in files] == [f"frame_{i:06d}.obj" for i in range(F)]
    lines = files[2].read_text().splitlines()
    vs = np.array([[float(x) for x in ln.split()[1:]] for ln in lines if ln.startswith("v ")])
    fs = np.array([[int(x) for x in ln.split()[1:]] for ln in lines if ln.startswith("f ")])
    assert vs.shape == (V, 3) and fs.shape == model["f"].shape
    np.testing.assert_array_equal(fs - 1, model["f"])
    np.testing.assert_allclose(vs, camera_to_yup(res.vertices[2]), atol=2e-6)

    # --amass: a plain npz (no pickles) whose parameters pose the same mesh in a Y-up world
    with np.load(amass, allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    assert a["poses"].shape == (F, 72) and a["trans"].shape == (F, 3)
    np.testing.assert_allclose(a["betas"], res.betas, atol=1e-7)
    assert str(a["gender"]) == "neutral" and float(a["mocap_framerate"]) == pytest.approx(30.0)
    np.testing.assert_allclose(a["poses"][:, 3:], res.pose[:, 1:].reshape(F, 69), atol=1e-6)
    with torch.no_grad():
        va = body.vertices(torch.from_numpy(a["betas"])[None],
                           axis_angle_to_matrix(torch.from_numpy(a["poses"]).reshape(F, 24, 3)))
    np.testing.assert_allclose(va.numpy() + a["trans"][:, None], camera_to_yup(res.vertices), atol=1e-4)

    # --json: exactly one line on stdout
    out_lines = r.stdout.splitlines()
    assert len(out_lines) == 1
    summary = json.loads(out_lines[0])
    assert summary["output"] == str(out) and summary["frames"] == F and summary["body_model"] == "smpl"
    assert summary["frames_without_person"] == 0
    for k in QUALITY_KEYS:
        assert summary["quality"][k] == pytest.approx(res.quality[k], rel=1e-6)


def test_without_vertices_flag_the_file_holds_no_mesh(clip, tmp_path):
    out = tmp_path / "small.h5"
    r = run("mesh", clip["lift"], "-o", out, *smpl(clip), "--iters", 0, "-q")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""  # -q: nothing on stderr; no --json: nothing on stdout
    res = read_mesh(out)
    assert res.vertices is None and res.pose.shape == (F, 24, 3)


def test_refinement_keeps_or_improves_the_joints(clip, tmp_path):
    q = {}
    for iters in (0, 20):
        r = run("mesh", clip["lift"], "-o", tmp_path / f"i{iters}.h5", *smpl(clip), "--iters", iters, "--json", "-q")
        assert r.exit_code == 0, r.stderr
        q[iters] = json.loads(r.stdout)["quality"]
    # --iters 0 is IK alone
    assert q[0]["mpjpe_to_lift_mm"] == pytest.approx(q[0]["mpjpe_ik_to_lift_mm"], abs=1e-3)
    assert q[20]["mpjpe_ik_to_lift_mm"] == pytest.approx(q[0]["mpjpe_ik_to_lift_mm"], abs=1e-3)
    assert q[20]["mpjpe_to_lift_mm"] <= q[0]["mpjpe_to_lift_mm"] + 0.5, (q[0], q[20])
    assert q[0]["mpjpe_to_lift_mm"] < 30  # the synthetic clip is the model's own motion: IK is close


def test_init_with_the_true_poses_is_kept_with_zero_iterations(clip, tmp_path):
    R = clip["R"]
    pose = matrix_to_axis_angle(R).numpy().reshape(F, 72).astype(np.float32)
    np.savez(tmp_path / "init.npz", pose=pose, betas=np.zeros(10, np.float32))
    out = tmp_path / "init.h5"
    r = run("mesh", clip["lift"], "-o", out, *smpl(clip), "--iters", 0, "--init", tmp_path / "init.npz", "--json", "-q")
    assert r.exit_code == 0, r.stderr
    res = read_mesh(out)
    # joint rotations as given; the root of the synthetic clip is a half turn (angle pi), whose
    # axis-angle is +r or -r by rounding, so it is compared as a matrix
    np.testing.assert_allclose(res.pose[:, 1:].reshape(F, 69), pose[:, 3:], atol=1e-4)
    got_R = axis_angle_to_matrix(torch.from_numpy(res.pose)).numpy()
    np.testing.assert_allclose(got_R, R.numpy(), atol=1e-4)
    np.testing.assert_allclose(res.betas, 0.0, atol=1e-7)
    # the true pose and shape reproduce the lifted (true) joints
    assert json.loads(r.stdout)["quality"]["mpjpe_to_lift_mm"] < 0.1
    rel = res.joints3d - res.joints3d[:, :1]
    np.testing.assert_allclose(rel, clip["lifted"].joints3d, atol=1e-4)


# ----------------------------------------------------------------------------- keypoint input (lift + fit)


def coco_json(path, n=12, fps=25.0, width=320, height=240):
    """A COCO keypoint file of the helpers' synthetic figure (no timestamps: needs --fps)."""
    xy = pose_at(np.arange(n) / fps)
    doc = {"images": [{"id": i, "width": width, "height": height} for i in range(n)],
           "annotations": [{"image_id": i, "score": 0.9,
                            "keypoints": [v for x, y in xy[i].tolist() for v in (x, y, 2)]} for i in range(n)]}
    path.write_text(json.dumps(doc))
    return path


def test_mesh_on_a_keypoint_file_lifts_then_fits(clip, ckpts, tmp_path):
    kp = coco_json(tmp_path / "kp.json", n=12)
    r = run("lift", kp, "--model", ckpts["bi"], "--fps", 25, "-o", tmp_path / "lift.h5", "-q")
    assert r.exit_code == 0, r.stderr
    out = tmp_path / "kp.mesh.h5"
    r = run("mesh", kp, "--model", ckpts["bi"], "--fps", 25, "-o", out, *smpl(clip), "--iters", 2, "--json", "-q")
    assert r.exit_code == 0, r.stderr
    res = read_mesh(out)
    assert res.num_frames == 12 and res.pose.shape == (12, 24, 3) and res.joints3d.shape == (12, 17, 3)
    assert np.isfinite(res.pose).all() and np.isfinite(res.transl).all()
    # the mesh file carries exactly what hm lift makes of the same file
    lifted = read_result(tmp_path / "lift.h5")
    np.testing.assert_allclose(res.lift.joints3d, lifted.joints3d, atol=1e-5)
    assert res.camera.cx == pytest.approx(160.0) and res.camera.cy == pytest.approx(120.0)
    assert json.loads(r.stdout)["frames"] == 12


def test_mesh_on_a_keypoints_h5_is_lifted(clip, ckpts, tmp_path):
    """An hm detect-style hm.keypoints2d HDF5 has no 3D: hm mesh lifts it first."""
    kp = make_keypoints(10)
    write_keypoints(tmp_path / "k.h5", kp)
    out = tmp_path / "k.mesh.h5"
    r = run("mesh", tmp_path / "k.h5", "--model", ckpts["bi"], "-o", out, *smpl(clip), "--iters", 0, "-q")
    assert r.exit_code == 0, r.stderr
    res = read_mesh(out)
    assert res.num_frames == 10 and res.lift.kpts2d.joint_set == "h36m17"
    np.testing.assert_allclose(res.lift.kpts2d.timestamps, kp.timestamps)
    # the same file with a lifter that does not exist: one clean line, nothing written
    out2 = tmp_path / "k2.mesh.h5"
    r = run("mesh", tmp_path / "k.h5", "--model", tmp_path / "no-such.pt", "-o", out2, *smpl(clip))
    one_line_error(r)
    no_output(out2)


# ----------------------------------------------------------------------------- hm mesh convert, pickles


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def test_convert_chumpy_pickle_equals_direct_npz(clip, tmp_path):
    write_synthetic_smpl(tmp_path / "SMPL_NEUTRAL.pkl")
    write_synthetic_smpl(tmp_path / "direct.npz")
    r = run("mesh", "convert", tmp_path / "SMPL_NEUTRAL.pkl", "-o", tmp_path / "conv.npz")
    assert r.exit_code == 0, r.stderr
    with np.load(tmp_path / "conv.npz", allow_pickle=False) as z, np.load(tmp_path / "direct.npz") as d:
        conv = {k: z[k] for k in z.files}
        assert set(d.files) <= set(conv)
        for k in d.files:
            np.testing.assert_array_equal(np.asarray(conv[k]), d[k], err_msg=k)
    # and the pickle works as a model file: the fit equals the one from the npz
    pkl_dir = tmp_path / "pkl"
    pkl_dir.mkdir()
    (tmp_path / "SMPL_NEUTRAL.pkl").rename(pkl_dir / "SMPL_NEUTRAL.pkl")
    outs = []
    for d in (pkl_dir, clip["models"]):
        outs.append(tmp_path / f"{d.name}.h5")
        r = run("mesh", clip["lift"], "-o", outs[-1], "--body-model", "smpl", "--model-dir", d, "--iters", 0,
                "--no-shape", "-q")
        assert r.exit_code == 0, r.stderr
    a, b = read_mesh(outs[0]), read_mesh(outs[1])
    np.testing.assert_allclose(a.pose, b.pose, atol=1e-4)
    np.testing.assert_allclose(a.joints3d, b.joints3d, atol=1e-4)


def test_malicious_pickle_is_refused_and_never_runs(clip, tmp_path):
    probe = tmp_path / "PROBE"
    pickle.loads(pickle.dumps(_Evil(probe)))  # the payload does run under plain pickle
    assert probe.exists()

    marker = tmp_path / "MARKER"
    data = pickle.dumps(_Evil(marker), protocol=2)
    (tmp_path / "evil.pkl").write_bytes(data)
    out = tmp_path / "evil.npz"
    msg = one_line_error(run("mesh", "convert", tmp_path / "evil.pkl", "-o", out), 3)
    assert "refusing to load" in msg and "system" in msg, msg
    no_output(out)
    assert not marker.exists()

    evil_dir = tmp_path / "evil_models"
    evil_dir.mkdir()
    (evil_dir / "SMPL_NEUTRAL.pkl").write_bytes(data)
    out = tmp_path / "evil.h5"
    msg = one_line_error(run("mesh", clip["lift"], "-o", out, "--body-model", "smpl", "--model-dir", evil_dir,
                             "--iters", 0), 3)
    assert "refusing to load" in msg and "SMPL_NEUTRAL.pkl" in msg, msg
    no_output(out)
    assert not marker.exists()


def test_convert_bad_input(tmp_path):
    one_line_error(run("mesh", "convert", tmp_path / "none.pkl", "-o", tmp_path / "o.npz"), 3)
    no_output(tmp_path / "o.npz")
    write_synthetic_smpl(tmp_path / "m.pkl")
    one_line_error(run("mesh", "convert", tmp_path / "m.pkl", "-o", tmp_path / "o.txt"), 2)
    no_output(tmp_path / "o.txt")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle at all")
    one_line_error(run("mesh", "convert", tmp_path / "junk.pkl", "-o", tmp_path / "o.npz"), 3)
    no_output(tmp_path / "o.npz")


# ----------------------------------------------------------------------------- bad input


def _nan_lift(clip, d):
    lifted = clip["lifted"]
    p = d / "nan.h5"
    write_result(p, replace(lifted, joints3d=np.full_like(lifted.joints3d, np.nan)))
    return p


def _init_npz(d, pose_shape):
    p = d / "init.npz"
    np.savez(p, pose=np.zeros(pose_shape, np.float32), betas=np.zeros(10, np.float32))
    return p


# name -> (args after "mesh" given (clip, tmp_path), exit code, text the message must contain, output file)
BAD = {
    "missing input": (lambda c, d: [d / "none.h5", "-o", d / "o.h5", *smpl(c)], 3, "input not found", "o.h5"),
    "missing smpl files": (lambda c, d: [c["lift"], "-o", d / "o.h5", "--body-model", "smpl", "--model-dir",
                                         d / "empty"], 3, "smpl.is.tue.mpg.de", "o.h5"),
    "unknown body model": (lambda c, d: [c["lift"], "-o", d / "o.h5", "--body-model", "nosuch", "--model-dir",
                                         c["models"]], 3, "unknown body model 'nosuch'", "o.h5"),
    "no lifted person": (lambda c, d: [_nan_lift(c, d), "-o", d / "o.h5", *smpl(c), "--iters", 0], 3,
                         "no frame has a lifted person", "o.h5"),
    "init pose shape": (lambda c, d: [c["lift"], "-o", d / "o.h5", *smpl(c), "--init", _init_npz(d, (F, 69))], 3,
                        "'pose' must be (F, 72)", "o.h5"),
    "init frames": (lambda c, d: [c["lift"], "-o", d / "o.h5", *smpl(c), "--init", _init_npz(d, (F + 3, 72))], 3,
                    f"--init has {F + 3} frames but the clip has {F}", "o.h5"),
    "output suffix": (lambda c, d: [c["lift"], "-o", d / "o.txt", *smpl(c)], 2, "ending in .h5", "o.txt"),
    "output dir missing": (lambda c, d: [c["lift"], "-o", d / "nodir" / "o.h5", *smpl(c)], 3,
                           "output directory does not exist", "nodir/o.h5"),
    "negative iters": (lambda c, d: [c["lift"], "-o", d / "o.h5", *smpl(c), "--iters", -1], 2,
                       "--iters must be >= 0", "o.h5"),
    "negative w-2d": (lambda c, d: [c["lift"], "-o", d / "o.h5", *smpl(c), "--w-2d", -1], 2,
                      "--w-2d must be a number >= 0", "o.h5"),
    "amass suffix": (lambda c, d: [c["lift"], "-o", d / "o.h5", *smpl(c), "--amass", d / "a.txt"], 2,
                     "--amass writes an .npz", "o.h5"),
    # refused before the fit, not after the .h5 is written
    "obj is a file": (lambda c, d: [c["lift"], "-o", d / "o.h5", *smpl(c), "--iters", 0, "--obj", d / "afile"], 2,
                      "is not a directory", "o.h5"),
    "amass is a folder": (lambda c, d: [c["lift"], "-o", d / "o.h5", *smpl(c), "--iters", 0, "--amass",
                                        d / "afolder.npz"], 2, "is a directory", "o.h5"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_one_line_no_output(case, clip, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "afolder.npz").mkdir()
    (tmp_path / "afile").write_text("")
    make_args, code, text, out_name = BAD[case]
    r = run("mesh", *make_args(clip, tmp_path))
    msg = one_line_error(r, code)
    assert text in msg, msg
    if case == "missing smpl files":
        assert "HM_SMPL_DIR" in msg, msg
    no_output(tmp_path / out_name)
    assert not list(tmp_path.glob("*.mesh.h5"))  # no default-named output either


def test_output_equal_to_input_is_refused(clip, tmp_path):
    src = tmp_path / "lift.h5"
    src.write_bytes(clip["lift"].read_bytes())
    before = src.read_bytes()
    msg = one_line_error(run("mesh", src, "-o", src, *smpl(clip), "--iters", 0), 2)
    assert "is the input file" in msg, msg
    assert src.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_obj_folder_that_exists_is_reused(clip, tmp_path):
    objs = tmp_path / "objs"
    objs.mkdir()
    r = run("mesh", clip["lift"], "-o", tmp_path / "o.h5", *smpl(clip), "--iters", 0, "--obj", objs)
    assert r.exit_code == 0, r.stderr
    assert len(list(objs.glob("*.obj"))) == F


def test_calibrate_bad_input_one_line(tmp_path):
    out = tmp_path / "offsets.npz"
    r = run("mesh", "calibrate", "--data", tmp_path / "nowhere", "-o", out)
    assert "is not a folder" in one_line_error(r, 3)
    r = run("mesh", "calibrate", "--data", tmp_path, "-o", out, "--rounds", 0)
    assert "--rounds" in one_line_error(r, 2)
    r = run("mesh", "calibrate", "--data", tmp_path, "-o", tmp_path / "no" / "offsets.npz")
    assert "does not exist" in one_line_error(r, 3)
    no_output(out)
