"""The person axis of hm.pose3d / hm.keypoints2d HDF5 files (schema version 2)."""

import h5py
import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.h5 import (read_info, read_keypoints, read_keypoints_multi, read_result, read_results, write_keypoints,
                         write_result)
from hmcli.types import MultiPose3DResult
from tests.io.persons_helpers import assert_kpts_equal, make_multi_kpts, make_multi_result, write_v1_result
from tests.io.test_h5 import make_result


def assert_results_equal(a: MultiPose3DResult, b: MultiPose3DResult):
    assert a.track_ids.tolist() == b.track_ids.tolist()
    assert_kpts_equal(a.kpts2d, b.kpts2d)
    np.testing.assert_array_equal(a.joints3d, b.joints3d)
    for ra, rb in zip(a.persons, b.persons, strict=True):
        assert (ra.model_id, ra.model_hash) == (rb.model_id, rb.model_hash)
        assert sorted(ra.extra) == sorted(rb.extra)


@pytest.mark.parametrize("p", [0, 1, 3])
def test_keypoints_round_trip(tmp_path, p):
    kp = make_multi_kpts(p)
    write_keypoints(tmp_path / "k.h5", kp)
    back = read_keypoints_multi(tmp_path / "k.h5")
    assert back.num_persons == p and back.num_frames == 8 and back.xy.shape == (p, 8, 17, 2)
    assert_kpts_equal(back, kp)
    with h5py.File(tmp_path / "k.h5", "r") as h5:
        assert h5.attrs["schema_version"] == 2 and h5.attrs["num_persons"] == p
        assert h5["persons/track_id"][()].tolist() == [2, 5, 9][:p]
        assert h5["keypoints2d/detected"].shape == (p, 8)
        if p:
            assert h5["persons/first_frame"][()].tolist() == [0, 1, 2][:p]
            assert h5["persons/last_frame"][()].tolist() == [6, 6, 5][:p]


@pytest.mark.parametrize("p", [0, 1, 3])
def test_result_round_trip(tmp_path, p):
    res = make_multi_result(p, extra=True)
    write_result(tmp_path / "r.h5", res)
    back = read_results(tmp_path / "r.h5")
    assert_results_equal(back, res)
    assert back.num_frames == 8 and back.joints3d.shape == (p, 8, 17, 3)
    for k in range(p):
        if k != 1:
            np.testing.assert_array_equal(back.persons[k].extra["score"], np.arange(3.0) + k)
            assert back.persons[k].extra["note"] == f"p{k}"
        else:
            assert back.persons[k].extra == {}
    info = read_info(tmp_path / "r.h5")
    assert info["num_persons"] == p and info["track_ids"] == [2, 5, 9][:p] and info["num_frames"] == 8
    assert info.get("extra", []) == (["note", "score"] if p else [])


def test_single_person_result_is_track_0(tmp_path):
    res = make_result()
    write_result(tmp_path / "r.h5", res)
    multi = read_results(tmp_path / "r.h5")
    assert multi.track_ids.tolist() == [0]
    back = read_result(tmp_path / "r.h5")
    np.testing.assert_array_equal(read_result(tmp_path / "r.h5", person=0).joints3d, res.joints3d)
    assert_kpts_equal(back.kpts2d, res.kpts2d)
    np.testing.assert_array_equal(back.joints3d, res.joints3d)
    assert_kpts_equal(read_keypoints(tmp_path / "r.h5"), res.kpts2d)


def test_person_selection_by_track_id(tmp_path):
    res = make_multi_result(3)
    out = tmp_path / "clip.h5"
    write_result(out, res)
    for row, tid in enumerate((2, 5, 9)):
        one = read_result(out, person=tid)
        np.testing.assert_array_equal(one.joints3d, res.persons[row].joints3d)
        assert_kpts_equal(one.kpts2d, res.persons[row].kpts2d)
        assert_kpts_equal(read_keypoints(out, person=tid), res.persons[row].kpts2d)
    for reader in (read_result, read_keypoints):
        with pytest.raises(HMError) as e:
            reader(out)
        assert str(e.value) == f"{out} has 3 persons (track ids 2, 5, 9): choose one with --person ID"
        with pytest.raises(HMError) as e:
            reader(out, person=3)
        assert str(e.value) == f"{out} has no person with track id 3 (track ids 2, 5, 9)"
    write_keypoints(out, make_multi_kpts(0))
    with pytest.raises(HMError) as e:
        read_keypoints(out)
    assert str(e.value) == f"{out} has no persons"


