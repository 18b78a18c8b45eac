import json

import pytest
import torch
from typer.testing import CliRunner

from hmcli.cli.main import app
from hmcli.io.atomic import HMError
from hmcli.io.checkpoint import load_checkpoint
from hmcli.train.config import TrainConfig
from hmcli.nn.call import call_model
from hmcli.train.trainer import train
from tests.train.fixtures import TINY_MODEL, make_mini_cmu

TINY = {
    "hummuss": dict(TINY_MODEL),
    "dstformer": dict(dim=16, depth=1, heads=2, rep_dim=16, maxlen=32),
    "mixste": dict(dim=16, depth=1, heads=2, maxlen=32),
    "pstmo": dict(frames=9, strides=(3, 3), dim=16, heads=2, ffn_dim=16, sem_hidden=16, tem_depth=1),
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_mini_cmu(tmp_path_factory.mktemp("cmu"))


def _cfg(data, out, arch, **kw) -> TrainConfig:
    base = dict(model=arch, model_overrides=dict(TINY[arch]), data=str(data), out=str(out), steps=2, batch_size=2,
                clip_min=8, clip_max=12, val_clip=16, eval_every=2, save_every=2, warmup=1, threads=1, half_export=False)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("arch", list(TINY))
@pytest.mark.parametrize("causal", [False, True])
def test_every_arch_trains_and_evaluates_long_sequences(data, tmp_path, arch, causal):
    cfg = _cfg(data, tmp_path / "run", arch)
    cfg.model_overrides["causal"] = causal
    summary = train(cfg)
    recs = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2] and summary["best_val_mpjpe_mm"] > 0
    if arch == "pstmo":  # seq2frame: fixed windows, single-frame + multi-frame loss
        assert all(r["clip"] == 9 for r in recs) and "loss_multi_mpjpe" in recs[0]
    else:
        assert all(8 <= r["clip"] <= 12 for r in recs)
    lm = load_checkpoint(tmp_path / "run" / "best.pt")
    assert lm.arch == arch and lm.config["causal"] is causal
    with torch.no_grad():
        y = call_model(lm.model, torch.randn(1, 75, 17, 3))  # longer than maxlen 32 / window 9
    assert y.shape == (1, 75, 17, 3) and torch.isfinite(y).all()


def test_transformer_clip_longer_than_maxlen_is_refused(data, tmp_path):
    with pytest.raises(HMError, match="maxlen=32"):
        train(_cfg(data, tmp_path / "r", "dstformer", clip_max=40))


@pytest.mark.parametrize("arch", ["hummuss", "pstmo"])
def test_mpm_pretraining_then_stage_two(data, tmp_path, arch):
    s1 = train(_cfg(data, tmp_path / "mpm", arch, task="mpm"))
    assert s1["task"] == "mpm" and s1["best_val_mpm_mse"] > 0
    recs = [json.loads(line) for line in (tmp_path / "mpm" / "metrics.jsonl").read_text().splitlines()]
    assert "val_mpm_mse" in recs[-1] and "loss_mpm_mse" in recs[0]
    s2 = train(_cfg(data, tmp_path / "s2", arch, init_from=str(tmp_path / "mpm" / "last.pt")))
    rep = s2["init_from"]
    assert rep["source_task"] == "mpm" and rep["loaded"] > 0
    lm = load_checkpoint(tmp_path / "s2" / "last.pt")
    if arch == "hummuss":  # everything but the 3D head comes from Stage I; the 2D head is dropped
        assert rep["skipped"] == 2 and rep["not_initialised"] == 2
    else:  # SEM + TEM come from Stage I
        own = {k for k in lm.model.state_dict() if k.startswith(("sem.", "tem."))}
        assert rep["loaded"] == len(own)
    assert lm.meta["init_from"]["loaded"] == rep["loaded"]


def test_mpm_only_for_hummuss_and_pstmo(data, tmp_path):
    with pytest.raises(HMError, match="task mpm"):
        train(_cfg(data, tmp_path / "r", "mixste", task="mpm"))


