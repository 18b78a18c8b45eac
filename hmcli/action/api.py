"""hm's action API: labels for a clip, a timeline of windows, online labels.

::

    from hmcli import api
    from hmcli.action import api as action

    kp = api.detect("clip.mp4")                       # or the 2D of an hm lift result
    clf = action.load_classifier()                     # models/hummuss-action-cmu.pt
    report = action.classify(kp, clf)                  # clip top-k + timeline of 2 s windows
    for rec in action.stream_labels(kp, action.load_classifier(causal=True)):
        print(rec["t"], rec["topk"][0])

The classifier reads 2D keypoints (through the lifter backbone inside it), so a video, a
keypoint file and an ``hm lift`` file (its stored 2D) all work, and nothing is lifted twice.

Several persons (a :class:`~hmcli.types.MultiKeypoints2D`): :func:`classify_persons` labels
each person on its own (one report per track id); :func:`classify` of a multi-person clip
with ``group=True`` pools the persons together, as the head was built for (the
representation (B, M, F, J, D) is averaged over persons and frames): what NTU's two-person
classes (hugging, handshake, ...) need, for models trained that way.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from hmcli.action.checkpoint import LoadedAction, load_action
from hmcli.action.model import ActionStreamer
from hmcli.io.atomic import HMError, atomic_write
from hmcli.types import Keypoints2D, MultiKeypoints2D

__all__ = ["ActionReport", "load_classifier", "classify", "classify_persons", "persons_doc", "actions_doc",
           "stream_labels", "stream_labels_persons", "online_labels", "window_starts", "encode_keypoints",
           "write_report", "write_label_lines", "ACTIONS_SCHEMA"]

ACTIONS_SCHEMA = "hm.actions"


@dataclass
class ActionReport:
    """clip: top-k [(label, prob)] of the whole clip (mean of the windows' probabilities);
    timeline: per window {"start", "end" (s), "topk"}; probs: (W, C) window probabilities."""

    classes: tuple[str, ...]
    clip: list[tuple[str, float]]
    timeline: list[dict]
    probs: np.ndarray
    model_id: str
    window_s: float
    stride_s: float
    fps: float
    meta: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "schema": ACTIONS_SCHEMA, "schema_version": 1, "model_id": self.model_id, "classes": list(self.classes),
            "window_s": self.window_s, "stride_s": self.stride_s, "fps": self.fps,
            "clip": [{"label": l, "prob": round(p, 4)} for l, p in self.clip],
            "timeline": self.timeline, **self.meta,
        }


def load_classifier(model: str | None = None, causal: bool = False) -> LoadedAction:
    return load_action(model, causal)


def window_starts(duration_s: float, window_s: float, stride_s: float) -> list[float]:
    """Start times (s) of windows of ``window_s`` every ``stride_s`` covering [0, duration];
    one window (the whole clip) when it is shorter than a window; the last window ends at
    the clip's end."""
    if window_s <= 0 or stride_s <= 0:
        raise HMError("window and stride must be positive")
    if duration_s <= window_s:
        return [0.0]
    n = int(math.floor((duration_s - window_s) / stride_s + 1e-9)) + 1
    starts = [i * stride_s for i in range(n)]
    if duration_s - (starts[-1] + window_s) > 1e-6:
        starts.append(duration_s - window_s)
    return starts


def encode_keypoints(kp: Keypoints2D, la: LoadedAction) -> tuple[torch.Tensor, torch.Tensor]:
    """Any supported 2D layout -> encoded input (F, 17, C) and frame weights (F,). BlazePose input
    goes through the lifter's learned map, confidence floor and image mask (:func:`hmcli.lift.lifter_2d`,
    as :func:`hmcli.lift.to_model_input`): the backbone is the lifter."""
    from hmcli.lift import lifter_2d

    hxy, hconf, conf = lifter_2d(kp.xy, kp.conf, kp.joint_set, kp.width, kp.height)   # (F, 17, 2), (F, 17), (F, 17)
    hxy, hconf, conf = (np.nan_to_num(a, nan=0.0) for a in (hxy, hconf, conf))
    x = np.asarray(la.codec.encode_2d(hxy, conf, kp.width, kp.height), np.float32)
    w = ((hconf > 0).any(-1) & np.asarray(kp.detected, bool)).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(w)


def _times(kp: Keypoints2D, fps: float | None) -> np.ndarray:
    if fps is not None:
        return np.arange(kp.num_frames) / fps
    ts = np.asarray(kp.timestamps, np.float64)
    if kp.num_frames > 1 and np.isfinite(ts).all() and (np.diff(ts) > 0).all():
        return ts - ts[0]
    return np.arange(kp.num_frames) / 30.0


def _topk(p: np.ndarray, classes, k: int) -> list[tuple[str, float]]:
    order = np.argsort(-p)[:k]
    return [(classes[i], float(p[i])) for i in order]


@torch.no_grad()
def classify(kp: Keypoints2D | MultiKeypoints2D, la: LoadedAction, window_s: float | None = None,
             stride_s: float = 0.5, topk: int = 3, fps: float | None = None,
             on_progress: Callable[[int, int], None] | None = None) -> ActionReport:  # fmt: skip
    """Top-k labels of the clip and a timeline of windows (see :class:`ActionReport`). A
    :class:`MultiKeypoints2D` is classified as one group: its persons are pooled together
    (M = P; absent persons and frames are masked out of the pooling)."""
    if isinstance(kp, MultiKeypoints2D):
        if kp.num_frames == 0:
            raise HMError("the clip has no frames")
        persons = kp.persons()
        if not any(np.asarray(k.detected, bool).any() for k in persons):
            raise HMError("no person was found in any frame; nothing to classify")
        enc = [encode_keypoints(k, la) for k in persons]
        x = torch.stack([e[0] for e in enc])                                 # (M, F, 17, C)
        w = torch.stack([e[1] for e in enc])                                 # (M, F)
        if not (w > 0).any():
            raise HMError("no joint has a confidence above 0 in any frame; nothing to classify")
        kp = persons[0]
    else:
        _check_clip(kp)
        x, w = encode_keypoints(kp, la)
        x, w = x[None], w[None]                                              # (1, F, 17, C), (1, F)
    window_s = la.window_s if window_s is None else float(window_s)
    t = _times(kp, fps)
    rate = 1.0 / float(np.median(np.diff(t))) if len(t) > 1 else la.fps
    duration = float(t[-1] - t[0]) + 1.0 / rate
    dt_scale = la.fps / rate
    starts = window_starts(duration, window_s, stride_s)
    probs, timeline = [], []
    model = la.model.eval()
    for i, s in enumerate(starts):
        sel = torch.from_numpy((t >= s - 1e-9) & (t < s + window_s - 1e-9))
        if not sel.any() or w[:, sel].sum() == 0:
            p = np.full(len(la.classes), np.nan)
        else:
            xi = x[:, sel][None]                                             # (1, M, f, 17, C)
            wi = w[:, sel][None]                                             # (1, M, f)
            p = torch.softmax(model(xi, wi, dt_scale=dt_scale), -1)[0].numpy()
        probs.append(p)
        end = min(duration, s + window_s)
        timeline.append({"start": round(float(s), 3), "end": round(float(end), 3),
                         "topk": [] if np.isnan(p).any() else
                         [{"label": l, "prob": round(q, 4)} for l, q in _topk(p, la.classes, topk)]})
        if on_progress is not None:
            on_progress(i + 1, len(starts))
    P = np.stack(probs)
    ok = ~np.isnan(P).any(1)
    clip = _topk(P[ok].mean(0), la.classes, topk)
    return ActionReport(tuple(la.classes), clip, timeline, P, la.model_id, window_s, stride_s, rate)


def classify_persons(mk: MultiKeypoints2D, la: LoadedAction, window_s: float | None = None,
                     stride_s: float = 0.5, topk: int = 3, fps: float | None = None,
                     on_progress: Callable[[int, int], None] | None = None) -> list[tuple[int, ActionReport]]:  # fmt: skip
    """Each person on its own: ``[(track_id, report), ...]`` in row order. Windows where a
    person is absent have an empty top-k in its timeline. HMError when nobody is in any frame."""
    rows = [p for p in range(mk.num_persons) if mk.detected[p].any()]
    if not rows:
        raise HMError("no person was found in any frame; nothing to classify")
    out = []
    for k, p in enumerate(rows):
        prog = None if on_progress is None else (lambda k: lambda d, n: on_progress(k * n + d, len(rows) * n))(k)
        try:
            out.append((int(mk.track_ids[p]), classify(mk.person(p), la, window_s, stride_s, topk, fps, prog)))
        except HMError:  # e.g. a track whose joints all have confidence 0: nothing to say about it
            continue
    if not out:
        raise HMError("no joint has a confidence above 0 in any frame; nothing to classify")
    return out


def persons_doc(reports: list[tuple[int, ActionReport]], frames: int, source: str | None) -> dict:
    """The ``hm action`` document of several persons: the shared fields once, then
    ``"persons": [{"track_id", "clip", "timeline"}, ...]`` (``schema_version`` 2)."""
    first = reports[0][1].to_json()
    doc = {k: v for k, v in first.items() if k not in ("clip", "timeline")}
    doc["schema_version"] = 2
    doc.update({"source": source, "frames": frames})
    doc["persons"] = [{"track_id": tid, **{k: rep.to_json()[k] for k in ("clip", "timeline")}} for tid, rep in reports]
    return doc


def _check_clip(kp: Keypoints2D) -> None:
    if kp.num_frames == 0:
        raise HMError("the clip has no frames")
    if not np.asarray(kp.detected, bool).any():
        raise HMError("no person was found in any frame; nothing to classify")
    if not (np.nan_to_num(np.asarray(kp.conf, np.float64)) > 0).any():  # all NaN / <= 0: every window empty
        raise HMError("no joint has a confidence above 0 in any frame; nothing to classify")


def stream_labels(kp: Keypoints2D, la: LoadedAction, topk: int = 3, fps: float | None = None,
                  window_s: float | None = None) -> Iterator[dict]:
    """Online labels, one record per frame, from the causal classifier's recurrent step:
    {"index", "t", "detected", "topk": [{"label", "prob"}...]} (the window ending at that frame;
    ``topk`` is empty while no frame of the window has a person). The clip is checked here
    (HMError for no frames / nobody in any frame), before the first record is asked for."""
    _check_clip(kp)
    return _stream(kp, la, topk, fps, window_s)


def _stream(kp: Keypoints2D | list[Keypoints2D], la: LoadedAction, topk: int, fps: float | None,
            window_s: float | None) -> Iterator[dict]:  # fmt: skip
    """One record per frame from one causal state; a list of persons is pooled into that one
    state (M persons per step), as :func:`classify` pools a group."""
    group = kp if isinstance(kp, list) else [kp]
    enc = [encode_keypoints(k, la) for k in group]
    x = torch.stack([e[0] for e in enc])                                     # (M, F, 17, C)
    w = torch.stack([e[1] for e in enc])                                     # (M, F)
    t = _times(group[0], fps)
    window = max(1, int(round((la.window_s if window_s is None else window_s) * la.fps)))
    st = ActionStreamer(la.model, window)
    prev = None
    for i in range(group[0].num_frames):
        dt = None if prev is None else float(t[i] - prev)
        prev = t[i]
        logits = st.step(x[:, i][None], w[:, i][None], dt)                   # (1, M, 17, C), (1, M) -> (1, C)
        p = torch.softmax(logits, -1)[0].numpy()
        seen = float(st.den.sum()) > 0                                       # a person in the window
        yield {"index": i, "t": round(float(t[i]), 4), "detected": bool((w[:, i] > 0).any()),
               "topk": [{"label": l, "prob": round(q, 4)} for l, q in _topk(p, la.classes, topk)] if seen else []}


def _labelled_rows(mk: MultiKeypoints2D) -> list[int]:
    """Rows of the persons there is something to label (seen in a frame with a confident
    joint); HMError for a clip without frames or without any such person."""
    if mk.num_frames == 0:
        raise HMError("the clip has no frames")
    if not mk.detected.any():
        raise HMError("no person was found in any frame; nothing to classify")
    rows = []
    for p in range(mk.num_persons):
        try:
            _check_clip(mk.person(p))
        except HMError:  # e.g. a track whose joints all have confidence 0: nothing to say about it
            continue
        rows.append(p)
    if not rows:
        raise HMError("no joint has a confidence above 0 in any frame; nothing to classify")
    return rows


def stream_labels_persons(mk: MultiKeypoints2D, la: LoadedAction, topk: int = 3, fps: float | None = None,
                          window_s: float | None = None, group: bool = False) -> Iterator[dict]:  # fmt: skip
    """Online labels of several persons, each from its own causal state (the one
    :func:`stream_labels` keeps for one person, stepped on every frame): per frame, one record
    per person detected there, ``{"index", "t", "track_id", "detected", "topk"}`` (row order),
    or ``{"index", "t", "persons": 0}`` when nobody is. Person p's records are exactly
    :func:`stream_labels` of that person alone on its detected frames. ``group``: the persons
    pooled into one state, one record per frame as :func:`stream_labels` writes them (no
    ``track_id``). The clip is checked before the first record is asked for (HMError)."""
    rows = _labelled_rows(mk)
    if group:
        return _stream([mk.person(p) for p in rows], la, topk, fps, window_s)
    return _stream_persons(mk, rows, la, topk, fps, window_s)


def _stream_persons(mk: MultiKeypoints2D, rows: list[int], la: LoadedAction, topk: int, fps: float | None,
                    window_s: float | None) -> Iterator[dict]:  # fmt: skip
    gens = [_stream(mk.person(p), la, topk, fps, window_s) for p in rows]
    for i in range(mk.num_frames):
        recs = [next(g) for g in gens]                                       # every state steps every frame
        out = [{"index": r["index"], "t": r["t"], "track_id": int(mk.track_ids[p]), **r}
               for p, r in zip(rows, recs, strict=True) if mk.detected[p, i]]  # fmt: skip
        if out:
            yield from out
        else:
            yield {"index": i, "t": recs[0]["t"], "persons": 0}


def actions_doc(mk: MultiKeypoints2D, la: LoadedAction, window_s: float | None = None, stride_s: float = 0.5,
                topk: int = 3, fps: float | None = None, group: bool = False,
                source: str | None = None) -> tuple[dict, list[tuple[int | None, ActionReport]]]:  # fmt: skip
    """What ``hm action`` writes for a clip, and its reports ``[(track_id, report)]``:

    * one person with track id 0 (the one-person path, one-person files): the one-person
      report (:meth:`ActionReport.to_json`, schema_version 1), track id None;
    * ``group``: the persons pooled into one report (:func:`classify`), schema_version 1 with
      ``"track_ids"`` of the persons pooled, track id None;
    * otherwise each person on its own (:func:`classify_persons`), :func:`persons_doc`.

    ``source``: recorded when the keypoints record none."""
    src = mk.source or source
    if group or (mk.num_persons == 1 and int(mk.track_ids[0]) == 0):
        rows = _labelled_rows(mk) if group else [0]
        sel = MultiKeypoints2D.from_persons([mk.person(p) for p in rows], mk.track_ids[rows])
        rep = classify(sel if group else mk.person(0), la, window_s, stride_s, topk, fps)
        doc = rep.to_json()
        doc.update({"source": src, "frames": mk.num_frames})
        if group:
            doc["track_ids"] = [int(i) for i in sel.track_ids]
        return doc, [(None, rep)]
    reports = classify_persons(mk, la, window_s, stride_s, topk, fps)
    return persons_doc(reports, mk.num_frames, src), list(reports)


def online_labels(mk: MultiKeypoints2D, la: LoadedAction, topk: int = 3, fps: float | None = None,
                  window_s: float | None = None, group: bool = False) -> Iterator[dict]:  # fmt: skip
    """What ``hm action --causal`` writes: :func:`stream_labels` for one person with track id
    0 (exactly as before), else :func:`stream_labels_persons`."""
    if not group and mk.num_persons == 1 and int(mk.track_ids[0]) == 0:
        return stream_labels(mk.person(0), la, topk, fps, window_s)
    return stream_labels_persons(mk, la, topk, fps, window_s, group=group)


def write_report(path: str | os.PathLike, doc: dict) -> None:
    """An action report document (:meth:`ActionReport.to_json` plus source and frames) as
    indented JSON, atomically (``hm action -o actions.json``)."""
    with atomic_write(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def write_label_lines(path: str | os.PathLike, records: list[dict]) -> None:
    """Online labels (:func:`stream_labels` records) as JSON lines, atomically (``hm action
    --causal -o labels.json``)."""
    with atomic_write(path, "w") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
