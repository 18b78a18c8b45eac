from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from hmcli.data.augment import PROPORTION_PRESETS
from hmcli.data.camera import Camera, project
from hmcli.data.cmu import ACTIONS, Sequence
from hmcli.data.dataset import PoseWindows, collate_windows, make_eval_set, take_window
from hmcli.data.resample import resampled_length
from hmcli.skeleton.joints import H36M17

STEP_M = 0.001  # pelvis x advances 1 mm per source frame, so x encodes the frame index


def _seq(n: int, trial: str = "01", action: str = "walk", fps: float = 120.0, subject: str = "16") -> Sequence:
    rng = np.random.default_rng(int(trial))
    base = rng.uniform(-0.3, 0.3, size=(17, 3))
    base[:, 1] = np.linspace(0.1, 1.7, 17)
    base[0] = [0.0, 0.95, 0.0]
    x = np.arange(n) * STEP_M
    joints = base[None] + x[:, None, None] * np.array([1.0, 0.0, 0.0])
    return Sequence(subject=subject, trial=trial, description=action, action=action, fps=fps,
                    joints=joints.astype(np.float32), path=f"/nowhere/{subject}_{trial}.amc")


def _to_world(item: dict) -> np.ndarray:
    R, t = item["cam_R"].astype(np.float64), item["cam_t"].astype(np.float64)
    return (item["joints3d"].astype(np.float64) - t) @ R  # R^T (x - t), row vectors


def test_item_layout_and_geometry() -> None:
    seqs = [_seq(600), _seq(400, trial="02", action="run")]
    ds = PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=20, seed=5)
    assert len(ds) == 20
    for i in range(20):
        it = ds[i]
        assert it["joints3d"].shape == (16, 17, 3) and it["joints3d"].dtype == np.float32
        assert it["xy"].shape == (16, 17, 2) and it["conf"].shape == (16, 17)
        assert it["joints3d"][..., 2].min() > 0.5
        cam = Camera(R=it["cam_R"], t=it["cam_t"], fx=float(it["K"][0, 0]), fy=float(it["K"][1, 1]),
                     cx=float(it["K"][0, 2]), cy=float(it["K"][1, 2]), width=it["width"], height=it["height"])
        np.testing.assert_allclose(project(it["joints3d"], cam), it["xy_clean"], atol=0.05)
        # 120 -> 30 fps: every 4th real source frame (pelvis x in mm = frame index).
        frames = _to_world(it)[:, 0, 0] / STEP_M
        np.testing.assert_allclose(frames, np.round(frames), atol=0.02)
        np.testing.assert_allclose(np.diff(frames), 4.0, atol=0.02)
        assert it["start_time"] == pytest.approx(frames[0] / 120.0, abs=1e-3)
        assert ACTIONS[it["action"]] == it["action_name"] == ("walk" if it["trial"] == "01" else "run")
        # rigid transform: limb lengths equal in world and camera frames
        seq = seqs[0] if it["trial"] == "01" else seqs[1]
        d_cam = np.linalg.norm(it["joints3d"][:, 1] - it["joints3d"][:, 2], axis=-1)
        d_w = np.linalg.norm(seq.joints[0, 1] - seq.joints[0, 2])
        np.testing.assert_allclose(d_cam, d_w, atol=1e-5)


def test_non_integer_fps_interpolates() -> None:
    ds = PoseWindows([_seq(500)], fps=50.0, clip_len=20, samples_per_epoch=5, seed=1, corruption=None)
    it = ds[3]
    frames = _to_world(it)[:, 0, 0] / STEP_M
    np.testing.assert_allclose(np.diff(frames), 2.4, atol=0.02)
    np.testing.assert_array_equal(it["conf"], 1.0)
    np.testing.assert_array_equal(it["xy"], it["xy_clean"])


def test_deterministic_per_index() -> None:
    seqs = [_seq(600), _seq(300, trial="02")]
    a = PoseWindows(seqs, fps=30.0, clip_len=(8, 24), samples_per_epoch=50, seed=3)
    b = PoseWindows(seqs, fps=30.0, clip_len=(8, 24), samples_per_epoch=50, seed=3)
    c = PoseWindows(seqs, fps=30.0, clip_len=(8, 24), samples_per_epoch=50, seed=4)
    for i in (0, 7, 49):
        x, y = a[i], b[i]
        for k in x:
            if isinstance(x[k], np.ndarray):
                np.testing.assert_array_equal(x[k], y[k])
            else:
                assert x[k] == y[k]
    b[7]  # out-of-order access does not change other items
    np.testing.assert_array_equal(a[0]["xy"], b[0]["xy"])
    assert not np.array_equal(a[1]["cam_t"], a[2]["cam_t"])
    assert not np.array_equal(a[1]["cam_t"], c[1]["cam_t"])
    lengths = {a[i]["joints3d"].shape[0] for i in range(50)}
    assert min(lengths) >= 8 and max(lengths) <= 24 and len(lengths) > 5
    with pytest.raises(IndexError):
        a[50]


