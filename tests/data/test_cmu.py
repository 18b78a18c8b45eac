from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hmcli.data.asfamc import fk, fk_full, parse_amc, parse_asf
from hmcli.data.cmu import (
    ACTIONS,
    H36M17_NAMES,
    NOSE_OFFSET_M,
    action_from_description,
    cmu_to_h36m,
    estimate_fps_gravity,
    load_cmu_dir,
    load_cmu_sources,
    parse_amc_filename,
)

from .helpers import MINI_SCALE, mini_cmu_amc, mini_cmu_asf


def test_joint_names_order() -> None:
    assert H36M17_NAMES[0] == "pelvis" and H36M17_NAMES[9] == "nose" and H36M17_NAMES[16] == "right_wrist"
    assert len(H36M17_NAMES) == 17


@pytest.mark.parametrize(
    "desc, action",
    [
        ("walk", "walk"),
        ("run", "run"),
        ("forward jump", "jump"),
        ("streching, jumping jacks, side twists, squats, jog", "stretch"),
        ("dance, small jetes, pirouette", "dance"),
        ("dance, lindyHop2", "dance"),
        ("basketball ", "basketball"),
        ("kick soccer ball", "sports"),
        ("", "misc"),
        ("sit on stool", "misc"),
    ],
)
def test_action_rules(desc: str, action: str) -> None:
    assert action_from_description(desc) == action
    assert action in ACTIONS


@pytest.mark.parametrize(
    "name, expected",
    [
        ("05_10  dance, glissade devant, attitudearabesque.amc", ("05", "10", "dance, glissade devant, attitudearabesque")),
        ("16_08  - run.amc", ("16", "08", "run")),
        ("06_12 - basketball .amc", ("06", "12", "basketball")),
        ("2_01.amc", ("02", "01", "")),
    ],
)
def test_parse_amc_filename(name: str, expected: tuple[str, str, str]) -> None:
    assert parse_amc_filename(name) == expected


def test_parse_amc_filename_rejects_other_names() -> None:
    with pytest.raises(ValueError):
        parse_amc_filename("walk.amc")


def _rest_h36m(rotations: bool) -> np.ndarray:
    sk = parse_asf(mini_cmu_asf())
    motion = parse_amc(mini_cmu_amc(np.array([[0.0, 20.0, 0.0]])), skeleton=sk)
    res = fk_full(sk, motion)
    return cmu_to_h36m(res.positions, res.names, res.rotations if rotations else None)[0]


def test_mapping_rest_pose_known_points() -> None:
    s = MINI_SCALE
    j = _rest_h36m(rotations=True)
    root = np.array([0.0, 20.0, 0.0]) * s
    h = 2.0 / np.sqrt(2.0) * s  # hip joint offsets along (+-1, -1, 0)
    np.testing.assert_allclose(j[0], root, atol=1e-9)
    np.testing.assert_allclose(j[4], root + [h, -h, 0], atol=1e-9)          # left hip
    np.testing.assert_allclose(j[1], root + [-h, -h, 0], atol=1e-9)         # right hip
    np.testing.assert_allclose(j[5], j[4] + [0, -8 * s, 0], atol=1e-9)      # left knee
    np.testing.assert_allclose(j[6], j[5] + [0, -7 * s, 0], atol=1e-9)      # left ankle
    np.testing.assert_allclose(j[7], root + [0, 3 * s, 0], atol=1e-9)       # spine: mid upperback
    np.testing.assert_allclose(j[8], root + [0, 6 * s, 0], atol=1e-9)       # thorax end
    np.testing.assert_allclose(j[9], root + [0, 9 * s, 0] + NOSE_OFFSET_M, atol=1e-9)
    np.testing.assert_allclose(j[10], root + [0, 10.5 * s, 0], atol=1e-9)   # head end
    np.testing.assert_allclose(j[11], j[8] + [3 * s, 0, 0], atol=1e-9)      # left shoulder (+x)
    np.testing.assert_allclose(j[13], j[11] + [9 * s, 0, 0], atol=1e-9)     # left wrist
    np.testing.assert_allclose(j[16], j[8] + [-12 * s, 0, 0], atol=1e-9)    # right wrist
    # Without rotations the nose direction comes from shoulders/neck: same in rest pose.
    np.testing.assert_allclose(_rest_h36m(rotations=False), j, atol=1e-9)


def test_nose_turns_with_head() -> None:
    sk = parse_asf(mini_cmu_asf())
    head = np.array([[0.0, 90.0, 0.0]])  # head yaw 90 deg: forward +z -> +x
    motion = parse_amc(mini_cmu_amc(np.zeros((1, 3)), {"head": head}), skeleton=sk)
    res = fk_full(sk, motion)
    j = cmu_to_h36m(res.positions, res.names, res.rotations)[0]
    idx = res.names.index("upperneck")
    np.testing.assert_allclose(j[9] - res.positions[0, idx], [0.09, 0.01, 0.0], atol=1e-9)


