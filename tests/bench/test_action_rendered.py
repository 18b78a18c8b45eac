"""hm bench action-rendered on synthetic renders (no renderer, no detector) with a tiny classifier."""

from __future__ import annotations

import numpy as np
import pytest

from hmcli.action.checkpoint import load_action
from hmcli.action.train import balanced_accuracy
from hmcli.bench.action_rendered import action_rendered_bench, action_rendered_table
from hmcli.data.rendered import save_clips
from hmcli.io.atomic import HMError
from tests.action.test_rendered import action_clip
from tests.cli.test_action_cli import one_line_error, run, tiny_action

pytestmark = pytest.mark.usefixtures("one_thread")


def _renders(path) -> str:
    clips = [action_clip("09_12", "walk", F=30), action_clip("49_03", "jump", F=30, seed=1),
             action_clip("49_09", "dance", F=30, seed=2), action_clip("49_18", "stretch", F=30, seed=3),
             action_clip("05_02", "dance", F=30, seed=4)]                       # a training subject: not scored
    save_clips(clips, str(path))
    return str(path)


def test_action_rendered_bench_scores_the_held_out_windows(ckpts, tmp_path):
    model = tiny_action(tmp_path / "tiny.pt", ckpts["bi"])                      # classes walk, jump, dance
    renders = _renders(tmp_path / "r.npz")
    r = action_rendered_bench((model,), renders, data=str(tmp_path / "unused"))
    (row,) = r["rows"]
    assert row["model"] == "tiny-action-bi" and row["windows"] == 3              # exercise is not its class
    cm = np.array(row["confusion"])
    assert cm.shape == (3, 3) and cm.sum(1).tolist() == [1, 1, 1]
    assert row["balanced_accuracy"] == pytest.approx(balanced_accuracy(cm))
    assert row["top1"] == pytest.approx(np.trace(cm) / 3)
    assert row["synthetic_balanced_accuracy"] is None and not r["ratios"]       # its meta has no card figures
    # the same windows through the classifier directly give the same predictions
    from hmcli.action.rendered import load_rendered_actions
    from hmcli.action.train import evaluate_windows, rendered_eval_items

    la = load_action(model)
    items = load_rendered_actions([renders], la.classes, "test")
    assert evaluate_windows(la.model, rendered_eval_items(la.codec, la.fps, la.window_frames, items), 3)["confusion"] \
        == row["confusion"]
    title, cols, rows = action_rendered_table(r)
    assert "real BlazePose" in title and rows[0][:3] == ["framed", "tiny-action-bi", "3"] and len(rows[0]) == len(cols)
    assert r["tables"][0]["columns"] == ["true \\ predicted", "walk", "jump", "dance", "recall"]
    from hmcli.bench.report import write_outputs

    paths = write_outputs(r, tmp_path / "out", "action-rendered")
    assert [p.rsplit(".", 1)[1] for p in paths] == ["json", "md", "png"]


def test_action_rendered_bench_errors(ckpts, tmp_path):
    model = tiny_action(tmp_path / "tiny.pt", ckpts["bi"])
    with pytest.raises(HMError, match="motion capture directory not found"):     # no renders, nothing to render from
        action_rendered_bench((model,), str(tmp_path / "new.npz"), data=str(tmp_path / "missing"))
    assert not (tmp_path / "new.npz").exists()
    save_clips([action_clip("05_02", "dance")], str(tmp_path / "train-only.npz"))   # no held-out windows: rendered
    with pytest.raises(HMError, match="motion capture directory not found"):
        action_rendered_bench((model,), str(tmp_path / "train-only.npz"), data=str(tmp_path / "missing"))
    save_clips([action_clip("49_18", "stretch")], str(tmp_path / "exercise.npz"))     # not one of its classes
    with pytest.raises(HMError, match="no held-out framed windows with a class of tiny-action-bi"):
        action_rendered_bench((model,), str(tmp_path / "exercise.npz"), data=str(tmp_path / "missing"))
    one_line_error(run("bench", "action-rendered", "--renders", tmp_path / "r.txt"), 2)
    r = run("bench", "action-rendered", "-m", model, "--renders", tmp_path / "x.npz", "--data", tmp_path / "missing")
    one_line_error(r)
    assert "motion capture directory not found" in r.stderr


def test_action_rendered_bench_scores_each_camera_kind_and_renders_only_what_is_missing(ckpts, tmp_path):
    model = tiny_action(tmp_path / "tiny.pt", ckpts["bi"])
    renders = _renders(tmp_path / "r.npz")                                     # framed windows only
    asked = []

    def two_windows(camera_kind):
        """The render step for a kind the file lacks: two known held-out windows (rendering real bodies
        through MediaPipe takes about 3 s a window; the renderer itself is tested in
        tests/bench/test_detector2d_render.py)."""
        asked.append(camera_kind)
        out = []
        for i, (trial, action) in enumerate((("09_12", "walk"), ("49_03", "jump"))):
            c = action_clip(trial, action, F=30, seed=10 + i)
            c.meta["camera_kind"] = camera_kind
            out.append(c)
        return out

    r = action_rendered_bench((model,), renders, kinds=("framed", "webcam"), render=two_windows)
    assert asked == ["webcam"]                                                 # framed came from the file
    assert [(x["camera_kind"], x["windows"]) for x in r["rows"]] == [("framed", 3), ("webcam", 2)]
    assert any(n.startswith("webcam: the detector found the person in") for n in r["notes"])
    r2 = action_rendered_bench((model,), renders, kinds=("webcam",), render=two_windows)   # now in the file
    assert asked == ["webcam"] and r2["rows"][0]["confusion"] == r["rows"][1]["confusion"]
    with pytest.raises(HMError, match="unknown camera kind 'drone'"):
        action_rendered_bench((model,), renders, kinds=("drone",))
    one_line_error(run("bench", "action-rendered", "--camera-kind", "drone"), 2)
