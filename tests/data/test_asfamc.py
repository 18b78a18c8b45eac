from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hmcli.data.asfamc import (
    axis_rotation,
    euler_to_matrix,
    fk,
    fk_full,
    load_amc,
    load_asf,
    parse_amc,
    parse_asf,
)

from .helpers import TINY_ASF, TINY_SCALE, tiny_amc


@pytest.fixture
def tiny_asf_path(tmp_path: Path) -> Path:
    p = tmp_path / "tiny skeleton, v1.asf"
    p.write_text(TINY_ASF)
    return p


def test_units_and_bone_fields(tiny_asf_path: Path) -> None:
    sk = load_asf(tiny_asf_path)
    assert sk.length_scale == pytest.approx(0.0508)
    assert sk.name == "TINY"
    assert list(sk.bones) == ["a", "b", "c"]
    a, b, c = sk.bones["a"], sk.bones["b"], sk.bones["c"]
    assert a.length == pytest.approx(10 * 0.0508)
    assert b.length == pytest.approx(5 * 0.0508)
    np.testing.assert_allclose(a.direction, [0, 1, 0])  # "0 2 0" is normalised
    assert a.dof == ("rx", "ry", "rz") and b.dof == ("rx",) and c.dof == ()
    assert a.limits == ((-160.0, 20.0), (-70.0, 70.0), (-60.0, 70.0))
    np.testing.assert_allclose(b.axis_deg, [0, 0, 90])
    assert b.axis_order == "XYZ"
    assert sk.parent == {"a": "root", "c": "root", "b": "a"}
    assert sk.root_order == ("tx", "ty", "tz", "rx", "ry", "rz")
    assert sk.topological_order().index("a") < sk.topological_order().index("b")


def test_radian_units_convert_axis_to_degrees() -> None:
    text = TINY_ASF.replace("angle deg", "angle rad").replace("axis 0 0 90  XYZ", "axis 0 0 1.5707963267948966 XYZ")
    sk = parse_asf(text)
    np.testing.assert_allclose(sk.bones["b"].axis_deg, [0, 0, 90])


def test_euler_order_is_first_letter_first() -> None:
    ang = np.array([10.0, 20.0, 30.0])
    r = np.deg2rad(ang)
    expected = axis_rotation("Z", r[2]) @ axis_rotation("Y", r[1]) @ axis_rotation("X", r[0])
    np.testing.assert_allclose(euler_to_matrix(ang, "XYZ"), expected, atol=1e-12)
    # Rz(90) maps x to y.
    np.testing.assert_allclose(euler_to_matrix(np.array([0, 0, 90.0])) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    m = euler_to_matrix(np.random.default_rng(0).uniform(-180, 180, (5, 3)), "ZXY")
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), (5, 3, 3)), atol=1e-12)


def _fk_tiny(tmp_path: Path, frames: list[dict[str, list[float]]], header: str | None = None) -> dict[str, np.ndarray]:
    sk = parse_asf(TINY_ASF)
    amc = tmp_path / "01_02 - walk, turn around.amc"
    amc.write_text(tiny_amc(frames) if header is None else tiny_amc(frames, header))
    names, pos = fk(sk, load_amc(amc, sk))
    return {n: pos[:, i] for i, n in enumerate(names)}


def test_fk_hand_computed_positions(tmp_path: Path) -> None:
    s = TINY_SCALE
    root = [1.0, 2.0, 3.0]
    frames = [
        {"root": root + [0, 0, 0]},                        # rest pose
        {"root": root + [0, 0, 0], "a": [0, 0, 90]},        # a: Rz(90) sends +y to -x
        {"root": root + [0, 0, 0], "b": [90]},              # b: rx about its local x (= world y)
        {"root": root + [0, 0, 0], "a": [90, 0, 90]},       # rx applied first, then rz
        {"root": root + [0, 90, 0]},                        # root yaw moves c from +z to +x
    ]
    p = _fk_tiny(tmp_path, frames)
    r0 = np.array(root) * s
    np.testing.assert_allclose(p["root"], np.tile(r0, (5, 1)), atol=1e-12)
    exp_a = [r0 + [0, 10 * s, 0], r0 + [-10 * s, 0, 0], r0 + [0, 10 * s, 0], r0 + [0, 0, 10 * s], r0 + [0, 10 * s, 0]]
    np.testing.assert_allclose(p["a"], exp_a, atol=1e-9)
    # b hangs off a's end.  Frame 1: Rz(90) takes +x to +y.  Frame 2: axis Rz(90) turns
    # b's local x into world y, so rx=90 acts as Ry(90): +x -> -z.  Frame 3:
    # Rz(90) Rx(90) takes +x to +y.  Frame 4: root Ry(90) takes +x to -z.
    exp_b_off = [[5 * s, 0, 0], [0, 5 * s, 0], [0, 0, -5 * s], [0, 5 * s, 0], [0, 0, -5 * s]]
    np.testing.assert_allclose(p["b"] - p["a"], exp_b_off, atol=1e-9)
    exp_c_off = [[0, 0, 2 * s]] * 4 + [[2 * s, 0, 0]]
    np.testing.assert_allclose(p["c"] - p["root"], exp_c_off, atol=1e-9)


