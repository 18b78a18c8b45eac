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


# ------------------------------------------------------------------ several persons


def _kp(f=4, j=17, x=0.0):
    import numpy as np

    from hmcli.types import Keypoints2D

    return Keypoints2D(np.full((f, j, 2), x, np.float32), np.ones((f, j), np.float32), "h36m17",
                       np.arange(f) / 30.0, 64, 48, np.ones(f, bool), "det", "v.mp4", "h")


def test_multi_keypoints_person_axis_round_trip():
    import numpy as np
    import pytest

    from hmcli.types import MultiKeypoints2D

    a, b = _kp(x=1.0), _kp(x=2.0)
    m = MultiKeypoints2D.from_persons([a, b], [4, 9])
    assert m.xy.shape == (2, 4, 17, 2) and m.detected.shape == (2, 4) and m.num_persons == 2
    assert m.person(1).xy[0, 0, 0] == 2.0 and m.index_of(9) == 1 and m.person(0).source == "v.mp4"
    assert m.first(2).xy.shape == (2, 2, 17, 2) and m.first(2).timestamps.shape == (2,)
    one = MultiKeypoints2D.from_single(a)
    np.testing.assert_array_equal(one.person(0).xy, a.xy)
    assert one.track_ids.tolist() == [0]
    with pytest.raises(ValueError, match="distinct"):
        MultiKeypoints2D.from_persons([a, b], [3, 3])
    with pytest.raises(ValueError, match="track id 5"):
        m.index_of(5)
    with pytest.raises(ValueError, match="share"):
        MultiKeypoints2D.from_persons([a, _kp(f=3)], [1, 2])
    empty = MultiKeypoints2D.from_persons([], [], template=a)
    assert empty.num_persons == 0 and empty.num_frames == 4 and not empty.person_or_empty().detected.any()


def test_multi_pose3d_stacks_persons():
    import numpy as np
    import pytest

    from hmcli.types import MultiPose3DResult, Pose3DResult

    r = [Pose3DResult(_kp(), np.full((4, 17, 3), k, np.float32), "m", "h") for k in range(3)]
    m = MultiPose3DResult(r, [1, 2, 3])
    assert m.joints3d.shape == (3, 4, 17, 3) and m.joints3d[2, 0, 0, 0] == 2
    assert m.kpts2d.track_ids.tolist() == [1, 2, 3] and m.first(2).num_frames == 2
    with pytest.raises(ValueError, match="template"):
        MultiPose3DResult([], [])
    assert MultiPose3DResult([], [], kpts2d_template=_kp()).joints3d.shape == (0, 4, 17, 3)
