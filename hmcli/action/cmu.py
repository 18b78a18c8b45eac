"""The shipped classifier's data: CMU motion capture labelled by its file descriptions.

Classes (from :func:`hmcli.data.cmu.action_from_description`):

==========  =====================================================  ==============================
class       CMU descriptions                                       subjects (test ones *)
==========  =====================================================  ==============================
walk        walk ...                                               02 09* 10 16
run         run, jog                                               02 09* 16 49*
jump        jump, forward jump                                     13 16 49* (01 02: data_extra)
dance       dance (ballet, salsa, ...)                             05 49* 55 93
exercise    streching, jumping jacks, squats, side twists, ...     13 14 49*
==========  =====================================================  ==============================

Dropped: basketball (one subject, 06, so it cannot be split by subject), and the
trials that match no rule. Split by subject as the lifter's: test 09 and 49 (never seen in
training), everything else trains (the validation subjects 02 and 55 included; no model
selection is done on them).

More data (``data_extra``, e.g. ``../shared/data/cmu-amc-extra``): files named ``NN_TT.amc``
carry no description, so :data:`EXTRA_DESCRIPTIONS` gives the labelled ones CMU's own index
description (mocap.cs.cmu.edu), each checked against the motion itself (root height and
travel): 01_01 a series of forward jumps on a playground (jump; 36 of its 42 two-second
windows have both feet off the ground, like CMU's own jump trials), 02_04 one standing jump
(jump; the balance that follows is cut off). So jump gains two subjects (01, 02) besides 13,
16 and 49. Subject 03's walks over uneven ground (03_01-03_04) are left out by measurement:
with them the walk class is mostly one person stepping up and down, and cross-validated
dance windows went to walk (55 of 418 against 36 without them; pooled balanced accuracy
77.8 % against 78.5 %). The other extra trials (climbing, punching, swordplay, bending,
washing) match no class. Like the lifter's ``data_extra`` these trials only ever train: a
held-out subject's extra trials are left out, so held-out figures stay those of the main
folder.

Windows of ``window_s`` seconds (2 s) at 30 fps are cut from each trial every ``stride_s``
and seen through random virtual cameras with the lifter's detector-like corruption
(:mod:`hmcli.data.corrupt`), giving 2D exactly like the lifter's training input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hmcli.data.splits import TEST_SUBJECTS, normalize_subject

__all__ = [
    "CMU_ACTION_CLASSES",
    "CMU_CLASS_OF",
    "EXTRA_DESCRIPTIONS",
    "SUBJECT_FOLDS",
    "CMUClip",
    "check_folds",
    "class_counts",
    "cmu_action_clips",
    "render_clip_2d",
]

CMU_ACTION_CLASSES: tuple[str, ...] = ("walk", "run", "jump", "dance", "exercise")
CMU_CLASS_OF: dict[str, str] = {"walk": "walk", "run": "run", "jump": "jump", "dance": "dance", "stretch": "exercise"}

#: Subject folds for cross-validation (``scripts/action_folds.py``): every labelled subject is held
#: out once, and each fold leaves every class at least one training subject. Fold 0 is the shipped
#: split; fold 1 holds out the lifter's validation subjects (like fold 0, people the backbone never
#: saw); folds 2 and 3 hold out subjects whose motion trained the backbone (3D only, no labels).
SUBJECT_FOLDS: tuple[tuple[str, ...], ...] = (("09", "49"), ("02", "55"), ("13", "16", "93"), ("05", "10", "14"))

#: Labelled trials among files without a description (``data_extra``): trial id -> (CMU's index
#: description, seconds kept from the start; None: all).
EXTRA_DESCRIPTIONS: dict[str, tuple[str, float | None]] = {
    "01_01": ("playground - forward jumps, turn around", None),
    "02_04": ("jump, balance", 2.5),
}


@dataclass
class CMUClip:
    """One labelled trial: world joints (N, 17, 3) at ``fps``."""

    joints: np.ndarray
    fps: float
    label: int
    subject: str
    trial: str
    description: str
    extra: bool = False  # from ``data_extra``: trains, never tested

    @property
    def split(self) -> str:
        return self.split_for(TEST_SUBJECTS)

    def split_for(self, test_subjects) -> str:
        """'test' when the clip's subject is one of ``test_subjects``, else 'train'; an extra clip of a
        held-out subject is 'unused'."""
        held = normalize_subject(self.subject) in test_subjects
        if self.extra:
            return "unused" if held else "train"
        return "test" if held else "train"


def check_folds(clips: list[CMUClip], test_subjects) -> None:
    """Raise ValueError when holding out ``test_subjects`` leaves a class no training clip or no
    clip is held out at all (``test_subjects``: normalised ids)."""
    if not any(c.split_for(test_subjects) == "test" for c in clips):
        raise ValueError(f"no labelled clip of subjects {', '.join(test_subjects)}")
    for i, name in enumerate(CMU_ACTION_CLASSES):
        if any(c.label == i for c in clips) and not any(c.label == i and c.split_for(test_subjects) == "train"
                                                        for c in clips):
            raise ValueError(f"holding out {', '.join(test_subjects)} leaves class '{name}' no training subject")


def cmu_action_clips(data_dir: str | Path, cache: str | Path | None = None,
                     extra: list[str] | tuple[str, ...] = ()) -> list[CMUClip]:
    """Every CMU trial whose action maps to a class, as :class:`CMUClip`; then the trials of the
    ``extra`` folders named in :data:`EXTRA_DESCRIPTIONS` (``extra=True``), unless ``data_dir`` or
    an earlier folder has the same subject and trial."""
    from hmcli.data.cmu import action_from_description, load_cmu_dir, trial_key

    out = []
    seqs = load_cmu_dir(data_dir, cache=cache)
    have = {trial_key(s) for s in seqs}
    for s in seqs:
        cls = CMU_CLASS_OF.get(s.action)
        if cls is None:
            continue
        out.append(CMUClip(np.asarray(s.joints, np.float32), float(s.fps), CMU_ACTION_CLASSES.index(cls),
                           s.subject, s.trial, s.description))
    for more in extra:
        for s in load_cmu_dir(more, trials=set(EXTRA_DESCRIPTIONS)):
            if trial_key(s) in have:
                continue
            have.add(trial_key(s))
            desc, keep_s = EXTRA_DESCRIPTIONS[s.trial_id]
            cls = CMU_CLASS_OF[action_from_description(desc)]
            joints = np.asarray(s.joints, np.float32)
            if keep_s is not None:
                joints = joints[: int(round(keep_s * s.fps))]  # (F', 17, 3)
            out.append(CMUClip(joints, float(s.fps), CMU_ACTION_CLASSES.index(cls), s.subject, s.trial, desc,
                               extra=True))
    return out


def class_counts(clips: list[CMUClip], window_s: float = 2.0, stride_s: float = 0.5,
                 test_subjects=TEST_SUBJECTS) -> dict:
    """Per split and class: trials, subjects and windows (of ``window_s`` every ``stride_s``)."""
    out: dict = {}
    for split in ("train", "test"):
        rows = {}
        for i, name in enumerate(CMU_ACTION_CLASSES):
            cs = [c for c in clips if c.label == i and c.split_for(test_subjects) == split]
            wins = sum(max(0, int((c.joints.shape[0] / c.fps - window_s) // stride_s) + 1) for c in cs)
            rows[name] = {"trials": len(cs), "subjects": sorted({c.subject for c in cs}), "windows": wins}
        out[split] = rows
    return out


def render_clip_2d(world: np.ndarray, rng: np.random.Generator, corrupt: bool = True, camera_kind: str = "any",
                   corrupt_model: str = "plain") -> dict:
    """A (F, 17, 3) world window through a random virtual camera of ``camera_kind`` (+ detector-like
    corruption of ``corrupt_model``, :func:`hmcli.data.corrupt.corruption_preset`): ``xy`` (F, 17, 2)
    px, ``conf`` (F, 17), ``width``, ``height``."""
    from hmcli.data.corrupt import corruption_preset
    from hmcli.data.dataset import render_window

    r = render_window(world, rng, camera_kind, corruption_preset(corrupt_model) if corrupt else None)
    return {"xy": r["xy"], "conf": r["conf"], "width": r["width"], "height": r["height"]}
