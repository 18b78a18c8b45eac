"""A miniature motion-capture directory in CMU layout, written by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.data.helpers import mini_cmu_amc, mini_cmu_asf

TINY_MODEL = {"dim": 16, "depth": 1, "state": 8, "rep_dim": 16, "expand": 2.0}


def _motion(frames: int, phase: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    t = np.arange(frames) / 120.0
    swing = 30 * np.sin(2 * np.pi * 1.2 * t + phase)  # degrees
    root = np.stack([10 * t, 20 + 0.5 * np.sin(4 * np.pi * t), np.zeros_like(t)], axis=1)
    extra = {
        "lfemur": np.stack([swing, 0 * t, 0 * t], 1),
        "rfemur": np.stack([-swing, 0 * t, 0 * t], 1),
        "ltibia": np.abs(swing)[:, None],
        "rtibia": np.abs(swing)[:, None],
        "lhumerus": np.stack([-swing, 0 * t, 60 + 0 * t], 1),
        "rhumerus": np.stack([swing, 0 * t, -60 + 0 * t], 1),
    }
    return root, extra


def make_mini_cmu(root: Path, frames: int = 360) -> Path:
    """Subjects 05 (train), 02 (val) and 09 (test), two walking trials each."""
    (root / "asf").mkdir(parents=True, exist_ok=True)
    (root / "amc").mkdir(exist_ok=True)
    for k, subj in enumerate(("05", "02", "09")):
        (root / "asf" / f"{subj}.asf").write_text(mini_cmu_asf())
        for trial in (1, 2):
            pos, extra = _motion(frames, phase=k + trial)
            (root / "amc" / f"{subj}_{trial:02d} - walk, slow.amc").write_text(mini_cmu_amc(pos, extra))
    return root
