import numpy as np

from hmcli.types import Pose3DResult
from tests.cli.helpers import make_keypoints


def test_first_frames():
    kp = make_keypoints(10)
    assert kp.first(None) is kp and kp.first(10) is kp and kp.first(12) is kp
    head = kp.first(4)
    assert head.num_frames == 4 and head.joint_set == kp.joint_set
    np.testing.assert_array_equal(head.timestamps, kp.timestamps[:4])
    res = Pose3DResult(kp, np.zeros((10, 17, 3), np.float32), "m", "h")
    short = res.first(3)
    assert short.joints3d.shape == (3, 17, 3) and short.kpts2d.num_frames == 3 and short.model_id == "m"