def test_missing_bone_rejected() -> None:
    sk = parse_asf(mini_cmu_asf())
    names, pos = fk(sk, parse_amc(mini_cmu_amc(np.zeros((1, 3))), skeleton=sk))
    keep = [i for i, n in enumerate(names) if n != "head"]
    with pytest.raises(ValueError, match="head"):
        cmu_to_h36m(pos[:, keep], [names[i] for i in keep])


def _write_tree(root: Path) -> None:
    (root / "Rotations" / "asf").mkdir(parents=True)
    (root / "Rotations" / "Training").mkdir()
    (root / "Rotations" / "Testing").mkdir()
    (root / "Rotations" / "asf" / "07.asf").write_text(mini_cmu_asf())
    walk = np.stack([np.linspace(0, 20, 30), np.full(30, 17.0), np.zeros(30)], axis=1)
    (root / "Rotations" / "Training" / "07_01 - walk, turn around.amc").write_text(mini_cmu_amc(walk))
    (root / "Rotations" / "Testing" / "07_01 - walk, turn around.amc").write_text(mini_cmu_amc(walk))
    (root / "Rotations" / "Testing" / "07_02  dance, whirl.amc").write_text(mini_cmu_amc(walk[:10]))
    (root / "Rotations" / "Testing" / "35_18 - run.amc").write_text(mini_cmu_amc(walk[:5]))
    # full-CMU-zip layout: ASF and AMC side by side
    (root / "subjects" / "8").mkdir(parents=True)
    (root / "subjects" / "8" / "08.asf").write_text(mini_cmu_asf())
    (root / "subjects" / "8" / "08_03.amc").write_text(mini_cmu_amc(walk[:12]))


def test_load_cmu_dir(tmp_path: Path) -> None:
    _write_tree(tmp_path)
    with pytest.warns(UserWarning) as rec:
        seqs = load_cmu_dir(tmp_path, fps_overrides={"08_03": 60.0})
    msgs = " ".join(str(w.message) for w in rec)
    assert "35" in msgs and "no ASF" in msgs
    assert "07_01 found twice" in msgs
    assert [(s.subject, s.trial) for s in seqs] == [("07", "01"), ("07", "02"), ("08", "03")]
    walk, dance, other = seqs
    assert walk.description == "walk, turn around" and walk.action == "walk"
    assert dance.description == "dance, whirl" and dance.action == "dance"
    assert other.description == "" and other.action == "misc"
    assert walk.fps == 120.0 and other.fps == 60.0
    assert walk.joints.shape == (30, 17, 3) and walk.joints.dtype == np.float32
    assert dance.joints.shape == (10, 17, 3)
    # Root translation in metres, Y up; pelvis is joint 0.
    np.testing.assert_allclose(walk.joints[:, 0, 0], np.linspace(0, 20, 30) * MINI_SCALE, atol=1e-6)
    np.testing.assert_allclose(walk.joints[:, 0, 1], 17.0 * MINI_SCALE, atol=1e-6)
    assert (walk.joints[:, 10, 1] > walk.joints[:, 3, 1]).all()  # head above ankles
    only = load_cmu_dir(tmp_path, subjects=["8"])
    assert [s.trial_id for s in only] == ["08_03"]


def _ballistic(fps: float, g: float = 9.81) -> np.ndarray:
    """Standing 0.5 s, a 0.5 s jump (apex 0.31 m), standing 0.5 s; (F, 17, 3) metres."""
    t = np.arange(int(1.5 * fps)) / fps
    flight = (t >= 0.5) & (t < 1.0)
    tf = t - 0.5
    lift = np.where(flight, 0.5 * g * tf * (0.5 - tf), 0.0)  # zero at take-off and landing
    base = np.zeros((17, 3))
    base[:, 1] = np.linspace(0.1, 1.7, 17)
    base[3, 1] = base[6, 1] = 0.08  # ankles
    return base[None] + lift[:, None, None] * np.array([0.0, 1.0, 0.0])


def test_estimate_fps_gravity() -> None:
    assert estimate_fps_gravity(_ballistic(120.0)) == 120.0
    assert estimate_fps_gravity(_ballistic(60.0)) == 60.0
    standing = _ballistic(120.0, g=0.0)
    assert estimate_fps_gravity(standing) is None


