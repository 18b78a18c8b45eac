import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.mesh_export import (
    _quat_to_rotvec,
    _rotvec_to_quat,
    amass_arrays,
    camera_to_yup,
    export_mesh,
    write_amass_npz,
    write_obj_frames,
    write_ply,
    write_ply_frames,
)
from tests.mesh.result_helpers import cube, make_mesh_result


def parse_obj(path):
    v, f = [], []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "v":
            v.append([float(x) for x in parts[1:4]])
        elif parts and parts[0] == "f":
            f.append([int(x) - 1 for x in parts[1:4]])
    return np.array(v), np.array(f)


def parse_ply(path):
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    nv = int(next(h for h in header if h.startswith("element vertex")).split()[-1])
    nf = int(next(h for h in header if h.startswith("element face")).split()[-1])
    v = np.frombuffer(data, "<f4", nv * 3, end).reshape(nv, 3)
    rec = np.frombuffer(data, [("n", "u1"), ("i", "<i4", (3,))], nf, end + nv * 12)
    assert end + nv * 12 + nf * 13 == len(data)
    return header, v, rec


def rotmat(r):
    r = np.asarray(r, np.float64)
    t = np.linalg.norm(r)
    if t < 1e-12:
        return np.eye(3)
    k = r / t
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(t) * K + (1 - np.cos(t)) * K @ K


def test_obj_frames_parse_back(tmp_path):
    v0, faces = cube()
    verts = np.stack([v0, v0 + 1.5, v0 * 2])
    d = tmp_path / "objs"
    paths = write_obj_frames(d, verts, faces)
    assert [p.name for p in paths] == ["frame_000000.obj", "frame_000001.obj", "frame_000002.obj"]
    assert sorted(p.name for p in d.iterdir()) == [p.name for p in paths]  # no temporary files left
    for i, p in enumerate(paths):
        v, f = parse_obj(p)
        np.testing.assert_allclose(v, verts[i], atol=1e-6)
        np.testing.assert_array_equal(f, faces)
    assert write_obj_frames(d, verts[:1], faces, stem="x")[0].name == "x_000000.obj"  # existing directory is fine
    with pytest.raises(HMError, match="output directory does not exist"):
        write_obj_frames(tmp_path / "no" / "such", verts, faces)
    with pytest.raises(ValueError, match="faces"):
        write_obj_frames(d, verts, faces + 8)


def test_ply_binary_round_trip(tmp_path):
    v0, faces = cube(size=0.5)
    write_ply(tmp_path / "c.ply", v0, faces)
    header, v, rec = parse_ply(tmp_path / "c.ply")
    assert header[:2] == ["ply", "format binary_little_endian 1.0"] and header[-1] == "end_header"
    assert "property list uchar int vertex_indices" in header
    np.testing.assert_array_equal(v, v0)
    assert (rec["n"] == 3).all()
    np.testing.assert_array_equal(rec["i"], faces)
    paths = write_ply_frames(tmp_path / "plys", np.stack([v0, v0 + 1]), faces)
    assert len(paths) == 2
    np.testing.assert_array_equal(parse_ply(paths[1])[1], v0 + 1)


def test_rotvec_quaternion_round_trip():
    rng = np.random.default_rng(0)
    r = rng.normal(0, 1.2, (200, 3))
    r[0] = 0
    r[1] = [np.pi - 1e-7, 0, 0]
    back = _quat_to_rotvec(_rotvec_to_quat(r))
    for a, b in zip(r, back):
        np.testing.assert_allclose(rotmat(a), rotmat(b), atol=1e-6)


def test_amass_npz_keys_shapes_and_axes(tmp_path):
    res = make_mesh_result(f=4)
    j0 = np.array([0.002, -0.22, 0.03])
    out = tmp_path / "a.npz"
    write_amass_npz(out, res, root_rest=j0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]
    with np.load(out, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    assert d["poses"].shape == (4, 72) and d["poses"].dtype == np.float32
    assert d["root_orient"].shape == (4, 3) and d["pose_body"].shape == (4, 63)
    assert d["trans"].shape == (4, 3) and d["betas"].shape == (10,)
    assert str(d["gender"]) == "neutral" and str(d["surface_model_type"]) == "synthetic"
    assert float(d["mocap_framerate"]) == pytest.approx(25.0)
    np.testing.assert_array_equal(d["poses"][:, 3:66], d["pose_body"])
    np.testing.assert_array_equal(d["poses"][:, 3:], res.pose[:, 1:].reshape(4, -1))  # only the root changes
    np.testing.assert_array_equal(d["poses"][:, :3], d["root_orient"])
    # The root joint's rest position J0 maps to its posed camera point J0 + t, which must land at the
    # Y-up point (x, -y, -z); and the body's rigid root part turns with R_x(180) * R_root.
    R = np.diag([1.0, -1.0, -1.0])
    for i in range(4):
        cam = j0 + res.transl[i]
        world = j0 + d["trans"][i]
        np.testing.assert_allclose(world, [cam[0], -cam[1], -cam[2]], atol=1e-6)
        x_rest = np.array([0.1, 0.3, -0.05])  # any point moving with the root
        x_cam = rotmat(res.pose[i, 0]) @ (x_rest - j0) + j0 + res.transl[i]
        x_world = rotmat(d["root_orient"][i]) @ (x_rest - j0) + j0 + d["trans"][i]
        np.testing.assert_allclose(x_world, R @ x_cam, atol=1e-5)


def test_amass_known_point():
    res = make_mesh_result(f=1)
    res.pose[:] = 0
    res.transl[:] = [0.5, 0.2, 3.0]  # pelvis rest at the origin: pelvis at (0.5, 0.2, 3) camera space
    a = amass_arrays(res, root_rest=np.zeros(3))
    np.testing.assert_allclose(a["trans"][0], [0.5, -0.2, -3.0], atol=1e-7)
    np.testing.assert_allclose(rotmat(a["root_orient"][0]), np.diag([1, -1, -1]), atol=1e-6)
    a = amass_arrays(res, root_rest=np.array([0.0, 0.1, 0.0]))  # J0 + t = (0.5, 0.3, 3) -> (0.5, -0.3, -3)
    np.testing.assert_allclose(a["trans"][0] + [0.0, 0.1, 0.0], [0.5, -0.3, -3.0], atol=1e-6)
    np.testing.assert_allclose(camera_to_yup(np.array([1.0, 2.0, 3.0])), [1.0, -2.0, -3.0])


def test_export_mesh_dispatch(tmp_path):
    res = make_mesh_result(f=2)
    paths = export_mesh(res, tmp_path / "objs", "obj")
    v, _ = parse_obj(paths[1])
    np.testing.assert_allclose(v, camera_to_yup(res.vertices[1]), atol=1e-6)
    with pytest.raises(HMError, match="2 frames"):
        export_mesh(res, tmp_path / "one.ply", "ply")
    one = make_mesh_result(f=1)
    assert export_mesh(one, tmp_path / "one.ply", "ply") == [tmp_path / "one.ply"]
    with pytest.raises(HMError, match="root_rest"):
        export_mesh(res, tmp_path / "a.npz", "amass")
    res.root_rest = np.zeros(3)
    export_mesh(res, tmp_path / "a.npz", "amass")
    assert (tmp_path / "a.npz").is_file() and not (tmp_path / "one.ply.npz").exists()
