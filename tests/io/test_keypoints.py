import json

import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.keypoints import (
    COCO17_NAMES,
    load_keypoints,
    read_mmpose_predictions,
    read_openpose,
    save_keypoints_npz,
)
from hmcli.types import Keypoints2D


def _dump(path, obj):
    path.write_text(json.dumps(obj))
    return path


def _pose17(offset):
    """17 distinct points: joint j at (10*j + offset, 100 + j)."""
    return [[10.0 * j + offset, 100.0 + j] for j in range(17)]


# ------------------------------------------------------------------ COCO


def test_coco_results_list(tmp_path):
    anns = []
    for fid in (0, 1, 3):  # frame 2 has nobody
        flat = []
        for x, y in _pose17(fid):
            flat += [x, y, 0.9]
        anns.append({"image_id": fid, "category_id": 1, "keypoints": flat, "score": 0.8})
    # a weaker second person in frame 1 must be ignored
    anns.append({"image_id": 1, "keypoints": [1.0, 1.0, 0.1] * 17, "score": 0.2})
    p = _dump(tmp_path / "coco.json", anns)
    kp = load_keypoints(p, fps=10, width=640, height=480)
    assert isinstance(kp, Keypoints2D)
    assert kp.joint_set == "coco17" and kp.xy.shape == (4, 17, 2)
    assert kp.detected.tolist() == [True, True, False, True]
    assert kp.conf[2].tolist() == [0.0] * 17
    np.testing.assert_allclose(kp.xy[1], _pose17(1))
    np.testing.assert_allclose(kp.conf[0], 0.9, rtol=1e-6)
    np.testing.assert_allclose(kp.timestamps, [0.0, 0.1, 0.2, 0.3])
    assert (kp.width, kp.height) == (640, 480)


def test_coco_dataset_dict_with_images_and_visibility_flags(tmp_path):
    flat = []
    for j, (x, y) in enumerate(_pose17(0)):
        flat += [x, y, 0 if j == 3 else 2]
    data = {
        "images": [{"id": 5, "width": 320, "height": 240}, {"id": 6, "width": 320, "height": 240}],
        "annotations": [{"image_id": 6, "keypoints": flat}],
    }
    kp = load_keypoints(_dump(tmp_path / "d.json", data))
    assert (kp.width, kp.height) == (320, 240)
    assert kp.detected.tolist() == [False, True]
    assert kp.conf[1, 3] == 0.0 and kp.conf[1, 0] == 1.0


def test_coco_without_size_needs_width_height(tmp_path):
    p = _dump(tmp_path / "c.json", [{"image_id": 0, "keypoints": [1.0, 2.0, 1.0] * 17}])
    with pytest.raises(HMError, match="width and height"):
        load_keypoints(p)


# ------------------------------------------------------------------ tfjs-models


def test_tfjs_named_dicts(tmp_path):
    frames = [{n: {"x": 10.0 * j, "y": 5.0 * j} for j, n in enumerate(reversed(COCO17_NAMES))}, {}]
    kp = load_keypoints(_dump(tmp_path / "t.json", frames), width=100, height=100)
    assert kp.joint_set == "coco17"
    # names, not positions, decide the joint order
    assert kp.xy[0, COCO17_NAMES.index("right_ankle")].tolist() == [0.0, 0.0]
    assert kp.xy[0, COCO17_NAMES.index("nose")].tolist() == [160.0, 80.0]
    assert kp.detected.tolist() == [True, False]
    assert kp.conf[0].min() == 1.0


def test_tfjs_blazepose_xyz_lists(tmp_path):
    frames = [[[float(j), 2.0 * j, -50.0] for j in range(33)]] * 3
    kp = load_keypoints(_dump(tmp_path / "b.json", frames), width=720, height=1280, fps=5)
    assert kp.joint_set == "blazepose33" and kp.xy.shape == (3, 33, 2)
    assert kp.conf.min() == 1.0  # z is not a score
    np.testing.assert_allclose(kp.timestamps, [0.0, 0.2, 0.4])


def test_tfjs_pose_objects(tmp_path):
    def pose(score):
        return {"score": score, "keypoints": [{"x": 1.0 * j, "y": 2.0, "score": score, "name": n}
                                              for j, n in enumerate(COCO17_NAMES)]}  # fmt: skip
    frames = [[pose(0.3), pose(0.7)]]
    kp = load_keypoints(_dump(tmp_path / "p.json", frames), width=10, height=10)
    np.testing.assert_allclose(kp.conf[0], 0.7, rtol=1e-6)