def test_short_sequences_are_never_sampled() -> None:
    ds = PoseWindows([_seq(20, trial="01"), _seq(400, trial="02")], fps=30.0, clip_len=10,
                     samples_per_epoch=30, seed=0)
    assert {ds[i]["trial"] for i in range(30)} == {"02"}
    with pytest.raises(ValueError):
        PoseWindows([_seq(20)], fps=30.0, clip_len=100)


def test_take_window_bounds() -> None:
    j = _seq(100).joints
    np.testing.assert_array_equal(take_window(j, 120.0, 30.0, 3, 5), j[3:20:4])
    with pytest.raises(ValueError):
        take_window(j, 120.0, 30.0, 90, 5)


def test_make_eval_set_deterministic_and_independent() -> None:
    s1, s2 = _seq(360, trial="01"), _seq(241, trial="02", action="jump")
    whole = make_eval_set([s1, s2], fps=30.0, seed=0)
    assert [it["joints3d"].shape[0] for it in whole] == [resampled_length(360, 120, 30), resampled_length(241, 120, 30)]
    again = make_eval_set([s2], fps=30.0, seed=0)
    np.testing.assert_array_equal(whole[1]["xy"], again[0]["xy"])
    np.testing.assert_array_equal(whole[1]["cam_R"], again[0]["cam_R"])
    windows = make_eval_set([s1], fps=30.0, seed=0, clip_len=20, cameras_per_sequence=2)
    assert len(windows) == (90 // 20) * 2
    assert all(w["joints3d"].shape == (20, 17, 3) for w in windows)
    assert not np.array_equal(windows[0]["cam_R"], windows[1]["cam_R"])  # two cameras
    np.testing.assert_allclose(_to_world(windows[2])[0, 0, 0] / STEP_M, 20 * 4, atol=0.02)
    assert all(w["joints3d"][..., 2].min() > 0.5 for w in windows)
    # evaluation cameras come from a different stream than training item 0
    train0 = PoseWindows([s1], fps=30.0, clip_len=20, samples_per_epoch=1, seed=0)[0]
    assert not np.array_equal(train0["cam_R"], windows[0]["cam_R"])


def test_collate_variable_lengths() -> None:
    ds = PoseWindows([_seq(600)], fps=30.0, clip_len=(5, 40), samples_per_epoch=8, seed=2)
    loader = DataLoader(ds, batch_size=4, collate_fn=collate_windows)
    batch = next(iter(loader))
    lens = [ds[i]["joints3d"].shape[0] for i in range(4)]
    assert batch["xy"].shape == (4, max(lens), 17, 2)
    assert batch["valid"].sum(dim=1).tolist() == lens
    assert batch["width"].dtype == torch.int64
    assert batch["subject"] == ["16"] * 4
    i = int(np.argmin(lens))
    assert torch.all(batch["joints3d"][i, lens[i]:] == 0)
    torch.testing.assert_close(batch["joints3d"][i, : lens[i]], torch.from_numpy(ds[i]["joints3d"]))


def test_action_weighting_balances_actions() -> None:
    seqs = [_seq(2000, trial="01", action="walk"), _seq(120, trial="02", action="jump")]
    frames = PoseWindows(seqs, fps=30.0, clip_len=10, samples_per_epoch=200, seed=0, weighting="frames",
                         corruption=None)
    balanced = PoseWindows(seqs, fps=30.0, clip_len=10, samples_per_epoch=200, seed=0, weighting="action",
                           corruption=None)
    jump_frames = np.mean([frames[i]["action_name"] == "jump" for i in range(200)])
    jump_bal = np.mean([balanced[i]["action_name"] == "jump" for i in range(200)])
    assert jump_frames < 0.1  # ~21 of ~491 windows
    assert 0.4 < jump_bal < 0.6


def test_bone_jitter_changes_the_body_not_the_motion() -> None:
    seqs = [_seq(600)]
    plain = PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=4, seed=2, corruption=None)
    jit = PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=4, seed=2, corruption=None, bone_jitter=0.05)
    for i in range(4):
        a, b = plain[i], jit[i]
        assert a["start_time"] == b["start_time"]  # same window: only the body differs
        wa, wb = _to_world(a), _to_world(b)
        np.testing.assert_allclose(wb[:, 0], wa[:, 0], atol=1e-5)  # root trajectory kept
        la = np.linalg.norm(wa[:, 3] - wa[:, 2], axis=-1)  # right shin
        lb = np.linalg.norm(wb[:, 3] - wb[:, 2], axis=-1)
        ratio = lb / la
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)  # one body per clip
        assert 0.9 - 1e-6 <= ratio[0] <= 1.1 + 1e-6
        assert abs(ratio[0] - 1.0) > 1e-4
    again = PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=4, seed=2, corruption=None, bone_jitter=0.05)
    np.testing.assert_array_equal(again[1]["joints3d"], jit[1]["joints3d"])
    with pytest.raises(ValueError, match="jitter"):
        PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=4, bone_jitter=0.6)


