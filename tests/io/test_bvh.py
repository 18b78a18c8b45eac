import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.bvh import (
    REST_DIRECTIONS,
    bvh_fk,
    bvh_to_camera,
    camera_to_bvh,
    euler_zxy_from_matrix,
    matrix_from_euler_zxy,
    read_bvh,
    write_bvh,
)
from hmcli.skeleton import H36M17

PARENTS = H36M17.parents
# Bone lengths in metres for the bone ending at each joint (root: 0).
LENGTHS = np.array([0, .13, .45, .44, .13, .45, .44, .23, .25, .12, .11, .15, .28, .25, .15, .28, .25])  # fmt: skip


def random_rotations(rng, shape, max_angle=np.pi):
    axis = rng.normal(size=shape + (3,))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    ang = rng.uniform(-max_angle, max_angle, size=shape)
    k = np.zeros(shape + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    s, c = np.sin(ang)[..., None, None], np.cos(ang)[..., None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def posed_skeleton(f=20, seed=0, max_angle=np.pi, root_shift=True):
    """Camera-axes metres (F, 17, 3) from random per-joint rotations of the rest skeleton."""
    rng = np.random.default_rng(seed)
    rots = random_rotations(rng, (f, 17), max_angle)
    offsets = REST_DIRECTIONS * LENGTHS[:, None] * 100.0
    pos = np.zeros((f, 17, 3))
    glob = np.zeros((f, 17, 3, 3))
    for j, p in enumerate(PARENTS):
        if p < 0:
            glob[:, j] = rots[:, j]
            pos[:, j] = rng.normal(0, 30, (f, 3)) if root_shift else 0
        else:
            glob[:, j] = glob[:, p] @ rots[:, j]
            pos[:, j] = pos[:, p] + np.einsum("fij,j->fi", glob[:, p], offsets[j])
    return bvh_to_camera(pos)


def test_euler_matrix_round_trip_random():
    rng = np.random.default_rng(1)
    mats = random_rotations(rng, (2000,))
    ang = euler_zxy_from_matrix(mats)
    assert np.all(np.abs(ang[:, 1]) <= 90 + 1e-9)
    np.testing.assert_allclose(matrix_from_euler_zxy(ang), mats, atol=1e-10)


@pytest.mark.parametrize("x", [90.0, -90.0, 89.9999999, -89.99999])
def test_euler_gimbal_lock(x):
    ang = np.array([[35.0, x, -20.0], [-170.0, x, 100.0]])
    mats = matrix_from_euler_zxy(ang)
    np.testing.assert_allclose(matrix_from_euler_zxy(euler_zxy_from_matrix(mats)), mats, atol=1e-8)


def test_euler_order_is_z_then_x_then_y_matrix_product():
    # Rz(90) alone maps X to Y; with R = Rz Rx Ry a vector is rotated by Ry first.
    np.testing.assert_allclose(matrix_from_euler_zxy([90, 0, 0]) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(matrix_from_euler_zxy([0, 90, 0]) @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(matrix_from_euler_zxy([0, 0, 90]) @ [0, 0, 1], [1, 0, 0], atol=1e-12)
    # Ry(90): Z -> X, then Rx(90): X stays, then Rz(90): X -> Y.
    np.testing.assert_allclose(matrix_from_euler_zxy([90, 90, 90]) @ [0, 0, 1], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(euler_zxy_from_matrix(matrix_from_euler_zxy([10, 20, 30])), [10, 20, 30])


def test_round_trip_positions_within_1mm(tmp_path):
    j3 = posed_skeleton(f=60, seed=3)
    out = tmp_path / "a.bvh"
    write_bvh(out, j3, fps=30)
    hier, motion = read_bvh(out)
    back = bvh_to_camera(bvh_fk(hier, motion))
    err = np.linalg.norm(back - j3, axis=-1)
    assert err.max() < 1e-3  # metres
    assert err.max() < 1e-5  # in fact exact up to the 5 written decimals


def test_round_trip_small_rotations_and_root_relative(tmp_path):
    j3 = posed_skeleton(f=30, seed=4, max_angle=0.6, root_shift=False)
    write_bvh(tmp_path / "b.bvh", j3, fps=25)
    back = bvh_to_camera(bvh_fk(*read_bvh(tmp_path / "b.bvh")))
    assert np.abs(back - j3).max() < 1e-5
    np.testing.assert_allclose(back[:, 0], 0.0, atol=1e-9)


def test_file_structure(tmp_path):
    j3 = posed_skeleton(f=7, seed=5)
    out = tmp_path / "s.bvh"
    write_bvh(out, j3, fps=24)
    lines = out.read_text().splitlines()
    assert lines[0] == "HIERARCHY" and lines[1] == "ROOT pelvis"
    m = lines.index("MOTION")
    assert lines[m + 1] == "Frames: 7"
    assert lines[m + 2].startswith("Frame Time: ")
    assert float(lines[m + 2].split(":")[1]) == pytest.approx(1 / 24, abs=1e-8)
    body = lines[m + 3 :]
    assert len(body) == 7 and all(len(line.split()) == 6 + 3 * 11 for line in body)
    hier, motion = read_bvh(out)
    assert motion.values.shape == (7, 39) and motion.frame_time == pytest.approx(1 / 24, abs=1e-8)
    assert hier.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
    assert all(c == ("Zrotation", "Xrotation", "Yrotation") for c, e in zip(hier.channels[1:], hier.is_end_site[1:]) if not e)
    # Depth-first order is the H36M order; leaves are end sites.
    assert hier.parents == list(PARENTS)
    ends = [H36M17.joints[i] for i, e in enumerate(hier.is_end_site) if e]
    assert ends == ["right_ankle", "left_ankle", "head", "left_wrist", "right_wrist"]
    assert [n for n, e in zip(hier.names, hier.is_end_site) if not e] == [
        j for i, j in enumerate(H36M17.joints) if not hier.is_end_site[i]
    ]
    thorax = H36M17.index("thorax")
    assert [c for c, p in enumerate(hier.parents) if p == thorax] == [9, 11, 14]
    assert out.read_text().count("{") == out.read_text().count("}") == 17


def test_offsets_are_median_bone_lengths_along_rest_directions(tmp_path):
    j3 = posed_skeleton(f=9, seed=6, root_shift=False)
    # Stretch the right shin differently per frame: the file must use the median length.
    knee, ankle = H36M17.index("right_knee"), H36M17.index("right_ankle")
    scale = np.linspace(0.8, 1.2, 9)[:, None]
    j3[:, ankle] = j3[:, knee] + (j3[:, ankle] - j3[:, knee]) * scale
    write_bvh(tmp_path / "m.bvh", j3, fps=30)
    hier, _ = read_bvh(tmp_path / "m.bvh")
    np.testing.assert_allclose(hier.offsets[ankle], [0, -44.0, 0], atol=1e-4)
    np.testing.assert_allclose(hier.offsets[H36M17.index("left_shoulder")], [15.0, 0, 0], atol=1e-4)
    np.testing.assert_allclose(hier.offsets[H36M17.index("spine")], [0, 23.0, 0], atol=1e-4)
    np.testing.assert_allclose(hier.offsets[0], 0.0)


def test_camera_axes_become_y_up_centimetres(tmp_path):
    # An upright subject facing the camera: head at negative camera y, its left at +x.
    j3 = np.zeros((2, 17, 3))
    for name, p in [("right_hip", (-.1, 0, 0)), ("right_knee", (-.1, .45, 0)), ("right_ankle", (-.1, .9, 0)),
                    ("left_hip", (.1, 0, 0)), ("left_knee", (.1, .45, 0)), ("left_ankle", (.1, .9, 0)),
                    ("spine", (0, -.25, 0)), ("thorax", (0, -.5, 0)), ("nose", (0, -.6, -.05)),
                    ("head", (0, -.7, 0)), ("left_shoulder", (.18, -.5, 0)), ("left_elbow", (.18, -.25, 0)),
                    ("left_wrist", (.18, 0, -.2)), ("right_shoulder", (-.18, -.5, 0)),
                    ("right_elbow", (-.18, -.25, 0)), ("right_wrist", (-.18, 0, -.2))]:  # fmt: skip
        j3[:, H36M17.index(name)] = p
    np.testing.assert_allclose(camera_to_bvh(j3[0, 10]), [0, 70, 0])
    write_bvh(tmp_path / "u.bvh", j3, fps=30)
    pos = bvh_fk(*read_bvh(tmp_path / "u.bvh"))
    head, wrist = pos[0, H36M17.index("head")], pos[0, H36M17.index("left_wrist")]
    assert head[1] > 60 and wrist[2] > 15 and wrist[0] > 15  # up, towards the camera (+Z), left (+X)
    np.testing.assert_allclose(bvh_to_camera(pos), j3, atol=2e-5)


def test_nan_frames_repeat_nearest_valid_pose(tmp_path):
    j3 = posed_skeleton(f=6, seed=7, root_shift=False)
    j3[0] = np.nan
    j3[3, 5] = np.nan
    write_bvh(tmp_path / "n.bvh", j3, fps=30)
    back = bvh_to_camera(bvh_fk(*read_bvh(tmp_path / "n.bvh")))
    np.testing.assert_allclose(back[0], j3[1], atol=1e-5)
    np.testing.assert_allclose(back[3], j3[2], atol=1e-5)
    np.testing.assert_allclose(back[4], j3[4], atol=1e-5)


def test_write_errors(tmp_path):
    out = tmp_path / "e.bvh"
    with pytest.raises(HMError, match="no frame has finite"):
        write_bvh(out, np.full((3, 17, 3), np.nan), fps=30)
    with pytest.raises(HMError, match="fps"):
        write_bvh(out, posed_skeleton(f=2), fps=0)
    with pytest.raises(ValueError, match="17"):
        write_bvh(out, np.zeros((3, 16, 3)), fps=30)
    assert list(tmp_path.iterdir()) == []


def _sample(tmp_path):
    out = tmp_path / "ok.bvh"
    write_bvh(out, posed_skeleton(f=3, seed=8), fps=30)
    return out, out.read_text().splitlines()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda ls: ls[:-1], "header says 3 frames, file has 2"),
        (lambda ls: ls[:-1] + [ls[-1] + " 0.0"], "40 values, expected 39 channels"),
        (lambda ls: ls[:-1] + [ls[-1].replace(" ", " x", 1)], "non-numeric"),
        (lambda ls: [line for line in ls if line != "MOTION"], "no MOTION section"),
        (lambda ls: [line.replace("Zrotation", "Qrotation", 1) for line in ls], "bad channel list"),
        (lambda ls: [line.replace("Frame Time: ", "Frame Time: -", 1) for line in ls], "Frame Time > 0"),
        (lambda ls: [x for i, x in enumerate(ls) if i != 3], "expected 'OFFSET'"),
        (lambda ls: ls[:1] + ["JUNK"] + ls[1:], "expected 'ROOT'"),
    ],
)
def test_strict_parser_rejects(tmp_path, mutate, message):
    out, lines = _sample(tmp_path)
    out.write_text("\n".join(mutate(lines)) + "\n")
    with pytest.raises(HMError, match=message):
        read_bvh(out)


def test_fk_applies_channel_order_and_root_position():
    from hmcli.io.bvh import BVHHierarchy, BVHMotion

    hier = BVHHierarchy(
        names=["root", "a", "a_end"],
        parents=[-1, 0, 1],
        offsets=np.array([[0.0, 0, 0], [0, 10, 0], [10, 0, 0]]),
        channels=[ROOT := ("Xposition", "Yposition", "Zposition", "Yrotation", "Xrotation", "Zrotation"),
                  ("Zrotation", "Xrotation", "Yrotation"), ()],  # fmt: skip
        is_end_site=[False, False, True],
    )
    assert len(ROOT) == 6 and hier.num_channels == 9
    # Root turned 90 deg about Y (listed first), joint a turned 90 deg about Z.
    pos = bvh_fk(hier, BVHMotion(1 / 30, np.array([[1.0, 2, 3, 90, 0, 0, 90, 0, 0]])))
    np.testing.assert_allclose(pos[0, 0], [1, 2, 3])
    np.testing.assert_allclose(pos[0, 1], [1, 12, 3], atol=1e-12)
    # a's X offset: Rz(90) -> +Y, then root Ry(90) leaves Y alone.
    np.testing.assert_allclose(pos[0, 2], [1, 22, 3], atol=1e-12)
