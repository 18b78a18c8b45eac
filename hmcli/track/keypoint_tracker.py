"""A small multi-person tracker on 2D keypoints.

Why in-house (docs/multi-person.md, section 3): norfair pins numpy<2 and ByteTrack now lives
in ``trackers``, which installs a second OpenCV build; on our checks both needed tuning to
keypoint scale and ByteTrack's box IoU lost a jumping person over a 10-frame gap. Detections
here are whole skeletons, so the natural distance is between keypoints, not boxes.

Each frame:

1. Every live track predicts its keypoints at this frame: last position + velocity x frames
   since it was last matched (constant velocity, at most ``max_predict`` frames ahead), so
   two people crossing are matched to where each is heading, not where it was.
2. Cost of (track, detection) = mean distance over the joints both see confidently
   (conf >= ``min_joint_conf``) / the person's size: the larger of the detection's size
   (diagonal of its confident joints' box) and the track's (the same over its predicted
   confident joints). Taking the larger keeps a partly visible person (a few joints showing
   past someone nearer, or at the image edge) in units of its whole body: its own small box
   alone made the cost of its true track several times too large, and after a crossing the
   person came back with a new id (``hm bench multi-person``, scene cross-3-leave). Pairs
   with fewer than ``min_common`` shared joints cost infinity.
3. Pairs are matched greedily in order of increasing cost while cost < ``max_cost``
   (optimal for the few, well-separated costs of a handful of persons; no scipy needed).
4. Unmatched detections start new tracks (ids 1, 2, ... in order of appearance); a track
   unmatched for more than ``max_lost`` frames is dropped (its id is never reused).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hmcli.types import Keypoints2D, MultiKeypoints2D

__all__ = ["DEFAULT_MAX_PERSONS", "DEFAULT_MIN_TRACK_LENGTH", "TrackerConfig", "KeypointTracker", "track_detections", "assemble_tracks"]


#: Default cap on the persons the commands follow in a video (``--max-persons``); 1 is the
#: one-person path (no tracking).
DEFAULT_MAX_PERSONS = 4
#: Default shortest track kept (``--min-track-length``, frames): drops one-off false detections.
DEFAULT_MIN_TRACK_LENGTH = 5


@dataclass(frozen=True)
class TrackerConfig:
    """``max_lost``: frames a track may go unmatched before it is dropped (about 1 s at 30 fps).
    ``max_cost``: largest matching cost, in units of the person's size.
    ``min_joint_conf``: joints below this confidence do not enter the cost.
    ``min_common``: fewest shared confident joints for a pair to be matched at all.
    ``max_predict``: the constant-velocity prediction extrapolates at most this many frames.
    ``velocity_smoothing``: weight of the previous velocity in the running estimate."""

    max_lost: int = 30
    max_cost: float = 0.5
    min_joint_conf: float = 0.3
    min_common: int = 3
    max_predict: int = 10
    velocity_smoothing: float = 0.5

    def __post_init__(self) -> None:
        if self.max_lost < 0 or self.max_predict < 0 or self.min_common < 1:
            raise ValueError("max_lost and max_predict must be >= 0, min_common >= 1")
        if not (self.max_cost > 0 and 0 <= self.velocity_smoothing < 1):
            raise ValueError("max_cost must be > 0 and velocity_smoothing in [0, 1)")


@dataclass
class _Track:
    tid: int
    xy: np.ndarray         # (J, 2) last matched keypoints
    conf: np.ndarray       # (J,)
    vel: np.ndarray        # (J, 2) px per frame
    last_frame: int
    hits: int = 1

    def predict(self, frame: int, max_predict: int) -> np.ndarray:
        ahead = min(frame - self.last_frame, max_predict)
        return self.xy + self.vel * ahead  # (J, 2)


def _size(xy: np.ndarray, ok: np.ndarray) -> float:
    """Diagonal of the box around the confident joints (all joints if none), at least 1 px."""
    pts = xy[ok] if ok.sum() >= 2 else xy
    ext = pts.max(0) - pts.min(0)
    return max(float(np.hypot(*ext)), 1.0)


class KeypointTracker:
    """Online tracker: ``update(xy (N, J, 2), conf (N, J)) -> ids (N,)`` once per frame, in
    frame order (also for frames with no detection: pass N = 0). After each update,
    ``dropped`` lists the ids given up in that call (a streaming lifter frees their state)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.frame = -1
        self.next_id = 1
        self.tracks: dict[int, _Track] = {}
        self.dropped: list[int] = []

    @property
    def live_ids(self) -> list[int]:
        return sorted(self.tracks)

    def cost_matrix(self, xy: np.ndarray, conf: np.ndarray) -> tuple[list[int], np.ndarray]:
        """(live track ids, costs (T, N)) for the detections at the next frame."""
        cfg, frame = self.config, self.frame + 1
        ids = sorted(self.tracks)
        cost = np.full((len(ids), xy.shape[0]), np.inf)
        det_ok = conf >= cfg.min_joint_conf  # (N, J)
        sizes = [_size(xy[n], det_ok[n]) for n in range(xy.shape[0])]
        for t, tid in enumerate(ids):
            tr = self.tracks[tid]
            pred = tr.predict(frame, cfg.max_predict)  # (J, 2)
            trk_ok = tr.conf >= cfg.min_joint_conf
            trk_size = _size(pred, trk_ok)
            for n in range(xy.shape[0]):
                both = det_ok[n] & trk_ok
                if both.sum() < cfg.min_common:
                    continue
                d = np.linalg.norm(xy[n][both] - pred[both], axis=-1).mean()
                cost[t, n] = d / max(sizes[n], trk_size)
        return ids, cost

    def update(self, xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, np.float64).reshape(-1, *np.shape(xy)[-2:]) if np.size(xy) else np.zeros((0, 1, 2))
        conf = np.asarray(conf, np.float64).reshape(xy.shape[:2]) if np.size(conf) else np.zeros(xy.shape[:2])
        cfg = self.config
        ids, cost = self.cost_matrix(xy, conf)
        self.frame += 1
        out = np.full(xy.shape[0], -1, np.int64)
        used_t: set[int] = set()
        for flat in np.argsort(cost, axis=None, kind="stable"):
            t, n = divmod(int(flat), max(xy.shape[0], 1))
            if not cost[t, n] < cfg.max_cost:
                break
            if t in used_t or out[n] >= 0:
                continue
            used_t.add(t)
            tr = self.tracks[ids[t]]
            gap = self.frame - tr.last_frame
            step = (xy[n] - tr.xy) / gap  # (J, 2)
            seen = (conf[n] >= cfg.min_joint_conf) & (tr.conf >= cfg.min_joint_conf)
            new_vel = np.where(seen[:, None], step, 0.0)
            tr.vel = cfg.velocity_smoothing * tr.vel + (1 - cfg.velocity_smoothing) * new_vel
            # Joints not seen now keep their predicted position, so a briefly hidden limb does
            # not pull the next match.
            keep = conf[n] >= cfg.min_joint_conf
            tr.xy = np.where(keep[:, None], xy[n], tr.predict(self.frame, cfg.max_predict))
            tr.conf = np.where(keep, conf[n], tr.conf)
            tr.last_frame, tr.hits = self.frame, tr.hits + 1
            out[n] = tr.tid
        for n in np.flatnonzero(out < 0):
            tid = self.next_id
            self.next_id += 1
            self.tracks[tid] = _Track(tid, xy[n].copy(), conf[n].copy(), np.zeros_like(xy[n]), self.frame)
            out[n] = tid
        self.dropped = [tid for tid, tr in self.tracks.items() if self.frame - tr.last_frame > cfg.max_lost]
        for tid in self.dropped:
            del self.tracks[tid]
        return out


