import h5py
import numpy as np
import pytest

from hmcli import __version__
from hmcli.io.atomic import HMError
from hmcli.io.h5 import (
    SCHEMA_VERSION,
    read_info,
    read_keypoints,
    read_result,
    write_keypoints,
    write_result,
)
from hmcli.skeleton import H36M17
from hmcli.types import Keypoints2D, Pose3DResult


def make_kpts(f=6, j=17, joint_set="h36m17", seed=0, source="clip.mp4"):
    rng = np.random.default_rng(seed)
    detected = np.ones(f, bool)
    detected[2] = False
    conf = rng.uniform(0, 1, (f, j)).astype(np.float32)
    conf[~detected] = 0
    return Keypoints2D(
        xy=rng.uniform(0, 640, (f, j, 2)).astype(np.float32),
        conf=conf,
        joint_set=joint_set,
        timestamps=np.arange(f) / 25.0,
        width=640,
        height=480,
        detected=detected,
        detector="mediapipe",
        source=source,
        source_hash="ab" * 32 if source else None,
    )


def make_result(f=6, seed=0, extra=None):
    rng = np.random.default_rng(seed + 1)
    j3 = rng.normal(0, 0.3, (f, 17, 3)).astype(np.float32)
    j3[2] = np.nan
    return Pose3DResult(
        kpts2d=make_kpts(f, seed=seed),
        joints3d=j3,
        model_id="hummuss-s",
        model_hash="deadbeef",
        extra=extra if extra is not None else {},
    )


def assert_kpts_equal(a: Keypoints2D, b: Keypoints2D):
    np.testing.assert_array_equal(a.xy, b.xy)
    np.testing.assert_array_equal(a.conf, b.conf)
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    np.testing.assert_array_equal(a.detected, b.detected)
    assert (a.joint_set, a.width, a.height, a.detector, a.source, a.source_hash) == (
        b.joint_set, b.width, b.height, b.detector, b.source, b.source_hash,
    )  # fmt: skip


def test_result_round_trip(tmp_path):
    extra = {"verts": np.arange(24, dtype=np.float32).reshape(2, 4, 3), "note": "hi", "n": 3,
             "mesh": {"faces": np.array([[0, 1, 2]], np.int64), "names": ["a", "bc"]}}  # fmt: skip
    res = make_result(extra=extra)
    out = tmp_path / "r.h5"
    write_result(out, res)
    back = read_result(out)
    assert_kpts_equal(back.kpts2d, res.kpts2d)
    np.testing.assert_array_equal(back.joints3d, res.joints3d)  # NaN rows survive as NaN
    assert back.joints3d.dtype == np.float32
    assert (back.model_id, back.model_hash) == ("hummuss-s", "deadbeef")
    np.testing.assert_array_equal(back.extra["verts"], extra["verts"])
    assert back.extra["note"] == "hi" and back.extra["n"] == 3
    np.testing.assert_array_equal(back.extra["mesh"]["faces"], [[0, 1, 2]])
    assert list(back.extra["mesh"]["names"]) == ["a", "bc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5"]


def test_schema_layout_matches_documentation(tmp_path):
    out = tmp_path / "r.h5"
    write_result(out, make_result(f=5))
    with h5py.File(out, "r") as h5:
        a = h5.attrs
        assert a["schema"] == "hm.pose3d" and a["schema_version"] == 2 and a["num_persons"] == 1
        assert list(a["joint_names"]) == list(H36M17.joints)
        np.testing.assert_array_equal(a["edges"], np.array(H36M17.edges))
        assert (a["width"], a["height"], a["fps"]) == (640, 480, 25.0)
        assert a["source_hash"] == "ab" * 32 and a["detector"] == "mediapipe"
        assert a["hm_version"] == __version__
        assert h5["keypoints2d/xy"].shape == (1, 5, 17, 2) and h5["keypoints2d/xy"].dtype == np.float32
        assert h5["keypoints2d/conf"].shape == (1, 5, 17)
        assert h5["keypoints2d/detected"].shape == (1, 5)
        assert h5["persons/track_id"][()].tolist() == [0] and h5["persons/track_id"].dtype == np.int64
        assert h5["keypoints2d/detected"].dtype == bool
        assert h5["keypoints2d"].attrs["joint_set"] == "h36m17"
        assert h5["joints3d"].shape == (1, 5, 17, 3) and h5["joints3d"].dtype == np.float32
        assert h5["timestamps"].dtype == np.float64
        assert "extra" not in h5


def test_large_arrays_are_compressed_and_round_trip(tmp_path):
    res = make_result(f=400)
    write_result(tmp_path / "big.h5", res)
    with h5py.File(tmp_path / "big.h5", "r") as h5:
        assert h5["joints3d"].compression == "gzip"
    np.testing.assert_array_equal(read_result(tmp_path / "big.h5").joints3d, res.joints3d)


