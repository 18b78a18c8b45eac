"""hmcli.action.cmu: labelled CMU trials, the extra folders' labels, splits by subject."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hmcli.action.cmu import (
    CMU_ACTION_CLASSES,
    EXTRA_DESCRIPTIONS,
    check_folds,
    class_counts,
    cmu_action_clips,
)
from hmcli.data.cmu import load_cmu_dir
from tests.data.helpers import mini_cmu_amc, mini_cmu_asf


def _write(path: Path, text: str, crlf: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", "\r\n" if crlf else "\n").encode("ascii"))


def _motion(frames: int) -> str:
    root = np.stack([np.arange(frames) * 0.1, np.full(frames, 20.0), np.zeros(frames)], axis=1)  # (F, 3)
    return mini_cmu_amc(root)


def _layout(tmp_path: Path) -> tuple[Path, Path]:
    """A main folder with described trials and an extra folder like cmu-amc-extra (CRLF, no descriptions)."""
    main, extra = tmp_path / "main", tmp_path / "extra"
    for subj in ("02", "09", "16"):
        _write(main / "asf" / f"{subj}.asf", mini_cmu_asf())
    _write(main / "Training" / "02_01 - walk.amc", _motion(30))
    _write(main / "Testing" / "09_12 - walk.amc", _motion(30))
    _write(main / "Training" / "16_02 - jump.amc", _motion(30))
    for subj in ("01", "02", "03"):
        _write(extra / f"{subj}.asf", mini_cmu_asf(), crlf=True)
    _write(extra / "01_01.amc", _motion(40), crlf=True)    # forward jumps: jump, a new subject
    _write(extra / "02_01.amc", _motion(50), crlf=True)    # the main folder's "02_01 - walk": skipped
    _write(extra / "02_04.amc", _motion(400), crlf=True)   # jump, balance: the first 2.5 s kept
    _write(extra / "02_05.amc", _motion(20), crlf=True)    # punching: no class
    _write(extra / "03_01.amc", _motion(25), crlf=True)    # walk on uneven terrain: left out (module doc)
    return main, extra


def test_extra_descriptions_map_to_classes():
    from hmcli.action.cmu import CMU_CLASS_OF
    from hmcli.data.cmu import action_from_description

    got = {t: CMU_CLASS_OF[action_from_description(d)] for t, (d, _) in EXTRA_DESCRIPTIONS.items()}
    assert got == {"01_01": "jump", "02_04": "jump"}


def test_extra_trials_join_training_only(tmp_path):
    main, extra = _layout(tmp_path)
    base = cmu_action_clips(main)
    assert [(c.subject, c.trial, c.extra) for c in base] == [("02", "01", False), ("09", "12", False),
                                                            ("16", "02", False)]
    clips = cmu_action_clips(main, extra=[str(extra)])
    got = {(c.subject, c.trial): c for c in clips}
    assert sorted(got) == [("01", "01"), ("02", "01"), ("02", "04"), ("09", "12"), ("16", "02")]
    assert got["02", "01"].joints.shape[0] == 30 and not got["02", "01"].extra     # the main folder's trial wins
    assert got["02", "04"].joints.shape == (300, 17, 3) and got["02", "04"].extra  # 2.5 s at 120 fps
    (whole,) = load_cmu_dir(extra, trials={"02_04"})
    np.testing.assert_array_equal(got["02", "04"].joints, whole.joints[:300])
    assert CMU_ACTION_CLASSES[got["01", "01"].label] == "jump" and got["01", "01"].description.startswith("playground")
    # the extra trials train; a held-out subject's extra trials are not used at all
    assert got["02", "04"].split_for(("09", "49")) == "train"
    assert got["02", "04"].split_for(("02", "55")) == "unused" and got["02", "01"].split_for(("02",)) == "test"
    counts = class_counts(clips, 0.1, 0.1, test_subjects=("02",))
    assert counts["test"]["jump"]["subjects"] == [] and counts["test"]["walk"]["subjects"] == ["02"]
    assert counts["train"]["jump"]["subjects"] == ["01", "16"]
    check_folds(clips, ("16",))                                   # 01's jumps keep the class
