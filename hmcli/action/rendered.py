"""Action windows of rendered bodies: the real detector's 2D of labelled CMU motion.

``scripts/render_pairs.py --task action`` poses the open Anny body with CMU trials that carry an
action class (:mod:`hmcli.action.cmu`), renders it through virtual cameras and runs the real 2D
detector (BlazePose) on the frames (:func:`hmcli.bench.detector2d.render_set`). Each clip becomes a
:class:`RenderedAction`: the landmarks exactly as ``hm action`` gives them to the classifier
(:func:`hmcli.lift.lifter_2d`: the lifter's BlazePose map, confidence floor and image mask; frames
without a person have confidence 0 and drop out of the pooling), with the trial's class.

Two uses:

* training (``hm train --task action data_rendered=[FILE, ...] rendered_p=P``): a share ``P`` of
  the 30 fps training windows of each class comes from the rendered clips of that class
  (subjects other than the held-out 09 and 49) instead of synthetic 2D;
* evaluation (``eval_rendered=[FILE]`` in training, ``hm bench action-rendered``): the held-out
  windows (subjects 09 and 49, 2 s each) with the real detector's 2D, the closest this project
  has to labelled real video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hmcli.io.atomic import HMError

__all__ = ["RenderedAction", "load_rendered_actions", "render_windows", "rendered_actions"]


@dataclass
class RenderedAction:
    """One rendered clip, ready for the classifier's codec. F frames at 30 fps."""

    xy: np.ndarray          # (F, 17, 2) H36M-17 px (the lifter's BlazePose map; 0 where nobody was found)
    conf: np.ndarray        # (F, 17) the lifter's confidence (floor, 0 outside the image and where nobody was found)
    width: int
    height: int
    label: int              # index into the class list
    subject: str
    trial: str

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])


def rendered_actions(clips: list, classes: tuple[str, ...], split: str,
                     test_subjects: tuple[str, ...] | None = None) -> list[RenderedAction]:
    """The clips (:class:`hmcli.data.rendered.RenderedClip`) of one subject ``split`` -- ``"train"``
    (every subject but the held-out ones) or ``"test"`` (``test_subjects``, default 09, 49) -- whose
    CMU action maps to one of ``classes`` (:data:`hmcli.action.cmu.CMU_CLASS_OF`), as :class:`RenderedAction`."""
    from hmcli.action.cmu import CMU_CLASS_OF
    from hmcli.data.rendered import lifter_input
    from hmcli.data.splits import TEST_SUBJECTS, normalize_subject

    held = TEST_SUBJECTS if test_subjects is None else test_subjects
    out = []
    for c in clips:
        trial = str(c.meta.get("trial", ""))
        subject = trial.split("_")[0]
        cls = CMU_CLASS_OF.get(str(c.meta.get("action", "")))
        if not trial or cls not in classes or (normalize_subject(subject) in held) != (split == "test"):
            continue
        xy, conf = lifter_input(c)                                                   # (F, 17, 2), (F, 17)
        out.append(RenderedAction(xy, conf, int(c.width), int(c.height), classes.index(cls), subject, trial))
    return out


def load_rendered_actions(paths: list[str], classes: tuple[str, ...], split: str,
                          option: str = "data_rendered") -> list[RenderedAction]:
    """:func:`rendered_actions` of every clip in ``paths`` (``.npz`` files of
    :func:`hmcli.data.rendered.save_clips`). Unreadable files, or none of the split's clips, raise
    HMError naming ``option``."""
    from hmcli.data.rendered import load_clip_files

    out = rendered_actions(load_clip_files(paths, option), classes, split)
    if not out:
        who = "held-out (09, 49)" if split == "test" else "training-subject"
        raise HMError(f"{option}: no {who} clips with an action class ({', '.join(classes)}) in {', '.join(paths)}")
    return out


def render_windows(seqs: list, rng: np.random.Generator, clips: int, frames: int, split: str,
                   stride_s: float = 1.0, test_subjects: tuple[str, ...] | None = None) -> list[tuple[str, int]]:
    """Which windows to render, as (trial id, first frame at 30 fps), from CMU sequences
    (:class:`hmcli.data.cmu.Sequence`) whose action has a class. ``split="test"``: every window the
    held-out evaluation scores (``frames`` frames every ``stride_s`` seconds of each trial of the test
    subjects, shorter trials whole; ``rng`` and ``clips`` unused). ``split="train"``: ``clips``
    random windows of the other subjects, the class drawn uniformly, then the trial by its length.
    ``test_subjects``: the held-out subjects (default 09, 49; e.g. a fold of
    :data:`hmcli.action.cmu.SUBJECT_FOLDS`)."""
    from hmcli.action.cmu import CMU_CLASS_OF
    from hmcli.data.splits import TEST_SUBJECTS, normalize_subject

    test, held = split == "test", TEST_SUBJECTS if test_subjects is None else test_subjects
    seqs = [s for s in seqs if s.action in CMU_CLASS_OF and (normalize_subject(s.subject) in held) == test]
    lengths = np.array([int(s.num_frames * 30.0 / s.fps) for s in seqs])           # frames at 30 fps
    if test:
        out = []
        for s, n in zip(seqs, lengths):
            f = min(int(n), frames)
            out += [(s.trial_id, int(round(t * 30.0))) for t in np.arange(0.0, (n - f) / 30.0 + 1e-9, stride_s)]
        return out
    names = sorted({CMU_CLASS_OF[s.action] for s in seqs})
    out = []
    for _ in range(clips):
        k = names[int(rng.integers(len(names)))]
        idx = np.array([i for i, s in enumerate(seqs) if CMU_CLASS_OF[s.action] == k])
        i = int(rng.choice(idx, p=lengths[idx] / lengths[idx].sum()))
        out.append((seqs[i].trial_id, int(rng.integers(0, max(1, lengths[i] - frames + 1)))))
    return out