def test_missing_source_round_trips_as_none(tmp_path):
    kp = make_kpts(source=None)
    write_keypoints(tmp_path / "k.h5", kp)
    back = read_keypoints(tmp_path / "k.h5")
    assert back.source is None and back.source_hash is None


def test_keypoints_round_trip_any_joint_set(tmp_path):
    kp = make_kpts(j=33, joint_set="blazepose33")
    out = tmp_path / "k.h5"
    write_keypoints(out, kp)
    assert_kpts_equal(read_keypoints(out), kp)
    with h5py.File(out, "r") as h5:
        assert h5.attrs["schema"] == "hm.keypoints2d"
        assert len(h5.attrs["joint_names"]) == 33


def test_read_keypoints_from_result_file(tmp_path):
    res = make_result()
    write_result(tmp_path / "r.h5", res)
    assert_kpts_equal(read_keypoints(tmp_path / "r.h5"), res.kpts2d)


def test_keypoints_file_is_not_a_result(tmp_path):
    write_keypoints(tmp_path / "k.h5", make_kpts())
    with pytest.raises(HMError, match="only 2D keypoints"):
        read_result(tmp_path / "k.h5")


def test_newer_version_refused(tmp_path):
    out = tmp_path / "r.h5"
    write_result(out, make_result())
    with h5py.File(out, "a") as h5:
        h5.attrs["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(HMError, match=f"newer hm .*version {SCHEMA_VERSION + 1}.*upgrade hm"):
        read_result(out)


def test_foreign_hdf5_refused(tmp_path):
    out = tmp_path / "other.h5"
    with h5py.File(out, "w") as h5:
        h5["data"] = np.zeros(3)
    with pytest.raises(HMError, match="not one written by hm"):
        read_result(out)
    with h5py.File(out, "a") as h5:
        h5.attrs["schema"] = "someone.else"
    with pytest.raises(HMError, match="schema 'someone.else'"):
        read_keypoints(out)


@pytest.mark.parametrize("content", [b"", b"hello, not hdf5", b"\x89HDF\r\n\x1a\n" + b"\0" * 40])
def test_non_hdf5_or_corrupt(tmp_path, content):
    out = tmp_path / "bad.h5"
    out.write_bytes(content)
    with pytest.raises(HMError) as e:
        read_result(out)
    assert "\n" not in str(e.value)
    assert any(w in str(e.value) for w in ("empty", "not an HDF5", "corrupt"))


def test_truncated_file_is_hmerror(tmp_path):
    out = tmp_path / "r.h5"
    write_result(out, make_result(f=300))
    data = out.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    with pytest.raises(HMError):
        read_result(out)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(HMError, match="not found"):
        read_result(tmp_path / "nope.h5")
    with pytest.raises(HMError, match="directory"):
        read_keypoints(tmp_path)


def test_missing_dataset_and_bad_shape(tmp_path):
    out = tmp_path / "r.h5"
    write_result(out, make_result())
    with h5py.File(out, "a") as h5:
        del h5["keypoints2d/conf"]
    with pytest.raises(HMError, match="missing dataset /keypoints2d/conf"):
        read_result(out)
    write_result(out, make_result())
    with h5py.File(out, "a") as h5:
        del h5["joints3d"]
        h5["joints3d"] = np.zeros((1, 6, 16, 3), np.float32)
    with pytest.raises(HMError, match=r"/joints3d has shape \(1, 6, 16, 3\)"):
        read_result(out)
    write_result(out, make_result())
    with h5py.File(out, "a") as h5:
        del h5["timestamps"]
        h5["timestamps"] = np.zeros(5)
    with pytest.raises(HMError, match="inconsistent"):
        read_result(out)


def test_failed_write_keeps_previous_file(tmp_path):
    out = tmp_path / "r.h5"
    write_result(out, make_result(seed=3))
    bad = make_result(extra={"obj": object()})
    with pytest.raises(TypeError, match="extra"):
        write_result(out, bad)
    np.testing.assert_array_equal(read_result(out).joints3d, make_result(seed=3).joints3d)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5"]


def test_wrong_joint_count_rejected(tmp_path):
    res = make_result()
    res.joints3d = res.joints3d[:, :16]
    with pytest.raises(ValueError, match="17"):
        write_result(tmp_path / "r.h5", res)


def test_read_info(tmp_path):
    write_result(tmp_path / "r.h5", make_result(f=4, extra={"verts": np.zeros((4, 2, 3))}))
    info = read_info(tmp_path / "r.h5")
    assert info["schema"] == "hm.pose3d" and info["schema_version"] == 2
    assert info["num_persons"] == 1 and info["track_ids"] == [0]
    assert info["num_frames"] == 4 and info["fps"] == 25.0
    assert info["joint_names"] == list(H36M17.joints)
    assert info["model_id"] == "hummuss-s" and info["extra"] == ["verts"]
