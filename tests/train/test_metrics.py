import math

import pytest
import torch

from hmcli.skeleton.joints import H36M17
from hmcli.train.metrics import (
    AUC_THRESHOLDS,
    EvalReport,
    auc,
    bone_length_error,
    evaluate,
    markdown_table,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    pck,
)


def _rotation(gen: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _pose(*shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(*shape, 3, generator=g, dtype=dtype)


# ----------------------------------------------------------------- MPJPE


def test_mpjpe_known_offset_is_offset_norm():
    gt = _pose(2, 5, 17)  # (B, F, J, 3)
    pred = gt + torch.tensor([0.3, 0.4, 0.0], dtype=gt.dtype)
    assert mpjpe(pred, gt).item() == pytest.approx(0.5, abs=1e-9)
    per_frame = mpjpe(pred, gt, reduce=False)
    assert per_frame.shape == (2, 5)
    assert torch.allclose(per_frame, torch.full((2, 5), 0.5, dtype=gt.dtype))


def test_mpjpe_mask_ignores_joints():
    gt = torch.zeros(1, 2, 3)  # (F, J, 3)
    pred = torch.tensor([[[1.0, 0, 0], [0, 3.0, 0]]])  # errors 1 and 3
    assert mpjpe(pred, gt).item() == pytest.approx(2.0)
    assert mpjpe(pred, gt, mask=torch.tensor([True, False])).item() == pytest.approx(1.0)
    # nan in a masked joint does not leak
    pred[0, 1, 0] = float("nan")
    assert mpjpe(pred, gt, mask=torch.tensor([[1.0, 0.0]])).item() == pytest.approx(1.0)


def test_masked_frame_without_joints_is_nan_per_frame():
    gt = torch.zeros(2, 2, 3)
    pred = torch.ones(2, 2, 3)
    m = torch.tensor([[True, True], [False, False]])
    pf = mpjpe(pred, gt, mask=m, reduce=False)
    assert pf[0].item() == pytest.approx(math.sqrt(3))
    assert math.isnan(pf[1].item())
    assert mpjpe(pred, gt, mask=m).item() == pytest.approx(math.sqrt(3))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        mpjpe(torch.zeros(4, 3), torch.zeros(5, 3))


# ----------------------------------------------------------------- P-MPJPE


def test_p_mpjpe_similarity_copy_is_zero_batched():
    gt = _pose(2, 4, 17, seed=1)
    gen = torch.Generator().manual_seed(2)
    pred = torch.empty_like(gt)
    for b in range(2):
        for f in range(4):
            r = _rotation(gen)
            s = 0.5 + 2 * torch.rand((), generator=gen, dtype=torch.float64)
            t = torch.randn(3, generator=gen, dtype=torch.float64)
            pred[b, f] = s * gt[b, f] @ r.T + t
    assert mpjpe(pred, gt).item() > 0.1
    assert p_mpjpe(pred, gt).item() < 1e-5
    assert p_mpjpe(pred.float(), gt.float()).item() < 1e-5
    assert p_mpjpe(pred, gt, reduce=False).shape == (2, 4)


def test_p_mpjpe_hand_computed():
    # pred on the x axis, gt has the middle joint lifted by 1 in y: the best
    # similarity keeps pred (scale 1) and shifts it to gt's centroid (0, 1/3, 0):
    # errors 1/3, 2/3, 1/3 -> mean 4/9.
    pred = torch.tensor([[-1.0, 0, 0], [0, 0, 0], [1, 0, 0]], dtype=torch.float64)
    gt = torch.tensor([[-1.0, 0, 0], [0, 1, 0], [1, 0, 0]], dtype=torch.float64)
    assert p_mpjpe(pred, gt).item() == pytest.approx(4 / 9, abs=1e-9)


def test_p_mpjpe_not_above_mpjpe_on_random_data():
    pred = _pose(8, 17, seed=3)
    gt = _pose(8, 17, seed=4)
    assert torch.all(p_mpjpe(pred, gt, reduce=False) <= mpjpe(pred, gt, reduce=False) + 1e-9)
    assert p_mpjpe(pred, gt) <= mpjpe(pred, gt)


def test_p_mpjpe_mirror_is_not_aligned_away():
    gt = _pose(17, seed=5)
    mirror = gt * torch.tensor([-1.0, 1.0, 1.0], dtype=gt.dtype)
    assert p_mpjpe(mirror, gt).item() > 0.01


def test_p_mpjpe_mask_excludes_joint_from_fit():
    gt = _pose(10, seed=6)
    pred = 2.0 * gt + 0.5
    pred[3] += 10.0  # outlier, masked
    m = torch.ones(10, dtype=torch.bool)
    m[3] = False
    assert p_mpjpe(pred, gt, mask=m).item() < 1e-9
    assert p_mpjpe(pred, gt).item() > 0.01


# ----------------------------------------------------------------- N-MPJPE


def test_n_mpjpe_scaled_copy_is_zero():
    gt = _pose(3, 17, seed=7)
    assert n_mpjpe(0.8 * gt, gt).item() < 1e-9
    assert n_mpjpe(0.8 * gt, gt, reduce=False).shape == (3,)


def test_n_mpjpe_hand_computed():
    # s = <p, g> / <p, p> = (3 + 1) / 2 = 2 -> s p = (2,0,0), (0,2,0); errors 1, 1.
    pred = torch.tensor([[1.0, 0, 0], [0, 1, 0]])
    gt = torch.tensor([[3.0, 0, 0], [0, 1, 0]])
    assert n_mpjpe(pred, gt).item() == pytest.approx(1.0)
    assert mpjpe(pred, gt).item() == pytest.approx(1.0)  # (2 + 0) / 2


# ----------------------------------------------------------------- PCK / AUC


def _distances(d):
    gt = torch.zeros(len(d), 3, dtype=torch.float64)
    pred = gt.clone()
    pred[:, 0] = torch.tensor(d, dtype=torch.float64)
    return pred, gt


def test_pck_and_auc_hand_made_distances():
    pred, gt = _distances([0.0, 0.051, 0.149, 0.2])
    assert pck(pred, gt).item() == pytest.approx(3 / 4)
    assert pck(pred, gt, threshold=0.05).item() == pytest.approx(1 / 4)
    # thresholds 0, 0.005, ..., 0.150: 0.0 -> 31 hits, 0.051 -> 20, 0.149 -> 1, 0.2 -> 0
    assert len(AUC_THRESHOLDS) == 31
    assert auc(pred, gt).item() == pytest.approx(52 / 124)
    assert auc(pred, gt, thresholds=[0.1, 0.2]).item() == pytest.approx((2 + 4) / 8)


def test_pck_mask_and_per_frame():
    pred, gt = _distances([0.0, 0.051, 0.149, 0.2])
    pred = torch.stack([pred, gt])  # frame 0 as above, frame 1 perfect
    gt = torch.stack([gt, gt])
    m = torch.tensor([True, True, True, False])
    assert pck(pred, gt, reduce=False).tolist() == pytest.approx([0.75, 1.0])
    assert pck(pred, gt, mask=m, reduce=False).tolist() == pytest.approx([1.0, 1.0])


# ----------------------------------------------------------------- MPJVE


def test_mpjve_constant_offset_is_zero():
    gt = _pose(2, 6, 17, seed=8)
    assert mpjve(gt + 0.25, gt).item() < 1e-12


def test_mpjve_hand_computed_and_fps():
    gt = torch.zeros(5, 2, 3)  # (F, J, 3) static
    pred = torch.zeros(5, 2, 3)
    pred[:, 0, 0] = 0.01 * torch.arange(5)  # joint 0 moves 1 cm/frame, joint 1 still
    assert mpjve(pred, gt).item() == pytest.approx(0.005)
    assert mpjve(pred, gt, fps=50).item() == pytest.approx(0.25)
    assert mpjve(pred, gt, reduce=False).shape == (4,)
    assert mpjve(pred, gt, mask=torch.tensor([True, False])).item() == pytest.approx(0.01)
    # a joint missing in frame 2 removes both transitions that touch it
    m = torch.ones(5, 2, dtype=torch.bool)
    m[2, 1] = False
    assert mpjve(pred, gt, mask=m).item() == pytest.approx(0.04 / 6)


def test_mpjve_single_frame_is_nan():
    assert math.isnan(mpjve(torch.zeros(1, 3, 3), torch.zeros(1, 3, 3)).item())


# ----------------------------------------------------------------- reports


def _seqs():
    # seq A: 3 frames, joint 1 off by 2.2 cm (root exact) -> 11 mm per frame
    # seq B: 1 frame, joint 1 off by 8.2 cm -> 41 mm
    gt_a = torch.zeros(3, 2, 3)
    gt_a[:, 1, 1] = 0.5
    gt_a[:, :, 2] = 3.0  # absolute depth; root-relative evaluation removes it
    pred_a = gt_a.clone()
    pred_a[:, 1, 0] += 0.022
    gt_b = torch.zeros(1, 2, 3)
    gt_b[:, 1, 1] = 0.5
    pred_b = gt_b.clone()
    pred_b[:, 1, 0] += 0.082
    pred_b += 1.0  # global offset, removed by root-relative evaluation
    return [pred_a, pred_b], [gt_a, gt_b]


def test_evaluate_frame_weighted_with_per_action():
    preds, gts = _seqs()
    rep = evaluate(preds, gts, actions=["walk", "run"])
    assert rep.num_frames == 4
    assert rep.mpjpe == pytest.approx((3 * 11 + 41) / 4, abs=1e-4)
    assert rep.pck150 == pytest.approx(100.0)
    # AUC per frame = mean over the 2 joints of hits/31: root 31/31; 22 mm hits the
    # thresholds >= 25 mm (26 of them), 82 mm those >= 85 mm (14).
    auc_a, auc_b = (31 + 26) / 62, (31 + 14) / 62
    assert rep.auc == pytest.approx(100 * (3 * auc_a + auc_b) / 4, abs=1e-4)
    assert rep.mpjve == pytest.approx(0.0, abs=1e-6)
    assert set(rep.per_action) == {"walk", "run"}
    walk, run = rep.per_action["walk"], rep.per_action["run"]
    assert walk.num_frames == 3 and run.num_frames == 1
    assert walk.mpjpe == pytest.approx(11.0, abs=1e-4)
    assert run.mpjpe == pytest.approx(41.0, abs=1e-4)
    assert math.isnan(run.mpjve)  # a single frame has no velocity
    assert rep.p_mpjpe <= rep.mpjpe + 1e-6 and rep.n_mpjpe <= rep.mpjpe + 1e-6
    assert walk.per_action == {}


def test_evaluate_root_none_keeps_offsets():
    preds, gts = _seqs()
    # seq B has a global +1 m offset: root-relative removes it, root=None keeps it
    assert evaluate(preds[1:], gts[1:]).mpjpe == pytest.approx(41.0, abs=1e-4)
    rep = evaluate(preds[1:], gts[1:], root=None)
    expected = 1000 * (math.sqrt(3) + math.sqrt(1.082**2 + 2)) / 2
    assert rep.mpjpe == pytest.approx(expected, abs=1e-3)
    assert rep.per_action == {}
    with pytest.raises(ValueError):
        evaluate(preds, gts, actions=["walk"])


def test_to_dict_and_markdown_table():
    preds, gts = _seqs()
    rep = evaluate(preds, gts, actions=["walk", "run"], fps=30)
    d = rep.to_dict()
    assert d["num_frames"] == 4 and d["per_action"]["run"]["num_frames"] == 1
    assert set(d) == {"mpjpe", "p_mpjpe", "n_mpjpe", "pck150", "auc", "mpjve", "num_frames", "per_action",
                      "bone_err", "shoulder_ratio", "hip_ratio"}
    table = markdown_table({"hummuss": rep, "zero": EvalReport(1, 2, 3, 4, 5, 6, 7)})
    lines = table.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("| name | MPJPE (mm)")
    assert lines[2].startswith("| hummuss | 18.5 |")
    assert lines[3] == "| zero | 1.0 | 2.0 | 3.0 | 4.0 | 5.0 | 6.0 | 7 |"
    full = markdown_table({"hummuss": rep}, per_action=True)
    assert "| hummuss/run | 41.0 |" in full and "| hummuss/walk | 11.0 |" in full


def _body(shoulder: float = 0.36, hip: float = 0.2, frames: int = 3) -> torch.Tensor:
    """(F, 17, 3) an upright H36M-17 body with the given shoulder and hip widths (metres)."""
    x = torch.zeros(17, 3, dtype=torch.float64)
    for name, pos in {"right_hip": (-hip / 2, 0, 0), "right_knee": (-hip / 2, -0.45, 0), "right_ankle": (-hip / 2, -0.9, 0),
                      "left_hip": (hip / 2, 0, 0), "left_knee": (hip / 2, -0.45, 0), "left_ankle": (hip / 2, -0.9, 0),
                      "spine": (0, 0.25, 0), "thorax": (0, 0.5, 0), "nose": (0, 0.65, 0.08), "head": (0, 0.8, 0),
                      "left_shoulder": (shoulder / 2, 0.5, 0), "left_elbow": (shoulder / 2 + 0.27, 0.5, 0),
                      "left_wrist": (shoulder / 2 + 0.52, 0.5, 0), "right_shoulder": (-shoulder / 2, 0.5, 0),
                      "right_elbow": (-shoulder / 2 - 0.27, 0.5, 0), "right_wrist": (-shoulder / 2 - 0.52, 0.5, 0)}.items():
        x[H36M17.index(name)] = torch.tensor(pos, dtype=torch.float64)
    return x.expand(frames, 17, 3).clone()


def test_bone_length_error_and_width_ratios():
    gt = _body(shoulder=0.2, hip=0.16)
    pred = _body(shoulder=0.35, hip=0.2)
    # bones: 2 clavicles 0.075 longer each, 2 hip bones 0.02 longer each, 12 others exact
    assert float(bone_length_error(pred, gt, H36M17.parents)) == pytest.approx((2 * 0.075 + 2 * 0.02) / 16)
    assert bone_length_error(pred, gt, H36M17.parents, reduce=False).shape == (3,)
    rep = evaluate([pred], [gt], fps=30)
    assert rep.bone_err == pytest.approx(1000 * (2 * 0.075 + 2 * 0.02) / 16)
    assert rep.shoulder_ratio == pytest.approx(1.75)
    assert rep.hip_ratio == pytest.approx(1.25)
    same = evaluate([gt], [gt])
    assert same.bone_err == pytest.approx(0.0) and same.shoulder_ratio == pytest.approx(1.0)
    # a rigid motion of the prediction changes MPJPE but not the bone metrics
    moved = gt @ torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    r = evaluate([moved], [gt])
    assert r.mpjpe > 1 and r.bone_err == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError):
        bone_length_error(pred[..., :5, :], gt[..., :5, :], H36M17.parents)


def test_bone_metrics_are_nan_for_other_layouts_and_only_shown_on_request():
    rep = evaluate([torch.zeros(2, 5, 3)], [torch.ones(2, 5, 3)])
    assert math.isnan(rep.bone_err) and math.isnan(rep.hip_ratio)
    full = evaluate([_body(0.3)], [_body(0.2)])
    plain = markdown_table({"m": full})
    assert "bone err" not in plain and "shoulder" not in plain
    table = markdown_table({"m": full}, bones=True).splitlines()
    assert table[0].endswith("| bone err (mm) | shoulder × | hip × | frames |")
    assert table[2].endswith(f"| {full.bone_err:.1f} | 1.50 | 1.00 | 3 |")
