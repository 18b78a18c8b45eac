import h5py
import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.h5 import read_info, read_keypoints, read_result, write_result
from hmcli.io.mesh_h5 import SCHEMA_MESH_VERSION, is_mesh_file, open_vertices, read_mesh, write_mesh
from tests.mesh.result_helpers import make_mesh_result


def assert_mesh_equal(a, b, vertices=True):
    assert (a.body_model, a.gender, a.joint_names, a.parents) == (b.body_model, b.gender, b.joint_names, b.parents)
    for name in ("pose", "betas", "transl", "joints3d", "valid", "faces"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.camera == b.camera
    np.testing.assert_array_equal(a.lift.joints3d, b.lift.joints3d)
    np.testing.assert_array_equal(a.lift.kpts2d.xy, b.lift.kpts2d.xy)
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    if vertices:
        np.testing.assert_array_equal(a.vertices, b.vertices)


def test_round_trip_with_vertices(tmp_path):
    res = make_mesh_result(f=5, invalid=(2,))
    res.root_rest = np.array([0.0, -0.2, 0.01], np.float32)
    out = tmp_path / "m.h5"
    write_mesh(out, res)
    back = read_mesh(out)
    assert_mesh_equal(back, res)
    assert back.pose.dtype == np.float32 and back.faces.dtype == np.int32 and back.valid.dtype == bool
    assert back.quality == {"mpjpe_mm": 12.5, "reproj_px": 3.25, "iterations": 200.0}
    np.testing.assert_array_equal(back.root_rest, res.root_rest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.h5"]
    assert read_mesh(out, load_vertices=False).vertices is None
    with open_vertices(out) as ds:
        np.testing.assert_array_equal(ds[3], res.vertices[3])


def test_round_trip_without_vertices(tmp_path):
    res = make_mesh_result(f=3, with_vertices=False)
    write_mesh(tmp_path / "m.h5", res)
    back = read_mesh(tmp_path / "m.h5")
    assert back.vertices is None and back.root_rest is None
    assert_mesh_equal(back, res, vertices=False)
    with open_vertices(tmp_path / "m.h5") as ds:
        assert ds is None


def test_layout_and_lift_readers(tmp_path):
    res = make_mesh_result(f=4)
    out = tmp_path / "m.h5"
    write_mesh(out, res)
    with h5py.File(out, "r") as h5:
        assert h5.attrs["schema"] == "hm.mesh" and h5.attrs["schema_version"] == 2
        g = h5["mesh"]
        assert g["pose"].shape == (1, 4, 24, 3) and g["pose"].dtype == np.float32
        assert g["transl"].shape == (1, 4, 3) and g["joints3d"].shape == (1, 4, 17, 3)
        assert g["betas"].shape[0] == 1 and g["valid"].shape == (1, 4) and g["faces"].ndim == 2
        assert g["faces"].dtype == np.int32 and g["valid"].dtype == bool
        assert g["vertices"].chunks == (1, 1, 8, 3) and g["vertices"].compression == "gzip"
        assert list(g.attrs["parents"]) == list(res.parents) and g.attrs["body_model"] == "synthetic"
        assert (g.attrs["focal"], g.attrs["cx"], g.attrs["cy"]) == (320.0, 160.0, 120.0)
        assert g["quality/0"].attrs["reproj_px"] == 3.25
        assert g["camera"][()].tolist() == [[320.0, 160.0, 120.0]]
    # the lifted part reads with the hm.pose3d readers
    lift = read_result(out)
    np.testing.assert_array_equal(lift.joints3d, res.lift.joints3d)
    assert read_keypoints(out).num_frames == 4
    info = read_info(out)
    assert info["schema"] == "hm.mesh" and info["num_frames"] == 4
    assert info["mesh"]["body_model"] == "synthetic" and info["mesh"]["vertices_shape"] == [1, 4, 8, 3]
    assert info["mesh"]["quality"]["reproj_px"] == 3.25
    assert is_mesh_file(out) and not is_mesh_file(tmp_path / "nope.h5")


def test_file_without_mesh_refused_in_one_line(tmp_path):
    res = make_mesh_result()
    write_result(tmp_path / "lift.h5", res.lift)
    with pytest.raises(HMError) as e:
        read_mesh(tmp_path / "lift.h5")
    assert str(e.value) == f"{tmp_path / 'lift.h5'} has no fitted mesh; run hm mesh on it"
    assert not is_mesh_file(tmp_path / "lift.h5")
    write_mesh(tmp_path / "m.h5", res)
    with h5py.File(tmp_path / "m.h5", "a") as h5:
        del h5["mesh"]
    with pytest.raises(HMError, match="has no fitted mesh; run hm mesh on it"):
        read_mesh(tmp_path / "m.h5")


def test_newer_version_refused(tmp_path):
    out = tmp_path / "m.h5"
    write_mesh(out, make_mesh_result())
    with h5py.File(out, "a") as h5:
        h5.attrs["schema_version"] = SCHEMA_MESH_VERSION + 1
    for reader in (read_mesh, read_result):
        with pytest.raises(HMError, match=f"newer hm .*hm.mesh version {SCHEMA_MESH_VERSION + 1}.*upgrade hm") as e:
            reader(out)
        assert "\n" not in str(e.value)


def test_corrupt_mesh_arrays(tmp_path):
    out = tmp_path / "m.h5"
    write_mesh(out, make_mesh_result())
    with h5py.File(out, "a") as h5:
        del h5["mesh/transl"]
        h5["mesh/transl"] = np.zeros((1, 3, 3), np.float32)
    with pytest.raises(HMError, match=r"/mesh/transl has shape \(1, 3, 3\), expected \(1, 4, 3\)"):
        read_mesh(out)
    write_mesh(out, make_mesh_result())
    with h5py.File(out, "a") as h5:
        del h5["mesh/pose"]
    with pytest.raises(HMError, match="missing dataset /mesh/pose"):
        read_mesh(out)
    write_mesh(out, make_mesh_result())
    with h5py.File(out, "a") as h5:
        h5["mesh/faces"][0, 0] = 99
    with pytest.raises(HMError, match="faces refer to vertices"):
        read_mesh(out)


def test_bad_result_rejected_before_writing(tmp_path):
    out = tmp_path / "m.h5"
    write_mesh(out, make_mesh_result(f=2))
    bad = make_mesh_result(f=3)
    bad.transl = bad.transl[:2]
    with pytest.raises(ValueError, match="transl"):
        write_mesh(out, bad)
    bad = make_mesh_result(f=3)
    bad.quality = {"x": object()}
    with pytest.raises(TypeError, match="quality"):
        write_mesh(out, bad)
    assert read_mesh(out).num_frames == 2  # the previous file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.h5"]


# ------------------------------------------------------------------ several persons


def two_person_mesh(f=4):
    from dataclasses import replace

    from hmcli.types import Camera, MultiMeshResult

    a = make_mesh_result(f=f, invalid=(1,))
    a.root_rest = np.array([0.0, -0.2, 0.01], np.float32)
    b = make_mesh_result(f=f, z=5.0, invalid=(0, 3))
    b = replace(b, pose=b.pose + 0.1, betas=b.betas + 1.0, transl=b.transl + 0.5, quality={"mpjpe_mm": 30.0},
                camera=Camera(330.0, 161.0, 121.0))  # fmt: skip
    return MultiMeshResult([a, b], np.array([4, 11]))


def test_two_person_round_trip(tmp_path):
    from hmcli.io.mesh_h5 import read_meshes

    res = two_person_mesh()
    out = tmp_path / "m.h5"
    write_mesh(out, res)
    back = read_meshes(out)
    assert back.track_ids.tolist() == [4, 11]
    for got, want in zip(back.persons, res.persons, strict=True):
        assert_mesh_equal(got, want)
    np.testing.assert_array_equal(back.persons[0].root_rest, res.persons[0].root_rest)
    assert back.persons[1].root_rest is None
    assert back.persons[1].quality == {"mpjpe_mm": 30.0} and back.persons[0].quality["reproj_px"] == 3.25
    with h5py.File(out, "r") as h5:
        g = h5["mesh"]
        assert g["pose"].shape == (2, 4, 24, 3) and g["betas"].shape[0] == 2 and g["vertices"].shape == (2, 4, 8, 3)
        assert g["valid"][()].tolist() == [[True, False, True, True], [False, True, True, False]]
        assert g["faces"].shape == res.persons[0].faces.shape and h5["persons/track_id"][()].tolist() == [4, 11]
    one = read_mesh(out, person=11, load_vertices=False)
    assert one.vertices is None and one.camera == res.persons[1].camera
    assert read_result(out, person=4).joints3d.shape == (4, 17, 3)
    info = read_info(out)
    assert info["num_persons"] == 2 and sorted(info["mesh"]["quality_by_track"]) == ["11", "4"]


def test_two_person_open_vertices_and_selection(tmp_path):
    res = two_person_mesh()
    out = tmp_path / "clip.h5"
    write_mesh(out, res)
    with open_vertices(out, person=11) as v:
        assert len(v) == 4 and v.shape == (4, 8, 3)
        np.testing.assert_array_equal(v[2], res.persons[1].vertices[2])
        np.testing.assert_array_equal(np.asarray(v), res.persons[1].vertices)
    for call in (lambda: read_mesh(out), lambda: open_vertices(out).__enter__()):
        with pytest.raises(HMError) as e:
            call()
        assert str(e.value) == f"{out} has 2 persons (track ids 4, 11): choose one with --person ID"
    with pytest.raises(HMError, match="no person with track id 5"):
        read_mesh(out, person=5)


def test_persons_with_different_body_models_refused(tmp_path):
    res = two_person_mesh()
    res.persons[1].body_model = "smpl"
    with pytest.raises(ValueError, match="share one body model"):
        write_mesh(tmp_path / "m.h5", res)
    res = two_person_mesh()
    res.persons[1].vertices = None
    with pytest.raises(ValueError, match="every person or of none"):
        write_mesh(tmp_path / "m.h5", res)
    assert not (tmp_path / "m.h5").exists()


def test_version_1_mesh_file_reads_as_before(tmp_path):
    """A version 2 one-person file turned into the version 1 layout by hand (no person axis)."""
    res = make_mesh_result(f=4)
    res.root_rest = np.array([0.0, -0.2, 0.01], np.float32)
    out = tmp_path / "old.h5"
    write_mesh(out, res)
    with h5py.File(out, "a") as h5:
        h5.attrs["schema_version"] = 1
        del h5.attrs["num_persons"]
        del h5["persons"]
        for name in ("keypoints2d/xy", "keypoints2d/conf", "keypoints2d/detected", "joints3d", "mesh/pose",
                     "mesh/betas", "mesh/transl", "mesh/joints3d", "mesh/valid", "mesh/vertices", "mesh/root_rest"):  # fmt: skip
            data = h5[name][0]
            del h5[name]
            h5[name] = data
        del h5["mesh/camera"]
        q = {k: v for k, v in h5["mesh/quality/0"].attrs.items()}
        del h5["mesh/quality"]
        g = h5.create_group("mesh/quality")
        for k, v in q.items():
            g.attrs[k] = v
    back = read_mesh(out)
    assert_mesh_equal(back, res)
    np.testing.assert_array_equal(back.root_rest, res.root_rest)
    assert back.quality == {"mpjpe_mm": 12.5, "reproj_px": 3.25, "iterations": 200.0}
    with open_vertices(out) as ds:
        assert isinstance(ds, h5py.Dataset) and ds.shape == (4, 8, 3)
    from hmcli.io.mesh_h5 import read_meshes

    assert read_meshes(out).track_ids.tolist() == [0]
    assert read_info(out)["mesh"]["quality"]["reproj_px"] == 3.25
