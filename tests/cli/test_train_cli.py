import json

import yaml
from typer.testing import CliRunner

from hmcli.cli.main import app
from hmcli.io.checkpoint import read_checkpoint
from hmcli.train.config import TrainConfig
from hmcli.train.trainer import train
from tests.train.fixtures import TINY_MODEL, make_mini_cmu

runner = CliRunner()


def test_train_cli_bad_option_is_one_line(tmp_path):
    r = runner.invoke(app, ["train", "bogus=1", "--out", str(tmp_path / "x")])
    assert r.exit_code == 3 and "unknown option 'bogus'" in r.stderr and r.stderr.count("\n") == 1


def test_resume_reads_the_runs_own_config(tmp_path):
    data = make_mini_cmu(tmp_path / "cmu")
    run = tmp_path / "run"
    cfg = TrainConfig(model="hummuss", model_overrides=dict(TINY_MODEL), data=str(data), out=str(run), steps=2,
                      batch_size=2, clip_min=8, clip_max=8, val_clip=16, eval_every=2, save_every=2, warmup=1,
                      threads=1, bone_jitter=0.1, half_export=False)
    train(cfg)
    # Only --out and a new step count: the tiny model, data and augmentation come from run/config.yaml.
    r = runner.invoke(app, ["train", "--resume", "--out", str(run), "steps=4"])  # with the progress bar
    assert r.exit_code == 0, r.output
    assert read_checkpoint(run / "last.pt")["train_state"]["step"] == 4
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["steps"] == 4 and saved["model_overrides"] == TINY_MODEL and saved["bone_jitter"] == 0.1
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_resume_errors_are_one_line(tmp_path):
    r = runner.invoke(app, ["train", "--resume", "--out", str(tmp_path / "none")])
    assert r.exit_code != 0 and "holds no run to resume" in r.stderr and r.stderr.count("\n") == 1
    r = runner.invoke(app, ["train", "--resume"])
    assert r.exit_code != 0 and "--resume needs the run directory" in r.stderr
    (tmp_path / "c.yaml").write_text("steps: 3\n")
    r = runner.invoke(app, ["train", "--resume", "-c", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "none")])
    assert r.exit_code != 0 and "drop --config" in r.stderr and r.stderr.count("\n") == 1


def test_a_final_fit_says_it_has_no_validation(tmp_path):
    data = make_mini_cmu(tmp_path / "cmu")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "model": "hummuss", "model_overrides": dict(TINY_MODEL), "data": str(data), "steps": 2, "batch_size": 2,
        "clip_min": 8, "clip_max": 8, "save_every": 2, "warmup": 1, "threads": 1, "train_on": "train+val"}))
    r = runner.invoke(app, ["train", "-c", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    assert "done: 2 steps in" in r.stdout
    assert "; no validation (train_on=train+val: a final fit; its checkpoint is last.pt); checkpoints in" in r.stdout