def test_splicing_keeps_the_window_and_legs_and_may_change_the_upper_body() -> None:
    seqs = [_seq(600), _seq(600, trial="02", action="dance")]
    plain = PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=24, seed=2, corruption=None)
    spliced = PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=24, seed=2, corruption=None, splice_prob=1.0)
    changed = 0
    for i in range(24):
        a, b = plain[i], spliced[i]
        assert (a["trial"], a["start_time"]) == (b["trial"], b["start_time"])  # same base window and labels
        wa, wb = _to_world(a), _to_world(b)  # (F, J, 3)
        np.testing.assert_allclose(wb[:, :8], wa[:, :8], atol=1e-5)  # pelvis, legs and spine kept
        bones = [np.linalg.norm(w[:, 9] - w[:, 8], axis=-1) for w in (wa, wb)]  # the base body's neck
        np.testing.assert_allclose(bones[1], bones[0], rtol=1e-4)
        changed += not np.allclose(wb[:, 8:], wa[:, 8:], atol=1e-3)
    assert changed > 0  # donors from the other trial move the upper body differently
    with pytest.raises(ValueError, match="splice_prob"):
        PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=4, splice_prob=1.5)


def test_arm_splicing_changes_only_elbows_and_wrists_of_the_spliced_clip() -> None:
    seqs = [_seq(600), _seq(600, trial="02", action="dance"), _seq(600, trial="03", action="jump")]
    kw = dict(fps=30.0, clip_len=16, samples_per_epoch=24, seed=3, corruption=None, splice_prob=1.0)
    upper = PoseWindows(seqs, **kw)
    arms = PoseWindows(seqs, splice_arms=1.0, **kw)
    for i in (0, 5):  # the default draws nothing more: the same items, cameras included
        np.testing.assert_array_equal(PoseWindows(seqs, splice_arms=0.0, **kw)[i]["xy"], upper[i]["xy"])
    forearms = [12, 13, 15, 16]
    rest = [j for j in range(17) if j not in forearms]
    changed = 0
    for i in range(24):
        a, b = upper[i], arms[i]
        assert (a["trial"], a["start_time"]) == (b["trial"], b["start_time"])
        wa, wb = _to_world(a), _to_world(b)  # (F, J, 3)
        np.testing.assert_allclose(wb[:, rest], wa[:, rest], atol=1e-5)  # legs, torso, head, shoulders kept
        for j in forearms:  # the base body's upper arm and forearm lengths
            p = H36M17.parents[j]
            np.testing.assert_allclose(np.linalg.norm(wb[:, j] - wb[:, p], axis=-1),
                                       np.linalg.norm(wa[:, j] - wa[:, p], axis=-1), rtol=1e-4)
        changed += not np.allclose(wb[:, forearms], wa[:, forearms], atol=1e-3)
    assert changed > 0  # arms from a third trial move differently from the upper-body donor's
    with pytest.raises(ValueError, match=r"splice_arms must be in \[0, 1\], got -0.1"):
        PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=4, splice_arms=-0.1)
    with pytest.raises(ValueError, match=r"splice_arms acts on spliced clips only; set splice_prob > 0 too"):
        PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=4, splice_arms=0.5)


