"""hm bench detector-2d analysis on synthetic detections (no renderer, no detector)."""

import numpy as np

from hmcli.bench.detector2d import RenderedClip, body_frame, error_pattern, swap_rates
from hmcli.skeleton.joints import BLAZEPOSE33, H36M17


def _truth(F: int = 40) -> np.ndarray:
    """(F, 17, 2) an upright H36M-17 person facing the camera (their left on image right), walking right."""
    base = np.array([[0, 0], [-10, 0], [-10, 45], [-10, 90], [10, 0], [10, 45], [10, 90], [0, -30], [0, -60],
                     [0, -70], [0, -85], [20, -60], [25, -30], [27, 0], [-20, -60], [-25, -30], [-27, 0]], float)
    return base[None] + np.stack([np.arange(F) * 2.0 + 300, np.full(F, 200.0)], -1)[:, None]


def _landmarks(truth: np.ndarray) -> np.ndarray:
    """(F, 33, 2) BlazePose landmarks that today's mapping turns into ``truth`` (F, 17, 2) exactly."""
    x = np.zeros((truth.shape[0], 33, 2))
    for name in H36M17.joints:
        if name in BLAZEPOSE33.joints:
            x[:, BLAZEPOSE33.index(name)] = truth[:, H36M17.index(name)]
    for side, dx in (("left", 3.0), ("right", -3.0)):                           # head = mid eyes
        x[:, BLAZEPOSE33.index(f"{side}_eye")] = truth[:, H36M17.index("head")] + (dx, 0.0)
    return x


def _clip(x33: np.ndarray, truth: np.ndarray, detected: np.ndarray) -> RenderedClip:
    F = truth.shape[0]
    return RenderedClip("synthetic", "test", x33.astype(np.float32), np.ones((F, 33), np.float32), detected,
                        truth.astype(np.float32), np.zeros((F, 17, 3), np.float32), truth.astype(np.float32),
                        np.zeros((F, 17, 3), np.float32), np.full(F, 200.0, np.float32), 1000.0, 640, 480)


def test_body_frame_points_up_and_to_the_persons_left():
    up, left = body_frame(_truth(3))
    np.testing.assert_allclose(up, [[0, -1]] * 3, atol=1e-12)                  # image y is down
    np.testing.assert_allclose(left, [[1, 0]] * 3, atol=1e-12)                 # their left: image right


def test_error_pattern_measures_a_known_offset_swaps_and_losses():
    t = _truth()
    x = _landmarks(t)
    for side in ("left", "right"):
        x[:, BLAZEPOSE33.index(f"{side}_eye"), 1] += 10.0                      # head 10 px = 5 % h lower
    lh, rh = BLAZEPOSE33.index("left_hip"), BLAZEPOSE33.index("right_hip")
    x[5, [lh, rh]] = x[5, [rh, lh]]                                             # frame 5: hips crossed
    detected = np.ones(len(t), bool)
    detected[20:23] = False
    c = _clip(x, t, detected)
    p = error_pattern([c])
    assert p["detection_rate"] == (len(t) - 3) / len(t) and p["loss_runs"] == [3]
    assert abs(p["joints"]["head"]["up"] + 0.05) < 1e-6 and abs(p["joints"]["head"]["left"]) < 1e-6
    assert p["joints"]["nose"]["err"] < 1e-6
    assert p["swap_rate"]["hip"] == 1 / 37 and p["swap_rate"]["knee"] == 0.0 and p["swap_any_rate"] == 1 / 37


def test_swap_rates_ignores_small_or_ambiguous_crossings():
    t = _truth(2)
    det = t.copy()
    det[0, [4, 1]] = det[0, [1, 4]]                                             # 20 px apart = 10 % h: a swap
    h = np.full(2, 200.0)
    s = swap_rates(det, t, h)
    assert s[0, 0] and not s[1].any()
    s_big_person = swap_rates(det, t, np.full(2, 1000.0))                       # 20 px = 2 % h: not counted
    assert not s_big_person.any()


def _world_clip(F: int = 6, seed: int = 0):
    """A clip whose world landmarks are random and whose truth is what the ``midpoints`` map makes
    of them (camera space, 4 m away)."""
    from hmcli.skeleton.blazepose_map import world_to_h36m

    rng = np.random.default_rng(seed)
    world = rng.normal(0.0, 0.3, (F, 33, 3))                                     # (F, 33, 3) m
    truth3d = world_to_h36m(world, "midpoints") + np.array([0.0, 0.0, 4.0])      # (F, 17, 3)
    c = _clip(np.zeros((F, 33, 2)), _truth(F), np.ones(F, bool))
    c.truth3d = truth3d.astype(np.float32)
    c.cmu3d = truth3d.astype(np.float32)
    c.det_world = world.astype(np.float32)
    return c


def test_world_errors_zero_for_exact_landmarks_and_similarity_invariant_pa():
    from hmcli.bench.detector2d import world_errors

    c = _world_clip()
    r = world_errors([c], "midpoints")
    assert r["frames"] == 6
    assert r["mpjpe_truth_mm"] < 0.01 and r["pmpjpe_truth_mm"] < 0.01
    # a rotated, scaled and moved copy: P-MPJPE still 0, root-relative MPJPE not
    a = np.deg2rad(30.0)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    c.det_world = (1.3 * c.det_world @ rot.T + 0.5).astype(np.float32)
    r = world_errors([c], "midpoints")
    assert r["pmpjpe_truth_mm"] < 0.05 and r["mpjpe_truth_mm"] > 50.0
    assert set(r["per_joint_pa_mm"]) == set(H36M17.joints)


def test_world_errors_skips_lost_frames_and_refuses_renders_without_world():
    import pytest

    from hmcli.bench.detector2d import world_errors

    c = _world_clip()
    c.det_world[2] = np.nan                                                      # no landmarks there
    c.detected[4] = False
    assert world_errors([c], "midpoints")["frames"] == 4
    c.det_world = None
    with pytest.raises(ValueError, match="no world landmarks"):
        world_errors([c])


def test_saved_clips_keep_world_landmarks(tmp_path):
    from hmcli.bench.detector2d import load_clips, save_clips

    c = _world_clip()
    old = _world_clip(seed=1)
    old.det_world = None                                                         # renders made before them
    save_clips([c, old], str(tmp_path / "r.npz"))
    back = load_clips(str(tmp_path / "r.npz"))
    np.testing.assert_array_equal(back[0].det_world, c.det_world)
    assert back[1].det_world is None
    np.testing.assert_array_equal(back[0].truth3d, c.truth3d)
