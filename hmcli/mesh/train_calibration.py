"""Build the per-keypoint offsets file (:mod:`hmcli.mesh.calibration`) from CMU training
subjects: ``hm mesh calibrate --data ../shared/data/cmu-amc`` (about 6 minutes for Anny on a
2-core CPU). The held-out test (09, 49) and validation (02, 55) subjects are never used."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hmcli.io.atomic import HMError
from hmcli.mesh.calibration import ATTACH, Calibration, calibrate, mean_leg, save_calibration, training_clips

__all__ = ["CalibrationRun", "build_calibration"]


@dataclass(frozen=True)
class CalibrationRun:
    """What a calibration build used and wrote."""

    out: Path
    trials: tuple[str, ...]
    bodies: tuple[str, ...]
    errors_mm: dict[str, tuple[float, ...]]  # per body: mean keypoint error after each round


def build_calibration(data_dir: str | os.PathLike, out: str | os.PathLike, bodies: Sequence[str] = ("anny",),
                      frames: int = 2400, max_frames: int = 250, rounds: int = 2,
                      say: Callable[[str], None] = lambda _m: None) -> CalibrationRun:  # fmt: skip
    """Calibrate each body model in ``bodies`` ('anny', 'smpl', 'smplx', 'synthetic') on
    ``frames`` frames (30 fps) of CMU training clips from ``data_dir`` and write one file."""
    from hmcli.mesh.api import load_body_model
    from hmcli.mesh.prior import default_prior_path, load_prior
    from hmcli.mesh.synthetic import synthetic_body

    if frames < 1 or max_frames < 1 or rounds < 1:
        raise HMError("frames, max_frames and rounds must be at least 1")
    if not Path(data_dir).is_dir():
        raise HMError(f"--data is not a folder: {data_dir}")
    items = training_clips(data_dir, frames)
    if not items:
        raise HMError(f"no CMU training sequences found in {data_dir}")
    trials = tuple(f"{it['subject']}_{it['trial']}" for it in items)
    say(f"{len(items)} training sequences: {', '.join(trials)}")
    cals, errors = [], {}
    meta = {"trials": ",".join(trials), "frames": frames, "max_frames": max_frames, "rounds": rounds}
    for name in bodies:
        if name == "synthetic":
            model = synthetic_body()
        else:
            model = load_body_model(name, calibrated=False)
        prior = load_prior(default_prior_path(model.name))             # the body's own prior, if it has one
        offset, errs = calibrate(model, items, prior, rounds=rounds, max_frames=max_frames, say=say)
        cals.append(Calibration(model.name, offset.numpy(), tuple(x or "" for x in ATTACH)))
        meta[f"{model.name}_errors_mm"] = np.asarray(errs, np.float32)
        errors[model.name] = tuple(float(e) for e in errs)
        say(f"{model.name}: offset lengths (mm at the mean body's leg) "
            + ", ".join(f"{float(v):.0f}" for v in (offset.norm(dim=-1) * 1000 * mean_leg(model))))
    save_calibration(out, cals, meta)
    return CalibrationRun(Path(out), trials, tuple(c.body for c in cals), errors)
