import math

import numpy as np
import pytest

from hmcli.bench import truth_free as tf
from hmcli.skeleton.joints import H36M17

J = H36M17.joints

# A standing H36M-17 figure, metres, camera axes (x right, y down, z forward), pelvis at 0.
STAND = {
    "pelvis": (0.0, 0.0, 0.0), "right_hip": (-0.1, 0.0, 0.0), "right_knee": (-0.1, 0.45, 0.0),
    "right_ankle": (-0.1, 0.9, 0.0), "left_hip": (0.1, 0.0, 0.0), "left_knee": (0.1, 0.45, 0.0),
    "left_ankle": (0.1, 0.9, 0.0), "spine": (0.0, -0.25, 0.0), "thorax": (0.0, -0.5, 0.0),
    "nose": (0.0, -0.6, -0.08), "head": (0.0, -0.72, 0.0), "left_shoulder": (0.18, -0.5, 0.0),
    "left_elbow": (0.18, -0.22, 0.0), "left_wrist": (0.18, 0.02, 0.0), "right_shoulder": (-0.18, -0.5, 0.0),
    "right_elbow": (-0.18, -0.22, 0.0), "right_wrist": (-0.18, 0.02, 0.0),
}  # fmt: skip
POSE = np.array([STAND[n] for n in J], np.float64)  # (17, 3)


def rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rigid_clip(f: int = 60) -> np.ndarray:
    """The figure turning about the vertical and drifting: rigid, so bones never change."""
    return np.stack([POSE @ rot_y(0.05 * t).T + np.array([0.01 * t, 0.0, 3.0]) for t in range(f)])


def test_bones_and_names_follow_the_h36m_tree():
    assert len(tf.BONES) == 16 and tf.BONE_NAMES[0] == "pelvis->right_hip"
    assert [p[0] for p in tf.SYMMETRIC_PAIRS] == ["upper_arm", "forearm", "thigh", "shin"]
    lens = tf.bone_lengths(POSE[None])[0]
    assert lens[tf.BONE_NAMES.index("right_knee->right_ankle")] == pytest.approx(0.45)


def test_rigid_clip_has_constant_bones_and_no_asymmetry():
    seq = rigid_clip()
    b = tf.bone_stability(seq)
    assert b.mean_cv == pytest.approx(0.0, abs=1e-12) and max(b.cv) < 1e-12
    assert b.mean_m[tf.BONE_NAMES.index("left_hip->left_knee")] == pytest.approx(0.45)
    s = tf.symmetry(seq)
    assert s.mean == pytest.approx(0.0, abs=1e-12) and max(s.of_means) < 1e-12


def test_known_bone_variation_and_asymmetry():
    seq = np.repeat(POSE[None], 4, 0).copy()
    # right shin 0.45 / 0.55 m alternately: mean 0.5, population std 0.05 -> CV 0.1
    seq[:, J.index("right_ankle"), 1] = [0.9, 1.0, 0.9, 1.0]
    b = tf.bone_stability(seq)
    i = tf.BONE_NAMES.index("right_knee->right_ankle")
    assert b.cv[i] == pytest.approx(0.1)
    assert b.mean_cv == pytest.approx(0.1 / 16) and b.limb_cv == pytest.approx(0.1 / 8)
    s = tf.symmetry(seq)
    shin = s.pairs.index("shin")
    # per frame |0.45 - 0.45| / 0.45 = 0 and |0.45 - 0.55| / 0.5 = 0.2 -> mean 0.1; of the means 0.05 / 0.475
    assert s.per_frame[shin] == pytest.approx(0.1)
    assert s.of_means[shin] == pytest.approx(0.05 / 0.475)
    assert s.mean == pytest.approx(0.1 / 4)


