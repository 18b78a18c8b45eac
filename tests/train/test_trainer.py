import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from hmcli.io.atomic import HMError
from hmcli.skeleton.convert import flip_pose
from hmcli.types import Keypoints2D
from hmcli.io.checkpoint import load_checkpoint, read_checkpoint
from hmcli.train.config import TrainConfig, resolve_config
from hmcli.train.trainer import train
from tests.train.fixtures import TINY_MODEL, make_mini_cmu


def _cfg(tmp_path, out="run", **kw) -> TrainConfig:
    data = tmp_path / "cmu"
    if not data.exists():
        make_mini_cmu(data)
    base = dict(
        model="hummuss", model_overrides=dict(TINY_MODEL), data=str(data), out=str(tmp_path / out), steps=6,
        batch_size=2, clip_min=8, clip_max=12, val_clip=16, eval_every=3, save_every=3, warmup=2, threads=1,
        half_export=False,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_training_writes_config_log_and_checkpoints(tmp_path):
    cfg = _cfg(tmp_path)
    summary = train(cfg)
    out = tmp_path / "run"
    assert {"config.yaml", "metrics.jsonl", "last.pt", "best.pt"} <= {p.name for p in out.iterdir()}
    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == list(range(1, 7))
    assert all(8 <= r["clip"] <= 12 for r in recs)
    assert "val_mpjpe_mm" in recs[2] and "val_mpjpe_mm" in recs[5]
    assert summary["best_val_mpjpe_mm"] == min(recs[2]["val_mpjpe_mm"], recs[5]["val_mpjpe_mm"])
    lm = load_checkpoint(out / "best.pt")
    assert lm.arch == "hummuss" and lm.config["dim"] == 16
    assert lm.meta["data"]["test_subjects"] == ["09", "49"]
    assert "mocap.cs.cmu.edu" in lm.meta["data"]["acknowledgement"]
    assert lm.codec.input_norm == "person"  # the default codec is stored with the weights
    x = torch.randn(1, 10, 17, 3)
    assert lm.model(x).shape == (1, 10, 17, 3)


def test_input_norm_option_reaches_the_checkpoint(tmp_path):
    train(_cfg(tmp_path, steps=1, eval_every=1, save_every=1, input_norm="image"))
    assert load_checkpoint(tmp_path / "run" / "last.pt").codec.input_norm == "image"


def test_input_location_trains_a_six_channel_lifter(tmp_path):
    from hmcli.lift import lift_keypoints, load_lifter

    train(_cfg(tmp_path, steps=2, eval_every=2, save_every=2, input_location=True, flip_prob=1.0))
    lm = load_checkpoint(tmp_path / "run" / "last.pt")
    assert lm.codec.location and lm.codec.in_channels == 6 and lm.model.cfg.in_dim == 6
    load_lifter(lm)  # hm lift accepts it: the model's input matches its codec
    rng = np.random.default_rng(0)
    kp = Keypoints2D(xy=rng.uniform(50, 450, (20, 17, 2)).astype(np.float32), conf=np.ones((20, 17), np.float32),
                     joint_set="h36m17", timestamps=np.arange(20) / 30.0, width=640, height=480,
                     detected=np.ones(20, bool))
    res = lift_keypoints(kp, lm, one_pass=True)
    assert res.joints3d.shape == (20, 17, 3) and np.isfinite(res.joints3d).all()
    x = torch.from_numpy(lm.codec.encode_2d(kp.xy, kp.conf, 640, 480))[None]  # (1, F, J, 6)
    with torch.no_grad():  # one pass with test-time flip: the direct and the mirrored estimate, averaged
        y = 0.5 * (lm.model(x) + flip_pose(lm.model(lm.codec.flip_2d(x)), "h36m17"))  # (1, F, J, 3)
    np.testing.assert_allclose(res.joints3d, lm.codec.decode_3d(y[0]).numpy(), atol=1e-4)
    with pytest.raises(HMError, match="input_location is supported for HumMUSS models, not 'mixste'"):
        train(_cfg(tmp_path, out="m", steps=1, model="mixste", model_overrides={}, input_location=True))
    with pytest.raises(HMError, match="input_location needs input_norm=person"):
        resolve_config(None, ["input_location=true", "input_norm=image"])


def test_layer_recompute_trains_the_same_run(tmp_path):
    train(_cfg(tmp_path, out="a", steps=2, eval_every=2, save_every=2))
    train(_cfg(tmp_path, out="b", steps=2, eval_every=2, save_every=2, recompute_layers=True))
    wa = load_checkpoint(tmp_path / "a" / "last.pt").model.state_dict()
    wb = load_checkpoint(tmp_path / "b" / "last.pt").model.state_dict()
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-4, atol=1e-6, msg=k)
    with pytest.raises(HMError, match="recompute_layers"):
        train(_cfg(tmp_path, out="c", steps=1, model="dstformer", model_overrides={"dim": 16, "depth": 1, "heads": 2},
                   recompute_layers=True))  # fmt: skip


