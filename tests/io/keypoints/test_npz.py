import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.keypoints import load_keypoints, save_keypoints_npz
from hmcli.types import Keypoints2D


def _kp(n=4, j=17):
    rng = np.random.default_rng(0)
    return Keypoints2D(
        xy=rng.uniform(0, 100, (n, j, 2)).astype(np.float32),
        conf=rng.uniform(0, 1, (n, j)).astype(np.float32),
        joint_set="coco17",
        timestamps=np.arange(n) / 30.0,
        width=320,
        height=240,
        detected=np.array([True, False, True, True])[:n],
        detector="fake",
        source="clip.mp4",
        source_hash="ab" * 32,
    )


def test_npz_round_trip(tmp_path):
    kp = _kp()
    p = tmp_path / "k.npz"
    save_keypoints_npz(kp, p)
    back = load_keypoints(p)
    np.testing.assert_array_equal(back.xy, kp.xy)
    np.testing.assert_array_equal(back.conf, kp.conf)
    np.testing.assert_array_equal(back.timestamps, kp.timestamps)
    np.testing.assert_array_equal(back.detected, kp.detected)
    assert (back.width, back.height, back.joint_set) == (320, 240, "coco17")
    assert (back.detector, back.source, back.source_hash) == ("fake", "clip.mp4", "ab" * 32)


def test_npz_minimal_written_by_hand(tmp_path):
    p = tmp_path / "hand.npz"
    np.savez(p, xy=np.zeros((2, 17, 2)), conf=np.ones((2, 17)), timestamps=np.array([0.0, 0.5]),
             width=10, height=20, joint_set="coco17")  # fmt: skip
    kp = load_keypoints(p)
    assert kp.detected.tolist() == [True, True] and kp.fps == pytest.approx(2.0)


def test_npz_with_pickled_object_is_refused(tmp_path):
    p = tmp_path / "evil.npz"
    np.savez(p, xy=np.zeros((1, 17, 2)), conf=np.ones((1, 17)), joint_set=np.array([{"a": 1}], dtype=object),
             width=1, height=1)  # fmt: skip
    with pytest.raises(HMError):
        load_keypoints(p)


def test_npz_missing_arrays(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, foo=np.zeros(3))
    with pytest.raises(HMError, match="missing arrays"):
        load_keypoints(p)
