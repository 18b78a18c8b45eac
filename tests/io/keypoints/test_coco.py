import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.keypoints import load_keypoints
from hmcli.types import Keypoints2D
from tests.io.keypoints.helpers import dump, pose17


def test_coco_results_list(tmp_path):
    anns = []
    for fid in (0, 1, 3):  # frame 2 has nobody
        flat = []
        for x, y in pose17(fid):
            flat += [x, y, 0.9]
        anns.append({"image_id": fid, "category_id": 1, "keypoints": flat, "score": 0.8})
    # a weaker second person in frame 1 must be ignored
    anns.append({"image_id": 1, "keypoints": [1.0, 1.0, 0.1] * 17, "score": 0.2})
    p = dump(tmp_path / "coco.json", anns)
    kp = load_keypoints(p, fps=10, width=640, height=480)
    assert isinstance(kp, Keypoints2D)
    assert kp.joint_set == "coco17" and kp.xy.shape == (4, 17, 2)
    assert kp.detected.tolist() == [True, True, False, True]
    assert kp.conf[2].tolist() == [0.0] * 17
    np.testing.assert_allclose(kp.xy[1], pose17(1))
    np.testing.assert_allclose(kp.conf[0], 0.9, rtol=1e-6)
    np.testing.assert_allclose(kp.timestamps, [0.0, 0.1, 0.2, 0.3])
    assert (kp.width, kp.height) == (640, 480)


def test_coco_dataset_dict_with_images_and_visibility_flags(tmp_path):
    flat = []
    for j, (x, y) in enumerate(pose17(0)):
        flat += [x, y, 0 if j == 3 else 2]
    data = {
        "images": [{"id": 5, "width": 320, "height": 240}, {"id": 6, "width": 320, "height": 240}],
        "annotations": [{"image_id": 6, "keypoints": flat}],
    }
    kp = load_keypoints(dump(tmp_path / "d.json", data))
    assert (kp.width, kp.height) == (320, 240)
    assert kp.detected.tolist() == [False, True]
    assert kp.conf[1, 3] == 0.0 and kp.conf[1, 0] == 1.0


def test_coco_without_size_needs_width_height(tmp_path):
    p = dump(tmp_path / "c.json", [{"image_id": 0, "keypoints": [1.0, 2.0, 1.0] * 17}])
    with pytest.raises(HMError, match="width and height"):
        load_keypoints(p)
