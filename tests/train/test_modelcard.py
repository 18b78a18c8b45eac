"""Model card pieces that depend on which checkpoint of a run is shipped."""

import os

from hmcli.train.modelcard import _kept_text


def test_best_checkpoint_names_its_validation_error():
    meta = {"step": 4000, "val_mpjpe_mm": 73.456, "train": {"val_clip": 81}}
    assert _kept_text(meta, {}) == "- Checkpoint kept: best validation MPJPE (73.5 mm at step 4000; 81-frame validation clips)."
    meta["train"]["val_mode"] = "lift"
    assert _kept_text(meta, {}) == ("- Checkpoint kept: best validation MPJPE (73.5 mm at step 4000; "
                                    "whole validation trials lifted as `hm lift` runs the model).")
    meta["train"]["val_cameras"] = 8
    assert _kept_text(meta, {}) == ("- Checkpoint kept: best validation MPJPE (73.5 mm at step 4000; "
                                    "whole validation trials, 8 cameras each, lifted as `hm lift` runs the model).")


def test_final_checkpoint_is_named_with_the_logged_validation_error():
    info = {"steps": 7000, "val": [(6750, 76.1), (7000, 75.94)]}
    train = {"val_clip": 81}
    assert _kept_text({"step": 7000, "train": train}, info) == (
        "- Checkpoint kept: the final one, step 7000 (validation MPJPE 75.9 mm; 81-frame validation clips).")
    assert _kept_text({"step": 6750, "train": train}, info) == (
        "- Checkpoint kept: step 6750 (validation MPJPE 76.1 mm; 81-frame validation clips).")
    assert _kept_text({"step": 5}, {}) == "- Checkpoint kept: step 5."


def test_card_names_the_hardware_and_augmentation_the_run_recorded(tmp_path):
    from hmcli.io.checkpoint import load_checkpoint
    from hmcli.train.metrics import EvalReport
    from hmcli.train.modelcard import model_card
    from hmcli.train.trainer import train
    from tests.train.test_trainer import _cfg

    train(_cfg(tmp_path, steps=1, eval_every=1, save_every=1, splice_prob=0.5, splice_arms=0.5,
               speed_aug=1.25))  # spliced (arms too), sped-up clips
    lm = load_checkpoint(tmp_path / "run" / "last.pt")
    assert lm.meta["hardware"].endswith("CPU (%d cores), torch threads: 1" % os.cpu_count())
    report = EvalReport(**{k: 1.0 for k in ("mpjpe", "p_mpjpe", "n_mpjpe", "pck150", "auc", "mpjve")}, num_frames=10)
    card = model_card(lm, {"30 fps": report}, "hm train ...", "hm eval ...", tmp_path / "run")
    assert f"min on {lm.meta['hardware']}." in card
    assert "upper-body splicing (the upper body of another clip on 50% of clips)" in card
    assert "each arm of a spliced clip from a third clip with probability 0.5" in card
    assert "playback speed ×0.80–×1.25 per clip (Δ unchanged)" in card


def test_card_of_a_final_fit_says_the_validation_subjects_were_trained_on(tmp_path):
    from hmcli.io.checkpoint import load_checkpoint
    from hmcli.train.metrics import EvalReport
    from hmcli.train.modelcard import model_card
    from hmcli.train.trainer import train
    from tests.train.test_trainer import _cfg

    train(_cfg(tmp_path, steps=2, save_every=1, train_on="train+val"))
    lm = load_checkpoint(tmp_path / "run" / "last.pt")
    report = EvalReport(**{k: 1.0 for k in ("mpjpe", "p_mpjpe", "n_mpjpe", "pck150", "auc", "mpjve")}, num_frames=10)
    card = model_card(lm, {"30 fps": report}, "hm train ...", "hm eval ...", tmp_path / "run")
    assert "- Split by whole subject: train 02, 05; test 09, 49 (held out, never seen in training)." in card
    assert "- Final fit (`train_on: train+val`): the validation subjects (02, 55) join the training data." in card
    assert "- Checkpoint kept: the final one, step 2." in card
    assert "Validation MPJPE during training" not in card


def test_input_text_follows_the_runs_cameras_bodies_and_corruption():
    from hmcli.train.modelcard import _input_text

    plain = _input_text({})
    assert "360° around the subject" in plain and "~15 % masked joints" in plain and "BlazePose" not in plain
    rv = _input_text({"camera_kind": "mixed", "proportions": "wide", "corrupt_model": "mixed"})
    assert "ceiling, phone, webcam, sports, handheld 12 % each" in rv
    assert "bodies of `wide` proportions" in rv and "per clip either" in rv and "BlazePose-like" in rv
    assert "`ceiling` kind" in _input_text({"camera_kind": "ceiling", "corrupt_model": "blazepose"})
    pairs = _input_text({"data_rendered": ["runs/pairs-0.npz"], "rendered_p": 0.3})
    assert "30% of the 30 fps windows instead: the real detector's 2D" in pairs
    assert "real detector" not in _input_text({"data_rendered": ["runs/pairs-0.npz"], "rendered_p": 0.0})
