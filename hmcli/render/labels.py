"""Action labels over time for ``hm render --actions``: which label a frame shows.

Two inputs, both written by ``hm action``:

* the report (``-o actions.json``, schema ``hm.actions``): a frame at time ``t`` (seconds
  since the clip's first frame) shows the top-1 label of the timeline window that contains
  it (``start <= t <= end``); when several overlap, the one whose centre is nearest (the
  earlier one on a tie). Windows without a label (no person in them) do not count. A time
  inside the clip that no labelled window covers shows the clip's label; a time past the
  end of the timeline shows nothing.
* the online labels (``hm action --causal -o labels.jsonl``): one JSON record per frame,
  ``{"index", "t", "detected", "topk": [{"label", "prob"}, ...]}``; frame ``i`` shows the
  top-1 of record ``index == i`` (nothing when there is none).

Several persons (``hm action`` on a multi-person clip): the report's ``"persons": [{"track_id",
"clip", "timeline"}, ...]`` and JSON lines that carry ``"track_id"`` give one track per person
(:meth:`ActionTrack.person`); the renderer shows each person's label by its id.

The text shown is the label and its probability in percent, e.g. ``"dance 82 %"``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hmcli.io.atomic import HMError

__all__ = ["ActionTrack", "load_action_labels", "parse_action_labels", "frame_times", "format_label"]

ACTIONS_SCHEMA = "hm.actions"  # hmcli.action.api.ACTIONS_SCHEMA (not imported: that pulls in torch)
_EPS = 1e-6

Top = tuple[str, float]


def format_label(top: Top | None) -> str | None:
    """("dance", 0.823) -> "dance 82 %"."""
    if top is None:
        return None
    return f"{top[0]} {100.0 * top[1]:.0f} %"


@dataclass(frozen=True)
class ActionTrack:
    """Labels over time. ``windows``: (start, end, top-1) of the report's labelled windows;
    ``clip``: the clip's top-1; ``duration``: the end of the timeline (s); ``frames``: top-1
    per frame index (online labels). Either ``frames`` or the report fields are set."""

    kind: str                                   # "report" | "frames" | "persons"
    windows: tuple[tuple[float, float, Top], ...] = ()
    clip: Top | None = None
    duration: float = 0.0
    frames: dict[int, Top] = field(default_factory=dict)
    num_frames: int | None = None               # frames of the clip the labels were made from, if known
    source: str = ""
    persons: dict[int, "ActionTrack"] = field(default_factory=dict)  # kind "persons": track id -> labels

    def person(self, track_id: int) -> "ActionTrack | None":
        """The labels of one person (kind "persons"); other kinds are everybody's labels."""
        if self.kind != "persons":
            return self
        return self.persons.get(int(track_id))

    def top_at(self, t: float | None, index: int | None = None) -> Top | None:
        """(label, prob) shown at time ``t`` (s since the first frame) / frame ``index``. Labels
        of several persons show the one person's labels when there is one, else nothing."""
        if self.kind == "persons":
            only = list(self.persons.values())
            return only[0].top_at(t, index) if len(only) == 1 else None
        if self.kind == "frames":
            return None if index is None else self.frames.get(int(index))
        if t is None or not math.isfinite(t) or t < -_EPS or t > self.duration + _EPS:
            return None
        best, best_d = None, math.inf
        for start, end, top in self.windows:
            if start - _EPS <= t <= end + _EPS:
                d = abs(t - 0.5 * (start + end))
                if d < best_d - 1e-9:
                    best, best_d = top, d
        return best if best is not None else self.clip

    def label_at(self, t: float | None, index: int | None = None) -> str | None:
        """The text a frame shows, e.g. "dance 82 %" (None: nothing)."""
        return format_label(self.top_at(t, index))

    def check_frames(self, n: int, what: str = "the result") -> None:
        """HMError when the labels were made from a longer clip than ``n`` frames (another clip)."""
        longest = self.num_frames
        if longest is not None and longest > n:
            raise HMError(f"{self.source or 'the action labels'} cover {longest} frames but {what} has {n}; "
                          "give the labels made from this clip (hm action on the same input)")


def frame_times(timestamps, n: int) -> np.ndarray:
    """Seconds since the first frame, as ``hm action`` counts them: the timestamps when they
    are finite and increasing, else 30 frames per second."""
    ts = np.asarray(timestamps, np.float64).reshape(-1)
    if n > 1 and ts.shape == (n,) and np.isfinite(ts).all() and (np.diff(ts) > 0).all():
        return ts - ts[0]
    return np.arange(n) / 30.0


def _top(obj, where: str) -> Top | None:
    """The first entry of a topk list -> (label, prob); None for an empty list."""
    if not isinstance(obj, list):
        raise ValueError(f"{where}: 'topk' must be a list of {{label, prob}}")
    if not obj:
        return None
    first = obj[0]
    if not isinstance(first, dict) or not isinstance(first.get("label"), str):
        raise ValueError(f"{where}: each top-k entry needs a 'label' string")
    p = first.get("prob")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not (0.0 <= float(p) <= 1.0):
        raise ValueError(f"{where}: 'prob' must be a number between 0 and 1, got {p!r}")
    return first["label"], float(p)