def test_missing_frames_are_skipped():
    seq = rigid_clip(10)
    seq[3] = np.nan
    seq[7, 5, 0] = np.inf
    assert tf.valid_frames(seq).sum() == 8
    assert tf.bone_stability(seq).mean_cv == pytest.approx(0.0, abs=1e-12)
    # triples of consecutive valid frames: (0,1,2), (4,5,6) -> 2 (7 breaks 6-8, 3 breaks 2-4)
    assert tf.jitter(seq, 30).triples == 2
    empty = np.full((5, 17, 3), np.nan)
    assert math.isnan(tf.bone_stability(empty).mean_cv) and math.isnan(tf.jitter(empty, 30).mean_m_per_s2)
    r = tf.truth_free_report(empty, 30)
    assert r.valid == 0 and r.to_dict()["bones"]["mean_cv"] is None  # JSON-safe


def test_jitter_of_constant_acceleration_is_that_acceleration():
    fps, a = 25.0, 2.0  # m/s²
    t = np.arange(50) / fps
    seq = np.repeat(POSE[None], 50, 0).copy()
    w = J.index("left_wrist")
    seq[:, w, 0] += 0.5 * a * t**2
    seq[:, :, 2] += 0.3 * t[:, None]  # the whole body moving: no relative acceleration
    jt = tf.jitter(seq, fps)
    assert jt.m_per_s2[w] == pytest.approx(a)
    assert jt.mm_per_frame2[w] == pytest.approx(1000 * a / fps**2)
    assert jt.mean_m_per_s2 == pytest.approx(a / 16)
    assert jt.m_per_s2[J.index("pelvis")] == 0.0 and jt.triples == 48


def test_jitter_of_white_noise_matches_its_expectation():
    # i.i.d. N(0, s²) per coordinate: the 2nd difference is N(0, 6 s²) per coordinate, and the mean
    # norm of a 3D isotropic Gaussian of std q is q * 2 * sqrt(2 / pi).
    rng = np.random.default_rng(0)
    f, s, fps = 20000, 0.004, 30.0
    seq = np.repeat(POSE[None], f, 0) + rng.normal(0, s, (f, 17, 3))
    seq[:, 0] = 0.0  # noise-free pelvis, so the pelvis-relative noise is s
    expect_mm = 1000 * math.sqrt(6) * s * 2 * math.sqrt(2 / math.pi)
    jt = tf.jitter(seq, fps)
    assert jt.mean_mm_per_frame2 == pytest.approx(expect_mm, rel=0.01)
    assert jt.mean_m_per_s2 == pytest.approx(expect_mm * fps**2 / 1000, rel=0.01)


def test_sliding_foot_gives_its_speed_and_a_planted_one_zero():
    fps, v, f = 30.0, 0.4, 40
    seq = np.repeat(POSE[None], f, 0).copy()
    la, ra = J.index("left_ankle"), J.index("right_ankle")
    seq[:, ra, 1] -= 0.2  # right foot lifted: the left one is the lower
    seq[:, la, 0] += v * np.arange(f) / fps  # slides sideways ...
    seq[:, la, 1] += 0.01 * np.sin(np.arange(f))  # ... with a vertical wobble inside the margin (not counted)
    sk = tf.foot_skate(seq, fps)
    assert sk.up == (0.0, -1.0, 0.0) and sk.up_method == "camera"
    assert sk.contact_fraction == 1.0 and sk.transitions == f - 1
    assert sk.speed_m_s == pytest.approx(v) and sk.speed_mm_per_frame == pytest.approx(1000 * v / fps)
    # the lifted foot stays 0.2 m up: a constant offset, so the ankles count as level (median-relative)
    # and the sliding foot moves the left - right vector at v
    assert sk.level_fraction == 1.0 and sk.stance_speed_m_s == pytest.approx(v)
    planted = np.repeat(POSE[None], f, 0).copy()
    planted[:, ra, 1] -= 0.2
    assert tf.foot_skate(planted, fps).speed_m_s == pytest.approx(0.0)


