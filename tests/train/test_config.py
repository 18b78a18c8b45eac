import pytest

from hmcli.io.atomic import HMError
from hmcli.train.config import resolve_config, resume_config


def test_config_file_and_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model: hummuss-small\nsteps: 10\nlr: 0.01\nfps_aug: [25.0]\n")
    cfg = resolve_config(f, ["steps=20", "model.dim=32", "flip_prob=0"], out="x")
    assert (cfg.model, cfg.steps, cfg.lr, cfg.out, cfg.fps_aug) == ("hummuss-small", 20, 0.01, "x", [25.0])
    assert cfg.model_overrides == {"dim": 32} and cfg.flip_prob == 0.0
    t = tmp_path / "c.toml"
    t.write_text('model = "hummuss"\nsteps = 5\n')
    assert resolve_config(t).steps == 5
    with pytest.raises(HMError, match="unknown option 'bogus'"):
        resolve_config(None, ["bogus=1"])
    with pytest.raises(HMError, match="unknown task"):
        resolve_config(None, ["task=mesh"])
    with pytest.raises(HMError, match="unknown input_norm 'bbox'"):
        resolve_config(None, ["input_norm=bbox"])
    with pytest.raises(HMError, match=r"bone_jitter must be in \[0, 0.5\), got 0.8"):
        resolve_config(None, ["bone_jitter=0.8"])
    assert resolve_config(None, ["bone_jitter=0.05"]).bone_jitter == 0.05
    with pytest.raises(HMError, match=r"splice_prob must be in \[0, 1\], got 1.5"):
        resolve_config(None, ["splice_prob=1.5"])
    assert resolve_config(None, ["splice_prob=0.5"]).splice_prob == 0.5
    with pytest.raises(HMError, match=r"splice_arms must be in \[0, 1\], got 2.0"):
        resolve_config(None, ["splice_arms=2"])
    with pytest.raises(HMError, match=r"splice_arms acts on spliced clips only; set splice_prob > 0 too"):
        resolve_config(None, ["splice_arms=0.5"])
    assert resolve_config(None, ["splice_arms=0.5", "splice_prob=0.5"]).splice_arms == 0.5
    with pytest.raises(HMError, match=r"speed_aug must be in \[1, 2\], got 3.0"):
        resolve_config(None, ["speed_aug=3"])
    assert resolve_config(None, ["speed_aug=1.25"]).speed_aug == 1.25


def test_val_mode_is_checked():
    with pytest.raises(HMError, match="unknown val_mode 'trials'"):
        resolve_config(overrides=["val_mode=trials"])
    with pytest.raises(HMError, match="task=pose3d"):
        resolve_config(overrides=["val_mode=lift", "task=mpm"])
    with pytest.raises(HMError, match="val_cameras must be >= 1, got 0"):
        resolve_config(overrides=["val_cameras=0"])


@pytest.mark.parametrize(
    "item, message",
    [
        ("lr=abc", "lr: expected a number, got 'abc'"),
        ("steps=1.5", "steps: expected an integer, got '1.5'"),
        ("flip_prob=yes", "flip_prob: expected a number, got 'yes'"),
        ("half_export=maybe", "half_export: expected true/false, got 'maybe'"),
        ("fps_aug=[25, oops", "fps_aug: expected a list, got '[25, oops'"),
        ("steps=0", "steps must be >= 1, got 0"),
        ("batch_size=-2", "batch_size must be >= 1, got -2"),
        ("lr=0", "lr must be > 0, got 0.0"),
        ("flip_prob=1.5", "flip_prob must be >= 0 and <= 1, got 1.5"),
        ("eval_every=0", "eval_every must be >= 1, got 0"),
        ("fps=-30", "fps must be > 0, got -30.0"),
        ("camera_kind=drone", "unknown camera_kind 'drone' (available: any, standard, ceiling, phone, webcam, sports, handheld, mixed)"),
        ("fps_aug=[25, 0]", "fps_aug: expected positive frame rates, got 0"),
        ("proportions=giant", "unknown proportions 'giant' (available: none, wide, adult)"),
        ("model.dim=[64", "model.dim: cannot parse '[64'"),
        ("precision=fp16", "unknown precision 'fp16' (available: fp32, bf16)"),
    ],
)
def test_bad_override_values_are_clear_errors(item, message):
    with pytest.raises(HMError) as e:
        resolve_config(None, [item])
    assert str(e.value) == message


