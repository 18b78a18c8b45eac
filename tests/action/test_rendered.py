"""hmcli.action.rendered: labelled windows of rendered bodies (synthetic clips: no renderer, no detector)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hmcli.action.rendered import (
    load_rendered_actions,
    render_windows,
    rendered_actions,
)
from hmcli.data.rendered import save_clips
from hmcli.io.atomic import HMError
from tests.data.test_rendered import rendered_clip

CLASSES = ("walk", "run", "jump", "dance", "exercise")


def action_clip(trial: str, action: str, F: int = 40, seed: int = 0):
    c = rendered_clip("test" if trial.startswith(("09", "49")) else "train", F, seed, trial)
    c.meta["action"] = action
    return c


def test_rendered_actions_give_the_2d_hm_action_gives_with_the_trials_class():
    from hmcli.action.api import encode_keypoints
    from hmcli.action.checkpoint import LoadedAction
    from hmcli.skeleton.codec import PoseCodec
    from hmcli.types import Keypoints2D

    clips = [action_clip("05_02", "dance"), action_clip("13_29", "stretch", seed=1), action_clip("06_01", "basketball"),
             action_clip("49_03", "jump", seed=2), action_clip("02_04", "misc")]
    train = rendered_actions(clips, CLASSES, "train")
    assert [(r.trial, CLASSES[r.label], r.subject) for r in train] == [("05_02", "dance", "05"), ("13_29", "exercise", "13")]
    test = rendered_actions(clips, CLASSES, "test")
    assert [(r.trial, CLASSES[r.label]) for r in test] == [("49_03", "jump")]
    assert rendered_actions(clips, ("walk", "dance"), "train")[0].label == 1       # indices into the given list
    # the classifier's input from these equals hm action's encoding of the same detections
    c, r = clips[0], train[0]
    codec = PoseCodec()
    kp = Keypoints2D(c.det_xy, c.det_conf, "blazepose33", np.arange(40) / 30.0, c.width, c.height, c.detected)
    x_ref, w_ref = encode_keypoints(kp, LoadedAction(None, codec, CLASSES, 2.0, 30.0, "hummuss"))
    x = codec.encode_2d(r.xy, r.conf, r.width, r.height)
    ok = c.detected
    np.testing.assert_allclose(np.asarray(x)[ok], x_ref.numpy()[ok], atol=1e-5)
    np.testing.assert_array_equal((r.conf > 0).any(-1), w_ref.numpy() > 0)      # a lost frame weighs nothing
    assert (r.conf[5] == 0).all() and (r.xy[5] == 0).all()


def test_load_rendered_actions_errors(tmp_path):
    save_clips([action_clip("49_03", "jump")], str(tmp_path / "held-out.npz"))
    with pytest.raises(HMError, match="data_rendered: no training-subject clips with an action class"):
        load_rendered_actions([str(tmp_path / "held-out.npz")], CLASSES, "train")
    with pytest.raises(HMError, match="eval_rendered: cannot read"):
        load_rendered_actions([str(tmp_path / "missing.npz")], CLASSES, "test", "eval_rendered")
    assert len(load_rendered_actions([str(tmp_path / "held-out.npz")], CLASSES, "test")) == 1


def _seq(trial: str, action: str, frames: int, fps: float = 120.0):
    return SimpleNamespace(subject=trial.split("_")[0], trial_id=trial, action=action, num_frames=frames, fps=fps)


def test_render_windows_test_split_are_the_evaluations_windows():
    from hmcli.action.train import CMUWindows

    seqs = [_seq("09_01", "walk", 600), _seq("49_02", "jump", 120), _seq("49_03", "basketball", 900),
            _seq("05_01", "dance", 900)]
    got = render_windows(seqs, np.random.default_rng(0), 0, 60, "test", 1.0)
    # CMUWindows.eval_items: 2 s windows every 1 s of each held-out trial (shorter trials whole), at 30 fps
    src = CMUWindows.__new__(CMUWindows)
    src.fps, src.window = 30.0, 60
    expected = []
    for s in seqs[:2]:
        clip = SimpleNamespace(joints=np.zeros((s.num_frames, 17, 3)), fps=s.fps)
        n = src._length(clip)
        expected += [(s.trial_id, int(round(t * 30))) for t in np.arange(0.0, (n - min(n, 60)) / 30 + 1e-9, 1.0)]
    assert got == expected and got[:3] == [("09_01", 0), ("09_01", 30), ("09_01", 60)] and got[-1] == ("49_02", 0)


def test_render_windows_train_split_draws_classes_evenly_inside_the_trials():
    seqs = [_seq("05_01", "dance", 12000), _seq("16_01", "run", 200), _seq("09_01", "walk", 600),
            _seq("13_01", "stretch", 2400)]
    got = render_windows(seqs, np.random.default_rng(0), 600, 120, "train")
    trials = [t for t, _ in got]
    assert "09_01" not in trials                                                   # held-out subjects never
    counts = {t: trials.count(t) for t in ("05_01", "16_01", "13_01")}
    assert all(150 <= v <= 250 for v in counts.values()), counts                  # by class, not by minutes
    lengths = {"05_01": 3000, "16_01": 50, "13_01": 600}                          # frames at 30 fps
    assert all(0 <= a <= max(0, lengths[t] - 120) for t, a in got)


def test_cmu_windows_take_a_share_of_30fps_windows_from_the_renders():
    from tests.action.test_train import cmu_windows

    src = cmu_windows()                                                            # classes walk, run
    r = rendered_actions([action_clip("05_02", "walk", F=40)], ("walk", "run"), "train")
    src.rendered, src.rendered_p, src._rrng = {0: r}, 1.0, np.random.default_rng(3)
    rng = np.random.default_rng(1)
    seen = {0: 0, 1: 0}
    for _ in range(20):
        x, w, k = src.sample(rng, src.clips)
        seen[k] += 1
        if k == 0:                                                                 # walk: always rendered
            n = int(np.flatnonzero(np.abs(x[0]).sum((-1, -2)) > 0).max()) + 1       # frames before the padding
            assert x.shape[:2] == (1, 60) and 30 <= n <= 40 and w[0, n:].sum() == 0
            match = [a for a in range(41 - n)
                     if np.allclose(x[0, :n], src.codec.encode_2d(r[0].xy[a:a + n], r[0].conf[a:a + n], 640, 480))]
            assert match, "a rendered walk window"
        else:
            assert int(w.sum()) >= 30                                              # run: synthetic (no renders)
    assert seen[0] > 3 and seen[1] > 3
    x, w, k = src.sample(rng, src.clips, fps=5.0)                                  # other rates: synthetic only
    assert x.shape[:2] == (1, 10)


def test_rendered_eval_items_score_each_window_once():
    from hmcli.action.train import rendered_eval_items
    from hmcli.skeleton.codec import PoseCodec

    items = rendered_actions([action_clip("49_03", "jump", F=70), action_clip("09_12", "walk", F=20, seed=4)],
                             CLASSES, "test")
    out = list(rendered_eval_items(PoseCodec(), 30.0, 60, items))
    assert [(y, s) for _, _, y, s in out] == [(2, "49"), (0, "09")]
    (x0, w0, _, _), (_, w1, _, _) = out
    assert x0.shape[:2] == (1, 60) and w0.shape == (1, 60) and w1[0, :20].sum() == 19 and w1[0, 20:].sum() == 0


def test_other_held_out_subjects_for_folds():
    seqs = [_seq("09_01", "walk", 600), _seq("05_01", "dance", 360), _seq("55_02", "dance", 120)]
    got = render_windows(seqs, np.random.default_rng(0), 0, 60, "test", 1.0, ("05", "55"))
    assert [t for t, _ in got] == ["05_01", "05_01", "55_02"]          # 2 s windows every 1 s of 05's 3 s trial
    clips = [action_clip("05_02", "dance"), action_clip("49_03", "jump", seed=2), action_clip("55_01", "dance", seed=3)]
    assert [r.trial for r in rendered_actions(clips, CLASSES, "test", ("05", "55"))] == ["05_02", "55_01"]
    assert [r.trial for r in rendered_actions(clips, CLASSES, "train", ("05", "55"))] == ["49_03"]