# ------------------------------------------------------------------ OpenPose


def _body25(offset, c):
    vals = []
    for j in range(25):
        vals += [1000.0 + j + offset, 2000.0 + j, c]
    return vals


def test_openpose_folder(tmp_path):
    d = tmp_path / "op"
    d.mkdir()
    # frame numbers in names sort numerically (10 after 2)
    _dump(d / "clip_000000000010_keypoints.json", {"version": 1.3, "people": []})
    _dump(d / "clip_000000000002_keypoints.json",
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
    p = _dump(tmp_path / "f_keypoints.json", {"people": [{"pose_keypoints_2d": vals}]})
    kp = read_openpose(p, width=100, height=100)
    assert kp.conf[0, 0] == 0.0 and kp.conf[0, 1] == pytest.approx(0.8)


def test_openpose_wrong_joint_count(tmp_path):
    p = _dump(tmp_path / "f_keypoints.json", {"people": [{"pose_keypoints_2d": [1.0, 2.0, 0.5] * 7}]})
    with pytest.raises(HMError, match="OpenPose"):
        load_keypoints(p, width=100, height=100)


# ------------------------------------------------------------------ mmpose


def test_mmpose_demo_format(tmp_path):
    def inst(off, s):
        return {"keypoints": _pose17(off), "keypoint_scores": [s] * 17, "bbox": [[0, 0, 10, 10]], "bbox_score": 0.9}
    data = {
        "meta_info": {"dataset_name": "coco", "num_keypoints": 17},
        "instance_info": [
            {"frame_id": 2, "instances": [inst(2, 0.6)]},
            {"frame_id": 1, "instances": [inst(1, 0.5), inst(100, 0.95)]},
            {"frame_id": 3, "instances": []},
        ],
    }
    p = _dump(tmp_path / "results_clip.json", data)
    for kp in (read_mmpose_predictions(p, width=64, height=64), load_keypoints(p, width=64, height=64)):
        assert kp.joint_set == "coco17" and kp.detector == "mmpose"
        assert kp.detected.tolist() == [True, True, False]
        np.testing.assert_allclose(kp.xy[0], _pose17(100))  # frame_id 1, best instance
        np.testing.assert_allclose(kp.xy[1], _pose17(2))
        assert kp.conf[2].max() == 0.0


def test_mmpose_list_per_frame(tmp_path):
    frames = [[{"keypoints": [[1.0, 2.0]] * 26, "keypoint_scores": [0.5] * 26}], []]
    kp = load_keypoints(_dump(tmp_path / "m.json", frames), width=64, height=64)
    assert kp.joint_set == "halpe26" and kp.detected.tolist() == [True, False]


# ------------------------------------------------------------------ NPZ


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


# ------------------------------------------------------------------ dispatch errors


def test_unknown_json_shape(tmp_path):
    with pytest.raises(HMError, match="unrecognised") as e:
        load_keypoints(_dump(tmp_path / "x.json", {"hello": "world"}))
    assert "\n" not in str(e.value)


def test_invalid_json(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(HMError, match="not valid JSON"):
        load_keypoints(p)


def test_unknown_extension(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(HMError, match="unknown keypoint file format"):
        load_keypoints(p)


def test_missing_and_empty(tmp_path):
    with pytest.raises(HMError, match="not found"):
        load_keypoints(tmp_path / "nope.json")
    (tmp_path / "e.json").write_text("")
    with pytest.raises(HMError, match="empty"):
        load_keypoints(tmp_path / "e.json")


def test_h5_dispatches_to_h5_reader(tmp_path, monkeypatch):
    import sys
    import types

    calls = []
    fake = types.ModuleType("hmcli.io.h5")
    fake.read_keypoints = lambda path: calls.append(path) or "sentinel"
    monkeypatch.setitem(sys.modules, "hmcli.io.h5", fake)
    p = tmp_path / "out.h5"
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 8)
    assert load_keypoints(p) == "sentinel" and calls == [p]


def test_mmpose_single_image_instance_list(tmp_path):
    insts = [{"keypoints": _pose17(0), "keypoint_scores": [0.4] * 17},
             {"keypoints": _pose17(9), "keypoint_scores": [0.8] * 17}]  # fmt: skip
    kp = load_keypoints(_dump(tmp_path / "img.json", insts), width=64, height=64)
    assert kp.num_frames == 1
    np.testing.assert_allclose(kp.xy[0], _pose17(9))