def _num(v, where: str, key: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise ValueError(f"{where}: '{key}' must be a number, got {v!r}")
    return float(v)


def _report(doc: dict) -> ActionTrack:
    if doc.get("schema") != ACTIONS_SCHEMA:
        raise ValueError(f"not an hm action report (schema {doc.get('schema')!r}, expected {ACTIONS_SCHEMA!r})")
    if "persons" in doc:
        persons = doc["persons"]
        if not isinstance(persons, list) or not persons:
            raise ValueError("'persons' must be a non-empty list")
        tracks: dict[int, ActionTrack] = {}
        for i, person in enumerate(persons):
            tid = person.get("track_id") if isinstance(person, dict) else None
            if isinstance(tid, bool) or not isinstance(tid, int):
                raise ValueError(f"person {i}: needs an integer 'track_id'")
            if tid in tracks:
                raise ValueError(f"person {i}: track id {tid} appears twice")
            sub = {"schema": ACTIONS_SCHEMA, "frames": doc.get("frames"), "clip": person.get("clip"),
                   "timeline": person.get("timeline")}  # fmt: skip
            try:
                tracks[tid] = _report(sub)
            except ValueError as e:
                raise ValueError(f"person {tid}: {e}") from None
        first = next(iter(tracks.values()))
        return ActionTrack("persons", num_frames=first.num_frames, persons=tracks)
    timeline, clip = doc.get("timeline"), doc.get("clip")
    if not isinstance(timeline, list):
        raise ValueError("the report has no 'timeline' list")
    if not isinstance(clip, list):
        raise ValueError("the report has no 'clip' list")
    windows, end_max = [], 0.0
    for i, w in enumerate(timeline):
        where = f"timeline window {i}"
        if not isinstance(w, dict):
            raise ValueError(f"{where} is not an object")
        start, end = _num(w.get("start"), where, "start"), _num(w.get("end"), where, "end")
        if start < 0 or end < start:
            raise ValueError(f"{where}: needs 0 <= start <= end, got {start:g}..{end:g}")
        end_max = max(end_max, end)
        top = _top(w.get("topk"), where)
        if top is not None:
            windows.append((start, end, top))
    frames = doc.get("frames")
    n = int(frames) if isinstance(frames, int) and not isinstance(frames, bool) and frames >= 0 else None
    return ActionTrack("report", tuple(windows), _top(clip, "clip"), end_max, num_frames=n)


def _records(recs: list[tuple[int, object]]) -> ActionTrack:
    if any(isinstance(r, dict) and "track_id" in r for _, r in recs):
        by_id: dict[int, list[tuple[int, object]]] = {}
        for line, rec in recs:
            tid = rec.get("track_id") if isinstance(rec, dict) else None
            if tid is None and isinstance(rec, dict) and rec.get("persons") == 0:
                continue  # a frame without anybody
            if isinstance(tid, bool) or not isinstance(tid, int):
                raise ValueError(f"line {line}: records of several persons need an integer 'track_id'")
            by_id.setdefault(tid, []).append((line, rec))
        strip = lambda rs: [(ln, {k: v for k, v in r.items() if k != "track_id"}) for ln, r in rs]  # noqa: E731
        tracks = {tid: _records(strip(rs)) for tid, rs in by_id.items()}
        n = max((t.num_frames or 0 for t in tracks.values()), default=0)
        return ActionTrack("persons", num_frames=n or None, persons=tracks)
    frames: dict[int, Top] = {}
    for line, rec in recs:
        where = f"line {line}"
        if not isinstance(rec, dict) or "index" not in rec or "topk" not in rec:
            raise ValueError(f"{where}: expected a record with 'index' and 'topk' (hm action --causal output)")
        idx = rec["index"]
        if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
            raise ValueError(f"{where}: 'index' must be a non-negative integer, got {idx!r}")
        if idx in frames:
            raise ValueError(f"{where}: frame index {idx} appears twice")
        top = _top(rec["topk"], where)
        frames[idx] = top  # type: ignore[assignment]
    return ActionTrack("frames", frames={i: t for i, t in frames.items() if t is not None},
                       num_frames=(max(frames) + 1) if frames else None)


def parse_action_labels(text: str, name: str = "the action labels") -> ActionTrack:
    """An :class:`ActionTrack` from the text of a report or of JSON lines (HMError, one line)."""
    try:
        if not text.strip():
            raise ValueError("the file is empty")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            doc = None
            recs = []
            for i, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    recs.append((i, json.loads(line)))
                except json.JSONDecodeError as e:
                    raise ValueError(f"line {i} is not JSON ({e.msg})") from None
            track = _records(recs)
        else:
            if isinstance(doc, dict) and "schema" in doc:
                track = _report(doc)
            elif isinstance(doc, dict) and "index" in doc:
                track = _records([(1, doc)])                # JSON lines of a one-frame clip
            else:
                raise ValueError(f"expected an hm action report (schema {ACTIONS_SCHEMA!r}) "
                                 "or hm action --causal JSON lines")
    except ValueError as e:
        raise HMError(f"{name}: {e}") from None
    return ActionTrack(track.kind, track.windows, track.clip, track.duration, track.frames, track.num_frames, name,
                       track.persons)  # fmt: skip


def load_action_labels(path: str | os.PathLike) -> ActionTrack:
    """Read the labels ``hm action`` wrote to ``path`` (a report, or --causal JSON lines)."""
    p = Path(path)
    if not p.is_file():
        raise HMError(f"action labels not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise HMError(f"cannot read action labels {p}: {e}") from None
    return parse_action_labels(text, str(p))
