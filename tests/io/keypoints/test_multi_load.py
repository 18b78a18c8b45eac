"""load_keypoints_multi: every person of other tools' multi-person files, tracked into a
person axis with stable ids; our NPZ with a person axis; single-person formats as P = 1."""

import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.keypoints import (COCO17_NAMES, load_keypoints, load_keypoints_multi, read_coco_json_multi,
                                read_mmpose_predictions_multi, read_openpose_multi, save_keypoints,
                                save_keypoints_npz)
from tests.io.keypoints.helpers import dump
from tests.io.persons_helpers import assert_kpts_equal, make_multi_kpts

F = 6
GONE = 3  # person B is not detected in this frame


def person_xy(who: str, f: int) -> np.ndarray:
    """(17, 2) coco17 joints of person A (left, walking right) or B (right, walking left)."""
    j = np.arange(17, dtype=np.float64)
    x0 = 100.0 + 4 * f if who == "A" else 500.0 - 4 * f
    return np.stack([x0 + 3 * j, 200.0 + 8 * j], axis=1)


def people_in(f: int) -> list[str]:
    """Who is in frame f, in the file's order: swapped on odd frames, B missing in frame GONE."""
    who = ["A", "B"] if f % 2 == 0 else ["B", "A"]
    return [w for w in who if not (w == "B" and f == GONE)]


def check_two_people(multi, conf=(0.9, 0.6)):
    assert multi.num_persons == 2 and multi.num_frames == F
    assert multi.track_ids.tolist() == [1, 2]  # A was listed first in frame 0
    assert multi.detected[0].tolist() == [True] * F
    assert multi.detected[1].tolist() == [f != GONE for f in range(F)]
    for f in range(F):
        np.testing.assert_allclose(multi.xy[0, f], person_xy("A", f), atol=1e-4)
        if f != GONE:
            np.testing.assert_allclose(multi.xy[1, f], person_xy("B", f), atol=1e-4)
    np.testing.assert_allclose(multi.conf[0], conf[0], atol=1e-6)
    assert multi.conf[1, GONE].max() == 0.0


def test_openpose_folder_two_people(tmp_path):
    names = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
             "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
             "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
             "left_heel", "right_big_toe", "right_small_toe", "right_heel")  # fmt: skip

    def body25(who, f):
        a = np.zeros((25, 3))
        xy = person_xy(who, f)
        for k, name in enumerate(COCO17_NAMES):
            a[names.index(name)] = (*xy[k], 0.9 if who == "A" else 0.6)
        return a.reshape(-1).tolist()

    d = tmp_path / "op"
    d.mkdir()
    for f in range(F):
        dump(d / f"clip_{f:012d}_keypoints.json", {"people": [{"pose_keypoints_2d": body25(w, f)} for w in people_in(f)]})
    for multi in (read_openpose_multi(d, width=640, height=480), load_keypoints_multi(d, width=640, height=480)):
        check_two_people(multi)
        assert multi.detector == "openpose" and multi.joint_set == "coco17"
    single = load_keypoints(d, width=640, height=480)  # the single-person loader keeps the best person
    np.testing.assert_allclose(single.xy, [person_xy("A", f) for f in range(F)], atol=1e-4)
    np.testing.assert_allclose(load_keypoints(d, width=640, height=480, person=2).xy[0], person_xy("B", 0), atol=1e-4)
    with pytest.raises(HMError, match="no person with track id 7"):
        load_keypoints(d, width=640, height=480, person=7)


def test_coco_results_two_people(tmp_path):
    anns = []
    for f in range(F):
        for w in people_in(f):
            c = 0.9 if w == "A" else 0.6
            anns.append({"image_id": f, "keypoints": np.c_[person_xy(w, f), np.full(17, c)].reshape(-1).tolist(),
                         "score": c})  # fmt: skip
    p = dump(tmp_path / "coco.json", anns)
    for multi in (read_coco_json_multi(p, width=640, height=480), load_keypoints_multi(p, width=640, height=480)):
        check_two_people(multi)
    np.testing.assert_allclose(load_keypoints(p, width=640, height=480).xy[1], person_xy("A", 1), atol=1e-4)