def test_cache_only_when_asked(tmp_path: Path) -> None:
    data = tmp_path / "db"
    _write_tree(data)
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.warns(UserWarning):
        plain = load_cmu_dir(data)
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written
    cache = tmp_path / "cache" / "cmu.npz"
    with pytest.warns(UserWarning):
        first = load_cmu_dir(data, cache=cache)
    assert cache.is_file()
    second = load_cmu_dir(data, cache=cache)  # served from the cache: no parsing, no warnings
    assert [s.trial_id for s in second] == [s.trial_id for s in plain] == [s.trial_id for s in first]
    for a, b in zip(plain, second):
        np.testing.assert_array_equal(a.joints, b.joints)
        assert (a.description, a.action, a.fps, a.path) == (b.description, b.action, b.fps, b.path)
    with pytest.warns(UserWarning):  # different parameters -> rebuilt
        rebuilt = load_cmu_dir(data, cache=cache, default_fps=60.0)
    assert {s.fps for s in rebuilt} == {60.0}


def _write(path: Path, text: str, crlf: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", "\r\n" if crlf else "\n").encode("ascii"))


def _motion(frames: int, step: float) -> str:
    root = np.stack([np.arange(frames) * step, np.full(frames, 20.0), np.zeros(frames)], axis=1)  # (F, 3)
    return mini_cmu_amc(root, {"lfemur": np.tile([20.0, 0.0, 0.0], (frames, 1))})


def test_crlf_files_read_like_lf_files(tmp_path: Path) -> None:
    _write(tmp_path / "lf" / "01.asf", mini_cmu_asf())
    _write(tmp_path / "lf" / "01_01.amc", _motion(12, 1.0))
    _write(tmp_path / "crlf" / "01.asf", mini_cmu_asf(), crlf=True)
    _write(tmp_path / "crlf" / "01_01.amc", _motion(12, 1.0), crlf=True)
    assert b"\r\n" in (tmp_path / "crlf" / "01_01.amc").read_bytes()
    (a,), (b,) = load_cmu_dir(tmp_path / "lf"), load_cmu_dir(tmp_path / "crlf")
    np.testing.assert_array_equal(a.joints, b.joints)
    assert (b.subject, b.trial, b.description, b.action) == ("01", "01", "", "misc")  # names without descriptions


def _extra_layout(tmp_path: Path) -> tuple[Path, Path]:
    """A main folder (CMU names with descriptions) and a CRLF extra folder like cmu-amc-extra."""
    main, extra = tmp_path / "main", tmp_path / "extra"
    for subj in ("05", "02", "09"):
        _write(main / "asf" / f"{subj}.asf", mini_cmu_asf())
        _write(main / "Training" / f"{subj}_01 - walk.amc", _motion(10, 1.0))
    for name in ("01", "02", "09"):
        _write(extra / f"{name}.asf", mini_cmu_asf(), crlf=True)
    _write(extra / "01_01.amc", _motion(10, 2.0), crlf=True)  # a new subject
    _write(extra / "02_01.amc", _motion(10, 3.0), crlf=True)  # same trial as main's "02_01 - walk": skipped
    _write(extra / "02_04.amc", _motion(10, 3.0), crlf=True)  # a new trial of a known subject
    _write(extra / "09_05.amc", _motion(10, 3.0), crlf=True)  # a held-out subject
    return main, extra


def test_extra_sources_join_without_duplicates(tmp_path: Path) -> None:
    main, extra = _extra_layout(tmp_path)
    seqs = load_cmu_sources(main, [str(extra)])
    assert [s.trial_id for s in seqs] == ["01_01", "02_01", "02_04", "05_01", "09_01", "09_05"]
    dup = next(s for s in seqs if s.trial_id == "02_01")
    assert dup.path.startswith(str(main)) and dup.action == "walk"  # the first source wins
    assert next(s for s in seqs if s.trial_id == "02_04").path.startswith(str(extra))
    assert [s.trial_id for s in load_cmu_sources(main)] == ["02_01", "05_01", "09_01"]


def test_load_cmu_dir_keeps_the_trials_asked_for(tmp_path: Path) -> None:
    main, extra = _extra_layout(tmp_path)
    assert [s.trial_id for s in load_cmu_dir(extra, trials={"02_04", "01_01", "77_01"})] == ["01_01", "02_04"]
    assert [s.trial_id for s in load_cmu_dir(main, trials={"02_01"})] == ["02_01"]  # names with descriptions too
    assert load_cmu_dir(extra, trials=set()) == []


def test_extra_data_never_reaches_the_test_split(tmp_path: Path) -> None:
    from hmcli.io.atomic import HMError
    from hmcli.train.trainer import load_split

    main, extra = _extra_layout(tmp_path)
    ids = lambda split, more: [s.trial_id for s in load_split(str(main), split, more)]
    assert ids("train", [str(extra)]) == ["01_01", "05_01"]
    assert ids("val", [str(extra)]) == ["02_01", "02_04"]
    assert ids("test", [str(extra)]) == ids("test", []) == ["09_01"]  # 09 and 49 stay held out, as before
    assert ids("train", []) == ["05_01"]
    with pytest.raises(HMError, match="extra data directory not found"):
        load_split(str(main), "train", [str(tmp_path / "nowhere")])