def test_bf16_precision_trains_float32_weights_close_to_fp32(tmp_path):
    train(_cfg(tmp_path, out="a", steps=2, eval_every=2, save_every=2))
    train(_cfg(tmp_path, out="b", steps=2, eval_every=2, save_every=2, precision="bf16"))
    recs = {r: [json.loads(x) for x in (tmp_path / r / "metrics.jsonl").read_text().splitlines()] for r in "ab"}
    la, lb = recs["a"][0]["loss"], recs["b"][0]["loss"]  # same weights and batch at step 1
    assert la != lb and abs(lb - la) < 0.02 * la
    lm = load_checkpoint(tmp_path / "b" / "last.pt")
    assert lm.meta["train"]["precision"] == "bf16"
    wa = load_checkpoint(tmp_path / "a" / "last.pt").model.state_dict()
    for k, w in lm.model.state_dict().items():
        assert w.dtype == wa[k].dtype, k  # the weights themselves are never lowered
    with pytest.raises(HMError, match="unknown precision 'fp16'"):
        train(_cfg(tmp_path, out="c", precision="fp16"))
    assert not (tmp_path / "c").exists()


TINY_BASELINES = {
    "dstformer": {"dim": 16, "depth": 1, "heads": 2, "rep_dim": 16},
    "mixste": {"dim": 16, "depth": 2, "heads": 2},
    "pstmo": {"frames": 9, "strides": [3, 3], "dim": 16, "heads": 2, "ffn_dim": 24, "sem_hidden": 24, "tem_depth": 1},
}


@pytest.mark.parametrize("model, task", [("dstformer", "pose3d"), ("mixste", "pose3d"), ("pstmo", "pose3d"),
                                         ("pstmo", "mpm"), ("hummuss", "mpm")])  # fmt: skip
def test_bf16_precision_trains_every_architecture_and_task(tmp_path, model, task):
    overrides = TINY_BASELINES.get(model, dict(TINY_MODEL))
    summary = train(_cfg(tmp_path, model=model, model_overrides=overrides, task=task, steps=1, eval_every=1,
                         save_every=1, clip_min=9, clip_max=9, val_clip=9, precision="bf16"))
    rec = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert np.isfinite(rec["loss"]) and rec["loss"] > 0
    assert np.isfinite(summary["last_val_mpm_mse" if task == "mpm" else "last_val_mpjpe_mm"])


