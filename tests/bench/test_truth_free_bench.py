"""hm bench truth-free: the runner on a fake detector with world landmarks (no mediapipe needed),
the CLI, and (where mediapipe is installed) the bundled sample with the shipped models."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hmcli.bench import truth_free_bench as tfb
from hmcli.cli.main import app
from hmcli.detect.base import register_detector
from hmcli.skeleton.joints import BLAZEPOSE33
from tests.cli.helpers import write_video

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[2] / "sample_videos" / "jumping_jacks.mp4"

_POS = {"nose": (0, -0.62), "left_eye": (0.03, -0.66), "right_eye": (-0.03, -0.66), "left_ear": (0.07, -0.64),
        "right_ear": (-0.07, -0.64), "mouth_left": (0.02, -0.58), "mouth_right": (-0.02, -0.58),
        "left_shoulder": (0.18, -0.48), "right_shoulder": (-0.18, -0.48), "left_elbow": (0.2, -0.2),
        "right_elbow": (-0.2, -0.2), "left_wrist": (0.21, 0.05), "right_wrist": (-0.21, 0.05),
        "left_hip": (0.1, 0.0), "right_hip": (-0.1, 0.0), "left_knee": (0.1, 0.44), "right_knee": (-0.1, 0.44),
        "left_ankle": (0.1, 0.86), "right_ankle": (-0.1, 0.86), "left_heel": (0.1, 0.9), "right_heel": (-0.1, 0.9)}  # fmt: skip


def world_at(t: float) -> np.ndarray:
    """(33, 3) metres, hips' midpoint at 0, y down: a standing figure swinging its forearms."""
    w = np.zeros((33, 3))
    for name in BLAZEPOSE33.joints:
        side = "left" if name.startswith("left") else "right"
        key = name if name in _POS else f"{side}_{'ankle' if 'foot' in name else 'wrist'}"
        w[BLAZEPOSE33.index(name), :2] = _POS.get(key, _POS.get(name, (0.0, -0.62)))
    a = 0.6 * math.sin(3 * t)  # forearms swing forward and back about the elbows (lengths kept)
    for side in ("left", "right"):
        el = w[BLAZEPOSE33.index(f"{side}_elbow")]
        w[BLAZEPOSE33.index(f"{side}_wrist")] = el + 0.25 * np.array([0.0, math.cos(a), -math.sin(a)])
    return w


class FakeWorldDetector:
    """Finds the figure in bright frames (2D: the world x/y scaled into the frame), with world landmarks."""

    name = "fake-world-v1"
    joint_set = "blazepose33"

    def __init__(self):
        self.last_world = None

    def detect(self, frame_bgr, timestamp):
        if frame_bgr.mean() < 80:
            self.last_world = None
            return np.zeros((33, 2), np.float32), np.zeros(33, np.float32), False
        w = world_at(timestamp)
        self.last_world = w.astype(np.float32)
        xy = (w[:, :2] * 120 + np.array([160.0, 130.0])).astype(np.float32)
        return xy, np.full(33, 0.9, np.float32), True

    def close(self):
        pass


register_detector("fake-world-test", FakeWorldDetector)


def test_default_videos_start_with_the_bundled_samples():
    vids = tfb.default_videos()
    assert str(SAMPLE) in vids and vids.index(str(SAMPLE)) == 0 or not SAMPLE.exists()


def test_reference_file_beside_the_video(tmp_path):
    v = tmp_path / "clip.mp4"
    v.write_bytes(b"")
    assert tfb.reference_3d(v) is None
    frames = [[{"x": 1.0, "y": 2.0, "z": 3.0}] * 33, [[0.0, 1.0, 2.0]] * 33, []]
    (tmp_path / "clip_3d.full.json").write_text(json.dumps(frames))
    name, arr = tfb.reference_3d(v)
    assert name == "clip_3d.full.json" and arr.shape == (3, 33, 3)
    assert arr[0, 5].tolist() == [1, 2, 3] and arr[1, 0].tolist() == [0, 1, 2] and np.isnan(arr[2]).all()


