import numpy as np

from hmcli.io.keypoints import load_keypoints, read_mmpose_predictions
from tests.io.keypoints.helpers import dump, pose17


def test_mmpose_demo_format(tmp_path):
    def inst(off, s):
        return {"keypoints": pose17(off), "keypoint_scores": [s] * 17, "bbox": [[0, 0, 10, 10]], "bbox_score": 0.9}
    data = {
        "meta_info": {"dataset_name": "coco", "num_keypoints": 17},
        "instance_info": [
            {"frame_id": 2, "instances": [inst(2, 0.6)]},
            {"frame_id": 1, "instances": [inst(1, 0.5), inst(100, 0.95)]},
            {"frame_id": 3, "instances": []},
        ],
    }
    p = dump(tmp_path / "results_clip.json", data)
    for kp in (read_mmpose_predictions(p, width=64, height=64), load_keypoints(p, width=64, height=64)):
        assert kp.joint_set == "coco17" and kp.detector == "mmpose"
        assert kp.detected.tolist() == [True, True, False]
        np.testing.assert_allclose(kp.xy[0], pose17(100))  # frame_id 1, best instance
        np.testing.assert_allclose(kp.xy[1], pose17(2))
        assert kp.conf[2].max() == 0.0


def test_mmpose_list_per_frame(tmp_path):
    frames = [[{"keypoints": [[1.0, 2.0]] * 26, "keypoint_scores": [0.5] * 26}], []]
    kp = load_keypoints(dump(tmp_path / "m.json", frames), width=64, height=64)
    assert kp.joint_set == "halpe26" and kp.detected.tolist() == [True, False]


def test_mmpose_single_image_instance_list(tmp_path):
    insts = [{"keypoints": pose17(0), "keypoint_scores": [0.4] * 17},
             {"keypoints": pose17(9), "keypoint_scores": [0.8] * 17}]  # fmt: skip
    kp = load_keypoints(dump(tmp_path / "img.json", insts), width=64, height=64)
    assert kp.num_frames == 1
    np.testing.assert_allclose(kp.xy[0], pose17(9))
