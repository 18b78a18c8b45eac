"""Model card pieces that depend on which checkpoint of a run is shipped."""

from hmcli.train.modelcard import _kept_text


def test_best_checkpoint_names_its_validation_error():
    assert _kept_text({"step": 4000, "val_mpjpe_mm": 73.456}, {}) == "- Checkpoint kept: best validation MPJPE (73.5 mm at step 4000)."


def test_final_checkpoint_is_named_with_the_logged_validation_error():
    info = {"steps": 7000, "val": [(6750, 76.1), (7000, 75.94)]}
    assert _kept_text({"step": 7000}, info) == "- Checkpoint kept: the final one, step 7000 (validation MPJPE 75.9 mm)."
    assert _kept_text({"step": 6750}, info) == "- Checkpoint kept: step 6750 (validation MPJPE 76.1 mm)."
    assert _kept_text({"step": 5}, {}) == "- Checkpoint kept: step 5."