def test_cli_train_arch_and_init_from(data, tmp_path):
    r = CliRunner().invoke(app, ["train", "--arch", "mixste", "--data", str(data), "--out", str(tmp_path / "m"), "--steps", "2",
                                 "--quiet", "batch_size=2", "clip_min=8", "clip_max=12", "val_clip=16", "threads=1",
                                 "model.dim=16", "model.depth=1", "model.heads=2", "model.maxlen=32"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["train", "--arch", "hummuss", "--task", "mpm", "--data", str(data), "--out", str(tmp_path / "p"),
                                 "--steps", "2", "--quiet", "batch_size=2", "clip_min=8", "clip_max=12", "val_clip=16",
                                 "threads=1", *[f"model.{k}={v}" for k, v in TINY_MODEL.items()]])
    assert r.exit_code == 0, r.output
    assert "masked-2D MSE" in r.stdout
    r = CliRunner().invoke(app, ["train", "--arch", "hummuss", "--init-from", str(tmp_path / "p" / "last.pt"), "--data", str(data),
                                 "--out", str(tmp_path / "q"), "--steps", "2", "--quiet", "batch_size=2", "clip_min=8",
                                 "clip_max=12", "val_clip=16", "threads=1", *[f"model.{k}={v}" for k, v in TINY_MODEL.items()]])
    assert r.exit_code == 0, r.output
    assert "tensors loaded" in r.stdout


def test_accuracy_bench_end_to_end(data, tmp_path):
    sets = [a for arch, ov in TINY.items() for k, v in ov.items()
            for a in ("--set", f"{arch}.{k}={json.dumps(list(v)) if isinstance(v, tuple) else v}")]
    args = ["bench", "accuracy", "--data", str(data), "--steps", "2", "--batch-size", "2", "--clip-min", "8", "--clip-max", "12",
            "--eval-every", "1", "--cameras", "1", "--threads", "1", "--out", str(tmp_path / "res"), *sets]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    res = tmp_path / "res"
    assert {"accuracy.json", "accuracy.md", "accuracy.png"} <= {p.name for p in res.iterdir()}
    d = json.loads((res / "accuracy.json").read_text())
    assert [(x["arch"], x["variant"]) for x in d["runs"]] == [(a, v) for a in TINY for v in ("bidirectional", "causal")]
    for x in d["runs"]:
        assert set(x["test"]) == {"1", "2", "4", "8"}
        assert all(t["mpjpe"] > 0 and t["p_mpjpe"] > 0 and t["num_frames"] > 0 for t in x["test"].values())
        assert [p["step"] for p in x["val_curve"]] == [1, 2] and x["params_m"] > 0
    assert d["runs"][0]["test"]["8"]["fps"] == 3.75
    assert "MPJPE 8×" in (res / "accuracy.md").read_text()
    # A second invocation reuses the finished runs instead of training again.
    r = CliRunner().invoke(app, [*args, "--json", "--archs", "hummuss", "--variants", "causal", "--subsample", "1"])
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout)["runs"][0]
    assert again["reused_run"] is True and again["test"]["1"]["mpjpe"] == d["runs"][1]["test"]["1"]["mpjpe"]


def test_accuracy_bench_reuses_stored_evaluations(data, tmp_path, monkeypatch):
    import hmcli.bench.accuracy as acc

    ov = {"hummuss": TINY["hummuss"]}
    budget = acc.AccuracyBudget(steps=1, batch_size=2, clip_min=8, clip_max=8, eval_every=1, threads=1)
    first = acc.accuracy_compare(str(data), ["hummuss"], ["causal"], budget, subsample=[1], cameras=1,
                                 overrides=ov, runs_dir=tmp_path / "runs")
    stored = json.loads((tmp_path / "runs" / "hummuss-causal" / acc.EVAL_CACHE).read_text())
    assert stored["result"] == first["runs"][0]["test"] and stored["key"]["subsample"] == [1]

    def no_eval(*a, **k):
        raise AssertionError("evaluated again")

    monkeypatch.setattr("hmcli.train.evaluate.evaluate_model", no_eval)
    again = acc.accuracy_compare(str(data), ["hummuss"], ["causal"], budget, subsample=[1], cameras=1,
                                 overrides=ov, runs_dir=tmp_path / "runs")
    assert again["runs"][0]["test"] == first["runs"][0]["test"] and again["runs"][0]["reused_run"]
    with pytest.raises(AssertionError, match="evaluated again"):  # other settings: evaluated anew
        acc.accuracy_compare(str(data), ["hummuss"], ["causal"], budget, subsample=[2], cameras=1,
                             overrides=ov, runs_dir=tmp_path / "runs")


def test_accuracy_bench_skip(data, tmp_path):
    import hmcli.bench.accuracy as acc

    budget = acc.AccuracyBudget(steps=1, batch_size=2, clip_min=8, clip_max=8, eval_every=1, threads=1)
    res = acc.accuracy_compare(str(data), ["hummuss"], ["bidirectional", "causal"], budget, subsample=[1], cameras=1,
                               overrides={"hummuss": TINY["hummuss"]}, runs_dir=tmp_path / "runs",
                               skip=["hummuss-bidirectional"])
    assert [(r["arch"], r["variant"]) for r in res["runs"]] == [("hummuss", "causal")]
    assert not (tmp_path / "runs" / "hummuss-bidirectional").exists()
    assert res["settings"]["skipped"] == ["hummuss-bidirectional"] and "--skip" in res["notes"][-1]
    with pytest.raises(HMError, match="not among the runs"):
        acc.accuracy_compare(str(data), ["hummuss"], ["causal"], budget, skip=["mixste-causal"])
