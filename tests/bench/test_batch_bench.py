"""hm bench batch on synthetic videos with the fake detector and a tiny lifter."""

from __future__ import annotations

import json

import cv2
import pytest
from typer.testing import CliRunner

from hmcli.bench.batch import batch_table, make_clip
from hmcli.cli.main import app
from tests.cli.helpers import write_video

pytestmark = pytest.mark.usefixtures("one_thread")


def test_make_clip_pads_to_the_size(tmp_path):
    src = write_video(tmp_path / "v.mp4", n=5, size=(160, 240))
    meta = make_clip(src, tmp_path / "w.mp4", (640, 360))
    cap = cv2.VideoCapture(str(tmp_path / "w.mp4"))
    ok, frame = cap.read()
    cap.release()
    assert meta == {"width": 640, "height": 360, "frames": 5, "fps": 25.0} and ok and frame.shape == (360, 640, 3)
    assert frame[:, :50].max() < 20 and frame[:, 320].min() > 100  # padded left and right, picture in the middle


def test_bench_batch_reports_every_method(tmp_path, ckpts):
    videos = [write_video(tmp_path / f"v{i}.mp4", n=10 + i) for i in range(2)]
    r = CliRunner().invoke(app, ["bench", "batch", *videos, "--size", "320x240", "--copies", "2", "--model", ckpts["bi"],
                                 "--detector", "fake-test", "--threads", "1", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert [row["method"] for row in res["rows"]] == ["overlapped", "decode ahead only", "in turn"]
    for row in res["rows"]:
        assert row["videos"] == 4 and row["frames"] == 2 * (10 + 11) and row["frames_per_s"] > 0
        assert row["videos_per_hour"] == pytest.approx(3600 * 4 / row["seconds"])
    title, cols, rows = batch_table(res)
    assert "320x240" in title and "videos/hour" in cols and len(rows) == 3


@pytest.mark.parametrize("args, message", [
    (["--size", "720p"], "--size takes WxH (e.g. 1280x720) or 'original', got '720p'"),
    (["--copies", "0"], "--copies must be at least 1, got 0"),
])  # fmt: skip
def test_bad_options(args, message):
    r = CliRunner().invoke(app, ["bench", "batch", *args])
    assert r.exit_code == 2 and r.stderr == f"hm: error: {message}\n"