def test_cli_on_a_fake_detector(tmp_path, ckpts, one_thread):
    video = write_video(tmp_path / "clip.mp4", n=20, dark=(4,))
    ref = [world_at(i / 25).tolist() for i in range(20)]  # the detector's own world, shipped as a file
    (tmp_path / "clip_3d.json").write_text(json.dumps(ref))
    out = tmp_path / "out"
    r = runner.invoke(app, ["bench", "truth-free", video, "--model", ckpts["bi"], "--causal-model", ckpts["causal"],
                            "--detector", "fake-world-test", "--blazepose-map", "midpoints", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["benchmark"] == "truth-free"
    assert [row["model"] for row in res["rows"]] == ["mediapipe", "hm bidirectional", "hm causal", "file: clip_3d.json"]
    for row in res["rows"]:
        assert row["frames"] == 20 and row["valid"] == 19  # the dark frame is left out for every model
        assert row["fps"] == pytest.approx(25.0)
    mp, file_row = res["rows"][0], res["rows"][3]
    assert mp["p_mpjpe_vs_mp_mm"] is None and file_row["p_mpjpe_vs_mp_mm"] == pytest.approx(0.0, abs=1e-3)
    assert mp["bone_cv_pct"] < 1e-3 and mp["asym_pct"] < 1e-3  # a rigid, symmetric figure (the cmu map mixes
    # landmarks, so it would bend a rigid figure slightly; the midpoints map does not)
    assert res["rows"][1]["jitter_mm_f2"] is not None and res["rows"][1]["p_mpjpe_vs_mp_mm"] > 0
    clip = res["clips"][0]
    assert clip["detected"] == 19 and "hm bidirectional | hm causal" in clip["agreement"]
    assert sorted(p.name for p in out.iterdir()) == ["truth-free.json", "truth-free.md", "truth-free.png"]
    md = (out / "truth-free.md").read_text()
    assert "| clip.mp4 | hm causal |" in md and "P-MPJPE vs MP mm" in md

    r = runner.invoke(app, ["bench", "truth-free", video, "--model", ckpts["bi"], "--causal-model", "none",
                            "--detector", "fake-world-test", "--md", "--max-frames", "10"])
    assert r.exit_code == 0, r.output
    assert "| clip.mp4 | hm bidirectional | 9/10 @ 25 fps |" in r.stdout and "hm causal" not in r.stdout


def test_detector_without_world_landmarks_is_a_one_line_error(tmp_path, ckpts):
    video = write_video(tmp_path / "clip.mp4", n=5)
    r = runner.invoke(app, ["bench", "truth-free", video, "--model", ckpts["bi"], "--causal-model", "none",
                            "--detector", "fake-test"])
    assert r.exit_code != 0 and r.stderr.startswith("hm: error: detector 'fake-detector-v1' gives no 3D world")


@pytest.mark.parametrize("args, message", [
    (["--up", "floor"], "--up must be camera or spine, got 'floor'"),
    (["--margin", "-1"], "--margin must be >= 0 metres, got -1.0"),
    (["--blazepose-map", "x"], "--blazepose-map must be cmu or midpoints, got 'x'"),
    (["--max-frames", "2"], "--max-frames must be at least 3, got 2"),
    (["--json", "--md"], "--json and --md are exclusive"),
])
def test_usage_errors_before_any_work(args, message, tmp_path):
    r = runner.invoke(app, ["bench", "truth-free", "x.mp4", *args, "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and r.stderr == f"hm: error: {message}\n"
    assert not (tmp_path / "out").exists()


def test_missing_video_is_a_one_line_error(tmp_path, ckpts):
    r = runner.invoke(app, ["bench", "truth-free", str(tmp_path / "nope.mp4"), "--model", ckpts["bi"],
                            "--causal-model", "none"])
    assert r.exit_code != 0 and r.stderr == f"hm: error: video not found: {tmp_path / 'nope.mp4'}\n"


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample video not in this checkout")
def test_sample_clip_with_mediapipe_and_the_shipped_models(one_thread):
    pytest.importorskip("mediapipe")
    res = tfb.truth_free_bench([str(SAMPLE)], max_frames=30)
    rows = {r["model"]: r for r in res["rows"]}
    assert set(rows) == {"mediapipe", "hm bidirectional", "hm causal"}
    for r in rows.values():
        assert r["valid"] == 30 and 0 < r["bone_cv_pct"] < 50 and 0 < r["jitter_mm_f2"] < 200
    # the lifters and MediaPipe roughly agree on the pose (P-MPJPE well under 150 mm)
    assert 20 < rows["hm bidirectional"]["p_mpjpe_vs_mp_mm"] < 150