def test_mmpose_two_people(tmp_path):
    info = [{"frame_id": f, "instances": [{"keypoints": person_xy(w, f).tolist(),
                                           "keypoint_scores": [0.9 if w == "A" else 0.6] * 17}
                                          for w in people_in(f)]} for f in range(F)]  # fmt: skip
    p = dump(tmp_path / "mm.json", {"meta_info": {}, "instance_info": info})
    for multi in (read_mmpose_predictions_multi(p, width=640, height=480), load_keypoints_multi(p, width=640, height=480)):
        check_two_people(multi)


def test_nobody_anywhere_is_zero_persons(tmp_path):
    d = tmp_path / "op"
    d.mkdir()
    for f in range(3):
        dump(d / f"c_{f}_keypoints.json", {"people": []})
    multi = load_keypoints_multi(d, width=64, height=48)
    assert multi.num_persons == 0 and multi.num_frames == 3 and multi.xy.shape == (0, 3, 17, 2)


def test_tfjs_is_one_person(tmp_path):
    frames = [[[10.0 * j, 5.0 * j, 0.8] for j in range(17)] for _ in range(3)]
    multi = load_keypoints_multi(dump(tmp_path / "t.json", frames), width=640, height=480)
    assert multi.num_persons == 1 and multi.track_ids.tolist() == [0] and multi.detected.all()


@pytest.mark.parametrize("p", [0, 1, 3])
def test_npz_person_axis_round_trip(tmp_path, p):
    kp = make_multi_kpts(p, joint_set="coco17")
    save_keypoints_npz(kp, tmp_path / "k.npz")
    assert_kpts_equal(load_keypoints_multi(tmp_path / "k.npz"), kp)
    with np.load(tmp_path / "k.npz", allow_pickle=False) as z:
        assert z["xy"].shape == (p, 8, 17, 2) and z["track_ids"].tolist() == [2, 5, 9][:p]
    if p == 1:
        assert_kpts_equal(load_keypoints(tmp_path / "k.npz"), kp.person(0))
    elif p == 3:
        with pytest.raises(HMError) as e:
            load_keypoints(tmp_path / "k.npz")
        assert str(e.value) == f"{tmp_path / 'k.npz'} has 3 persons (track ids 2, 5, 9): choose one with --person ID"
        assert_kpts_equal(load_keypoints(tmp_path / "k.npz", person=5), kp.person(1))


def test_old_npz_without_person_axis(tmp_path):
    kp = make_multi_kpts(1, joint_set="coco17").person(0)
    np.savez(tmp_path / "old.npz", xy=kp.xy, conf=kp.conf, timestamps=kp.timestamps, detected=kp.detected,
             width=np.int64(640), height=np.int64(480), joint_set=np.str_("coco17"), detector=np.str_("mediapipe"),
             source=np.str_("clip.mp4"), source_hash=np.str_("ab" * 32))  # fmt: skip
    assert_kpts_equal(load_keypoints(tmp_path / "old.npz"), kp)
    multi = load_keypoints_multi(tmp_path / "old.npz")
    assert multi.track_ids.tolist() == [0] and multi.xy.shape == (1, 8, 17, 2)


@pytest.mark.parametrize("suffix", [".h5", ".json", ".npz"])
def test_save_keypoints_any_format_keeps_persons(tmp_path, suffix):
    kp = make_multi_kpts(3, joint_set="coco17")
    save_keypoints(kp, tmp_path / f"k{suffix}")
    back = load_keypoints_multi(tmp_path / f"k{suffix}")
    assert_kpts_equal(back, kp, atol=0.006 if suffix == ".json" else 0.0)
