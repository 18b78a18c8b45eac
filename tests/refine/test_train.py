import json

import pytest
import torch

from hmcli.io.atomic import HMError
from hmcli.refine.checkpoint import load_refiner
from hmcli.refine.train import RefineOptionError, refine_config, refine_loss, train_refiner
from tests.refine.helpers import TINY
from tests.train.fixtures import make_mini_cmu


def test_loss_ignores_padded_frames():
    pred = torch.zeros(1, 4, 17, 2)
    target = torch.zeros(1, 4, 17, 2)
    target[0, 3] = 3.0  # a padded frame far off
    target[0, 0, 0] = torch.tensor([3.0, 4.0])
    valid = torch.tensor([[True, True, True, False]])
    assert float(refine_loss(pred, target, valid)) == pytest.approx(5.0 / 17 / 3)


def test_config_precedence_and_errors(tmp_path):
    cfgf = tmp_path / "c.yaml"
    cfgf.write_text("task: refine2d\nsteps: 50\nlr: 0.01\nmodel: {dim: 32}\n")
    cfg = refine_config(["lr=0.003", "model.layers=2"], cfgf, steps=7)
    assert (cfg.steps, cfg.lr, cfg.model) == (7, 0.003, {"dim": 32, "layers": 2})
    with pytest.raises(RefineOptionError, match="unknown refine2d training option 'bogus=1'"):
        refine_config(["bogus=1"])
    with pytest.raises(RefineOptionError, match="camera"):
        refine_config(["camera_kind=moon"])
    with pytest.raises(RefineOptionError):
        refine_config(["model.width=3"])
    (tmp_path / "bad.yaml").write_text("[1, 2")
    with pytest.raises(HMError, match="cannot read config"):
        refine_config(None, tmp_path / "bad.yaml")


def test_training_lowers_the_2d_error_and_writes_loadable_checkpoints(tmp_path, one_thread):
    data = make_mini_cmu(tmp_path / "cmu")
    out = tmp_path / "run"
    cfg = refine_config([f"data={data}", f"out={out}", "steps=200", "batch_size=4", "clip_min=16", "clip_max=16",
                         "val_every=100", "lr=0.005", "warmup=5", "camera_kind=standard", "proportions=none",
                         "corrupt_model=plain"] + [f"model.{k}={v}" for k, v in TINY.items()])
    summary = train_refiner(cfg)
    assert summary["steps"] == 200 and summary["best_step"] in (100, 200)
    assert summary["metric"] == "val_2d_pct" and summary["best_val"] < 0.9 * summary["val_input"]  # 5.4 -> 4.2 % of height
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 100, 200]
    lr = load_refiner(out / "best.pt")
    assert lr.clip_frames == 16 and lr.meta["data"]["train_subjects"] == ["05"]
    assert lr.model.cfg.fps == 30.0


def test_training_through_a_frozen_lifter_scores_the_lift(tmp_path, one_thread):
    from tests.cli.helpers import tiny_checkpoint
    from tests.refine.helpers import tiny_refiner_file

    data = make_mini_cmu(tmp_path / "cmu")
    lifter = tiny_checkpoint(tmp_path / "lifter.pt")
    before = {k: v.clone() for k, v in torch.load(lifter, weights_only=True)["state_dict"].items()}
    start = tiny_refiner_file(tmp_path / "start.pt", clip_frames=16)
    out = tmp_path / "run"
    cfg = refine_config([f"data={data}", f"out={out}", "steps=4", "batch_size=2", "clip_min=16", "clip_max=16",
                         "val_every=2", "camera_kind=standard", "proportions=none", f"lift_model={lifter}",
                         f"init_from={start}", "lambda_lift=1.0"])
    summary = train_refiner(cfg)
    assert summary["metric"] == "val_lift_mpjpe_mm" and summary["val_input"] > 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all("val_lift_mpjpe_mm" in r for r in rows)
    assert load_refiner(out / "last.pt").model.cfg.dim == TINY["dim"]  # the init_from refiner's size
    after = torch.load(lifter, weights_only=True)["state_dict"]
    assert all(torch.equal(before[k], after[k]) for k in before)  # the lifter file is untouched


@pytest.mark.parametrize("blob", [b"\x89PNG\x00\xff binary", b"[" * 5000])
def test_unreadable_config_files_are_one_clear_error(tmp_path, blob):
    p = tmp_path / "c.yaml"
    p.write_bytes(blob)
    with pytest.raises(HMError, match="cannot read config"):
        refine_config(None, p)