def track_detections(detections: Sequence[tuple[np.ndarray, np.ndarray]],
                     config: TrackerConfig | None = None) -> list[np.ndarray]:  # fmt: skip
    """Run a fresh tracker over per-frame detections ``[(xy (N_f, J, 2), conf (N_f, J)), ...]``;
    returns each frame's ids ``(N_f,)``."""
    tracker = KeypointTracker(config)
    return [tracker.update(xy, conf) for xy, conf in detections]


def assemble_tracks(
    detections: Sequence[tuple[np.ndarray, np.ndarray]],
    ids: Sequence[np.ndarray],
    template: Keypoints2D,
    *,
    max_persons: int | None = None,
    min_track_length: int = 1,
) -> MultiKeypoints2D:
    """Per-frame detections and their track ids -> ``MultiKeypoints2D``.

    ``template`` gives the frames (``timestamps``), image size, joint set and provenance (its
    xy/conf are not used). Tracks seen in fewer than ``min_track_length`` frames (or, in a
    clip shorter than that, in fewer than all its frames) are dropped;
    then, if more than ``max_persons`` remain, the ones seen in the most frames are kept.
    Rows are ordered by first appearance, then track id."""
    f = template.num_frames
    if len(detections) != f or len(ids) != f:
        raise ValueError(f"expected {f} frames of detections and ids, got {len(detections)} and {len(ids)}")
    if max_persons is not None and max_persons < 1:
        raise ValueError(f"max_persons must be at least 1, got {max_persons}")
    j = template.xy.shape[1]
    seen: dict[int, list[int]] = {}
    for fi, frame_ids in enumerate(ids):
        for tid in np.asarray(frame_ids).tolist():
            seen.setdefault(int(tid), []).append(fi)
    shortest = max(1, min(min_track_length, f))  # a clip shorter than that keeps its persons
    keep = [tid for tid, frames in seen.items() if len(frames) >= shortest]
    if max_persons is not None and len(keep) > max_persons:
        keep = sorted(keep, key=lambda t: (-len(seen[t]), seen[t][0], t))[:max_persons]
    keep.sort(key=lambda t: (seen[t][0], t))
    row = {tid: r for r, tid in enumerate(keep)}
    p = len(keep)
    xy = np.zeros((p, f, j, 2), np.float32)
    conf = np.zeros((p, f, j), np.float32)
    det = np.zeros((p, f), bool)
    for fi, ((dxy, dconf), frame_ids) in enumerate(zip(detections, ids, strict=True)):
        for n, tid in enumerate(np.asarray(frame_ids).tolist()):
            r = row.get(int(tid))
            if r is None:
                continue
            xy[r, fi] = dxy[n]
            conf[r, fi] = dconf[n]
            det[r, fi] = True
    return MultiKeypoints2D(xy=xy, conf=conf, detected=det, track_ids=np.asarray(keep, np.int64),
                            joint_set=template.joint_set, timestamps=template.timestamps, width=template.width,
                            height=template.height, detector=template.detector, source=template.source,
                            source_hash=template.source_hash)  # fmt: skip
