"""The learned BlazePose-33 -> H36M-17 map (issue #35)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hmcli.skeleton import to_h36m
from hmcli.skeleton.blazepose_map import (CMU_WEIGHTS, SOURCES, apply_matrix, cmu_matrix, default_matrix,
                                          fit_affine_map, weights_from_matrix)
from hmcli.skeleton.joints import BLAZEPOSE33, H36M17

BENCH = Path(__file__).resolve().parents[2] / "bench_results" / "detector-2d.json"


def _standing(n: int = 1) -> np.ndarray:
    """(n, 33, 3) a frontal standing BlazePose skeleton, 1 unit ~ 1 px, y down, conf 1."""
    pos = {"nose": (0, 10), "left_eye": (4, 6), "right_eye": (-4, 6), "left_eye_inner": (2, 6),
           "right_eye_inner": (-2, 6), "left_eye_outer": (6, 6), "right_eye_outer": (-6, 6),
           "left_ear": (9, 8), "right_ear": (-9, 8), "mouth_left": (3, 15), "mouth_right": (-3, 15),
           "left_shoulder": (20, 35), "right_shoulder": (-20, 35), "left_elbow": (24, 70),
           "right_elbow": (-24, 70), "left_wrist": (26, 100), "right_wrist": (-26, 100),
           "left_hip": (12, 100), "right_hip": (-12, 100), "left_knee": (13, 145), "right_knee": (-13, 145),
           "left_ankle": (13, 190), "right_ankle": (-13, 190), "left_heel": (13, 195), "right_heel": (-13, 195)}
    k = np.zeros((n, 33, 3))
    k[..., 2] = 1.0
    for name, (x, y) in pos.items():
        k[:, BLAZEPOSE33.index(name), :2] = (-x, y)
    for name in BLAZEPOSE33.joints:                   # hands and feet tips on their wrist / ankle
        if name not in pos:
            side = "left" if name.startswith("left") else "right"
            k[:, BLAZEPOSE33.index(name), :2] = k[0, BLAZEPOSE33.index(f"{side}_{'ankle' if 'foot' in name else 'wrist'}"), :2]
    return k


def test_default_matrix_is_todays_mapping():
    k = np.random.default_rng(0).normal(size=(4, 33, 3))
    np.testing.assert_allclose(apply_matrix(k, default_matrix()), to_h36m(k, "blazepose33"), atol=1e-12)


def test_cmu_map_rows_sum_to_one_within_sources_and_is_similarity_equivariant():
    m = cmu_matrix()
    np.testing.assert_allclose(m.sum(1), 1.0, atol=1e-9)
    for j, name in enumerate(H36M17.joints):
        assert set(np.flatnonzero(m[j])) <= {BLAZEPOSE33.index(s) for s in SOURCES[name]}
    k = np.random.default_rng(1).normal(size=(5, 33, 2)) * 50
    a = np.deg2rad(30.0)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * 1.7
    shift = np.array([300.0, -40.0])
    np.testing.assert_allclose(apply_matrix(k @ rot.T + shift, m), apply_matrix(k, m) @ rot.T + shift, atol=1e-9)


def test_cmu_map_moves_torso_joints_the_measured_way():
    """Pelvis up (towards the shoulders), thorax down (towards the hips), head above the eyes."""
    k = _standing()
    old = to_h36m(k, "blazepose33")[0]
    new = to_h36m(k, "blazepose33", blazepose_map="cmu")[0]
    torso = old[0, 1] - old[8, 1]                                   # px, pelvis below thorax
    up = lambda j: (old[j, 1] - new[j, 1]) / torso                  # noqa: E731  moved up, in torso lengths
    assert 0.1 < up(0) < 0.3                                        # pelvis (measured: 5 % of the height)
    assert -0.15 < up(8) < -0.02                                    # thorax
    assert up(10) > 0.1                                             # head
    np.testing.assert_array_equal(new[:, 2], old[:, 2])             # confidences unchanged


def test_weights_bound_to_the_benchmark_that_fitted_them():
    res = json.loads(BENCH.read_text())
    assert res["fitted_weights"] == CMU_WEIGHTS
    today = res["pattern"]["held-out, today's mapping"]
    fitted = res["pattern"]["held-out, fitted mapping"]
    assert fitted["mpjpe_2d"] == pytest.approx(0.0177, abs=5e-4) and today["mpjpe_2d"] == pytest.approx(0.0253, abs=5e-4)
    lift = res["lift"]
    assert lift["detector, fitted mapping"]["mpjpe_truth_mm"] == pytest.approx(96.1, abs=0.1)
    assert lift["detector, today's mapping"]["mpjpe_truth_mm"] == pytest.approx(111.5, abs=0.1)


def test_fit_recovers_a_known_affine_map():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 33, 2)) * 40 + 200
    truth = default_matrix()
    ls, rs, lh, rh = (BLAZEPOSE33.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
    truth[0, [lh, rh, ls, rs]] = (0.45, 0.45, 0.05, 0.05)          # pelvis 10 % towards the shoulders
    target = np.einsum("jk,nkc->njc", truth, x)
    m = fit_affine_map(x, target, np.full(400, 100.0), ridge=1e-8)
    np.testing.assert_allclose(m, truth, atol=1e-6)
    assert weights_from_matrix(m)["pelvis"] == pytest.approx({"left_hip": 0.45, "right_hip": 0.45,
                                                              "left_shoulder": 0.05, "right_shoulder": 0.05})


def test_to_h36m_option_torch_and_errors():
    k = np.random.default_rng(3).normal(size=(2, 33, 3)).astype(np.float32)
    out_np = to_h36m(k, "blazepose33", blazepose_map="cmu")
    out_t = to_h36m(torch.from_numpy(k), "blazepose33", blazepose_map="cmu")
    np.testing.assert_allclose(out_t.numpy(), out_np, atol=1e-5)
    assert to_h36m(k[..., :2], "blazepose33", blazepose_map="cmu").shape == (2, 17, 2)
    coco = k[:, :17]
    np.testing.assert_array_equal(to_h36m(coco, "coco17", blazepose_map="cmu"), to_h36m(coco, "coco17"))
    with pytest.raises(ValueError):
        to_h36m(k, "blazepose33", blazepose_map="nope")


def test_lifter_input_uses_the_cmu_map_for_blazepose():
    from hmcli import lift

    assert lift.BLAZEPOSE_MAP == "cmu"

    class _LM:  # only the codec is used
        class codec:
            @staticmethod
            def encode_2d(xy, conf, w, h):
                return np.concatenate([xy, conf[..., None]], axis=-1)

    k = _standing(3)
    xy, conf, _ = lift.to_model_input(_LM(), k[..., :2], k[..., 2], "blazepose33", 640, 480)
    np.testing.assert_allclose(xy, to_h36m(k, "blazepose33", blazepose_map="cmu")[..., :2], atol=1e-4)
    xy0, _, _ = lift.to_model_input(_LM(), k[..., :2], k[..., 2], "blazepose33", 640, 480, blazepose_map="midpoints")
    np.testing.assert_allclose(xy0, to_h36m(k, "blazepose33")[..., :2], atol=1e-4)


def test_world_to_h36m_maps_every_coordinate_and_commutes_with_3d_similarities():
    from hmcli.skeleton.blazepose_map import world_to_h36m

    rng = np.random.default_rng(2)
    w = rng.normal(size=(6, 33, 3))
    for name, m in (("cmu", cmu_matrix()), ("midpoints", default_matrix())):
        out = world_to_h36m(w, name)
        assert out.shape == (6, 17, 3)
        # x, y as apply_matrix maps 2D positions; z the same way (no confidence channel)
        np.testing.assert_allclose(out[..., :2], apply_matrix(w[..., :2], m), atol=1e-12)
        np.testing.assert_allclose(out[..., 2:], apply_matrix(w[..., 1:], m)[..., 1:], atol=1e-12)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    moved = 0.8 * w @ q.T + np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(world_to_h36m(moved), 0.8 * world_to_h36m(w) @ q.T + np.array([1.0, -2.0, 3.0]), atol=1e-9)
    assert world_to_h36m(w.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="33, 3"):
        world_to_h36m(w[..., :2])
    with pytest.raises(ValueError, match="blazepose_map"):
        world_to_h36m(w, "nearest")
