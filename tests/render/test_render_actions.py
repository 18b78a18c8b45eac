"""Action labels drawn on rendered frames: OverlayRenderer, render_overlay / render_mesh_overlay
and hm render --actions, on lift and mesh files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from hmcli.cli.main import app
from hmcli.io.h5 import write_result
from hmcli.io.mesh_h5 import write_mesh
from hmcli.render import OverlayRenderer, render_overlay
from hmcli.render.labels import load_action_labels, parse_action_labels
from hmcli.render.overlay import ACTION_BG, render_mesh_overlay
from tests.mesh.result_helpers import make_mesh_result
from tests.render.test_overlay import make_result, read_all

W, H, F = 320, 240, 8  # make_result: 25 fps, frame 3 without a person


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(r, code):
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.startswith("hm: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def tag_pixels(img, w=W, h=H):
    """Pixels of the action tag's colour in the bottom-left corner of the video half."""
    region = img[h - 40 : h, : w // 2].astype(int)
    return int((np.abs(region - np.array(ACTION_BG)).max(-1) < 30).sum())


def report_doc(frames=F):
    # 25 fps, 8 frames = 0.32 s: walk on [0, 0.12], run on [0.1, 0.2], gap, nothing past 0.2 s but the clip label
    return {"schema": "hm.actions", "schema_version": 1, "classes": ["walk", "run", "dance"], "frames": frames,
            "clip": [{"label": "dance", "prob": 0.82}, {"label": "walk", "prob": 0.1}],
            "timeline": [{"start": 0.0, "end": 0.12, "topk": [{"label": "walk", "prob": 0.9}]},
                         {"start": 0.1, "end": 0.2, "topk": [{"label": "run", "prob": 0.7}]},
                         {"start": 0.2, "end": 0.24, "topk": []}]}  # fmt: skip


def lines_text(n=F, missing=(5,)):
    return "".join(json.dumps({"index": i, "t": i / 25, "detected": True,
                               "topk": [] if i in missing else [{"label": f"a{i}", "prob": 0.5}]}) + "\n"
                   for i in range(n))  # fmt: skip


def test_compose_draws_the_tag_bottom_left():
    r = OverlayRenderer(W, H, "h36m17")
    xy, conf = np.zeros((17, 2)), np.zeros(17)
    plain = r.compose(None, xy, conf, True, None)
    tagged = r.compose(None, xy, conf, True, None, action="dance 82 %")
    diff = np.abs(tagged.astype(int) - plain.astype(int)).max(-1) > 0
    ys, xs = np.nonzero(diff)
    assert len(ys) > 100 and ys.min() > H // 2 and xs.max() < W // 2  # only in the bottom-left of the video
    assert tag_pixels(tagged) > 100 and tag_pixels(plain) == 0
    # a long label is made smaller to fit the video half
    long = r.compose(None, xy, conf, True, None, action="put on headphone and take it off again " * 2 + "51 %")
    ys, xs = np.nonzero(np.abs(long.astype(int) - plain.astype(int)).max(-1) > 0)
    assert xs.max() < W
    np.testing.assert_array_equal(r.compose(None, xy, conf, True, None, action=None), plain)


def test_render_overlay_label_per_frame(tmp_path, monkeypatch):
    seen = []
    orig = OverlayRenderer.draw_action

    def spy(self, frame, text):
        seen.append(text)
        orig(self, frame, text)

    monkeypatch.setattr(OverlayRenderer, "draw_action", spy)
    res = make_result()
    tr = parse_action_labels(json.dumps(report_doc()))
    assert render_overlay(res, None, tmp_path / "o.mp4", actions=tr) == F
    # t = i / 25: 0, .04, .08 in walk only; .12 in both (nearer run's centre .15); .16, .2 run;
    # .24 in the unlabelled window -> clip label; .28 past the timeline -> nothing
    assert seen == ["walk 90 %"] * 3 + ["run 70 %"] * 3 + ["dance 82 %", None]
    seen.clear()
    render_overlay(res, None, tmp_path / "o.mp4", actions=parse_action_labels(lines_text()))
    assert seen == ["a0 50 %", "a1 50 %", "a2 50 %", "a3 50 %", "a4 50 %", None, "a6 50 %", "a7 50 %"]
    seen.clear()
    m = make_mesh_result(f=F, width=W, height=H)
    render_mesh_overlay(m, None, tmp_path / "m.mp4", actions=parse_action_labels(lines_text()))
    assert len(seen) == F and seen[5] is None and seen[7] == "a7 50 %"


def test_render_overlay_refuses_labels_of_a_longer_clip(tmp_path):
    with pytest.raises(Exception, match="cover 9 frames but the result has 8"):
        render_overlay(make_result(), None, tmp_path / "o.mp4", actions=parse_action_labels(lines_text(9)))
    assert not list(tmp_path.iterdir())


@pytest.fixture
def lift_file(tmp_path):
    write_result(tmp_path / "clip.h5", make_result())
    (tmp_path / "actions.json").write_text(json.dumps(report_doc()))
    (tmp_path / "online.jsonl").write_text(lines_text())
    return tmp_path


def test_cli_render_actions_report_on_lift_file(lift_file):
    d = lift_file
    r = run("render", d / "clip.h5", "--actions", d / "actions.json", "-o", d / "o.mp4")
    assert r.exit_code == 0, r.stderr
    assert "(actions " in r.stderr
    frames = read_all(d / "o.mp4")
    assert len(frames) == F
    counts = [tag_pixels(f) for f in frames]
    assert all(c > 100 for c in counts[:7]) and counts[7] < 20, counts  # the last frame: past the timeline
    plain = read_all(d / "clip.overlay.mp4") if run("render", d / "clip.h5", "-q").exit_code == 0 else None
    assert plain is not None and all(tag_pixels(f) < 20 for f in plain)


def test_cli_render_actions_lines_on_mesh_file(tmp_path):
    res = make_mesh_result(f=F, width=W, height=H)
    write_mesh(tmp_path / "clip.mesh.h5", res)
    (tmp_path / "online.jsonl").write_text(lines_text())
    r = run("render", tmp_path / "clip.mesh.h5", "--actions", tmp_path / "online.jsonl", "-o", tmp_path / "o.mp4", "-q")
    assert r.exit_code == 0, r.stderr
    counts = [tag_pixels(f) for f in read_all(tmp_path / "o.mp4")]
    assert len(counts) == F and counts[5] < 20 and all(c > 100 for i, c in enumerate(counts) if i != 5), counts


@pytest.mark.parametrize("content, match", [
    ("", "is empty"),
    ('{"schema": "hm.pose3d"}', "not an hm action report"),
    ("{\"index\": 0, \"topk\": []}\nnope\n", "line 2 is not JSON"),
    (lines_text(9), "cover 9 frames"),
    (json.dumps(report_doc(frames=20)), "cover 20 frames"),
    (None, "action labels not found"),
])  # fmt: skip
def test_cli_render_bad_actions(lift_file, content, match):
    d = lift_file
    p = d / "bad.json"
    if content is not None:
        p.write_text(content)
    r = run("render", d / "clip.h5", "--actions", p, "-o", d / "o.mp4")
    one_line_error(r, 3)
    assert match in r.stderr
    assert not (d / "o.mp4").exists() and not [q for q in d.iterdir() if q.name.startswith(".o.mp4")]


def test_load_action_labels_from_cli_output_shape(lift_file):
    # what hm action writes (report keys beyond the timeline are ignored)
    tr = load_action_labels(lift_file / "actions.json")
    assert tr.num_frames == F and tr.clip == ("dance", 0.82)