def test_speed_augmentation_plays_the_motion_faster_or_slower_at_the_same_fps() -> None:
    seqs = [_seq(900)]
    plain = PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=40, seed=4, corruption=None)
    unit = PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=40, seed=4, corruption=None, speed_aug=1.0)
    fast = PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=40, seed=4, corruption=None, speed_aug=1.25)
    steps = []
    for i in range(40):
        np.testing.assert_array_equal(unit[i]["joints3d"], plain[i]["joints3d"])  # 1: no extra draw, same items
        it = fast[i]
        assert it["fps"] == 30.0 and it["joints3d"].shape == (16, 17, 3)  # the clip's rate (and Δ) is unchanged
        frames = _to_world(it)[:, 0, 0] / STEP_M  # source frame index of each clip frame
        step = np.diff(frames)
        np.testing.assert_allclose(step, step[0], atol=0.02)  # one speed per clip
        assert 4.0 / 1.25 - 0.02 <= step[0] <= 4.0 * 1.25 + 0.02  # 120 -> 30 fps is 4 source frames at speed 1
        steps.append(step[0])
    assert min(steps) < 3.6 and max(steps) > 4.4  # both slower and faster clips are drawn
    again = PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=40, seed=4, corruption=None, speed_aug=1.25)
    np.testing.assert_array_equal(again[7]["joints3d"], fast[7]["joints3d"])
    with pytest.raises(ValueError, match=r"speed_aug must be in \[1, 2\], got 0.8"):
        PoseWindows(seqs, fps=30.0, clip_len=16, samples_per_epoch=4, speed_aug=0.8)


def test_speed_augmentation_falls_back_to_captured_speed_when_too_short() -> None:
    # 61 source frames hold exactly one 16-frame window at 30 fps: a faster clip cannot fit
    ds = PoseWindows([_seq(61)], fps=30.0, clip_len=16, samples_per_epoch=20, seed=0, corruption=None, speed_aug=2.0)
    for i in range(20):
        frames = _to_world(ds[i])[:, 0, 0] / STEP_M
        step = np.diff(frames)
        assert step[0] <= 4.0 + 0.02 and frames[-1] <= 60.0 + 0.02


def test_proportions_change_the_body_per_clip_and_off_changes_nothing() -> None:
    seqs = [_seq(600)]
    kw = {"fps": 30.0, "clip_len": 16, "samples_per_epoch": 6, "seed": 2, "corruption": None}
    plain = PoseWindows(seqs, **kw)
    off = PoseWindows(seqs, **kw, proportions=None)
    wide = PoseWindows(seqs, **kw, proportions=PROPORTION_PRESETS["wide"])
    ratios = []
    for i in range(6):
        np.testing.assert_array_equal(plain[i]["xy"], off[i]["xy"])  # off: the items of before
        a, b = plain[i], wide[i]
        assert a["start_time"] == b["start_time"]  # the same window, another body
        wa, wb = _to_world(a), _to_world(b)
        sh = [H36M17.index("left_shoulder"), H36M17.index("right_shoulder")]
        r = np.linalg.norm(wb[:, sh[0]] - wb[:, sh[1]], axis=-1) / np.linalg.norm(wa[:, sh[0]] - wa[:, sh[1]], axis=-1)
        np.testing.assert_allclose(r, r[0], rtol=1e-4)  # one body per clip
        ratios.append(r[0])
        # the feet stay on the floor
        ank = [H36M17.index("left_ankle"), H36M17.index("right_ankle")]
        assert wb[:, ank, 1].min(axis=1).mean() == pytest.approx(wa[:, ank, 1].min(axis=1).mean(), abs=1e-4)
    assert np.ptp(ratios) > 0.05


def test_eval_set_proportions_keep_cameras_and_corruption_draws() -> None:
    seqs = [_seq(360, trial="01"), _seq(241, trial="02")]
    plain = make_eval_set(seqs, fps=30.0, seed=0, cameras_per_sequence=2)
    wide = make_eval_set(seqs, fps=30.0, seed=0, cameras_per_sequence=2, proportions=PROPORTION_PRESETS["wide"])
    again = make_eval_set(seqs, fps=30.0, seed=0, cameras_per_sequence=2, proportions=PROPORTION_PRESETS["wide"])
    for a, b, c in zip(plain, wide, again):
        np.testing.assert_array_equal(b["joints3d"], c["joints3d"])  # deterministic
        assert (a["width"], a["height"]) == (b["width"], b["height"])
        np.testing.assert_allclose(a["K"], b["K"])
        assert not np.allclose(a["joints3d"], b["joints3d"])
    # both cameras of one trial see the same person
    bones = lambda it: np.linalg.norm(it["joints3d"][0, 1:] - it["joints3d"][0, list(H36M17.parents[1:])], axis=-1)
    np.testing.assert_allclose(bones(wide[0]), bones(wide[1]), rtol=1e-4)
