"""hmcli.action.train: frame-rate augmented windows, head losses, option checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hmcli.action.cmu import CMUClip
from hmcli.action.model import ActionHead, ActionHeadConfig
from hmcli.action.train import (
    CMUWindows,
    OptionError,
    action_config,
    draw_batch,
    head_loss,
)
from hmcli.skeleton.codec import PoseCodec

pytestmark = pytest.mark.usefixtures("one_thread")


def cmu_windows(fps=30.0, window=60, min_window=30) -> CMUWindows:
    """CMUWindows over two synthetic 4 s trials at 120 fps (no files read)."""
    src = CMUWindows.__new__(CMUWindows)
    super(CMUWindows, src).__init__(PoseCodec(), fps, window)
    src.classes = ("walk", "run")
    rng = np.random.default_rng(0)
    base = rng.normal(0, 0.3, (17, 3)).astype(np.float32) + np.array([0, 0, 1.0], np.float32)
    t = np.arange(480, dtype=np.float32)[:, None, None] / 120.0
    joints = base[None] + 0.05 * np.sin(2 * np.pi * t + np.arange(17)[None, :, None] / 17.0)
    src.clips = [CMUClip(joints, 120.0, k, f"0{k + 1}", "01", name) for k, name in enumerate(src.classes)]
    src.min_window = min_window
    src.camera_kind, src.corrupt_model, src.eval_corrupt_model = "any", "plain", "plain"
    src.bone_jitter, src.proportions, src.body_p = 0.0, None, 1.0
    src.rendered, src.rendered_p, src._rrng = {}, 0.0, np.random.default_rng(0)
    src.test_subjects = ("09", "49")
    return src


def test_sample_at_another_rate_has_window_s_of_frames():
    src = cmu_windows()
    rng = np.random.default_rng(1)
    x, w, k = src.sample(rng, src.clips)                     # the backbone's rate: 60 frames for 2 s
    assert x.shape[:2] == (1, 60) and w.shape == (1, 60) and k in (0, 1)
    assert 30 <= int(w.sum()) <= 60
    x, w, _ = src.sample(rng, src.clips, fps=5.0)            # 2 s at 5 fps: 10 frames (at least 1 s: 5)
    assert x.shape[:2] == (1, 10) and 5 <= int(w.sum()) <= 10
    x, w, _ = src.sample(rng, src.clips, fps=60.0)
    assert x.shape[:2] == (1, 120) and 60 <= int(w.sum()) <= 120


def test_windows_at_any_rate_and_start_stay_inside_the_clip():
    # a start rounded up used to push the last source frame one past the clip's end at some rates
    src = cmu_windows()
    clip = CMUClip(src.clips[0].joints[:194], 120.0, 0, "02", "01", "walk")
    for fps in np.linspace(5.0, 60.0, 120):
        n = src._length(clip, fps)
        for frames in (1, n // 2, n - 1, n):
            if frames >= 1:
                w = src._take(clip, (n - frames) / fps, frames, fps)   # the latest start sample() can draw
                assert w.shape == (frames, 17, 3)
    np.testing.assert_array_equal(src._take(clip, 0.5, 30, 30.0), clip.joints[60:60 + 4 * 29 + 1:4])


def test_draw_batch_rate_range():
    src = cmu_windows()
    codec = src.codec
    rng = np.random.default_rng(2)
    x, w, y, dt = draw_batch(src, rng, src.clips, 4, codec)  # no rate range: the backbone's rate
    assert x.shape[:3] == (4, 1, 60) and w.shape == (4, 1, 60) and y.shape == (4,) and dt == 1.0
    seen = set()
    for _ in range(6):
        x, w, y, dt = draw_batch(src, rng, src.clips, 3, codec, [5.0, 60.0], 1.0)
        fps = 30.0 / dt
        assert 5.0 - 1e-6 <= fps <= 60.0 + 1e-6
        assert x.shape[2] == max(1, round(60 * fps / 30.0))   # window_s seconds at the drawn rate
        seen.add(x.shape[2])
    assert len(seen) > 1
    # rate_p = 0: never another rate, and the same draws as without a range
    a = draw_batch(src, np.random.default_rng(3), src.clips, 2, codec)
    b = draw_batch(src, np.random.default_rng(3), src.clips, 2, codec, [5.0, 60.0], 0.0)
    assert b[3] == 1.0 and a[0].shape == b[0].shape


def test_head_loss_plain_smoothing_mixup():
    torch.manual_seed(0)
    head = ActionHead(ActionHeadConfig(3, 17, 4, hidden=8, dropout=0.0)).eval()
    f = torch.randn(6, 17, 4)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    ce = torch.nn.functional.cross_entropy(head(f), y)
    assert torch.allclose(head_loss(head, f, y, 3), ce)
    ls = head_loss(head, f, y, 3, label_smoothing=0.1)
    assert torch.allclose(ls, torch.nn.functional.cross_entropy(head(f), y, label_smoothing=0.1))
    m = head_loss(head, f, y, 3, mixup=0.4, gen=torch.Generator().manual_seed(0))
    assert m.shape == () and torch.isfinite(m)
    m.backward()
    assert head.fc1.weight.grad is not None


@pytest.mark.parametrize("bad", ["rate_range=[60, 5]", "rate_range=[0, 30]", "rate_range=5", "rate_p=1.5",
                                 "label_smoothing=1", "mixup=-1", "camera_kind=drone", "corrupt_model=gauss",
                                 "eval_corrupt_model=gauss", "proportions=giant", "bone_jitter=0.7", "body_p=1.5"])
def test_bad_options(bad):
    with pytest.raises(OptionError, match=bad.split("=")[0].replace("_", ".")):
        action_config([bad])


def test_options_parsed():
    cfg = action_config(["rate_range=[5, 60]", "rate_p=0.75", "label_smoothing=0.1", "mixup=0.2"])
    assert cfg.rate_range == [5.0, 60.0] and cfg.rate_p == 0.75 and cfg.label_smoothing == 0.1 and cfg.mixup == 0.2
    assert action_config([]).rate_range is None


def test_camera_and_corruption_options_parsed():
    cfg = action_config(["camera_kind=mixed", "corrupt_model=mixed", "eval_corrupt_model=blazepose"])
    assert (cfg.camera_kind, cfg.corrupt_model, cfg.eval_corrupt_model) == ("mixed", "mixed", "blazepose")
    assert (action_config([]).camera_kind, action_config([]).corrupt_model) == ("any", "plain")


def test_render_clip_2d_corrupt_models_differ_as_the_detectors_do():
    from hmcli.action.cmu import render_clip_2d

    rng = np.random.default_rng(3)
    t = np.arange(300, dtype=np.float32)[:, None, None] / 30.0
    base = rng.normal(0, 0.25, (17, 3)).astype(np.float32) + np.array([0, 0, 0.9], np.float32)
    world = base[None] + 0.05 * np.sin(2 * np.pi * t + np.arange(17)[None, :, None])   # (300, 17, 3)

    def single_joint_masks(model):
        r = render_clip_2d(world, np.random.default_rng(0), camera_kind="standard", corrupt_model=model)
        lost = r["conf"] == 0                                                        # (F, 17)
        return int((lost.any(-1) & ~lost.all(-1)).sum()), r

    n_bp, r = single_joint_masks("blazepose")
    n_plain, _ = single_joint_masks("plain")
    assert r["xy"].shape == (300, 17, 2) and r["conf"].shape == (300, 17)
    assert n_bp == 0 < n_plain  # BlazePose loses whole frames, never single joints (docs/real-video.md §7)


def test_proportions_reshape_the_training_bodies_and_draw_nothing_when_off(monkeypatch):
    """Training windows on other bodies: with ``proportions`` / ``bone_jitter`` the world window handed to
    the camera has other bone lengths (feet kept on the floor); with both off it is the captured clip and
    the draws are those of before the option (the same windows for the same seed)."""
    import hmcli.action.cmu as acmu
    from hmcli.skeleton.joints import H36M17

    seen = []
    real = acmu.render_clip_2d

    def spy(world, rng, **kw):
        seen.append(np.array(world))
        return real(world, rng, **kw)

    monkeypatch.setattr(acmu, "render_clip_2d", spy)

    def bones(j):                                                           # (F, 16) bone lengths
        kids = [c for c, par in enumerate(H36M17.parents) if par >= 0]
        return np.linalg.norm(j[:, kids] - j[:, [H36M17.parents[c] for c in kids]], axis=-1)

    src = cmu_windows()
    base = np.random.default_rng(0).normal(0, 0.3, (17, 3)).astype(np.float32) + np.array([0, 1.0, 0], np.float32)
    t = np.arange(480, dtype=np.float32)[:, None, None] / 120.0
    rigid = base[None] + t * np.array([0.5, 0, 0], np.float32)               # (480, 17, 3): constant bones
    src.clips = [CMUClip(rigid, 120.0, k, f"0{k + 1}", "01", name) for k, name in enumerate(src.classes)]
    a = src.sample(np.random.default_rng(5), src.clips)
    plain = seen[-1]
    b = src.sample(np.random.default_rng(5), src.clips)
    assert np.array_equal(a[0], b[0]) and a[2] == b[2]
    captured = bones(src.clips[0].joints[:1])[0]
    assert np.allclose(bones(plain[:1])[0], captured, rtol=1e-4)            # as captured
    from hmcli.data.augment import proportion_preset

    src.bone_jitter, src.proportions = 0.05, proportion_preset("wide")
    ratios = []
    for seed in range(6):
        src.sample(np.random.default_rng(seed), src.clips)
        ratios.append(bones(seen[-1][:1])[0] / captured)
    ratios = np.array(ratios)                                               # (6, 16)
    assert np.ptp(ratios, axis=0).max() > 0.05                              # other bodies each draw
    assert np.all((ratios > 0.3) & (ratios < 2.0))
    src.body_p = 0.5                                                        # about half the windows as captured
    kept = 0
    for seed in range(40):
        src.sample(np.random.default_rng(100 + seed), src.clips)
        kept += np.allclose(bones(seen[-1][:1])[0], captured, rtol=1e-4)
    assert 8 <= kept <= 32


def test_proportion_options_parsed():
    cfg = action_config(["proportions=wide", "bone_jitter=0.05"])
    assert (cfg.proportions, cfg.bone_jitter) == ("wide", 0.05)
    assert (action_config([]).proportions, action_config([]).bone_jitter) == ("", 0.0)


# ------------------------------------------------------------------ subject folds

#: The shared CMU subset's labelled subjects per class (hmcli/action/cmu.py's table).
CMU_TABLE = {"walk": ("02", "09", "10", "16"), "run": ("02", "09", "16", "49"), "jump": ("13", "16", "49"),
             "dance": ("05", "49", "55", "93"), "exercise": ("13", "14", "49")}


def table_clips() -> list:
    from hmcli.action.cmu import CMU_ACTION_CLASSES

    z = np.zeros((4, 17, 3), np.float32)
    return [CMUClip(z, 30.0, CMU_ACTION_CLASSES.index(c), s, "01", c) for c, subs in CMU_TABLE.items() for s in subs]


def test_subject_folds_hold_out_every_labelled_subject_once_and_keep_every_class():
    from hmcli.action.cmu import SUBJECT_FOLDS, check_folds

    held = [s for fold in SUBJECT_FOLDS for s in fold]
    assert sorted(held) == sorted({s for subs in CMU_TABLE.values() for s in subs}) and len(held) == len(set(held))
    assert SUBJECT_FOLDS[0] == ("09", "49")                       # fold 0 is the shipped split
    clips = table_clips()
    for fold in SUBJECT_FOLDS:
        check_folds(clips, fold)                                  # raises when a class loses its last subject
    with pytest.raises(ValueError, match="leaves class 'jump' no training subject"):
        check_folds(clips, ("13", "16", "49"))
    with pytest.raises(ValueError, match="no labelled clip of subjects 77"):
        check_folds(clips, ("77",))


def test_test_subjects_split_the_windows_and_drop_their_renders():
    from types import SimpleNamespace

    src = cmu_windows()
    assert [c.split_for(src.test_subjects) for c in src.clips] == ["train", "train"]
    src.test_subjects = ("02",)
    assert src.split("test") == [src.clips[1]] and src.split("train") == [src.clips[0]]
    # renders of a held-out subject never train
    from hmcli.action.train import rendered_by_class

    r = [SimpleNamespace(subject="02", label=1), SimpleNamespace(subject="16", label=0),
         SimpleNamespace(subject="2", label=0), SimpleNamespace(subject="49", label=0)]
    assert rendered_by_class(r, ("02",)) == {0: [r[1], r[3]]}
    assert rendered_by_class(r, ("09", "49")) == {1: [r[0]], 0: [r[1], r[2]]}


def test_test_subjects_option():
    assert action_config(["test_subjects=[02, 55]"]).test_subjects == ["02", "55"]
    assert action_config(["test_subjects=[49, 9, 09]"]).test_subjects == ["09", "49"]
    assert action_config([]).test_subjects == []
    with pytest.raises(OptionError, match="test_subjects must be a list of CMU subject ids"):
        action_config(["test_subjects=[walk]"])
    with pytest.raises(OptionError, match="cannot go with test_subjects"):
        action_config(["test_subjects=[02]", "eval_rendered=[x.npz]"])


def test_data_extra_option(tmp_path):
    from hmcli.action.train import _source
    from hmcli.io.atomic import HMError

    assert action_config(["data_extra=[a, b]"]).data_extra == ["a", "b"]
    assert action_config(["data_extra=a"]).data_extra == ["a"] and action_config([]).data_extra == []
    with pytest.raises(OptionError, match="data_extra must be a list of CMU motion capture folders"):
        action_config(["data_extra=[1, 2]"])
    cfg = action_config([f"data_extra=[{tmp_path / 'nowhere'}]"], out=str(tmp_path / "run"))
    with pytest.raises(HMError, match="data_extra: folder not found"):
        _source(cfg, PoseCodec(), 30.0)
    assert not (tmp_path / "run").exists()                      # refused before anything is written
    cfg = action_config([f"data_extra=[{tmp_path}]"], data=str(tmp_path / "labels.csv"), out=str(tmp_path / "run"),
                        kind="auto")
    with pytest.raises(HMError, match="data_extra adds CMU motion capture folders"):
        _source(cfg, PoseCodec(), 30.0)


def test_test_subjects_refused_for_other_data(tmp_path):
    from hmcli.action.train import _source
    from hmcli.io.atomic import HMError

    cfg = action_config(["test_subjects=[02]"], data=str(tmp_path / "labels.csv"), out=str(tmp_path / "run"),
                        kind="auto")
    with pytest.raises(HMError, match="test_subjects chooses held-out CMU subjects"):
        _source(cfg, PoseCodec(), 30.0)


class _FixedClassifier:
    """A stand-in classifier: logits that pick class ``x[..., 0, 0, 0, 0]`` of each window."""

    def eval(self):
        return self

    def __call__(self, x, w):
        pick = x[:, 0, 0, 0, 0].long()                            # (B,)
        return torch.nn.functional.one_hot(pick, 3).float()


def test_evaluate_windows_per_subject_and_pool_folds():
    from hmcli.action.train import evaluate_windows, pool_folds

    def items(rows):
        for pred, label, subject in rows:
            x = np.full((1, 4, 17, 3), pred, np.float32)
            yield x, np.ones((1, 4), np.float32), label, subject

    a = evaluate_windows(_FixedClassifier(), items([(0, 0, "02"), (1, 0, "02"), (2, 2, "55")]), 3)
    assert a["confusion"] == [[1, 1, 0], [0, 0, 0], [0, 0, 1]] and a["balanced_accuracy"] == pytest.approx(0.75)
    assert a["per_subject"] == {"02": {"windows": 2, "confusion": [[1, 1, 0], [0, 0, 0], [0, 0, 0]]},
                                "55": {"windows": 1, "confusion": [[0, 0, 0], [0, 0, 0], [0, 0, 1]]}}
    b = evaluate_windows(_FixedClassifier(), items([(1, 1, "13"), (0, 1, "13")]), 3)
    p = pool_folds([a, b])
    assert p["confusion"] == [[1, 1, 0], [1, 1, 0], [0, 0, 1]] and p["windows"] == 5 and p["folds"] == 2
    assert p["balanced_accuracy"] == pytest.approx((0.5 + 0.5 + 1.0) / 3) and p["top1"] == pytest.approx(3 / 5)
    assert p["fold_balanced_accuracy_mean"] == pytest.approx((0.75 + 0.5) / 2)
    with pytest.raises(ValueError, match="no fold results"):
        pool_folds([])