def test_radians_amc_matches_degrees(tmp_path: Path) -> None:
    deg = [{"root": [0, 0, 0, 10, 20, 30], "a": [15, -25, 40], "b": [33]}]
    rad = [{"root": [0, 0, 0] + list(np.deg2rad([10, 20, 30])), "a": list(np.deg2rad([15, -25, 40])),
            "b": list(np.deg2rad([33]))}]
    p_deg = _fk_tiny(tmp_path, deg)
    p_rad = _fk_tiny(tmp_path, rad, header=":FULLY-SPECIFIED\n:RADIANS\n")
    for k in p_deg:
        np.testing.assert_allclose(p_rad[k], p_deg[k], atol=1e-6)


def test_bone_lengths_constant_under_random_motion() -> None:
    rng = np.random.default_rng(3)
    sk = parse_asf(TINY_ASF)
    frames = [{"root": list(rng.uniform(-50, 50, 3)) + list(rng.uniform(-180, 180, 3)),
               "a": list(rng.uniform(-180, 180, 3)), "b": [float(rng.uniform(-180, 180))]} for _ in range(20)]
    res = fk_full(sk, parse_amc(tiny_amc(frames), skeleton=sk))
    idx = {n: i for i, n in enumerate(res.names)}
    for bone, parent in sk.parent.items():
        d = np.linalg.norm(res.positions[:, idx[bone]] - res.positions[:, idx[parent]], axis=-1)
        np.testing.assert_allclose(d, sk.bones[bone].length, rtol=1e-10)
    rot = res.rotations.reshape(-1, 3, 3)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-10)


def test_amc_parse_frames_and_values(tmp_path: Path) -> None:
    sk = parse_asf(TINY_ASF)
    m = parse_amc(tiny_amc([{"a": [1, 2, 3]}, {"a": [4, 5, 6]}]), skeleton=sk)
    assert m.num_frames == 2
    np.testing.assert_array_equal(m.frame_numbers, [1, 2])
    np.testing.assert_array_equal(m.values["a"], [[1, 2, 3], [4, 5, 6]])
    assert m.values["root"].shape == (2, 6)


def test_amc_errors_name_file_and_line(tmp_path: Path) -> None:
    sk = parse_asf(TINY_ASF)
    good = tiny_amc([{}, {}]).splitlines()
    bad_num = list(good)
    bad_num[5] = "a 1 x 3"  # line 6 (lines: comment, 2 keywords, "1", root, a, ...)
    p = tmp_path / "09_01 - run, fast.amc"
    p.write_text("\n".join(bad_num) + "\n")
    with pytest.raises(ValueError, match=r"09_01 - run, fast\.amc:6:"):
        load_amc(p, sk)
    # wrong value count for a dof
    wrong = list(good)
    wrong[5] = "a 1 2"
    with pytest.raises(ValueError, match=r":6:.*'a'"):
        parse_amc("\n".join(wrong), source="x.amc", skeleton=sk)
    # a bone missing in the second frame
    missing = [ln for i, ln in enumerate(good) if i != 9]  # drops "a" of frame 2
    with pytest.raises(ValueError, match="missing bones"):
        parse_amc("\n".join(missing), source="x.amc", skeleton=sk)
    # unknown bone
    with pytest.raises(ValueError, match="not in skeleton"):
        parse_amc(":DEGREES\n1\nroot 0 0 0 0 0 0\nzzz 1\n", source="x.amc", skeleton=sk)


def test_asf_errors_name_file_and_line(tmp_path: Path) -> None:
    lines = TINY_ASF.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.strip() == "length 5")
    lines[i] = "     length five"
    p = tmp_path / "bad, one.asf"
    p.write_text("\n".join(lines))
    with pytest.raises(ValueError, match=rf"bad, one\.asf:{i + 1}:"):
        load_asf(p)
    with pytest.raises(ValueError, match="unknown parent"):
        parse_asf(TINY_ASF.replace("    a b\n", "    q b\n"))
    with pytest.raises(ValueError, match="no 'length'"):
        parse_asf(TINY_ASF.replace("     length 2\n", ""))
