import json

import pytest
from typer.testing import CliRunner

from hmcli.cli.main import app
from hmcli.train.config import TrainConfig
from hmcli.train.trainer import train
from tests.train.fixtures import TINY_MODEL, make_mini_cmu

runner = CliRunner()


def test_info_json_lists_presets_with_counts_and_backends(tmp_path, monkeypatch):
    monkeypatch.setenv("HM_MODELS", str(tmp_path))
    r = runner.invoke(app, ["info", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    counts = {p["name"]: p["params"] for p in data["presets"]}
    assert abs(counts["hummuss"] - 16e6) < 1.6e6 and abs(counts["hummuss-causal"] - 16e6) < 1.6e6
    assert "hummuss-small" in counts and "hummuss" in data["architectures"]
    assert set(data["backends"]) >= {"mediapipe", "mmpose", "smplx", "anny"}
    import torch

    packed = torch.backends.mkldnn.is_available()
    assert data["streaming_linears"] == ("oneDNN pre-packed" if packed else "plain (oneDNN packing unavailable)")


def test_info_lists_checkpoints_with_their_held_out_metrics(tmp_path, monkeypatch):
    from hmcli.nn.registry import build_from_config
    from hmcli.skeleton.codec import PoseCodec
    from hmcli.io.checkpoint import release_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "run.pt", build_from_config("hummuss", dict(TINY_MODEL)), "hummuss", PoseCodec(),
                    {"model_id": "run"}, train_state={"step": 1})
    release_checkpoint(tmp_path / "run.pt", tmp_path / "models" / "mine.pt", "mine", {"test_mpjpe_mm": 70.49})
    monkeypatch.setenv("HM_MODELS", str(tmp_path / "models"))
    r = runner.invoke(app, ["info", "--json"])
    assert r.exit_code == 0, r.output
    ck = json.loads(r.stdout)["checkpoints"]
    assert [c["metrics"] for c in ck if c["name"] == "mine"] == [{"test_mpjpe_mm": 70.49}]
    r = runner.invoke(app, ["info"])
    assert r.exit_code == 0 and "test_mpjpe_mm 70.5" in r.stdout


def test_eval_cli_reports_metrics_and_fps_scaling(tmp_path):
    data = make_mini_cmu(tmp_path / "cmu")
    cfg = TrainConfig(model="hummuss", model_overrides=dict(TINY_MODEL), data=str(data), out=str(tmp_path / "run"),
                      steps=2, batch_size=2, clip_min=8, clip_max=8, val_clip=16, eval_every=2, save_every=2,
                      warmup=1, threads=1, half_export=False)
    train(cfg)
    ck = str(tmp_path / "run" / "best.pt")
    r = runner.invoke(app, ["eval", ck, "--data", str(data), "--json", "--cameras", "1"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["fps"] == 30.0 and rep["num_frames"] == 2 * 90  # two test trials, 360 frames at 120 -> 90
    assert rep["mpjpe"] >= rep["p_mpjpe"] > 0 and "walk" in rep["per_action"]
    r15 = json.loads(runner.invoke(app, ["eval", ck, "--data", str(data), "--json", "--subsample", "2"]).stdout)
    assert r15["fps"] == 15.0 and r15["num_frames"] == 2 * 2 * 45 and r15["dt_scaled"] is True
    r_ns = json.loads(runner.invoke(app, ["eval", ck, "--data", str(data), "--json", "--fps", "15", "--no-dt-scale"]).stdout)
    assert r_ns["dt_scaled"] is False and r_ns["mpjpe"] != r15["mpjpe"]
    # Trained on 8-frame clips: the 90-frame trials are lifted in 16-frame windows unless --one-pass.
    assert rep["one_pass"] is False
    r1 = json.loads(runner.invoke(app, ["eval", ck, "--data", str(data), "--json", "--cameras", "1", "--one-pass"]).stdout)
    assert r1["one_pass"] is True and r1["num_frames"] == rep["num_frames"] and r1["mpjpe"] != rep["mpjpe"]
    # Test-time flip by default, as hm lift runs the model; --no-flip measures the single estimate.
    rn = json.loads(runner.invoke(app, ["eval", ck, "--data", str(data), "--json", "--cameras", "1", "--no-flip"]).stdout)
    assert rep["flip"] is True and rn["flip"] is False and rn["mpjpe"] != rep["mpjpe"]


def test_eval_streamed_causal_model(tmp_path):
    data = make_mini_cmu(tmp_path / "cmu")
    cfg = TrainConfig(model="hummuss", model_overrides={**TINY_MODEL, "causal": True}, data=str(data),
                      out=str(tmp_path / "run"), steps=2, batch_size=2, clip_min=8, clip_max=8, val_clip=16,
                      eval_every=2, save_every=2, warmup=1, threads=1, half_export=False)  # fmt: skip
    train(cfg)
    ck = str(tmp_path / "run" / "best.pt")

    def ev(*flags):
        r = runner.invoke(app, ["eval", ck, "--data", str(data), "--json", "--cameras", "1", *flags])
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    whole, streamed_all, streamed = ev("--one-pass"), ev("--stream", "--one-pass"), ev("--stream")
    assert streamed["stream"] is True and streamed["num_frames"] == whole["num_frames"]
    assert streamed_all["mpjpe"] == pytest.approx(whole["mpjpe"], abs=1e-3)  # the streamer is the causal model
    assert streamed["mpjpe"] != pytest.approx(whole["mpjpe"], abs=1e-3)  # an 8-frame horizon forgets


def test_eval_stream_needs_a_causal_model(tmp_path, ckpts):
    data = make_mini_cmu(tmp_path / "cmu")
    r = runner.invoke(app, ["eval", ckpts["bi"], "--data", str(data), "--stream"])
    assert r.exit_code != 0 and "causal" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--fps", "0"], "--fps must be a positive number, got 0.0"),
        (["--subsample", "0"], "--subsample must be at least 1, got 0"),
        (["--cameras", "0"], "--cameras must be at least 1, got 0"),
        (["--seed", "-1"], "--seed must be >= 0, got -1"),
        (["--split", "dev"], "--split must be one of train, val, test, got 'dev'"),
        (["--camera-kind", "drone"], ("--camera-kind: unknown camera_kind 'drone' (available: any, standard, ceiling, "
                                      "phone, webcam, sports, handheld, mixed); or all")),
        (["--proportions", "giant"], "--proportions: unknown proportions 'giant' (available: none, wide, adult)"),
        (["--corrupt-model", "yolo"], "--corrupt-model must be one of plain, blazepose, mixed, got 'yolo'"),
        (["--corrupt-model", "blazepose", "--card", "c.md"], ("--card measures the standard 2D corruption; leave out "
                                                              "--corrupt-model")),
        (["--camera-kind", "ceiling", "--card", "c.md"], ("--card measures the standard cameras and bodies; leave out "
                                                          "--camera-kind and --proportions")),
    ],
)
def test_eval_bad_option_values_are_usage_errors(args, message):
    r = runner.invoke(app, ["eval", "hummuss-small-cmu", *args])  # checked before the model or data is read
    assert r.exit_code == 2 and r.stderr == f"hm: error: {message}\n"


def test_eval_errors_are_one_line(tmp_path):
    r = runner.invoke(app, ["eval", str(tmp_path / "missing.pt")])
    assert r.exit_code == 4
    assert r.stderr.count("\n") == 1 and "not found" in r.stderr
    (tmp_path / "bad.pt").write_text("hello")
    r = runner.invoke(app, ["eval", str(tmp_path / "bad.pt")])
    assert r.exit_code == 4 and "cannot read" in r.stderr


def test_eval_card_has_the_frame_rate_table(tmp_path):
    data = make_mini_cmu(tmp_path / "cmu")
    cfg = TrainConfig(model="hummuss", model_overrides=dict(TINY_MODEL), data=str(data), out=str(tmp_path / "run"),
                      steps=2, batch_size=2, clip_min=8, clip_max=8, val_clip=16, eval_every=2, save_every=2,
                      warmup=1, threads=1, input_location=True, bone_jitter=0.05)
    train(cfg)
    card = tmp_path / "card.md"
    notes = tmp_path / "notes.md"
    notes.write_text("- Trained for two steps only.\n")
    bad = runner.invoke(app, ["eval", str(tmp_path / "run" / "best.pt"), "--data", str(data), "--card", str(card),
                              "--notes", str(tmp_path / "missing.md")])
    assert bad.exit_code == 2 and "cannot read --notes" in bad.output and not card.exists()
    r = runner.invoke(app, ["eval", str(tmp_path / "run" / "best.pt"), "--data", str(data), "--cameras", "1",
                            "--card", str(card), "--command", "hm train -c x.yaml", "--run", str(tmp_path / "run"),
                            "--notes", str(notes)])
    assert r.exit_code == 0, r.output
    text = card.read_text()
    assert "## Notes\n\n- Trained for two steps only." in text and text.index("## Notes") < text.index("## License")
    for row in ("| 30 fps |", "| 15 fps, Δ scaled |", "| 60 fps, Δ not scaled |", "| 30 fps, one pass (--one-pass) |",
                "| 30 fps, no test-time flip (--no-flip) |", "averages the estimate of the mirrored input",
                "windows of the 8-frame training clip length", "hm train -c x.yaml", "mocap.cs.cmu.edu",
                "person units: per frame, centred on the hips", "plus three location channels",
                "bone-length augmentation (per-bone factors, std 0.05)"):
        assert row in text
    assert "Validation MPJPE during training (mm): 2:" in text


def test_eval_warns_when_the_model_was_trained_on_the_people_it_is_evaluated_on(tmp_path):
    data = make_mini_cmu(tmp_path / "cmu")
    cfg = TrainConfig(model="hummuss", model_overrides=dict(TINY_MODEL), data=str(data), out=str(tmp_path / "run"),
                      steps=1, batch_size=2, clip_min=8, clip_max=8, save_every=1, warmup=1, threads=1,
                      half_export=False, train_on="train+val")
    train(cfg)
    ck = str(tmp_path / "run" / "last.pt")
    held = runner.invoke(app, ["eval", ck, "--data", str(data), "--json", "--cameras", "1"])
    assert held.exit_code == 0 and held.stderr == ""
    seen = runner.invoke(app, ["eval", ck, "--data", str(data), "--json", "--cameras", "1", "--split", "val"])
    assert seen.exit_code == 0 and json.loads(seen.stdout)["split"] == "val"
    assert seen.stderr == ("warning: run was trained on subject(s) 02 of the 'val' split; "
                           "these figures are not on held-out people\n")


def test_eval_per_camera_kind_and_with_other_bodies(tmp_path):
    data = make_mini_cmu(tmp_path / "cmu")
    cfg = TrainConfig(model="hummuss", model_overrides=dict(TINY_MODEL), data=str(data), out=str(tmp_path / "run"),
                      steps=2, batch_size=2, clip_min=8, clip_max=8, val_clip=16, eval_every=2, save_every=2,
                      warmup=1, threads=1, half_export=False)
    train(cfg)
    ck = str(tmp_path / "run" / "best.pt")
    base = ["eval", ck, "--data", str(data), "--cameras", "1"]
    plain = json.loads(runner.invoke(app, [*base, "--json"]).stdout)
    assert plain["bone_err"] > 0 and plain["shoulder_ratio"] > 0 and "camera_kind" not in plain
    r = runner.invoke(app, [*base, "--json", "--camera-kind", "all"])
    assert r.exit_code == 0, r.output
    kinds = json.loads(r.stdout)["kinds"]
    assert [k["kind"] for k in kinds] == ["standard", "ceiling", "phone", "webcam", "sports", "handheld"]
    assert kinds[0]["mpjpe"] == pytest.approx(plain["mpjpe"])  # standard: the cameras of the default evaluation
    assert len({round(k["mpjpe"], 6) for k in kinds}) == 6
    assert kinds[3]["masked_pct"] > kinds[0]["masked_pct"]  # webcams cut the body off
    table = runner.invoke(app, [*base, "--camera-kind", "ceiling,sports"]).stdout
    assert "| camera kind | MPJPE (mm) | P-MPJPE (mm) | N-MPJPE (mm) | bone err (mm) | shoulder × | hip ×" in table
    assert "| ceiling |" in table and "| sports |" in table
    one = json.loads(runner.invoke(app, [*base, "--json", "--camera-kind", "sports"]).stdout)
    assert one["camera_kind"] == "sports" and one["mpjpe"] == pytest.approx(kinds[4]["mpjpe"])
    wide = json.loads(runner.invoke(app, [*base, "--json", "--proportions", "wide"]).stdout)
    assert wide["proportions"] == "wide" and wide["mpjpe"] != plain["mpjpe"]
    bp = json.loads(runner.invoke(app, [*base, "--json", "--corrupt-model", "blazepose"]).stdout)
    assert bp["corrupt_model"] == "blazepose" and bp["mpjpe"] != plain["mpjpe"]
    text = runner.invoke(app, [*base, "--proportions", "wide"]).stdout
    assert "(wide bodies)" in text and "bone err (mm)" in text
    default = runner.invoke(app, base).stdout
    assert "bone err" not in default  # the default table is unchanged
    assert "bone err (mm) | shoulder × | hip ×" in runner.invoke(app, [*base, "--bones"]).stdout
    # a saved per-kind output as the baseline: old and new figures side by side
    saved = tmp_path / "old.json"
    saved.write_text(runner.invoke(app, [*base, "--json", "--camera-kind", "standard,webcam"]).stdout)
    r = runner.invoke(app, [*base, "--camera-kind", "standard,ceiling", "--compare", str(saved)])
    assert r.exit_code == 0, r.output
    rows = {line.split(" | ")[0]: line.split(" | ") for line in r.stdout.splitlines() if line.startswith("| ")}
    assert "MPJPE (mm) old | MPJPE (mm) new" in r.stdout
    assert rows["| standard"][1] == rows["| standard"][2] == f"{kinds[0]['mpjpe']:.1f}"  # the same model: old = new
    assert rows["| ceiling"][1] == "-"  # not in the baseline
    single = tmp_path / "single.json"
    single.write_text(json.dumps(plain))
    r = runner.invoke(app, [*base, "--compare", str(single)])
    assert r.exit_code == 0 and f"| standard | {plain['mpjpe']:.1f} | {plain['mpjpe']:.1f} |" in r.stdout
    (tmp_path / "bad.json").write_text("[1, 2]")
    r = runner.invoke(app, [*base, "--compare", str(tmp_path / "bad.json")])
    assert r.exit_code == 2 and "not an hm eval --json output" in r.stderr