def test_version_1_file_reads_as_before(tmp_path):
    res = make_result(extra={"verts": np.arange(6.0).reshape(2, 3)})
    out = tmp_path / "old.h5"
    write_v1_result(out, res)
    back = read_result(out)
    assert_kpts_equal(back.kpts2d, res.kpts2d)
    np.testing.assert_array_equal(back.joints3d, res.joints3d)
    assert (back.model_id, back.model_hash) == ("hummuss-s", "deadbeef")
    np.testing.assert_array_equal(back.extra["verts"], res.extra["verts"])
    assert_kpts_equal(read_result(out, person=0).kpts2d, res.kpts2d)
    multi = read_results(out)
    assert multi.track_ids.tolist() == [0] and multi.joints3d.shape == (1, 6, 17, 3)
    assert_kpts_equal(read_keypoints_multi(out).person(0), res.kpts2d)
    info = read_info(out)
    assert info["schema_version"] == 1 and info["num_persons"] == 1 and info["track_ids"] == [0]
    assert info["extra"] == ["verts"]
    with pytest.raises(HMError, match="no person with track id 4"):
        read_result(out, person=4)
    write_v1_result(tmp_path / "oldkp.h5", res.kpts2d, schema="hm.keypoints2d")
    assert_kpts_equal(read_keypoints(tmp_path / "oldkp.h5"), res.kpts2d)


def test_chunks_hold_one_person(tmp_path):
    res = make_multi_result(3, f=300)
    write_result(tmp_path / "r.h5", res)
    with h5py.File(tmp_path / "r.h5", "r") as h5:
        assert h5["joints3d"].chunks == (1, 256, 17, 3) and h5["joints3d"].compression == "gzip"
        assert h5["keypoints2d/xy"].chunks == (1, 256, 17, 2)
    np.testing.assert_array_equal(read_result(tmp_path / "r.h5", person=9).joints3d, res.persons[2].joints3d)


def test_persons_of_different_models_refused(tmp_path):
    res = make_multi_result(2)
    res.persons[1].model_id = "other"
    with pytest.raises(ValueError, match="one model"):
        write_result(tmp_path / "r.h5", res)
    assert not (tmp_path / "r.h5").exists()


def test_corrupt_person_axis(tmp_path):
    out = tmp_path / "r.h5"
    write_result(out, make_multi_result(3))
    with h5py.File(out, "a") as h5:
        del h5["persons/track_id"]
        h5["persons/track_id"] = np.array([1, 1, 2])
    with pytest.raises(HMError, match="repeated ids"):
        read_results(out)
    write_result(out, make_multi_result(3))
    with h5py.File(out, "a") as h5:
        del h5["keypoints2d/conf"]
        h5["keypoints2d/conf"] = np.zeros((2, 8, 17), np.float32)
    with pytest.raises(HMError, match=r"/keypoints2d/conf has shape \(2, 8, 17\), expected 3 persons") as e:
        read_result(out, person=5)
    assert "\n" not in str(e.value)
    write_result(out, make_multi_result(3))
    with h5py.File(out, "a") as h5:
        del h5["persons"]
    with pytest.raises(HMError, match="missing group /persons"):
        read_keypoints_multi(out)


def test_only_person_keeps_one_track_or_names_the_ids():
    import numpy as np
    import pytest

    from hmcli.io.atomic import HMError
    from hmcli.io.persons import only_person
    from hmcli.types import Keypoints2D, MultiPose3DResult, Pose3DResult

    kp = Keypoints2D(np.zeros((3, 17, 2), np.float32), np.ones((3, 17), np.float32), "h36m17",
                     np.arange(3) / 30.0, 64, 48, np.ones(3, bool))
    res = MultiPose3DResult([Pose3DResult(kp, np.full((3, 17, 3), k, np.float32), "m", "h") for k in range(2)], [4, 9])
    assert only_person(res, None, "x.h5") is res
    one = only_person(res, 9, "x.h5")
    assert one.track_ids.tolist() == [9] and one.joints3d[0, 0, 0, 0] == 1
    with pytest.raises(HMError, match=r"x.h5 has no person with track id 5"):
        only_person(res, 5, "x.h5")
