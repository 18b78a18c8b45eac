"""hm lift / hm detect through the CLI (typer's CliRunner, in process)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from hmcli import api
from hmcli.cli.main import app
from hmcli.io.h5 import read_keypoints, read_result
from hmcli.io.jsonio import read_result_json
from hmcli.io.keypoints import load_keypoints, save_keypoints_npz
from tests.cli.helpers import make_keypoints, write_video


pytestmark = pytest.mark.usefixtures("one_thread")


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def one_line_error(r, code):
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.startswith("hm: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr + r.stdout


@pytest.fixture
def kp_file(tmp_path):
    kp = make_keypoints(24)
    save_keypoints_npz(kp, tmp_path / "walk.npz")
    return tmp_path / "walk.npz", kp


def test_lift_keypoint_file_to_h5_default_name(kp_file, ckpts):
    path, kp = kp_file
    r = run("lift", path, "--model", ckpts["bi"])
    assert r.exit_code == 0, r.stderr
    out = path.with_suffix(".h5")
    res = read_result(out)
    ref = api.lift(kp, api.load_lifter(ckpts["bi"]))
    np.testing.assert_allclose(res.joints3d, ref.joints3d, atol=1e-6)
    assert res.model_hash == ref.model_hash and res.kpts2d.detector == "synthetic"
    assert r.stdout == ""
    summary = r.stderr.strip().splitlines()[-1]
    assert summary.startswith("hm lift: 24 frames (0 without a person)") and "lift" in summary and "write" in summary


def test_one_pass_flag(kp_file, tmp_path):
    import torch

    from hmcli.nn.registry import build_from_config
    from hmcli.skeleton import PoseCodec
    from hmcli.io.checkpoint import save_checkpoint
    from tests.cli.helpers import TINY

    torch.manual_seed(0)  # a checkpoint trained on 4-frame clips: 16-frame windows for 24 frames
    save_checkpoint(tmp_path / "clip.pt", build_from_config("hummuss", dict(TINY)), "hummuss", PoseCodec(),
                    meta={"model_id": "clip", "train": {"clip_max": 4}})  # fmt: skip
    path, kp = kp_file
    lm = api.load_lifter(tmp_path / "clip.pt")
    for flag, one_pass in ((), False), (("--one-pass",), True):
        out = tmp_path / f"{one_pass}.h5"
        r = run("lift", path, "--model", tmp_path / "clip.pt", "-o", out, "-q", *flag)
        assert r.exit_code == 0, r.stderr
        ref = api.lift(kp, lm, one_pass=one_pass)
        np.testing.assert_allclose(read_result(out).joints3d, ref.joints3d, atol=1e-6)
    assert np.abs(read_result(tmp_path / "True.h5").joints3d - read_result(tmp_path / "False.h5").joints3d).max() > 1e-5


def test_no_flip_flag(kp_file, tmp_path, ckpts):
    path, kp = kp_file
    lm = api.load_lifter(ckpts["bi"])
    for flag, flip in ((), True), (("--no-flip",), False):
        out = tmp_path / f"{flip}.h5"
        r = run("lift", path, "--model", ckpts["bi"], "-o", out, "-q", *flag)
        assert r.exit_code == 0, r.stderr
        np.testing.assert_allclose(read_result(out).joints3d, api.lift(kp, lm, flip=flip).joints3d, atol=1e-6)
    assert np.abs(read_result(tmp_path / "True.h5").joints3d - read_result(tmp_path / "False.h5").joints3d).max() > 1e-5


ARCH_OVERRIDES = {  # tiny versions of each architecture, trained for one step by hm train
    "dstformer": ["model.dim=16", "model.depth=1", "model.heads=2", "model.rep_dim=16"],
    "mixste": ["model.dim=16", "model.depth=2", "model.heads=2"],
    "pstmo": ["model.frames=9", "model.strides=[3, 3]", "model.dim=16", "model.heads=2", "model.ffn_dim=24",
              "model.sem_hidden=24", "model.tem_depth=1"],
}


@pytest.mark.parametrize("arch", sorted(ARCH_OVERRIDES))
def test_lift_runs_every_trained_architecture(kp_file, tmp_path, arch):
    from tests.train.fixtures import make_mini_cmu

    data = make_mini_cmu(tmp_path / "cmu")
    common = [f"data={data}", "steps=1", "batch_size=2", "clip_min=9", "clip_max=9", "val_clip=9", "eval_every=1",
              "save_every=1", "warmup=1", "threads=1", "fps=25"]
    for causal in (False, True):
        r = run("train", "--arch", arch, "--out", tmp_path / f"{arch}{causal}", *common, *ARCH_OVERRIDES[arch],
                f"model.causal={str(causal).lower()}")
        assert r.exit_code == 0, r.stderr
    path, kp = kp_file  # 24 frames at 25 fps
    bi, causal = tmp_path / f"{arch}False" / "last.pt", tmp_path / f"{arch}True" / "last.pt"
    r = run("lift", path, "--model", bi, "-o", tmp_path / "out.h5", "-q")
    assert r.exit_code == 0, r.stderr
    res = read_result(tmp_path / "out.h5")
    assert res.joints3d.shape == (24, 17, 3) and res.model_id == f"{arch}False"
    np.testing.assert_allclose(res.joints3d, api.lift(kp, api.load_lifter(bi)).joints3d, atol=1e-6)
    r = run("lift", path, "--model", causal, "--causal", "-o", "-", "-q")  # streamed frame by frame
    assert r.exit_code == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    frames = [rec for rec in lines if "joints3d" in rec]
    assert len(frames) == 24 and np.isfinite(np.array([f["joints3d"] for f in frames])).all()
    one_line_error(run("lift", path, "--model", bi, "--causal", "-o", "-"), 4)  # bidirectional: no streaming
    r = run("eval", causal, "--data", data, "--stream", "--json", "--cameras", "1")  # hm eval streams it the same way
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["stream"] is True and json.loads(r.stdout)["mpjpe"] > 0


def test_default_output_never_overwrites_input(tmp_path, ckpts):
    from hmcli.io.h5 import write_keypoints

    write_keypoints(tmp_path / "k.h5", make_keypoints(10))
    r = run("lift", tmp_path / "k.h5", "--model", ckpts["bi"])
    assert r.exit_code == 0, r.stderr
    assert read_keypoints(tmp_path / "k.h5").joint_set == "coco17"  # untouched
    assert read_result(tmp_path / "k.3d.h5").joints3d.shape == (10, 17, 3)


def test_lift_to_json_file(kp_file, ckpts, tmp_path):
    path, kp = kp_file
    r = run("lift", path, "-o", tmp_path / "out.json", "--model", ckpts["bi"], "-q")
    assert r.exit_code == 0 and r.stderr == ""
    res = read_result_json(tmp_path / "out.json")
    ref = api.lift(kp, api.load_lifter(ckpts["bi"]))
    assert res.joints3d.shape == (24, 17, 3) and res.model_hash == ref.model_hash
    np.testing.assert_allclose(res.joints3d, ref.joints3d, atol=6e-5)  # JSON keeps 0.1 mm
    np.testing.assert_array_equal(res.kpts2d.detected, kp.detected)


def test_json_lines_to_stdout(kp_file, ckpts):
    path, kp = kp_file
    r = run("lift", path, "-o", "-", "--json", "--model", ckpts["bi"])
    assert r.exit_code == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines[0]["schema"] == "hm.pose3d" and "frames" not in lines[0]
    assert [x["index"] for x in lines[1:]] == list(range(24))
    ref = api.lift(kp, api.load_lifter(ckpts["bi"]))
    np.testing.assert_allclose(np.array([x["joints3d"] for x in lines[1:]]), ref.joints3d, atol=6e-5)


def test_causal_json_lines_stream_equals_offline(kp_file, ckpts):
    path, kp = kp_file
    r = run("lift", path, "--causal", "-o", "-", "--model", ckpts["causal"])
    assert r.exit_code == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 25
    ref = api.lift(kp, api.load_lifter(ckpts["causal"], causal=True))
    np.testing.assert_allclose(np.array([x["joints3d"] for x in lines[1:]]), ref.joints3d, atol=2e-4)


def test_causal_flag_with_bidirectional_model_is_model_error(kp_file, ckpts):
    r = run("lift", kp_file[0], "--causal", "--model", ckpts["bi"])
    one_line_error(r, 4)


def test_missing_model_is_exit_4(kp_file, tmp_path):
    r = run("lift", kp_file[0], "--model", tmp_path / "nope.pt")
    one_line_error(r, 4)
    assert not kp_file[0].with_suffix(".h5").exists()


def test_video_with_fake_detector_and_pipeline(tmp_path, ckpts):
    v = write_video(tmp_path / "clip.mp4", n=12, dark={5})
    r = run("lift", v, "--detector", "fake-test", "--model", ckpts["bi"])
    assert r.exit_code == 0, r.stderr
    res = read_result(tmp_path / "clip.h5")
    assert res.joints3d.shape == (12, 17, 3) and res.kpts2d.detected.tolist() == [i != 5 for i in range(12)]
    assert res.kpts2d.source == v and "decode+detect" in r.stderr
    # hm detect v -o - | hm lift - -o out.h5
    d = run("detect", v, "--detector", "fake-test", "-o", "-")
    assert d.exit_code == 0, d.stderr
    assert json.loads(d.stdout.splitlines()[0])["schema"] == "hm.keypoints2d"
    p = run("lift", "-", "-o", tmp_path / "piped.h5", "--model", ckpts["bi"], input=d.stdout)
    assert p.exit_code == 0, p.stderr
    piped = read_result(tmp_path / "piped.h5")
    assert piped.kpts2d.source == v  # carried through the JSON header
    np.testing.assert_allclose(piped.joints3d, res.joints3d, atol=1e-3)


def test_detect_output_formats(tmp_path):
    v = write_video(tmp_path / "clip.mp4", n=6)
    for name in ("k.h5", "k.json", "k.npz"):
        r = run("detect", v, "--detector", "fake-test", "-o", tmp_path / name, "-q")
        assert r.exit_code == 0, r.stderr
        kp = load_keypoints(tmp_path / name)
        assert kp.num_frames == 6 and kp.joint_set == "coco17" and kp.detector == "fake-detector-v1"
    r = run("detect", v, "--detector", "fake-test", "--max-frames", "3")
    assert r.exit_code == 0 and load_keypoints(tmp_path / "clip.kpts.h5").num_frames == 3
    one_line_error(run("detect", v, "-o", tmp_path / "k.txt"), 2)
    one_line_error(run("detect", v, "--detector", "no-such-detector", "-o", tmp_path / "z.h5"), 3)
    assert not (tmp_path / "z.h5").exists()


def test_no_person_anywhere_still_writes_flagged_output(tmp_path, ckpts):
    from hmcli.io.h5 import read_results

    v = write_video(tmp_path / "dark.mp4", n=5, dark=set(range(5)))
    r = run("lift", v, "--detector", "fake-test", "--model", ckpts["bi"], "-q", "--max-persons", "1")
    assert r.exit_code == 0
    assert r.stderr.startswith("hm: warning: no person found in any of the 5 frames")
    res = read_result(tmp_path / "dark.h5")
    assert not res.kpts2d.detected.any() and np.isnan(res.joints3d).all()
    # the default looks first, finds nobody and takes the one-person path: the same output
    r = run("lift", v, "--detector", "fake-test", "--model", ckpts["bi"], "-q", "-o", tmp_path / "look.h5")
    assert r.exit_code == 0 and read_result(tmp_path / "look.h5").kpts2d.detected.sum() == 0
    # always tracking persons: a file with no persons, and the same warning
    r = run("lift", v, "--detector", "fake-test", "--model", ckpts["bi"], "-q", "-o", tmp_path / "none.h5", "--track")
    assert r.exit_code == 0 and r.stderr.startswith("hm: warning: no person found in any of the 5 frames"), r.stderr
    multi = read_results(tmp_path / "none.h5")
    assert multi.num_persons == 0 and multi.num_frames == 5


@pytest.mark.parametrize(
    "name, content",
    [("text.mp4", b"this is not a video\n"), ("empty.mp4", b""), ("missing.mp4", None),
     ("bad.json", b"{not json"), ("empty.npz", b""), ("nobody.json", b'{"schema": "hm.keypoints2d", "schema_version": 1}')],
)  # fmt: skip
def test_bad_inputs_exit_3_without_output(tmp_path, ckpts, name, content):
    src = tmp_path / name
    if content is not None:
        src.write_bytes(content)
    before = set(tmp_path.iterdir())
    r = run("lift", src, "--detector", "fake-test", "--model", ckpts["bi"])
    one_line_error(r, 3)
    assert set(tmp_path.iterdir()) == before  # no output, no temporary file


def test_bad_stdin_and_usage_errors(tmp_path, ckpts):
    one_line_error(run("lift", "-", "-o", tmp_path / "o.h5", "--model", ckpts["bi"], input=b""), 3)
    one_line_error(run("lift", "-", "-o", tmp_path / "o.h5", "--model", ckpts["bi"], input=b"garbage"), 3)
    one_line_error(run("lift"), 2)
    one_line_error(run("lift", "x.npz", "--source", "0"), 2)
    one_line_error(run("lift", "x.npz", "--fps", "-3"), 2)
    one_line_error(run("lift", "x.npz", "--max-frames", "0"), 2)
    kp = make_keypoints(4)
    save_keypoints_npz(kp, tmp_path / "k.npz")
    one_line_error(run("lift", tmp_path / "k.npz", "-o", tmp_path / "o.txt", "--model", ckpts["bi"]), 2)
    one_line_error(run("lift", tmp_path / "k.npz", "-o", tmp_path / "o.h5", "--json", "--model", ckpts["bi"]), 2)
    one_line_error(run("lift", tmp_path / "k.npz", "-o", tmp_path / "nodir" / "o.h5", "--model", ckpts["bi"]), 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.npz"]


def test_missing_camera(ckpts):
    one_line_error(run("lift", "--source", "97", "--model", ckpts["causal"], "--detector", "fake-test"), 3)


def test_fps_and_max_frames(kp_file, ckpts, tmp_path):
    path, _ = kp_file
    r = run("lift", path, "-o", tmp_path / "o.h5", "--fps", "10", "--max-frames", "7", "--model", ckpts["bi"])
    assert r.exit_code == 0, r.stderr
    res = read_result(tmp_path / "o.h5")
    np.testing.assert_allclose(res.kpts2d.timestamps, np.arange(7) / 10.0)


def test_causal_video_streams_each_line_as_its_frame_is_lifted(tmp_path, ckpts, monkeypatch):
    import hmcli.cli.lift as cli_lift
    from hmcli.detect.base import register_detector
    from tests.cli.helpers import FakeDetector

    seen = []

    class Counting(FakeDetector):
        def detect(self, frame, t):
            seen.append(t)
            return super().detect(frame, t)

    register_detector("fake-count", Counting)
    progress_at_write = []
    original = cli_lift.StdoutLines.write

    def spy(self, record, flush=True):
        progress_at_write.append((len(seen), flush))
        return original(self, record, flush)

    monkeypatch.setattr(cli_lift.StdoutLines, "write", spy)
    v = write_video(tmp_path / "clip.mp4", n=8, dark={2})
    r = run("lift", v, "--causal", "-o", "-", "--detector", "fake-count", "--model", ckpts["causal"],
            "--max-persons", "1")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines[0]["source"] == v and lines[0]["detector"] == "fake-detector-v1"
    assert [x["detected"] for x in lines[1:]] == [i != 2 for i in range(8)]
    # frame k's line is written (and flushed) right after frame k is detected, not at the end
    assert progress_at_write == [(0, True)] + [(k + 1, True) for k in range(8)]  # header: after decoding frame 0
    offline = api.lift_video(v, model=ckpts["causal"], causal=True, detector="fake-test")
    np.testing.assert_allclose(np.array([x["joints3d"] for x in lines[1:]]), offline.joints3d, atol=2e-4)
    assert not (tmp_path / "clip.h5").exists()
    # following persons (the default): one record per (frame, person) with its track id, and a
    # "persons": 0 record for the frame with nobody; the person's state skips that frame
    progress_at_write.clear()
    seen.clear()
    r = run("lift", v, "--causal", "-o", "-", "--detector", "fake-count", "--model", ckpts["causal"])
    assert r.exit_code == 0, r.stderr
    recs = [json.loads(x) for x in r.stdout.splitlines()][1:]
    assert [x.get("track_id") for x in recs] == [1, 1, None, 1, 1, 1, 1, 1] and recs[2]["persons"] == 0
    assert [x["index"] for x in recs] == list(range(8))
    assert progress_at_write == [(0, True)] + [(k + 1, True) for k in range(8)]


def _fake_camera(n_frames, interrupt_after=None):
    """Stands in for hmcli.io.video.iter_frames on a webcam: jittery wall-clock timestamps."""

    def frames(source, max_frames=None):
        assert source == 0
        rng = np.random.default_rng(0)
        t = 0.0
        for i in range(n_frames if max_frames is None else min(n_frames, max_frames)):
            if interrupt_after is not None and i == interrupt_after:
                raise KeyboardInterrupt
            yield i, t, np.full((240, 320, 3), 160, np.uint8)
            t += 1 / 30 + rng.uniform(-0.004, 0.004)

    return frames


def test_webcam_to_file(tmp_path, ckpts, monkeypatch):
    import hmcli.io.video as video

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(video, "iter_frames", _fake_camera(100))
    r = run("lift", "--source", "0", "--max-frames", "6", "--detector", "fake-test", "--model", ckpts["causal"])
    assert r.exit_code == 0, r.stderr
    res = read_result(tmp_path / "camera0.h5")  # default name in the current folder
    assert res.joints3d.shape == (6, 17, 3) and res.kpts2d.source == "camera:0"
    assert np.all(np.diff(res.kpts2d.timestamps) > 0)
    # the streamed result equals the offline causal lift of the same keypoints (variable Δ path)
    kp = make_keypoints(timestamps=res.kpts2d.timestamps)
    ref = api.lift(kp, api.load_lifter(ckpts["causal"], causal=True))
    np.testing.assert_allclose(res.joints3d[1:], ref.joints3d[1:], atol=5e-4)


def test_webcam_ctrl_c_keeps_what_was_captured(tmp_path, ckpts, monkeypatch):
    import hmcli.io.video as video

    monkeypatch.setattr(video, "iter_frames", _fake_camera(100, interrupt_after=4))
    out = tmp_path / "cam.h5"
    r = run("lift", "--source", "0", "-o", out, "--detector", "fake-test", "--model", ckpts["causal"])
    assert r.exit_code == 0, r.stderr
    assert read_result(out).joints3d.shape == (4, 17, 3)


def test_ctrl_c_on_a_file_is_130_without_output(tmp_path, ckpts, monkeypatch):
    import hmcli.lift as engine

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "run_windows", interrupted)
    save_keypoints_npz(make_keypoints(5), tmp_path / "k.npz")
    r = run("lift", tmp_path / "k.npz", "--model", ckpts["bi"])
    one_line_error(r, 130)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.npz"]
