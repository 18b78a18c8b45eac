import numpy as np

from hmcli.io.keypoints import COCO17_NAMES, load_keypoints
from tests.io.keypoints.helpers import dump


def test_tfjs_named_dicts(tmp_path):
    frames = [{n: {"x": 10.0 * j, "y": 5.0 * j} for j, n in enumerate(reversed(COCO17_NAMES))}, {}]
    kp = load_keypoints(dump(tmp_path / "t.json", frames), width=100, height=100)
    assert kp.joint_set == "coco17"
    # names, not positions, decide the joint order
    assert kp.xy[0, COCO17_NAMES.index("right_ankle")].tolist() == [0.0, 0.0]
    assert kp.xy[0, COCO17_NAMES.index("nose")].tolist() == [160.0, 80.0]
    assert kp.detected.tolist() == [True, False]
    assert kp.conf[0].min() == 1.0


def test_tfjs_blazepose_xyz_lists(tmp_path):
    frames = [[[float(j), 2.0 * j, -50.0] for j in range(33)]] * 3
    kp = load_keypoints(dump(tmp_path / "b.json", frames), width=720, height=1280, fps=5)
    assert kp.joint_set == "blazepose33" and kp.xy.shape == (3, 33, 2)
    assert kp.conf.min() == 1.0  # z is not a score
    np.testing.assert_allclose(kp.timestamps, [0.0, 0.2, 0.4])


def test_tfjs_pose_objects(tmp_path):
    def pose(score):
        return {"score": score, "keypoints": [{"x": 1.0 * j, "y": 2.0, "score": score, "name": n}
                                              for j, n in enumerate(COCO17_NAMES)]}  # fmt: skip
    frames = [[pose(0.3), pose(0.7)]]
    kp = load_keypoints(dump(tmp_path / "p.json", frames), width=10, height=10)
    np.testing.assert_allclose(kp.conf[0], 0.7, rtol=1e-6)