def test_stance_drift_ignores_the_hips_but_sees_a_sliding_foot():
    fps, v, f = 10.0, 0.25, 30
    t = np.arange(f) / fps
    squat = np.repeat(POSE[None], f, 0).copy()
    la, ra = J.index("left_ankle"), J.index("right_ankle")
    # the feet stay planted while the hips go down and back: relative to the pelvis both ankles move
    squat[:, [la, ra], 1] -= (0.2 * np.sin(t))[:, None]
    squat[:, [la, ra], 2] -= (0.1 * np.sin(t))[:, None]
    sk = tf.foot_skate(squat, fps)
    assert sk.level_fraction == 1.0 and sk.level_transitions == f - 1
    assert sk.stance_speed_m_s == pytest.approx(0.0, abs=1e-12)
    assert sk.speed_m_s > 0.05  # the pelvis-relative figure counts the hips' motion
    rolled = squat.copy()
    rolled[:, la, 1] -= 0.05  # a constant height offset between the ankles (a rolled camera) is still level
    assert tf.foot_skate(rolled, fps).level_fraction == 1.0
    slide = squat.copy()
    slide[:, la, 2] += v * t  # one foot slides forward
    assert tf.foot_skate(slide, fps).stance_speed_m_s == pytest.approx(v)


def test_foot_in_the_air_is_not_contact():
    fps, f = 30.0, 40
    seq = np.repeat(POSE[None], f, 0).copy()
    la, ra = J.index("left_ankle"), J.index("right_ankle")
    seq[:, ra, 1] -= 0.2
    air = np.arange(f) % 4 == 3  # every 4th frame the left foot is up 0.1 m ...
    seq[air, la, 1] -= 0.1
    seq[air, la, 0] += 0.3  # ... and away sideways (not skating: it is in the air)
    sk = tf.foot_skate(seq, fps)
    assert sk.contact_fraction == pytest.approx(0.75)
    assert sk.speed_m_s == pytest.approx(0.0)
    assert sk.transitions == 20  # frame pairs (0,1), (1,2), (4,5), ... both on the ground
    # both ankles level only on the ground frames (the right one stays up 0.2 m: the median offset)
    assert sk.level_fraction == pytest.approx(0.75) and sk.level_transitions == 20
    assert sk.stance_speed_m_s == pytest.approx(0.0)


def test_up_estimates():
    tilted = np.stack([POSE @ rot_y(0.3).T])
    assert np.allclose(tf.estimate_up(tilted, "spine"), [0, -1, 0])
    lean = POSE.copy()
    lean[J.index("thorax")] = (0.0, -0.5, -0.5)  # thorax 45° towards the camera
    assert np.allclose(tf.estimate_up(lean[None], "spine"), [0, -math.sqrt(0.5), -math.sqrt(0.5)])
    sk = tf.foot_skate(np.repeat(POSE[None], 5, 0), 30, up=np.array([0, -2.0, 0]))
    assert sk.up == (0.0, -1.0, 0.0) and sk.up_method == "given"
    with pytest.raises(ValueError, match="up method"):
        tf.estimate_up(POSE[None], "floor")


def test_agreement_is_zero_up_to_similarity_and_counts_common_frames():
    seq = rigid_clip(12)
    other = 1.3 * seq @ rot_y(0.7).T + 5.0
    ag = tf.agreement(other, seq)
    assert ag.p_mpjpe_mm == pytest.approx(0.0, abs=1e-6) and ag.frames == 12
    moved = seq.copy()
    moved[:, J.index("head"), 0] += 0.17
    moved[2] = np.nan
    ag = tf.agreement(moved, seq)
    assert ag.frames == 11 and ag.mpjpe_mm == pytest.approx(170 / 17)
    assert ag.p_mpjpe_mm > 0


def test_p_mpjpe_matches_the_training_metric():
    torch = pytest.importorskip("torch")
    from hmcli.train.metrics import p_mpjpe

    rng = np.random.default_rng(1)
    a = rng.normal(size=(20, 17, 3))
    b = a + 0.2 * rng.normal(size=(20, 17, 3))
    b[:5] *= -1  # reflections: the alignment must stay a proper rotation
    ref = 1000 * float(p_mpjpe(torch.tensor(a), torch.tensor(b)))
    assert tf.agreement(a, b).p_mpjpe_mm == pytest.approx(ref, rel=1e-9)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(F, 17, 3\)"):
        tf.bone_stability(np.zeros((4, 16, 3)))
    with pytest.raises(ValueError, match="fps"):
        tf.jitter(rigid_clip(4), 0)
    with pytest.raises(ValueError, match="differ in shape"):
        tf.agreement(rigid_clip(4), rigid_clip(5))
