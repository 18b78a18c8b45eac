"""Training and evaluating action classifiers (``hm train --task action``).

Data sources:

* ``cmu`` (default, the shipped classifier): CMU motion capture labelled by file
  description (:mod:`hmcli.action.cmu`), 2D made on the fly by random virtual cameras and
  the lifter's detector-like corruption; split by subject (test 09, 49).
* any :class:`~hmcli.action.types.ActionDataset` from :mod:`hmcli.action.readers` (NTU RGB+D
  ``.skeleton`` folders, pyskl/mmpose pickles, a CSV or label folders of your own clips):
  windows of its own 2D, with the splits it names (e.g. ``xsub_train`` / ``xsub_val``).

With the CMU data, ``data_rendered=[FILE, ...] rendered_p=P`` takes a share ``P`` of each class's
30 fps training windows from rendered bodies with the real detector's 2D, and
``eval_rendered=[FILE]`` also scores the rendered held-out windows (:mod:`hmcli.action.rendered`;
``scripts/render_pairs.py --task action`` makes both).

Each training item is a window of up to ``window_s`` seconds at the backbone's rate (shorter
trials are taken whole; missing frames are masked out of the pooling), two person slots
(single-person clips get a masked second person), mirrored with probability 1/2. Classes
are sampled uniformly (balanced sampling), so rare classes count as much as common ones.
The backbone (the pretrained lifter) learns at ``lr * backbone_lr_mult``, the head at ``lr``.

Two stages, because a forward + backward pass of the backbone costs about 0.35 s per 2 s
window on a 2-core CPU: (1) the head is trained on the pooled features of
``feature_windows`` windows through the frozen backbone (each drawn as above, balanced), for
``head_steps``; (2) the whole classifier is fine-tuned end to end for ``steps`` steps, the
backbone at the smaller learning rate. On a GPU raise ``steps`` (and drop stage 1 with
``head_steps=0``).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from hmcli.action.model import ActionClassifier, ActionHead, ActionHeadConfig
from hmcli.io.atomic import HMError

__all__ = ["ActionTrainConfig", "balanced_accuracy", "confusion", "draw_batch", "evaluate_windows", "head_loss",
           "pool_folds", "rendered_eval_items", "score_rendered", "train_action"]


@dataclass
class ActionTrainConfig:
    data: str = "../shared/data/cmu-amc"
    kind: str = "cmu"                 # cmu | ntu | pyskl | csv | folder | auto
    backbone: str = "hummuss-small-cmu"
    init_from: str | None = None      # an hm.action checkpoint to fine-tune (backbone + head if classes match)
    out: str = "runs/action"
    steps: int = 60                   # end-to-end fine-tuning steps (backbone at lr * backbone_lr_mult)
    batch_size: int = 16
    feature_windows: int = 2400       # stage 1: windows whose frozen-backbone features train the head
    head_steps: int = 3000            # stage 1: head steps on those features
    head_batch: int = 256
    lr: float = 1e-3
    backbone_lr_mult: float = 0.1
    weight_decay: float = 0.01
    warmup: int = 50
    window_s: float = 2.0
    min_window_s: float = 1.0
    hidden: int = 512
    dropout: float = 0.5
    train_split: str = "train"
    test_split: str = "test"
    eval_cameras: int = 2
    eval_stride_s: float = 1.0
    seed: int = 0
    threads: int = 0
    model_id: str = "action"
    rate_range: list | None = None    # e.g. [5, 60]: training windows at random frame rates (fps, log-uniform), Δ scaled
    rate_p: float = 0.5               # share of training batches drawn at a random rate (the rest at the backbone's)
    label_smoothing: float = 0.0      # stage 1 and 2 cross-entropy label smoothing
    mixup: float = 0.0                # stage 1: mixup of pooled features, Beta(a, a) weights (0: off)
    camera_kind: str = "any"          # CMU data: the training windows' virtual cameras (hmcli.data.camera kinds)
    corrupt_model: str = "plain"      # CMU data: the training windows' 2D errors: plain | blazepose | mixed
    eval_corrupt_model: str = "plain"  # CMU data: the held-out windows' 2D errors (cameras: always "any")
    bone_jitter: float = 0.0          # CMU data: per-bone length factors of the training windows' bodies (std)
    proportions: str = ""             # CMU data: the training windows' body proportions ("" as captured, wide, adult)
    body_p: float = 1.0               # CMU data: share of training windows on redrawn bodies (the rest as captured)
    data_rendered: list = field(default_factory=list)  # CMU data: rendered clips with the real detector's 2D (.npz)
    rendered_p: float = 0.0           # CMU data: share of each class's 30 fps training windows taken from data_rendered
    eval_rendered: list = field(default_factory=list)  # CMU data: rendered held-out windows, scored after training
    test_subjects: list = field(default_factory=list)  # CMU data: held-out subjects ([]: 09, 49; folds: SUBJECT_FOLDS)
    data_extra: list = field(default_factory=list)  # CMU data: more folders; their labelled trials train (cmu.EXTRA_DESCRIPTIONS)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.rate_range is not None:
            r = self.rate_range
            if (not isinstance(r, (list, tuple)) or len(r) != 2 or not all(isinstance(v, (int, float)) for v in r)
                    or not 0 < r[0] <= r[1]):
                raise ValueError(f"rate_range must be [min_fps, max_fps] with 0 < min <= max, not {r!r}")
            self.rate_range = [float(r[0]), float(r[1])]
        if not 0.0 <= self.rate_p <= 1.0:
            raise ValueError(f"rate_p must be in [0, 1], not {self.rate_p!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), not {self.label_smoothing!r}")
        if self.mixup < 0:
            raise ValueError(f"mixup must be >= 0, not {self.mixup!r}")
        from hmcli.data.camera import check_camera_kind
        from hmcli.data.corrupt import CORRUPT_MODELS

        check_camera_kind(self.camera_kind)
        from hmcli.data.augment import check_bone_jitter, proportion_preset

        check_bone_jitter(self.bone_jitter)
        proportion_preset(self.proportions)
        if not 0.0 <= self.body_p <= 1.0:
            raise ValueError(f"body_p must be in [0, 1], not {self.body_p!r}")
        for key, what in (("data_rendered", ".npz files"), ("eval_rendered", ".npz files"),
                          ("data_extra", "CMU motion capture folders")):
            v = getattr(self, key)
            if isinstance(v, str):
                setattr(self, key, [v])
            elif not isinstance(v, (list, tuple)) or not all(isinstance(p, str) for p in v):
                raise ValueError(f"{key} must be a list of {what}, not {v!r}")
        if not 0.0 <= self.rendered_p <= 1.0:
            raise ValueError(f"rendered_p must be in [0, 1], not {self.rendered_p!r}")
        from hmcli.data.splits import normalize_subject

        ts = [self.test_subjects] if isinstance(self.test_subjects, (str, int)) else self.test_subjects
        bad = ValueError(f"test_subjects must be a list of CMU subject ids (e.g. [02, 55]), not {ts!r}")
        if not isinstance(ts, (list, tuple)):
            raise bad
        try:
            self.test_subjects = sorted({normalize_subject(t) for t in ts})
        except ValueError:
            raise bad from None
        if self.test_subjects and self.eval_rendered:
            raise ValueError("eval_rendered renders the shipped held-out subjects (09, 49): it cannot go with "
                             "test_subjects")
        if self.rendered_p > 0 and not self.data_rendered:
            raise ValueError("rendered_p > 0 needs data_rendered=[FILE, ...] (scripts/render_pairs.py --task action)")
        for key in ("corrupt_model", "eval_corrupt_model"):
            if getattr(self, key) not in CORRUPT_MODELS:
                raise ValueError(f"{key} must be one of {', '.join(CORRUPT_MODELS)}, not {getattr(self, key)!r}")


# ------------------------------------------------------------------ window sources


class _Windows:
    """Training/evaluation windows as encoded model input."""

    classes: tuple[str, ...]

    def __init__(self, codec, fps: float, window: int):
        self.codec, self.fps, self.window = codec, fps, window

    def _frames_at(self, fps: float | None) -> tuple[float, int, int]:
        """The rate, window and shortest window (frames) of a training window drawn at ``fps``
        (None: the backbone's rate)."""
        if fps is None or abs(fps - self.fps) < 1e-9:
            return self.fps, self.window, self.min_window
        scale = fps / self.fps
        return fps, max(1, round(self.window * scale)), max(1, round(self.min_window * scale))

    persons = 2

    def _by_class(self, items: list) -> dict[int, list]:
        """Items grouped by label (-1 = unlabelled left out), computed once per item list."""
        cache = self.__dict__.setdefault("_groups", {})
        key = id(items)
        if key not in cache or cache[key][0] is not items:
            groups: dict[int, list] = {}
            for it in items:
                if it.label >= 0:
                    groups.setdefault(int(it.label), []).append(it)
            cache[key] = (items, dict(sorted(groups.items())))
        return cache[key][1]

    def encode(self, xy: np.ndarray, conf: np.ndarray, width: int, height: int,
               window: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(M, F, 17, 2), (M, F, 17) -> padded (persons, window, 17, C) input and (persons, window)
        weights (a missing person and frames past the clip's end have weight 0)."""
        window = self.window if window is None else window
        M, F = xy.shape[:2]
        x = np.asarray(self.codec.encode_2d(xy.astype(np.float32), conf.astype(np.float32), width, height), np.float32)
        P = self.persons
        out = np.zeros((P, window) + x.shape[2:], np.float32)
        w = np.zeros((P, window), np.float32)
        m, f = min(M, P), min(F, window)
        out[:m, :f] = x[:m, :f]
        w[:m, :f] = (conf[:m, :f] > 0).any(-1)
        return out, w

    def rendered_items(self, items: list):
        """Evaluation items of rendered windows (:class:`hmcli.action.rendered.RenderedAction`): each
        clip's first ``window`` frames, encoded, with its label and subject."""
        for it in items:
            f = min(it.num_frames, self.window)
            x, w = self.encode(it.xy[None, :f], it.conf[None, :f], it.width, it.height)
            yield x, w, it.label, it.subject


class CMUWindows(_Windows):
    persons = 1  # single-person motion capture: M = 1

    def __init__(self, data: str, codec, fps: float, window: int, min_window: int, cache: str | None = None,
                 camera_kind: str = "any", corrupt_model: str = "plain", eval_corrupt_model: str = "plain",
                 bone_jitter: float = 0.0, proportions: str = "", body_p: float = 1.0,
                 rendered: list | None = None, rendered_p: float = 0.0, seed: int = 0,
                 test_subjects: tuple[str, ...] = (), extra: tuple[str, ...] = ()):
        from hmcli.action.cmu import CMU_ACTION_CLASSES, check_folds, cmu_action_clips
        from hmcli.data.augment import proportion_preset
        from hmcli.data.splits import TEST_SUBJECTS

        super().__init__(codec, fps, window)
        self.camera_kind, self.corrupt_model, self.eval_corrupt_model = camera_kind, corrupt_model, eval_corrupt_model
        self.bone_jitter, self.proportions, self.body_p = bone_jitter, proportion_preset(proportions), body_p
        self.classes = CMU_ACTION_CLASSES
        self.clips = cmu_action_clips(data, cache=cache, extra=extra)
        self.test_subjects = tuple(test_subjects) or TEST_SUBJECTS
        if test_subjects:
            try:
                check_folds(self.clips, self.test_subjects)
            except ValueError as e:
                raise HMError(str(e)) from None
        self.min_window = min_window
        self.rendered_p = rendered_p
        self.rendered = rendered_by_class(rendered or [], self.test_subjects)   # class -> rendered training clips
        self._rrng = np.random.default_rng([seed, 2718])                     # own stream: the rendered draws

    def split(self, name: str) -> list:
        return [c for c in self.clips if c.split_for(self.test_subjects) == name]

    def _take(self, clip, start_s: float, frames: int, fps: float | None = None) -> np.ndarray:
        from hmcli.data.dataset import max_start, take_window

        fps = self.fps if fps is None else fps
        # rounding the start up can push the window's last frame one past the clip's end: clamp
        start = min(int(round(start_s * clip.fps)), max_start(clip.joints.shape[0], clip.fps, fps, frames))
        return take_window(clip.joints, clip.fps, fps, start, frames)

    def _length(self, clip, fps: float | None = None) -> int:
        return int((clip.joints.shape[0] - 1) * (self.fps if fps is None else fps) / clip.fps) + 1

    def sample(self, rng: np.random.Generator, clips: list, fps: float | None = None) -> tuple[np.ndarray, np.ndarray, int]:
        """One balanced training window (encoded input, weights, label); ``fps``: the rate it is
        drawn at (None: the backbone's), ``window_s`` seconds at that rate."""
        from hmcli.action.cmu import render_clip_2d
        from hmcli.data.augment import random_body
        from hmcli.skeleton.joints import H36M17

        fps, window, min_window = self._frames_at(fps)
        by_class = self._by_class(clips)
        k = int(rng.choice(list(by_class)))
        if fps == self.fps and k in self.rendered and self.rendered_p > 0 and self._rrng.random() < self.rendered_p:
            return self._sample_rendered(k, window, min_window)
        cs = by_class[k]
        lens = np.array([self._length(c) for c in cs], np.float64)
        clip = cs[int(rng.choice(len(cs), p=lens / lens.sum()))]
        n = self._length(clip, fps)
        frames = min(n, int(rng.integers(min(min_window, n), window + 1)))
        start_s = float(rng.uniform(0, max(0.0, (n - frames) / fps)))
        world = self._take(clip, start_s, frames, fps)                      # (F, 17, 3)
        if self.body_p >= 1.0 or rng.random() < self.body_p:                # no draw at 1: windows as before
            world = random_body(world, rng, H36M17, self.bone_jitter, self.proportions)  # no draws when both are off
        r = render_clip_2d(world, rng, corrupt=True, camera_kind=self.camera_kind, corrupt_model=self.corrupt_model)
        x, w = self.encode(r["xy"][None], r["conf"][None], r["width"], r["height"], window)
        return x, w, k

    def _sample_rendered(self, k: int, window: int, min_window: int) -> tuple[np.ndarray, np.ndarray, int]:
        """A training window of class ``k`` from the rendered clips (the real detector's 2D), at 30 fps."""
        rng, cs = self._rrng, self.rendered[k]
        lens = np.array([c.num_frames for c in cs], np.float64)
        it = cs[int(rng.choice(len(cs), p=lens / lens.sum()))]
        n = it.num_frames
        frames = min(n, int(rng.integers(min(min_window, n), window + 1)))
        a = int(rng.integers(0, n - frames + 1))
        x, w = self.encode(it.xy[None, a:a + frames], it.conf[None, a:a + frames], it.width, it.height, window)
        return x, w, k

    def eval_items(self, clips: list, cameras: int, stride_s: float, seed: int = 12345):
        from hmcli.action.cmu import render_clip_2d

        rng = np.random.default_rng(seed)
        for ci, clip in enumerate(clips):
            n = self._length(clip)
            frames = min(n, self.window)
            starts = np.arange(0.0, max(0.0, (n - frames) / self.fps) + 1e-9, stride_s)
            for s in starts:
                world = self._take(clip, float(s), frames)
                for _ in range(cameras):
                    r = render_clip_2d(world, rng, corrupt=True, corrupt_model=self.eval_corrupt_model)
                    x, w = self.encode(r["xy"][None], r["conf"][None], r["width"], r["height"])
                    yield x, w, clip.label, clip.subject


def rendered_by_class(items: list, test_subjects) -> dict[int, list]:
    """Rendered training clips grouped by label, those of the held-out ``test_subjects`` left out."""
    from hmcli.data.splits import normalize_subject

    out: dict[int, list] = {}
    for it in items:
        if normalize_subject(it.subject) not in test_subjects:
            out.setdefault(int(it.label), []).append(it)
    return out


class DatasetWindows(_Windows):
    """Windows of an ActionDataset's own 2D (NTU, pyskl, your clips)."""

    def __init__(self, ds, codec, fps: float, window: int, min_window: int):
        super().__init__(codec, fps, window)
        self.ds = ds
        self.classes = tuple(ds.classes)
        self.persons = max(1, min(2, max((s.num_persons for s in ds.samples), default=1)))
        self.min_window = min_window

    def split(self, name: str) -> list:
        if name not in self.ds.splits:
            if name == "train" and not self.ds.splits:
                return list(self.ds.samples)
            raise HMError(f"the dataset has no split '{name}' (it has: {', '.join(sorted(self.ds.splits)) or 'none'})")
        return [self.ds.samples[i] for i in self.ds.splits[name]]

    def _frames(self, s, start: int, frames: int, fps: float | None = None):
        fps = self.fps if fps is None else fps
        idx = np.arange(start, start + frames)
        # resample to the backbone's rate (or the drawn one) by nearest frame
        if abs(s.fps - fps) > 1e-3:
            idx = np.clip(np.round(start + np.arange(frames) * s.fps / fps).astype(int), 0, s.num_frames - 1)
        return s.xy[:, idx], s.conf[:, idx]

    def sample(self, rng: np.random.Generator, samples: list, fps: float | None = None):
        fps, window, min_window = self._frames_at(fps)
        by_class = self._by_class(samples)
        k = int(rng.choice(list(by_class)))
        cs = by_class[k]
        s = cs[int(rng.integers(len(cs)))]
        n = max(1, int(s.num_frames * fps / s.fps))
        frames = min(n, int(rng.integers(min(min_window, n), window + 1)))
        start = int(rng.integers(0, max(0, int((n - frames) * s.fps / fps)) + 1))
        xy, conf = self._frames(s, min(start, s.num_frames - 1), frames, fps)
        x, w = self.encode(xy, conf, s.width, s.height, window)
        return x, w, k

    def eval_items(self, samples: list, cameras: int, stride_s: float, seed: int = 0):
        for s in samples:
            n = max(1, int(s.num_frames * self.fps / s.fps))
            frames = min(n, self.window)
            xy, conf = self._frames(s, max(0, (s.num_frames - int(frames * s.fps / self.fps)) // 2), frames)
            x, w = self.encode(xy, conf, s.width, s.height)
            yield x, w, s.label, s.subject


def rendered_eval_items(codec, fps: float, window: int, items: list):
    """:meth:`_Windows.rendered_items` of rendered held-out windows for a classifier's ``codec`` and
    ``window`` (frames), one person slot as the CMU training: no motion capture needed."""
    src = _Windows(codec, fps, window)
    src.persons = 1
    return src.rendered_items(items)


def score_rendered(la, items: list) -> dict:
    """:func:`evaluate_windows` of a loaded classifier (:class:`hmcli.action.checkpoint.LoadedAction`)
    on rendered held-out windows (:class:`hmcli.action.rendered.RenderedAction`)."""
    return evaluate_windows(la.model, rendered_eval_items(la.codec, la.fps, la.window_frames, items), len(la.classes))


# ------------------------------------------------------------------ metrics


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def balanced_accuracy(cm: np.ndarray) -> float:
    """Mean per-class recall over the classes that occur."""
    rows = cm.sum(1)
    ok = rows > 0
    return float((np.diag(cm)[ok] / rows[ok]).mean()) if ok.any() else math.nan


@torch.no_grad()
def evaluate_windows(clf: ActionClassifier, items, num_classes: int, batch: int = 64) -> dict:
    """Held-out figures of ``items`` ((input, weights, label, subject) each): top-1, balanced
    accuracy, confusion (rows: true class) and per subject its window count and confusion."""
    clf.eval()
    ys, ps, subjects = [], [], []
    buf_x, buf_w = [], []

    def flush():
        if buf_x:
            logits = clf(torch.from_numpy(np.stack(buf_x)), torch.from_numpy(np.stack(buf_w)))
            ps.extend(logits.argmax(-1).tolist())
            buf_x.clear()
            buf_w.clear()

    for x, w, y, subject in items:
        buf_x.append(x)
        buf_w.append(w)
        ys.append(int(y))
        subjects.append(str(subject))
        if len(buf_x) >= batch:
            flush()
    flush()
    y, p = np.array(ys), np.array(ps)
    cm = confusion(y, p, num_classes)
    subj = np.array(subjects)
    per_subject = {s_: {"windows": int((subj == s_).sum()), "confusion": confusion(y[subj == s_], p[subj == s_],
                                                                                   num_classes).tolist()}
                   for s_ in sorted(set(subjects))}
    return {"top1": float((y == p).mean()) if len(y) else math.nan, "balanced_accuracy": balanced_accuracy(cm),
            "windows": int(len(y)), "confusion": cm.tolist(), "per_subject": per_subject}


def pool_folds(results: list[dict]) -> dict:
    """Held-out figures of several subject folds (each an :func:`evaluate_windows` result) pooled:
    the confusions summed (every window counts once), balanced accuracy and top-1 of the sum, and
    the mean and spread of the folds' own balanced accuracies."""
    if not results:
        raise ValueError("no fold results to pool")
    cm = np.sum([np.asarray(r["confusion"], np.int64) for r in results], axis=0)       # (K, K)
    per_fold = np.array([r["balanced_accuracy"] for r in results], np.float64)
    n = int(cm.sum())
    return {"balanced_accuracy": balanced_accuracy(cm), "top1": float(np.trace(cm) / n) if n else math.nan,
            "windows": n, "confusion": cm.tolist(), "folds": len(results),
            "fold_balanced_accuracy_mean": float(np.nanmean(per_fold)),
            "fold_balanced_accuracy_std": float(np.nanstd(per_fold))}


# ------------------------------------------------------------------ training


def _source(cfg: ActionTrainConfig, codec, fps: float):
    window = max(1, int(round(cfg.window_s * fps)))
    min_window = max(1, int(round(cfg.min_window_s * fps)))
    if cfg.kind == "cmu":
        from hmcli.action.cmu import CMU_ACTION_CLASSES
        from hmcli.action.rendered import load_rendered_actions

        # rendered clips first: a missing file fails before the motion capture is read
        rendered = load_rendered_actions(cfg.data_rendered, CMU_ACTION_CLASSES, "train") if cfg.data_rendered else []
        for more in cfg.data_extra:
            if not Path(more).is_dir():
                raise HMError(f"data_extra: folder not found: {more} (expected CMU ASF/AMC files)")
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        return CMUWindows(cfg.data, codec, fps, window, min_window, cache=str(Path(cfg.out) / "cmu_cache.npz"),
                          camera_kind=cfg.camera_kind, corrupt_model=cfg.corrupt_model,
                          eval_corrupt_model=cfg.eval_corrupt_model, bone_jitter=cfg.bone_jitter,
                          proportions=cfg.proportions, body_p=cfg.body_p, rendered=rendered,
                          rendered_p=cfg.rendered_p, seed=cfg.seed, test_subjects=tuple(cfg.test_subjects),
                          extra=tuple(cfg.data_extra))  # fmt: skip
    if cfg.test_subjects:
        raise HMError(f"test_subjects chooses held-out CMU subjects: it goes with the CMU data, not with {cfg.data}")
    if cfg.data_extra:
        raise HMError(f"data_extra adds CMU motion capture folders: it goes with the CMU data, not with {cfg.data}")
    if cfg.data_rendered or cfg.eval_rendered:
        raise HMError("data_rendered / eval_rendered are rendered CMU motion: they go with the CMU data, not with "
                      f"{cfg.data}")
    from hmcli.action.readers import load_action_dataset

    ds = load_action_dataset(cfg.data, kind=cfg.kind)
    return DatasetWindows(ds, codec, fps, window, min_window)


def draw_batch(src: _Windows, rng: np.random.Generator, items: list, n: int, codec,
               rate_range: list | None = None, rate_p: float = 0.5):
    """``n`` balanced training windows (mirrored with p = 1/2): input (n, M, F, 17, C), weights
    (n, M, F), labels (n,) and the Δ scale of the batch. With ``rate_range`` = [lo, hi], a share
    ``rate_p`` of batches is drawn at one random rate (log-uniform in [lo, hi] fps; ``window_s``
    seconds, so fewer frames at lower rates) and the Δ scale is the backbone's rate / that
    rate, as ``hm action`` runs a clip of that frame rate."""
    fps = None
    if rate_range is not None and rng.random() < rate_p:
        lo, hi = rate_range
        fps = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    xs, ws, ys = zip(*(src.sample(rng, items, fps) for _ in range(n)))
    x = torch.from_numpy(np.stack(xs))
    w = torch.from_numpy(np.stack(ws))
    flip = torch.from_numpy(rng.random(len(xs)) < 0.5)
    if flip.any():
        x[flip] = codec.flip_2d(x[flip])
    return x, w, torch.tensor(ys), 1.0 if fps is None else src.fps / fps


def head_loss(head: ActionHead, feats: torch.Tensor, labels: torch.Tensor, num_classes: int,
              label_smoothing: float = 0.0, mixup: float = 0.0, gen: torch.Generator | None = None) -> torch.Tensor:
    """Cross-entropy of the head on pooled features (B, J, D); with ``mixup`` > 0 the batch is
    mixed with a shuffled copy of itself, one Beta(mixup, mixup) weight per item, features
    and (smoothed) one-hot targets alike."""
    if mixup <= 0:
        return torch.nn.functional.cross_entropy(head(feats), labels, label_smoothing=label_smoothing)
    target = torch.nn.functional.one_hot(labels, num_classes).to(feats.dtype)
    target = target * (1 - label_smoothing) + label_smoothing / num_classes
    lam = torch.distributions.Beta(mixup, mixup).sample((len(labels),)).to(feats.dtype)
    perm = torch.randperm(len(labels), generator=gen)
    lf = lam.view(-1, *([1] * (feats.dim() - 1)))
    mixed = lf * feats + (1 - lf) * feats[perm]
    t = lam[:, None] * target + (1 - lam[:, None]) * target[perm]
    return -(t * torch.log_softmax(head(mixed), -1)).sum(-1).mean()


def train_action(cfg: ActionTrainConfig, on_step: Callable[[int, float, dict | None], None] | None = None) -> dict:
    """Train (or fine-tune) an action classifier; writes ``out/last.pt``, ``out/metrics.jsonl``
    and ``out/summary.json``; returns the summary (held-out top-1, balanced accuracy, confusion)."""
    from hmcli.action.checkpoint import load_action, save_action
    from hmcli.lift import load_lifter

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    out = Path(cfg.out)
    # the first folder this run creates: removed again when the run cannot start (bad data, model)
    created = next((p for p in reversed([out, *out.parents]) if not p.exists()), None)
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise HMError(f"cannot create the run folder {out}: {e.strerror or e}") from None
        if cfg.init_from:
            la = load_action(cfg.init_from)
            backbone, codec, arch, fps = la.model.backbone, la.codec, la.arch, la.fps
            prev_head, prev_classes = la.model.head, la.classes
        else:
            lm = load_lifter(cfg.backbone)
            backbone, codec, arch = lm.model, lm.codec, lm.arch
            fps = float(getattr(lm.model.cfg, "fps", 30.0))
            prev_head = prev_classes = None
        src = _source(cfg, codec, fps)
        train_items, test_items = src.split(cfg.train_split), src.split(cfg.test_split) if cfg.test_split else []
        if cfg.eval_rendered:
            from hmcli.action.rendered import load_rendered_actions

            test_rendered = load_rendered_actions(cfg.eval_rendered, src.classes, "test", "eval_rendered")
        if not train_items:
            raise HMError(f"no training clips in split '{cfg.train_split}'")
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    rep_dim = int(backbone.rep.out_features)
    head = ActionHead(ActionHeadConfig(len(src.classes), 17, rep_dim, cfg.hidden, cfg.dropout))
    if prev_head is not None and tuple(prev_classes) == tuple(src.classes):
        head.load_state_dict(prev_head.state_dict())
    clf = ActionClassifier(backbone, head)
    opt = torch.optim.AdamW([
        {"params": clf.head.parameters(), "lr": cfg.lr},
        {"params": clf.backbone.parameters(), "lr": cfg.lr * cfg.backbone_lr_mult},
    ], weight_decay=cfg.weight_decay)
    base = [g["lr"] for g in opt.param_groups]

    def lr_at(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    t0 = time.perf_counter()
    log = open(out / "metrics.jsonl", "w", encoding="utf-8")
    loss_ema = None

    def batch_of(n: int):
        return draw_batch(src, rng, train_items, n, codec, cfg.rate_range, cfg.rate_p)

    try:
        # stage 1: head on frozen-backbone features
        if cfg.head_steps > 0 and cfg.feature_windows > 0:
            feats, labels = [], []
            clf.eval()
            with torch.no_grad():
                done = 0
                while done < cfg.feature_windows:
                    n = min(32, cfg.feature_windows - done)
                    x, w, y, dt = batch_of(n)
                    from hmcli.action.model import masked_pool

                    feats.append(masked_pool(clf.represent(x, dt), w))
                    labels.append(y)
                    done += n
                    if on_step is not None:
                        on_step(-done, float("nan"), None)
            F_, Y_ = torch.cat(feats), torch.cat(labels)
            hopt = torch.optim.AdamW(clf.head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
            hs = torch.optim.lr_scheduler.CosineAnnealingLR(hopt, cfg.head_steps)
            g = torch.Generator().manual_seed(cfg.seed)
            clf.head.train()
            for hstep in range(cfg.head_steps):
                idx = torch.randint(0, len(F_), (min(cfg.head_batch, len(F_)),), generator=g)
                loss = head_loss(clf.head, F_[idx], Y_[idx], len(src.classes), cfg.label_smoothing, cfg.mixup, g)
                hopt.zero_grad(set_to_none=True)
                loss.backward()
                hopt.step()
                hs.step()
                if hstep % 100 == 0:
                    log.write(json.dumps({"stage": "head", "step": hstep + 1, "loss": float(loss.detach())}) + "\n")
        # stage 2: end-to-end fine-tuning
        for step in range(cfg.steps):
            clf.train()
            x, w, y, dt = batch_of(cfg.batch_size)
            for gr, b in zip(opt.param_groups, base):
                gr["lr"] = b * lr_at(step) * (0.1 if cfg.head_steps > 0 else 1.0)
            logits = clf(x, w, dt_scale=dt)
            loss = torch.nn.functional.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(clf.parameters(), 1.0)
            opt.step()
            loss_ema = float(loss.detach()) if loss_ema is None else 0.95 * loss_ema + 0.05 * float(loss.detach())
            rec = {"stage": "finetune", "step": step + 1, "loss": float(loss.detach()),
                   "acc": float((logits.argmax(-1) == y).float().mean()), "time_s": time.perf_counter() - t0}
            log.write(json.dumps(rec) + "\n")
            if on_step is not None:
                on_step(step + 1, loss_ema, None)
    finally:
        log.close()
    summary = {"task": "action", "steps": cfg.steps, "time_s": time.perf_counter() - t0, "classes": list(src.classes),
               "config": asdict(cfg), "out": str(out)}
    extra = [c for c in train_items if getattr(c, "extra", False)]
    if extra:  # what the run took from data_extra (the card names these, not today's table)
        summary["extra_trials"] = [{"trial": f"{c.subject}_{c.trial}", "description": c.description,
                                    "seconds": round(c.joints.shape[0] / c.fps, 3)} for c in extra]
    if getattr(src, "rendered", None):
        summary["rendered"] = {"train_clips": sum(len(v) for v in src.rendered.values()),
                               "train_frames": sum(c.num_frames for v in src.rendered.values() for c in v)}
    if test_items:
        summary["test"] = evaluate_windows(clf, src.eval_items(test_items, cfg.eval_cameras, cfg.eval_stride_s),
                                           len(src.classes))
    if cfg.eval_rendered:
        summary["test_rendered"] = evaluate_windows(clf, src.rendered_items(test_rendered), len(src.classes))
    meta = {"model_id": cfg.model_id, "train": asdict(cfg), "metrics": summary.get("test", {}),
            **({"metrics_rendered": summary["test_rendered"]} if "test_rendered" in summary else {}),
            "counts": _counts(src, train_items, test_items)}
    save_action(out / "last.pt", clf.eval(), arch, codec, src.classes, cfg.window_s, fps, meta)
    summary["counts"] = meta["counts"]
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
    return summary


def _counts(src, train_items, test_items) -> dict:
    def per(items):
        out = {}
        for k, name in enumerate(src.classes):
            sel = [c for c in items if c.label == k]
            out[name] = {"clips": len(sel), "subjects": sorted({str(c.subject) for c in sel})}
        return out

    return {"train": per(train_items), "test": per(test_items)}


class OptionError(HMError):
    """An unknown or ill-typed action training option (a usage error, unlike a bad config file)."""


def action_config(overrides: list[str] | None = None, config: str | Path | None = None, **opts) -> ActionTrainConfig:
    """ActionTrainConfig from a YAML file, options (None: not given) and ``key=value`` overrides
    (typed by YAML), in that order of precedence. A config file that cannot be read raises
    HMError; unknown options and values the config refuses raise :class:`OptionError`."""
    from hmcli.io.options import dataclass_options

    return dataclass_options(ActionTrainConfig, overrides, config, opts, "action training", OptionError)


def data_kind(data: str | Path | None) -> str | None:
    """``"auto"`` for action data other than a CMU motion capture folder (pyskl / NTU / CSV files,
    or a folder of them); None for CMU (and no data)."""
    if data is None:
        return None
    p = Path(data)
    return "auto" if (p.suffix.lower() in (".pkl", ".pickle", ".csv", ".skeleton") or
                      (p.is_dir() and not (p / "Rotations").is_dir() and not any(p.glob("*.asf")))) else None
