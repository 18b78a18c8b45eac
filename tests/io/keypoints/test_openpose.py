import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.keypoints import COCO17_NAMES, load_keypoints, read_openpose
from tests.io.keypoints.helpers import dump


def _body25(offset, c):
    vals = []
    for j in range(25):
        vals += [1000.0 + j + offset, 2000.0 + j, c]
    return vals


def test_openpose_folder(tmp_path):
    d = tmp_path / "op"
    d.mkdir()
    # frame numbers in names sort numerically (10 after 2)
    dump(d / "clip_000000000010_keypoints.json", {"version": 1.3, "people": []})
    dump(d / "clip_000000000002_keypoints.json",
          {"people": [{"pose_keypoints_2d": _body25(0, 0.4)}, {"pose_keypoints_2d": _body25(50, 0.9)}]})  # fmt: skip
    kp = load_keypoints(d, width=1920, height=1080, fps=25)
    assert kp.joint_set == "coco17" and kp.xy.shape == (2, 17, 2)
    assert kp.detected.tolist() == [True, False]
    assert kp.detector == "openpose"
    # the more confident person; BODY_25 index 5 (LShoulder) -> coco17 left_shoulder
    j = COCO17_NAMES.index("left_shoulder")
    assert kp.xy[0, j].tolist() == [1000.0 + 5 + 50, 2000.0 + 5]
    # BODY_25 RAnkle is index 11
    assert kp.xy[0, COCO17_NAMES.index("right_ankle"), 0] == 1000.0 + 11 + 50
    np.testing.assert_allclose(kp.conf[0], 0.9, rtol=1e-6)
    assert kp.conf[1].max() == 0.0


def test_openpose_missing_joint_has_zero_conf(tmp_path):
    vals = _body25(0, 0.8)
    vals[0:3] = [0.0, 0.0, 0.0]  # nose not found
    p = dump(tmp_path / "f_keypoints.json", {"people": [{"pose_keypoints_2d": vals}]})
    kp = read_openpose(p, width=100, height=100)
    assert kp.conf[0, 0] == 0.0 and kp.conf[0, 1] == pytest.approx(0.8)


def test_openpose_wrong_joint_count(tmp_path):
    p = dump(tmp_path / "f_keypoints.json", {"people": [{"pose_keypoints_2d": [1.0, 2.0, 0.5] * 7}]})
    with pytest.raises(HMError, match="OpenPose"):
        load_keypoints(p, width=100, height=100)