def test_config_file_values_are_type_checked(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("steps: many\n")
    with pytest.raises(HMError, match="steps: expected an integer, got 'many'"):
        resolve_config(f)
    f.write_text("steps: true\n")  # YAML's true is not a step count
    with pytest.raises(HMError, match="steps: expected an integer, got True"):
        resolve_config(f)
    f.write_text("model_overrides: [1, 2]\n")
    with pytest.raises(HMError, match="model_overrides: expected a mapping"):
        resolve_config(f)
    f.write_text("lr: 1\nfps_aug: [25, 50.0]\n")  # an integer is a number
    cfg = resolve_config(f)
    assert cfg.lr == 1 and cfg.fps_aug == [25, 50.0]
    assert resolve_config(None, ["grad_clip=0", "warmup=0"]).grad_clip == 0.0  # 0: off


def test_resume_config_layers_overrides_on_the_runs_config(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(f"model: hummuss\nsteps: 10\nbone_jitter: 0.1\nout: {run}\n")
    cfg = resume_config(["steps=20"], out=str(run))
    assert (cfg.model, cfg.steps, cfg.bone_jitter) == ("hummuss", 20, 0.1)
    assert resume_config([f"out={run}"]).steps == 10
    with pytest.raises(HMError, match="--resume needs the run directory"):
        resume_config([])
    with pytest.raises(HMError, match="holds no run to resume"):
        resume_config(out=str(tmp_path / "other"))


def test_real_video_options_are_off_by_default_and_accepted():
    cfg = resolve_config(None, [])
    assert (cfg.camera_kind, cfg.proportions) == ("any", "")
    cfg = resolve_config(None, ["camera_kind=mixed", "proportions=wide"])
    assert (cfg.camera_kind, cfg.proportions) == ("mixed", "wide")


def test_corrupt_model_is_checked():
    assert resolve_config(None, []).corrupt_model == "plain"
    assert resolve_config(None, ["corrupt_model=mixed"]).corrupt_model == "mixed"
    with pytest.raises(HMError, match="unknown corrupt_model 'noisy' \\(available: plain, blazepose, mixed\\)"):
        resolve_config(None, ["corrupt_model=noisy"])


def test_data_extra_is_a_list_of_directories():
    assert resolve_config(None, []).data_extra == []
    cfg = resolve_config(None, ["data_extra=[../shared/data/cmu-amc-extra]"])
    assert cfg.data_extra == ["../shared/data/cmu-amc-extra"]
    with pytest.raises(HMError, match="data_extra: expected directory names, got 3"):
        resolve_config(None, ["data_extra=[3]"])


def test_rendered_pairs_options():
    cfg = resolve_config(None, ["data_rendered=[runs/pairs-0.npz]", "rendered_p=0.3"])
    assert cfg.data_rendered == ["runs/pairs-0.npz"] and cfg.rendered_p == 0.3
    with pytest.raises(HMError, match=r"rendered_p must be in \[0, 1\], got 1.5"):
        resolve_config(None, ["data_rendered=[a.npz]", "rendered_p=1.5"])
    with pytest.raises(HMError, match="rendered_p > 0 needs data_rendered"):
        resolve_config(None, ["rendered_p=0.3"])
    with pytest.raises(HMError, match="data_rendered: expected file names, got 3"):
        resolve_config(None, ["data_rendered=[3]"])