def test_resume_continues_exactly(tmp_path):
    straight = _cfg(tmp_path, out="a", steps=6)
    train(straight)
    first = _cfg(tmp_path, out="b", steps=6, save_every=3)
    import hmcli.train.trainer as tr

    def stop_after_three(info):  # interrupt the same 6-step schedule after step 3
        if info.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tr.train(first, on_step=stop_after_three)
    assert read_checkpoint(tmp_path / "b" / "last.pt")["train_state"]["step"] == 3
    tr.train(first, resume=True)
    a = read_checkpoint(tmp_path / "a" / "last.pt")["state_dict"]
    b = read_checkpoint(tmp_path / "b" / "last.pt")["state_dict"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    log_a = [json.loads(l)["loss"] for l in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    log_b = [json.loads(l)["loss"] for l in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert log_a == log_b


def test_resume_after_an_interruption_between_checkpoints(tmp_path):
    import hmcli.train.trainer as tr

    train(_cfg(tmp_path, out="a", steps=6))
    first = _cfg(tmp_path, out="b", steps=6, save_every=2)

    def stop_after_three(info):  # last.pt holds step 2; step 3 is logged, then lost
        if info.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tr.train(first, on_step=stop_after_three)
    tr.train(first, resume=True)
    log_a = [json.loads(l) for l in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    log_b = [json.loads(l) for l in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log_b] == list(range(1, 7))  # step 3 once, as trained by the resumed run
    assert [r["loss"] for r in log_b] == [r["loss"] for r in log_a]
    times = [r["time_s"] for r in log_b]
    assert times == sorted(times)  # training time counts the whole run, across the resume
    assert read_checkpoint(tmp_path / "b" / "last.pt")["train_state"]["time_s"] == times[-1]


def test_truncate_log_keeps_the_latest_history(tmp_path):
    from hmcli.train.trainer import _truncate_log

    log = tmp_path / "metrics.jsonl"
    steps = [1, 2, 3, 4, 5, 3, 4, 5, 6, 7]  # interrupted after 5, resumed from the checkpoint at 2
    log.write_text("".join(json.dumps({"step": s, "time_s": 10.0 * i}) + "\n" for i, s in enumerate(steps))
                   + '{"step": 8, "ti')  # the last line cut short by a kill
    assert _truncate_log(log, 6) == 80.0
    recs = [json.loads(l) for l in log.read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3, 4, 5, 6]
    assert [r["time_s"] for r in recs] == [0.0, 10.0, 50.0, 60.0, 70.0, 80.0]
    assert _truncate_log(tmp_path / "none.jsonl", 3) == 0.0


def test_resume_with_another_model_is_a_clear_error(tmp_path):
    train(_cfg(tmp_path, steps=2, eval_every=2, save_every=2))
    wider = _cfg(tmp_path, steps=4, model_overrides={**TINY_MODEL, "dim": 24})
    with pytest.raises(HMError, match="does not fit the model this config builds"):
        train(wider, resume=True)


def test_a_run_that_cannot_start_leaves_no_directory(tmp_path):
    cfg = _cfg(tmp_path, out="never", data=str(tmp_path / "missing"))
    with pytest.raises(HMError, match="data directory not found"):
        train(cfg)
    assert not (tmp_path / "never").exists()


def test_refuses_to_overwrite_a_run_without_resume(tmp_path):
    cfg = _cfg(tmp_path, steps=3)
    train(cfg)
    from hmcli.io.atomic import HMError

    with pytest.raises(HMError, match="--resume"):
        train(cfg)


def test_ddp_two_cpu_processes_agree(tmp_path):
    """torchrun-style launch with the gloo backend: after a few steps both ranks hold the
    same weights, and they trained on different samples."""
    make_mini_cmu(tmp_path / "cmu")
    script = tmp_path / "run_ddp.py"
    script.write_text(
        "import os, sys, torch\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from hmcli.train.config import TrainConfig\n"
        "from hmcli.train import trainer\n"
        "from tests.train.fixtures import TINY_MODEL\n"
        "rank = int(os.environ['RANK'])\n"
        "cfg = TrainConfig(model='hummuss', model_overrides=dict(TINY_MODEL), data=sys.argv[2], out=sys.argv[3],\n"
        "    steps=3, batch_size=2, clip_min=8, clip_max=8, val_clip=16, eval_every=100, save_every=100, warmup=1,\n"
        "    threads=1, half_export=False)\n"
        "b, _, _ = trainer._step_batch(cfg, trainer.load_split(cfg.data, 'train'), 0, rank)\n"
        "torch.save(b['xy'], f'{sys.argv[3]}_xy{rank}.pt')\n"
        "holder = {}\n"
        "import torch.nn as nn\n"
        "orig_ddp = nn.parallel.DistributedDataParallel\n"
        "class Keep(orig_ddp):\n"
        "    def __init__(self, m, *a, **k):\n"
        "        super().__init__(m, *a, **k); holder['m'] = m\n"
        "nn.parallel.DistributedDataParallel = Keep\n"
        "trainer.train(cfg)\n"
        "torch.save({k: v.detach().clone() for k, v in holder['m'].state_dict().items()}, f'{sys.argv[3]}_w{rank}.pt')\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
           str(script), root, str(tmp_path / "cmu"), str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    w0 = torch.load(f"{out}_w0.pt", weights_only=True)
    w1 = torch.load(f"{out}_w1.pt", weights_only=True)
    for k in w0:
        assert torch.allclose(w0[k], w1[k], atol=1e-6), k
    x0 = torch.load(f"{out}_xy0.pt", weights_only=True)
    x1 = torch.load(f"{out}_xy1.pt", weights_only=True)
    assert not torch.equal(x0, x1)
    assert (out / "last.pt").exists()  # rank 0 wrote the run


def test_lift_validation_is_what_hm_eval_reports_and_picks_best(tmp_path):
    """val_mode=lift logs the MPJPE of whole validation trials lifted as hm lift runs the
    model (trained-length windows, flip): equal to evaluate_model on the saved checkpoint."""
    from hmcli.train.evaluate import EvalSetting, evaluate_model
    from hmcli.train.trainer import load_split

    cfg = _cfg(tmp_path, steps=4, eval_every=2, save_every=2, val_mode="lift", val_cameras=3)
    summary = train(cfg)
    out = tmp_path / "run"
    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    vals = {r["step"]: r["val_mpjpe_mm"] for r in recs if "val_mpjpe_mm" in r}
    assert sorted(vals) == [2, 4]
    lm = load_checkpoint(out / "last.pt")
    report = evaluate_model(lm, load_split(cfg.data, "val"), EvalSetting(fps=cfg.fps, cameras=3))
    assert report.mpjpe == pytest.approx(vals[4], rel=1e-5)  # hm eval --split val --cameras 3
    two = evaluate_model(lm, load_split(cfg.data, "val"), EvalSetting(fps=cfg.fps, cameras=2))
    assert two.mpjpe != pytest.approx(vals[4], rel=1e-5)
    best = load_checkpoint(out / "best.pt")
    assert best.meta["val_mpjpe_mm"] == min(vals.values()) == summary["best_val_mpjpe_mm"]
    assert lm.meta["train"]["val_mode"] == "lift"




def test_final_fit_on_train_and_val_trains_on_both_and_keeps_only_last(tmp_path, capsys):
    cfg = _cfg(tmp_path, train_on="train+val")
    summary = train(cfg)
    out = tmp_path / "run"
    assert {p.name for p in out.iterdir()} == {"config.yaml", "metrics.jsonl", "last.pt"}  # nothing to select a best on
    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == list(range(1, 7)) and not any("val_mpjpe_mm" in r for r in recs)
    assert summary["best_val_mpjpe_mm"] is None and summary["last_val_mpjpe_mm"] is None
    data = load_checkpoint(out / "last.pt").meta["data"]
    assert data["train_subjects"] == ["02", "05"] and data["val_subjects"] == [] and data["train_on"] == "train+val"
    assert data["train_sequences"] == 4 and data["test_subjects"] == ["09", "49"]
    cfg2 = _cfg(tmp_path, out="plain")
    train(cfg2)
    plain = load_checkpoint(tmp_path / "plain" / "last.pt").meta["data"]
    assert plain["train_subjects"] == ["05"] and plain["val_subjects"] == ["02", "55"] and plain["train_on"] == "train"


def test_train_on_names_a_split_set():
    with pytest.raises(HMError, match="unknown train_on 'train\\+test' \\(available: train, train\\+val\\)"):
        resolve_config(overrides=["train_on=train+test"])
    assert resolve_config(overrides=["train_on=train+val"]).train_on == "train+val"


def test_extra_data_trains_with_new_cameras_and_bodies(tmp_path):
    from tests.data.helpers import mini_cmu_amc, mini_cmu_asf
    from tests.train.fixtures import _motion

    extra = tmp_path / "extra"
    extra.mkdir()
    crlf = lambda text: text.replace("\n", "\r\n").encode("ascii")
    (extra / "03.asf").write_bytes(crlf(mini_cmu_asf()))
    (extra / "03_01.amc").write_bytes(crlf(mini_cmu_amc(*_motion(200, phase=0.3))))
    cfg = _cfg(tmp_path, data_extra=[str(extra)], camera_kind="mixed", proportions="wide", steps=2, eval_every=2,
               save_every=2)
    train(cfg)
    data = load_checkpoint(tmp_path / "run" / "last.pt").meta["data"]
    assert data["train_subjects"] == ["03", "05"] and data["extra_sources"] == [str(extra)]
    assert data["test_subjects"] == ["09", "49"]
    plain = _cfg(tmp_path, out="plain", steps=2, eval_every=2, save_every=2)
    train(plain)
    assert "extra_sources" not in load_checkpoint(tmp_path / "plain" / "last.pt").meta["data"]


def test_refine_batch_keeps_found_joints_with_an_identity_refiner_and_padding_untouched():
    from hmcli.refine.checkpoint import LoadedRefiner
    from hmcli.refine.codec import RefineCodec
    from hmcli.train.trainer import refine_batch
    from tests.refine.helpers import tiny_refiner

    lr = LoadedRefiner(tiny_refiner(), RefineCodec(), {"clip_frames": 16})
    rng = np.random.default_rng(0)
    xy = torch.from_numpy(rng.uniform(100, 300, (2, 10, 17, 2)).astype(np.float32))
    conf = torch.ones(2, 10, 17)
    valid = torch.ones(2, 10, dtype=torch.bool)
    valid[1, 7:] = False
    xy[1, 7:], conf[1, 7:] = 0.0, 0.0
    conf[0, 3, 4] = 0.0
    out = refine_batch(lr, {"xy": xy, "conf": conf, "valid": valid})
    keep = conf > 0
    torch.testing.assert_close(out["xy"][keep], xy[keep], rtol=0, atol=2e-3)
    assert out["conf"][0, 3, 4] > 0  # filled in
    assert (out["xy"][1, 7:] == 0).all() and (out["conf"][1, 7:] == 0).all()


def test_training_on_refined_2d_records_the_refiner(tmp_path):
    from tests.refine.helpers import tiny_refiner_file

    ref = tiny_refiner_file(tmp_path / "ref.pt", identity=False)
    cfg = _cfg(tmp_path, steps=3, eval_every=3, save_every=3, refine_model=ref, val_mode="lift", val_cameras=1)
    summary = train(cfg)
    assert summary["best_val_mpjpe_mm"] > 0
    assert load_checkpoint(tmp_path / "run" / "best.pt").meta["train"]["refine_model"] == ref


def test_refine_batch_in_one_pass_equals_clip_by_clip():
    from hmcli.refine.api import refine_track
    from hmcli.refine.checkpoint import LoadedRefiner
    from hmcli.refine.codec import RefineCodec
    from hmcli.train.trainer import refine_batch
    from tests.refine.helpers import tiny_refiner

    lr = LoadedRefiner(tiny_refiner(identity=False), RefineCodec(), {"clip_frames": 16})
    rng = np.random.default_rng(1)
    xy = torch.from_numpy(rng.uniform(100, 300, (3, 12, 17, 2)).astype(np.float32))
    conf = torch.from_numpy(rng.uniform(0.3, 1.0, (3, 12, 17)).astype(np.float32))
    conf[0, 4, 2] = 0.0
    conf[2, 6] = 0.0  # a lost frame
    out = refine_batch(lr, {"xy": xy, "conf": conf, "valid": torch.ones(3, 12, dtype=torch.bool)}, dt_scale=0.8)
    for i in range(3):
        rxy, rconf = refine_track(lr, xy[i].numpy(), conf[i].numpy(), dt_scale=0.8)
        torch.testing.assert_close(out["xy"][i], torch.from_numpy(rxy), rtol=0, atol=1e-3)
        torch.testing.assert_close(out["conf"][i], torch.from_numpy(rconf))


def test_rendered_pairs_replace_a_share_of_the_30fps_windows(tmp_path):
    from hmcli.bench.detector2d import save_clips
    from hmcli.data.rendered import load_rendered_pairs
    from hmcli.train.trainer import _step_batch
    from tests.data.test_rendered import rendered_clip

    save_clips([rendered_clip(F=40)], str(tmp_path / "pairs.npz"))
    cfg = _cfg(tmp_path, steps=2, eval_every=2, save_every=2, data_rendered=[str(tmp_path / "pairs.npz")],
               rendered_p=1.0)
    pairs = load_rendered_pairs(cfg.data_rendered)
    from hmcli.train.trainer import load_split

    seqs = load_split(cfg.data, "train")
    batch, _, _ = _step_batch(cfg, seqs, 0, 0, None, pairs)
    assert batch["action_name"] == ["rendered"] * cfg.batch_size
    plain, _, _ = _step_batch(cfg, seqs, 0, 0, None, None)
    assert "rendered" not in plain["action_name"]
    from dataclasses import replace

    b, _, _ = _step_batch(replace(cfg, rendered_p=0.5, batch_size=64), seqs, 0, 0, None, pairs)
    assert 10 < b["action_name"].count("rendered") < 54
    fast = replace(cfg, fps_aug=[50.0])
    at50 = [s for s in range(20) if _step_batch(fast, seqs, s, 0, None, None)[1] != 1.0]   # steps drawn at 50 fps
    assert at50
    b, dt_scale, _ = _step_batch(fast, seqs, at50[0], 0, None, pairs)
    assert dt_scale == 30.0 / 50.0 and "rendered" not in b["action_name"]       # pairs only at their own rate
    train(cfg)                                                                  # trains on them end to end
    lm = load_checkpoint(tmp_path / "run" / "last.pt")
    assert lm.meta["data"]["rendered_pairs"] == {"files": cfg.data_rendered, "clips": 1, "frames": 40, "share": 1.0}


def test_missing_rendered_pairs_are_one_clear_error_and_no_run(tmp_path):
    cfg = _cfg(tmp_path, data_rendered=[str(tmp_path / "pairs-0.npz")], rendered_p=0.3)
    with pytest.raises(HMError, match="data_rendered: cannot read .*pairs-0.npz"):
        train(cfg)
    assert not (tmp_path / "run").exists()
