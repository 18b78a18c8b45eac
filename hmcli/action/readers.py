"""Readers that turn action-recognition data into :class:`~hmcli.action.types.ActionDataset`.

Every reader returns clips as 2D keypoints in the lifter's H36M-17 layout,
``xy (M, F, 17, 2)`` pixels and ``conf (M, F, 17)`` in [0, 1]:

* :func:`read_ntu_dir` / :func:`read_ntu_skeleton` -- NTU RGB+D 60/120 ``.skeleton`` text files
  (Kinect v2, 25 joints; the 2D colour-image coordinates are used, 1920x1080 at 30 fps).
* :func:`read_pyskl` -- the mmpose/pyskl 2D annotation pickle (``split`` + ``annotations``),
  read with a restricted unpickler that admits plain containers and numpy arrays only.
* :func:`read_labelled` -- people's own data: ``labels.csv`` (``file,label[,split,subject]``)
  pointing at keypoint files (anything :func:`hmcli.io.keypoints.load_keypoints` reads) or
  videos (detected with :func:`hmcli.api.detect`), or a folder layout ``root/<label>/<file>``.
* :func:`load_action_dataset` -- picks one of the above from what the path is.

Kinect v2 (NTU) -> H36M-17 (:data:`KINECT25_TO_H36M`)::

    H36M              Kinect v2
    0  pelvis         0  SpineBase
    1  right_hip      16 HipRight
    2  right_knee     17 KneeRight
    3  right_ankle    18 AnkleRight
    4  left_hip       12 HipLeft
    5  left_knee      13 KneeLeft
    6  left_ankle     14 AnkleLeft
    7  spine          1  SpineMid
    8  thorax         20 SpineShoulder
    9  nose           3  Head          (approximation: Kinect has no nose; Head is the
                                        centre of the head, at about nose height)
    10 head (top)     Head + 0.5 * (Head - Neck)   (approximation: extrapolated along the
                                        neck -> head direction; confidence = min of both)
    11 left_shoulder  4  ShoulderLeft
    12 left_elbow     5  ElbowLeft
    13 left_wrist     6  WristLeft
    14 right_shoulder 8  ShoulderRight
    15 right_elbow    9  ElbowRight
    16 right_wrist    10 WristRight

Kinect's "left" is the performer's own left, as in H36M. Confidence comes from the joint's
trackingState: 2 (tracked) -> 1.0, 1 (inferred) -> 0.5, 0 (not tracked) -> 0.0; joints with
non-finite colour coordinates get 0 (and xy 0).

NTU bodies: identity across frames is the ``bodyID``; at most two bodies are kept, ranked by
the number of frames in which they have at least one tracked joint, then by their motion
(sum over joints of the variance of the 3D x, y, z over the frames where they appear -- the
heuristic the dataset authors use to pick the main actor). The output always has M = 2:
a body absent from a frame is zero there, a missing second body is all zeros.

Files that hold no frames (or no body in any frame -- NTU's "missing skeletons") are skipped
in a directory read with a :class:`SkippedClipWarning` and listed in the returned dataset's
``skipped``; a single-file read raises :class:`HMError` instead.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hmcli.action.types import ActionDataset, ActionSample
from hmcli.io.atomic import HMError
from hmcli.io.safe_pickle import NUMPY_GLOBALS, SAFE_BUILTINS, restricted_load
from hmcli.lift import BLAZEPOSE_MAP, model_confidence
from hmcli.skeleton.convert import coco_to_h36m, to_h36m
from hmcli.skeleton.joints import H36M17
from hmcli.types import Keypoints2D

__all__ = [
    "LoadedActionDataset",
    "SkippedClipWarning",
    "NTU60_CLASSES",
    "NTU120_CLASSES",
    "NTU60_XSUB_TRAIN_SUBJECTS",
    "NTU120_XSUB_TRAIN_SUBJECTS",
    "NTU_XVIEW_TRAIN_CAMERAS",
    "NTU_WIDTH",
    "NTU_HEIGHT",
    "NTU_FPS",
    "KINECT25_JOINTS",
    "KINECT25_TO_H36M",
    "HEAD_TOP_EXTRAPOLATION",
    "PYSKL_GLOBALS",
    "KEYPOINT_SUFFIXES",
    "VIDEO_SUFFIXES",
    "NTUName",
    "parse_ntu_name",
    "kinect25_to_h36m",
    "parse_ntu_skeleton",
    "read_ntu_skeleton",
    "read_ntu_dir",
    "read_pyskl",
    "sample_from_keypoints",
    "read_labels_csv",
    "read_label_folders",
    "read_labelled",
    "load_action_dataset",
]


@dataclass
class LoadedActionDataset(ActionDataset):
    """An :class:`ActionDataset` plus the inputs a reader skipped, as ``"name: reason"``."""

    skipped: tuple[str, ...] = ()


class SkippedClipWarning(UserWarning):
    """A clip of a dataset was skipped (no frames, no body, ...)."""


class _EmptyClip(HMError):
    """A clip file that parses but holds nothing to learn from (skipped in directory reads)."""


# ============================================================================ NTU RGB+D

NTU_WIDTH = 1920
NTU_HEIGHT = 1080
NTU_FPS = 30.0

NTU60_CLASSES: tuple[str, ...] = (
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup",
    "throw", "sitting down", "standing up (from sitting position)", "clapping", "reading",
    "writing", "tear up paper", "wear jacket", "take off jacket", "wear a shoe",
    "take off a shoe", "wear on glasses", "take off glasses", "put on a hat/cap",
    "take off a hat/cap", "cheer up", "hand waving", "kicking something",
    "put something inside pocket / take out something from pocket",
    "hopping (one foot jumping)", "jump up", "make a phone call/answer phone",
    "playing with phone/tablet", "typing on a keyboard", "pointing to something with finger",
    "taking a selfie", "check time (from watch)", "rub two hands together", "nod head/bow",
    "shake head", "wipe face", "salute", "put the palms together",
    "cross hands in front (say stop)", "sneeze/cough", "staggering", "falling",
    "touch head (headache)", "touch chest (stomachache/heart pain)", "touch back (backache)",
    "touch neck (neckache)", "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm", "punching/slapping other person",
    "kicking other person", "pushing other person", "pat on back of other person",
    "point finger at the other person", "hugging other person",
    "giving something to other person", "touch other person's pocket", "handshaking",
    "walking towards each other", "walking apart from each other",
)  # fmt: skip
"""The official NTU RGB+D 60 action names; index = action id (``Aaaa``) - 1."""

NTU120_CLASSES: tuple[str, ...] = NTU60_CLASSES + (
    "put on headphone", "take off headphone", "shoot at the basket", "bounce ball",
    "tennis bat swing", "juggling table tennis balls", "hush (quite)", "flick hair",
    "thumb up", "thumb down", "make ok sign", "make victory sign", "staple book",
    "counting money", "cutting nails", "cutting paper (using scissors)", "snapping fingers",
    "open bottle", "sniff (smell)", "squat down", "toss a coin", "fold paper",
    "ball up paper", "play magic cube", "apply cream on face", "apply cream on hand back",
    "put on bag", "take off bag", "put something into a bag", "take something out of a bag",
    "open a box", "move heavy objects", "shake fist", "throw up cap/hat",
    "hands up (both hands)", "cross arms", "arm circles", "arm swings", "running on the spot",
    "butt kicks (kick backward)", "cross toe touch", "side kick", "yawn", "stretch oneself",
    "blow nose", "hit other person with something", "wield knife towards other person",
    "knock over other person (hit with body)", "grab other person's stuff",
    "shoot at other person with a gun", "step on foot", "high-five", "cheers and drink",
    "carry something with other person", "take a photo of other person",
    "follow other person", "whisper in other person's ear",
    "exchange things with other person",
    "support somebody with one's hand (someone is sick, help him to walk)",
    "finger-guessing game (playing rock-paper-scissors)",
)  # fmt: skip
"""The official NTU RGB+D 120 action names (the 60 above, then A061-A120)."""

NTU60_XSUB_TRAIN_SUBJECTS: frozenset[int] = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
)
"""NTU 60 cross-subject benchmark: training performers (the other performers are test)."""

NTU120_XSUB_TRAIN_SUBJECTS: frozenset[int] = NTU60_XSUB_TRAIN_SUBJECTS | frozenset(
    (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85,
     86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
)  # fmt: skip
"""NTU 120 cross-subject benchmark: training performers (equal to the NTU 60 list below P041)."""

NTU_XVIEW_TRAIN_CAMERAS: frozenset[int] = frozenset((2, 3))
"""NTU 60 cross-view benchmark: cameras 2 and 3 train, camera 1 tests."""

_NTU60_MAX_SETUP = 17
_NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")

KINECT25_JOINTS: tuple[str, ...] = (
    "SpineBase", "SpineMid", "Neck", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft",
    "HandLeft", "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft",
    "KneeLeft", "AnkleLeft", "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight",
    "SpineShoulder", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight",
)  # fmt: skip
"""Kinect v2 joint order of NTU ``.skeleton`` files."""

_K = {name: i for i, name in enumerate(KINECT25_JOINTS)}

KINECT25_TO_H36M: tuple[int, ...] = (
    _K["SpineBase"],      # 0  pelvis
    _K["HipRight"],       # 1  right_hip
    _K["KneeRight"],      # 2  right_knee
    _K["AnkleRight"],     # 3  right_ankle
    _K["HipLeft"],        # 4  left_hip
    _K["KneeLeft"],       # 5  left_knee
    _K["AnkleLeft"],      # 6  left_ankle
    _K["SpineMid"],       # 7  spine
    _K["SpineShoulder"],  # 8  thorax
    _K["Head"],           # 9  nose (approximation)
    _K["Head"],           # 10 head top: replaced by the Neck -> Head extrapolation
    _K["ShoulderLeft"],   # 11 left_shoulder
    _K["ElbowLeft"],      # 12 left_elbow
    _K["WristLeft"],      # 13 left_wrist
    _K["ShoulderRight"],  # 14 right_shoulder
    _K["ElbowRight"],     # 15 right_elbow
    _K["WristRight"],     # 16 right_wrist
)  # fmt: skip
"""Kinect joint copied into each H36M-17 joint (head top is extrapolated, see the module doc)."""

HEAD_TOP_EXTRAPOLATION = 0.5
"""H36M head top = Head + this * (Head - Neck), in image coordinates."""

_NTU_BODY_INFO = 10
_NTU_JOINT_VALUES = 12
_NTU_NUM_JOINTS = 25
_MAX_BODIES = 2
_TRACKING_CONF = {2: 1.0, 1: 0.5}


@dataclass(frozen=True)
class NTUName:
    """The fields of an NTU file name ``SsssCcccPpppRrrrAaaa`` (all 1-based)."""

    setup: int
    camera: int
    performer: int
    replication: int
    action: int


def parse_ntu_name(name: str) -> NTUName | None:
    """``"S001C002P003R002A013.skeleton"`` (or the bare stem) -> :class:`NTUName`; None if
    the name does not follow the NTU pattern."""
    stem = Path(name).name.split(".", 1)[0]
    m = _NTU_NAME.fullmatch(stem)
    if m is None:
        return None
    return NTUName(*(int(g) for g in m.groups()))


def kinect25_to_h36m(xy: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kinect v2 joints xy (..., 25, 2) + conf (..., 25) -> H36M-17 xy (..., 17, 2), conf (..., 17).

    See the module docstring for the table; head top = Head + 0.5 (Head - Neck) with the
    minimum of the two confidences.
    """
    xy = np.asarray(xy, np.float32)
    conf = np.asarray(conf, np.float32)
    if xy.shape[-2:] != (_NTU_NUM_JOINTS, 2) or conf.shape != xy.shape[:-1]:
        raise ValueError(f"expected (..., 25, 2) xy and (..., 25) conf, got {xy.shape} and {conf.shape}")
    out_xy = xy[..., list(KINECT25_TO_H36M), :].copy()  # (..., 17, 2)
    out_c = conf[..., list(KINECT25_TO_H36M)].copy()  # (..., 17)
    head, neck = _K["Head"], _K["Neck"]
    top = H36M17.index("head")
    out_xy[..., top, :] = xy[..., head, :] + HEAD_TOP_EXTRAPOLATION * (xy[..., head, :] - xy[..., neck, :])
    out_c[..., top] = np.minimum(conf[..., head], conf[..., neck])
    out_xy[out_c <= 0] = 0.0  # unseen joints (and absent bodies) sit at 0
    return out_xy, out_c


class _Lines:
    """Non-blank lines of a text file as (line number, tokens), consumed in order."""

    def __init__(self, text: str, source: str) -> None:
        self.rows = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        self.pos = 0
        self.source = source

    def take(self, what: str) -> tuple[int, list[str]]:
        if self.pos >= len(self.rows):
            last = self.rows[-1][0] if self.rows else 0
            raise HMError(f"{self.source} line {last + 1}: the file ends early (expected {what}); "
                          f"it is truncated or not an NTU .skeleton file")  # fmt: skip
        row = self.rows[self.pos]
        self.pos += 1
        return row

    def count(self, what: str) -> tuple[int, int]:
        n, toks = self.take(what)
        if len(toks) != 1:
            raise HMError(f"{self.source} line {n}: expected {what} (one integer), got {len(toks)} values")
        try:
            v = int(toks[0])
        except ValueError:
            raise HMError(f"{self.source} line {n}: expected {what}, got {toks[0]!r}") from None
        if v < 0:
            raise HMError(f"{self.source} line {n}: {what} is negative ({v})")
        return n, v

    def numbers(self, k: int, what: str) -> list[float]:
        n, toks = self.take(what)
        if len(toks) != k:
            raise HMError(f"{self.source} line {n}: expected {k} values ({what}), got {len(toks)}")
        try:
            return [float(t) for t in toks]
        except ValueError:
            bad = next(t for t in toks if not _is_float(t))
            raise HMError(f"{self.source} line {n}: {bad!r} is not a number ({what})") from None


    def block(self, n: int, k: int, what: str) -> np.ndarray:
        """The next n lines of k numbers each -> (n, k) float64."""
        start = self.pos
        rows = self.rows[start:start + n]
        if len(rows) == n and all(len(toks) == k for _, toks in rows):
            try:
                out = np.array([toks for _, toks in rows], dtype=np.float64)  # (n, k), parsed by numpy
                self.pos += n
                return out
            except ValueError:
                pass
        return np.asarray([self.numbers(k, what) for _ in range(n)], np.float64)  # finds the bad line


_JOINT_WHAT = "joint x y z depthX depthY colorX colorY orientationW X Y Z trackingState"


def _is_float(t: str) -> bool:
    try:
        float(t)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _Body:
    joints: np.ndarray  # (F, 25, 12) float64, zeros where absent
    present: np.ndarray  # (F,) bool
    first: int  # first frame the body appears in


def parse_ntu_skeleton(text: str, source: str = "<skeleton>") -> tuple[np.ndarray, np.ndarray]:
    """The text of an NTU ``.skeleton`` file -> H36M-17 xy (2, F, 17, 2) px, conf (2, F, 17).

    Up to two bodies are kept (see the module docstring). Malformed text -> HMError naming
    ``source`` and the line; no frames or no body at all -> HMError (an ``_EmptyClip``).
    """
    lines = _Lines(text, source)
    _, n_frames = lines.count("the number of frames")
    if n_frames == 0:
        raise _EmptyClip(f"{source} holds no frames")
    per_body: dict[str, dict[int, np.ndarray]] = {}
    for f in range(n_frames):
        _, n_bodies = lines.count(f"the number of bodies of frame {f + 1}")
        for _b in range(n_bodies):
            n_info, toks = lines.take("a body line of 10 values")
            if len(toks) != _NTU_BODY_INFO:
                raise HMError(f"{source} line {n_info}: expected {_NTU_BODY_INFO} values (body info), got {len(toks)}")
            bad = next((t for t in toks if not _is_float(t)), None)
            if bad is not None:
                raise HMError(f"{source} line {n_info}: {bad!r} is not a number (body info)")
            body_id = toks[0]
            n_j, n_joints = lines.count("the number of joints")
            if n_joints != _NTU_NUM_JOINTS:
                raise HMError(f"{source} line {n_j}: expected {_NTU_NUM_JOINTS} joints, got {n_joints}")
            per_body.setdefault(body_id, {}).setdefault(f, lines.block(n_joints, _NTU_JOINT_VALUES, _JOINT_WHAT))
    if lines.pos < len(lines.rows):
        n, _ = lines.rows[lines.pos]
        raise HMError(f"{source} line {n}: unexpected data after the last frame")
    if not per_body:
        raise _EmptyClip(f"{source} has no body in any frame")

    bodies: list[_Body] = []
    for frames in per_body.values():
        j = np.zeros((n_frames, _NTU_NUM_JOINTS, _NTU_JOINT_VALUES))  # (F, 25, 12)
        present = np.zeros(n_frames, bool)
        for f, arr in frames.items():
            j[f], present[f] = arr, True
        bodies.append(_Body(j, present, min(frames)))

    def rank(b: _Body) -> tuple[int, float, int]:
        state = b.joints[..., 11]  # (F, 25)
        tracked = int(np.sum(b.present & (state == 2).any(axis=1)))
        xyz = b.joints[b.present][..., :3]  # (Fp, 25, 3)
        xyz = np.where(np.isfinite(xyz), xyz, 0.0)
        motion = float(xyz.var(axis=0).sum()) if xyz.shape[0] > 1 else 0.0
        return (-tracked, -motion, b.first)

    kept = sorted(bodies, key=rank)[:_MAX_BODIES]
    xy25 = np.zeros((_MAX_BODIES, n_frames, _NTU_NUM_JOINTS, 2), np.float32)  # (2, F, 25, 2)
    conf25 = np.zeros((_MAX_BODIES, n_frames, _NTU_NUM_JOINTS), np.float32)  # (2, F, 25)
    for m, b in enumerate(kept):
        col = b.joints[..., 5:7]  # (F, 25, 2) colorX, colorY
        state = b.joints[..., 11]  # (F, 25)
        c = np.zeros(state.shape, np.float32)
        for s, v in _TRACKING_CONF.items():
            c[state == s] = v
        finite = np.isfinite(col).all(axis=-1)  # (F, 25)
        c[~finite | ~b.present[:, None]] = 0.0
        xy25[m] = np.where(finite[..., None], col, 0.0)
        conf25[m] = c
    return kinect25_to_h36m(xy25, conf25)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise HMError(f"file not found: {path}") from None
    except UnicodeDecodeError:
        raise HMError(f"{path} is not a text file (not an NTU .skeleton file)") from None
    except OSError as e:
        raise HMError(f"cannot read {path}: {e.strerror or e}") from None


def _ntu_name_or_error(path: Path) -> NTUName:
    info = parse_ntu_name(path.name)
    if info is None:
        raise HMError(f"{path}: NTU file names must look like S001C001P001R001A001.skeleton "
                      f"(setup, camera, performer, replication, action)")  # fmt: skip
    return info


def read_ntu_skeleton(path: str | os.PathLike) -> ActionSample:
    """One NTU RGB+D ``.skeleton`` file -> ActionSample (M = 2, 1920x1080, 30 fps).

    label = action id - 1; subject = ``"P003"``-style performer id; camera / setup from the
    name. Malformed, empty or wrongly named files -> HMError naming the file (and line).
    """
    p = Path(path)
    info = _ntu_name_or_error(p)
    xy, conf = parse_ntu_skeleton(_read_text(p), str(p))
    return ActionSample(
        xy=xy, conf=conf, label=info.action - 1, width=NTU_WIDTH, height=NTU_HEIGHT, fps=NTU_FPS,
        name=p.name.split(".", 1)[0], subject=f"P{info.performer:03d}", camera=info.camera,
        setup=info.setup,
    )  # fmt: skip


def _warn_skip(skipped: list[str], entry: str) -> None:
    skipped.append(entry)
    warnings.warn(f"skipping {entry}", SkippedClipWarning, stacklevel=3)


def read_ntu_dir(root: str | os.PathLike, classes: str | None = "ntu60",
                 max_files: int | None = None) -> LoadedActionDataset:
    """Every ``*.skeleton`` file under ``root`` (searched recursively) -> a dataset.

    classes: ``"ntu60"`` -- the 60 NTU RGB+D classes; files outside NTU 60 (setup > 17 or
    action > 60, i.e. NTU 120 additions) are ignored with a warning. ``"ntu120"`` -- the 120
    classes. None -- every file, classes named ``"A001"`` ... up to the largest action id.
    label = action id - 1 in every case.

    splits: ``xsub_train`` / ``xsub_val`` (cross-subject: training performers in
    :data:`NTU60_XSUB_TRAIN_SUBJECTS`, or :data:`NTU120_XSUB_TRAIN_SUBJECTS` unless classes
    is ntu60; the two agree on NTU 60's performers), ``xview_train`` / ``xview_val``
    (cameras 2, 3 vs camera 1) and, unless classes is ntu60, ``xset_train`` / ``xset_val``
    (NTU 120 cross-setup: even setup ids train). max_files: read only the first N files
    (by name) of the selection. Files without frames or bodies are skipped with a warning
    and listed in ``skipped``; any malformed file -> HMError naming the file and line.
    """
    base = Path(root)
    if not base.is_dir():
        raise HMError(f"NTU skeleton folder not found: {base}")
    if classes not in ("ntu60", "ntu120", None):
        raise HMError(f"classes must be 'ntu60', 'ntu120' or None, got {classes!r}")
    if max_files is not None and max_files < 1:
        raise HMError(f"max_files must be at least 1, got {max_files}")
    files = sorted(base.rglob("*.skeleton"), key=lambda q: (q.name, str(q)))
    if not files:
        raise HMError(f"no .skeleton files in {base}")
    named = [(q, _ntu_name_or_error(q)) for q in files]
    if classes == "ntu60":
        outside = [q for q, i in named if i.action > len(NTU60_CLASSES) or i.setup > _NTU60_MAX_SETUP]
        if outside:
            warnings.warn(f"ignoring {len(outside)} file(s) of {base} outside NTU RGB+D 60 (setup > 17 or "
                          f"action > 60); pass classes='ntu120' to read them",
                          SkippedClipWarning, stacklevel=2)  # fmt: skip
            named = [(q, i) for q, i in named if i.action <= len(NTU60_CLASSES) and i.setup <= _NTU60_MAX_SETUP]
        if not named:
            raise HMError(f"no NTU RGB+D 60 files in {base}; pass classes='ntu120' to read NTU 120")
    elif classes == "ntu120":
        beyond = next((q for q, i in named if i.action > len(NTU120_CLASSES)), None)
        if beyond is not None:
            raise HMError(f"{beyond}: action id is beyond the 120 NTU classes")
    if max_files is not None:
        named = named[:max_files]

    samples: list[ActionSample] = []
    skipped: list[str] = []
    for q, _info in named:
        try:
            samples.append(read_ntu_skeleton(q))
        except _EmptyClip as e:
            _warn_skip(skipped, str(e))
    if not samples:
        raise HMError(f"no readable NTU clips in {base} ({len(skipped)} empty file(s) skipped)")

    if classes == "ntu60":
        names = NTU60_CLASSES
    elif classes == "ntu120":
        names = NTU120_CLASSES
    else:
        names = tuple(f"A{a:03d}" for a in range(1, max(s.label for s in samples) + 2))
    train_subjects = NTU60_XSUB_TRAIN_SUBJECTS if classes == "ntu60" else NTU120_XSUB_TRAIN_SUBJECTS
    perf = [int(s.subject[1:]) for s in samples]
    splits = {
        "xsub_train": [i for i, p in enumerate(perf) if p in train_subjects],
        "xsub_val": [i for i, p in enumerate(perf) if p not in train_subjects],
        "xview_train": [i for i, s in enumerate(samples) if s.camera in NTU_XVIEW_TRAIN_CAMERAS],
        "xview_val": [i for i, s in enumerate(samples) if s.camera not in NTU_XVIEW_TRAIN_CAMERAS],
    }
    if classes != "ntu60":
        splits["xset_train"] = [i for i, s in enumerate(samples) if s.setup % 2 == 0]
        splits["xset_val"] = [i for i, s in enumerate(samples) if s.setup % 2 == 1]
    return LoadedActionDataset(samples=samples, classes=names, splits=splits, source=str(base),
                               skipped=tuple(skipped))  # fmt: skip


# ============================================================================ pyskl / mmpose pickle

PYSKL_GLOBALS: dict[tuple[str, str], Any] = {
    **NUMPY_GLOBALS,
    ("_codecs", "encode"): SAFE_BUILTINS[("_codecs", "encode")],
}
"""What a pyskl 2D annotation pickle may name: numpy arrays, dtypes and scalars (numpy 1 and 2
module names) and ``_codecs.encode`` (latin1 only; protocol-2 pickles rebuild bytes with it).
dict, list, tuple, str, int, float, bool and None need no globals. Everything else is refused."""

_JOINT_LAYOUTS = ("coco", "h36m")


#: Labels of a pyskl file without class names number the classes 0..max; NTU-120 has 120.
MAX_PYSKL_LABEL = 10_000


def _pyskl_error(path: Path, where: str, msg: str) -> HMError:
    return HMError(f"{path}: {where}: {msg}")


def _as_int(v: Any) -> int | None:
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, np.ndarray) and v.shape == () and v.dtype.kind in "iu":
        return int(v)
    return None


def _float_array(v: Any, path: Path, where: str, key: str) -> np.ndarray:
    if not isinstance(v, (np.ndarray, list, tuple)):
        raise _pyskl_error(path, where, f"'{key}' is a {type(v).__name__}, not an array")
    try:
        a = np.asarray(v, np.float32)
    except (TypeError, ValueError):
        raise _pyskl_error(path, where, f"'{key}' is not a numeric array") from None
    return a


def _pyskl_sample(ann: Any, i: int, path: Path, joint_layout: str, fps: float,
                  max_persons: int) -> ActionSample | str:  # fmt: skip
    """One annotation dict -> ActionSample, or a skip reason for an empty clip."""
    if not isinstance(ann, dict):
        raise _pyskl_error(path, f"annotation {i}", f"is a {type(ann).__name__}, not a dict")
    name = ann.get("frame_dir")
    where = f"annotation {i}" + (f" ({name!r})" if isinstance(name, str) else "")
    missing = [k for k in ("frame_dir", "label", "img_shape", "keypoint") if k not in ann]
    if missing:
        raise _pyskl_error(path, where, f"missing key(s) {', '.join(repr(k) for k in missing)}")
    if not isinstance(name, str) or not name:
        raise _pyskl_error(path, where, "'frame_dir' is not a non-empty string")
    label = _as_int(ann["label"])
    if label is None or label < 0:
        raise _pyskl_error(path, where, f"'label' must be a non-negative integer, got {ann['label']!r}")
    if label >= MAX_PYSKL_LABEL:  # the classes are 0..max label: 10**9 would build a 10**9-way head
        raise _pyskl_error(path, where, f"'label' {label} is implausibly large (at most {MAX_PYSKL_LABEL - 1})")
    shape = ann["img_shape"]
    dims = [_as_int(d) for d in shape] if isinstance(shape, (tuple, list, np.ndarray)) and np.ndim(shape) == 1 else []
    if len(dims) != 2 or any(d is None or d <= 0 for d in dims):
        raise _pyskl_error(path, where, f"'img_shape' must be (height, width), got {shape!r}")
    height, width = dims

    k = _float_array(ann["keypoint"], path, where, "keypoint")  # (M, T, V, C)
    if k.ndim != 4 or k.shape[-1] not in (2, 3):
        raise _pyskl_error(path, where, f"'keypoint' must be (persons, frames, joints, 2), got {k.shape}")
    if k.shape[2] != 17:
        raise _pyskl_error(path, where, f"'keypoint' has {k.shape[2]} joints; read_pyskl reads 17-joint "
                           f"2D files (COCO, or H36M with joint_layout='h36m')")  # fmt: skip
    if "keypoint_score" in ann:
        score = _float_array(ann["keypoint_score"], path, where, "keypoint_score")  # (M, T, V)
        if score.shape != k.shape[:3]:
            raise _pyskl_error(path, where, f"'keypoint_score' {score.shape} does not match 'keypoint' {k.shape}")
    elif k.shape[-1] == 3:
        score = k[..., 2]  # (M, T, V)
    else:
        raise _pyskl_error(path, where, "missing key 'keypoint_score'")
    xy = k[..., :2]  # (M, T, V, 2)
    if k.shape[0] == 0 or k.shape[1] == 0:
        return f"{path}: {where} has no frames or no persons"
    finite = np.isfinite(xy).all(axis=-1)  # (M, T, V)
    if not finite.any():
        raise _pyskl_error(path, where, "keypoints are all NaN")
    conf = np.clip(np.nan_to_num(score, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
    conf = np.where(finite, conf, 0.0).astype(np.float32)  # (M, T, V)
    xy = np.where(finite[..., None], xy, 0.0).astype(np.float32)  # (M, T, V, 2)
    if xy.shape[0] > max_persons:
        keep = np.sort(np.argsort(-conf.sum(axis=(1, 2)), kind="stable")[:max_persons])
        xy, conf = xy[keep], conf[keep]
    kc = np.concatenate([xy, conf[..., None]], axis=-1)  # (M, T, 17, 3)
    h = coco_to_h36m(kc) if joint_layout == "coco" else kc  # (M, T, 17, 3)
    return ActionSample(xy=np.ascontiguousarray(h[..., :2], np.float32),
                        conf=np.ascontiguousarray(h[..., 2], np.float32), label=label, width=width,
                        height=height, fps=float(fps), name=name)  # fmt: skip


def read_pyskl(path: str | os.PathLike, classes: tuple[str, ...] | None = None, joint_layout: str = "coco",
               fps: float = 30.0, max_persons: int = 2) -> LoadedActionDataset:  # fmt: skip
    """A pyskl / mmaction2 2D skeleton pickle (``{"split": {...}, "annotations": [...]}``) -> dataset.

    Each annotation needs ``frame_dir`` (str), ``label`` (int), ``img_shape`` (h, w) and
    ``keypoint`` (M, T, 17, 2) with ``keypoint_score`` (M, T, 17) (or ``keypoint`` (M, T, 17, 3)
    with the score last). joint_layout: ``"coco"`` (pyskl's HRNet files; mapped with
    :func:`hmcli.skeleton.convert.coco_to_h36m`) or ``"h36m"`` (already H36M-17). NaN
    keypoints get conf 0. At most ``max_persons`` persons are kept (highest total score,
    file order). classes: label names (labels must index them); None -> ``"0"``, ``"1"``, ...
    up to the largest label. splits: the file's ``split`` (names -> frame_dir lists) as
    sample indices; names without an annotation are dropped with a warning. The pickle is
    read with :data:`PYSKL_GLOBALS` only: anything that names other code -> HMError.
    """
    p = Path(path)
    if joint_layout not in _JOINT_LAYOUTS:
        raise HMError(f"joint_layout must be 'coco' or 'h36m', got {joint_layout!r}")
    if not (isinstance(fps, (int, float)) and np.isfinite(fps) and fps > 0):
        raise HMError(f"fps must be a positive number, got {fps!r}")
    if max_persons < 1:
        raise HMError(f"max_persons must be at least 1, got {max_persons}")
    if not p.is_file():
        raise HMError(f"pyskl annotation file not found: {p}")
    raw = restricted_load(p, PYSKL_GLOBALS, what="a pyskl annotation file")
    if isinstance(raw, list):
        anns, split = raw, {}
    elif isinstance(raw, dict):
        if "annotations" not in raw:
            raise HMError(f"{p}: not a pyskl annotation file (no 'annotations' key; has {sorted(map(str, raw))[:6]})")
        anns, split = raw["annotations"], raw.get("split", {})
    else:
        raise HMError(f"{p}: not a pyskl annotation file (the pickle holds a {type(raw).__name__})")
    if not isinstance(anns, list):
        raise HMError(f"{p}: 'annotations' is a {type(anns).__name__}, not a list")
    if not isinstance(split, dict):
        raise HMError(f"{p}: 'split' is a {type(split).__name__}, not a dict of name lists")

    samples: list[ActionSample] = []
    skipped: list[str] = []
    index: dict[str, int] = {}
    seen: set[str] = set()
    for i, ann in enumerate(anns):
        s = _pyskl_sample(ann, i, p, joint_layout, fps, max_persons)
        name = s if isinstance(s, str) else s.name
        key = ann["frame_dir"]
        if key in seen:
            raise HMError(f"{p}: annotation {i}: frame_dir {key!r} appears twice")
        seen.add(key)
        if isinstance(s, str):
            _warn_skip(skipped, name)
            continue
        if classes is not None and s.label >= len(classes):
            raise HMError(f"{p}: annotation {i} ({s.name!r}): label {s.label} is out of range for "
                          f"{len(classes)} classes")  # fmt: skip
        index[s.name] = len(samples)
        samples.append(s)
    if not samples:
        raise HMError(f"{p}: no annotations with keypoints")

    splits: dict[str, list[int]] = {}
    for sname, members in split.items():
        if not isinstance(sname, str) or not isinstance(members, (list, tuple)) or \
                not all(isinstance(m, str) for m in members):  # fmt: skip
            raise HMError(f"{p}: split {sname!r} is not a list of frame_dir names")
        splits[sname] = [index[m] for m in members if m in index]
        unknown = len(members) - len(splits[sname])
        if unknown:
            warnings.warn(f"{p}: split {sname!r} names {unknown} clip(s) without annotation; dropped",
                          SkippedClipWarning, stacklevel=2)  # fmt: skip
    names = tuple(classes) if classes is not None else tuple(str(i) for i in range(max(s.label for s in samples) + 1))
    return LoadedActionDataset(samples=samples, classes=names, splits=splits, source=str(p), skipped=tuple(skipped))


# ============================================================================ own data: CSV / folders

KEYPOINT_SUFFIXES: tuple[str, ...] = (".json", ".npz", ".h5", ".hdf5")
"""Keypoint files :func:`read_label_folders` picks up (CSV rows may name any readable file)."""

VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
"""Files detected with :func:`hmcli.api.detect` instead of read as keypoints."""

_DEFAULT_FPS = 30.0


def sample_from_keypoints(kp: Keypoints2D, label: int, name: str, subject: str = "",
                          fps: float | None = None) -> ActionSample:  # fmt: skip
    """One person's Keypoints2D (any supported joint set) -> ActionSample with M = 1.

    The joints are converted to H36M-17 as ``hm action`` converts them at inference
    (:func:`hmcli.action.api.encode_keypoints`: the lifter's BlazePose map and confidence floor);
    frames without a detection get conf 0.
    fps: the keypoints' frame rate if they have one, else ``fps``, else 30.
    """
    xy = np.asarray(kp.xy, np.float32)  # (F, J, 2)
    k = np.concatenate([xy, np.asarray(kp.conf, np.float32)[..., None]], axis=-1)  # (F, J, 3)
    try:
        h = np.asarray(to_h36m(k, kp.joint_set, BLAZEPOSE_MAP), np.float32)  # (F, 17, 3)
    except ValueError as e:
        raise HMError(str(e)) from None
    conf = np.where(np.asarray(kp.detected, bool)[:, None], model_confidence(h[..., 2], kp.joint_set),
                    0.0).astype(np.float32)  # (F, 17)
    rate = kp.fps
    if not np.isfinite(rate) or rate <= 0:
        rate = float(fps) if fps else _DEFAULT_FPS
    return ActionSample(xy=np.ascontiguousarray(h[None, ..., :2]), conf=conf[None], label=label,
                        width=int(kp.width), height=int(kp.height), fps=float(rate), name=name,
                        subject=subject)  # fmt: skip


def _load_clip(file: Path, fps: float | None, width: int | None, height: int | None, detector: Any) -> Keypoints2D:
    if file.suffix.lower() in VIDEO_SUFFIXES and file.is_file():
        from hmcli.api import detect

        return detect(str(file), detector)
    from hmcli.io.keypoints import load_keypoints

    return load_keypoints(file, fps=fps, width=width, height=height)


def _clip_sample(file: Path, where: str, label: int, name: str, subject: str, fps: float | None,
                 width: int | None, height: int | None, detector: Any) -> ActionSample:  # fmt: skip
    if not file.exists():
        raise HMError(f"{where}: file not found: {file}")
    try:
        kp = _load_clip(file, fps, width, height, detector)
        return sample_from_keypoints(kp, label, name, subject, fps)
    except HMError as e:
        raise HMError(f"{where}: {e}") from None


def _class_index(classes: tuple[str, ...] | None, labels: Sequence[str]) -> tuple[tuple[str, ...], dict[str, int]]:
    names = tuple(classes) if classes is not None else tuple(sorted(set(labels)))
    return names, {c: i for i, c in enumerate(names)}


def read_labels_csv(path: str | os.PathLike, classes: Sequence[str] | None = None, fps: float | None = None,
                    width: int | None = None, height: int | None = None,
                    detector: Any = "mediapipe") -> LoadedActionDataset:  # fmt: skip
    """A CSV with columns ``file,label`` (optional ``split``, ``subject``) -> dataset.

    ``file``: a keypoint file (see :func:`hmcli.io.keypoints.load_keypoints`) or a video
    (``VIDEO_SUFFIXES``, detected with ``detector``), relative to the CSV's folder unless
    absolute. classes: the class list (labels must be in it); None -> sorted unique labels.
    splits: by the ``split`` column (empty -> ``train``), else everything in ``train``.
    fps / width / height: for keypoint formats that do not record them. Problems -> HMError
    naming the CSV line.
    """
    p = Path(path)
    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            rows = [(reader.line_num, {(k or "").strip(): (v or "").strip() if isinstance(v, str) else ""
                                       for k, v in r.items()}) for r in reader]  # fmt: skip
    except FileNotFoundError:
        raise HMError(f"label file not found: {p}") from None
    except UnicodeDecodeError:
        raise HMError(f"{p} is not a UTF-8 text CSV") from None
    except csv.Error as e:
        raise HMError(f"{p} is not a valid CSV ({e})") from None
    except OSError as e:
        raise HMError(f"cannot read {p}: {e.strerror or e}") from None
    missing = [c for c in ("file", "label") if c not in header]
    if missing:
        raise HMError(f"{p}: needs the columns file,label (optional split, subject); "
                      f"missing {', '.join(missing)} (has: {', '.join(header) or 'nothing'})")  # fmt: skip
    if not rows:
        raise HMError(f"{p}: no rows")
    for line, r in rows:
        if not r.get("file") or not r.get("label"):
            raise HMError(f"{p} line {line}: empty 'file' or 'label'")
    names, index = _class_index(tuple(classes) if classes is not None else None, [r["label"] for _, r in rows])
    for line, r in rows:
        if r["label"] not in index:
            raise HMError(f"{p} line {line}: label {r['label']!r} is not one of the {len(names)} classes")
    base = p.parent
    samples: list[ActionSample] = []
    splits: dict[str, list[int]] = {}
    for line, r in rows:
        file = Path(r["file"])
        file = file if file.is_absolute() else base / file
        s = _clip_sample(file, f"{p} line {line}", index[r["label"]], r["file"], r.get("subject", ""),
                         fps, width, height, detector)  # fmt: skip
        splits.setdefault(r.get("split") or "train", []).append(len(samples))
        samples.append(s)
    return LoadedActionDataset(samples=samples, classes=names, splits=splits, source=str(p))


def _folder_clips(folder: Path) -> list[Path]:
    out = []
    for q in sorted(folder.iterdir()):
        if q.name.startswith("."):
            continue
        if q.is_file() and q.suffix.lower() in KEYPOINT_SUFFIXES + VIDEO_SUFFIXES:
            out.append(q)
        elif q.is_dir() and any(q.glob("*_keypoints.json")):  # an OpenPose output folder
            out.append(q)
    return out


def read_label_folders(root: str | os.PathLike, classes: Sequence[str] | None = None, fps: float | None = None,
                       width: int | None = None, height: int | None = None,
                       detector: Any = "mediapipe") -> LoadedActionDataset:  # fmt: skip
    """A folder layout ``root/<label>/<clip>`` -> dataset, everything in split ``train``.

    Clips: keypoint files (``KEYPOINT_SUFFIXES``), videos (``VIDEO_SUFFIXES``) and OpenPose
    output folders; other files are ignored. classes: the class list (every label folder
    must be in it); None -> sorted folder names. Label folders without clips are skipped
    with a warning.
    """
    base = Path(root)
    if not base.is_dir():
        raise HMError(f"label folder not found: {base}")
    folders = [q for q in sorted(base.iterdir()) if q.is_dir() and not q.name.startswith(".")]
    if not folders:
        raise HMError(f"{base}: no label folders (expected {base}/<label>/<clip>, or a labels.csv)")
    names, index = _class_index(tuple(classes) if classes is not None else None, [q.name for q in folders])
    for q in folders:
        if q.name not in index:
            raise HMError(f"{q}: label folder {q.name!r} is not one of the {len(names)} classes")
    samples: list[ActionSample] = []
    skipped: list[str] = []
    for q in folders:
        clips = _folder_clips(q)
        if not clips:
            _warn_skip(skipped, f"{q}: no keypoint files or videos")
            continue
        for c in clips:
            rel = f"{q.name}/{c.name}"
            samples.append(_clip_sample(c, str(c), index[q.name], rel, "", fps, width, height, detector))
    if not samples:
        raise HMError(f"{base}: no keypoint files or videos in the label folders")
    return LoadedActionDataset(samples=samples, classes=names, splits={"train": list(range(len(samples)))},
                               source=str(base), skipped=tuple(skipped))  # fmt: skip


def read_labelled(path: str | os.PathLike, classes: Sequence[str] | None = None, fps: float | None = None,
                  width: int | None = None, height: int | None = None,
                  detector: Any = "mediapipe") -> LoadedActionDataset:  # fmt: skip
    """People's own labelled clips: a ``.csv`` (:func:`read_labels_csv`), a folder holding a
    ``labels.csv``, or a folder of label folders (:func:`read_label_folders`)."""
    p = Path(path)
    kw: dict[str, Any] = dict(classes=classes, fps=fps, width=width, height=height, detector=detector)
    if p.is_dir():
        if (p / "labels.csv").is_file():
            return read_labels_csv(p / "labels.csv", **kw)
        return read_label_folders(p, **kw)
    if not p.exists():
        raise HMError(f"not found: {p}")
    return read_labels_csv(p, **kw)


# ============================================================================ dispatch

_KINDS = ("auto", "ntu", "pyskl", "csv", "folder")


def _has_skeletons(p: Path) -> bool:
    return any(p.glob("*.skeleton")) or any(p.glob("*/*.skeleton"))


def _ntu_single(p: Path, classes: str | None = "ntu60") -> LoadedActionDataset:
    s = read_ntu_skeleton(p)
    names = NTU120_CLASSES if classes == "ntu120" or s.label >= len(NTU60_CLASSES) else NTU60_CLASSES
    return LoadedActionDataset(samples=[s], classes=names, splits={}, source=str(p))


def load_action_dataset(path: str | os.PathLike, kind: str = "auto", **kw: Any) -> LoadedActionDataset:
    """Read an action dataset with the reader that fits ``path`` (``kind="auto"``) or ``kind``.

    auto: a folder with ``*.skeleton`` files (or one level below) -> ``ntu``
    (:func:`read_ntu_dir`; a single ``.skeleton`` file -> a one-clip dataset); ``.pkl`` /
    ``.pickle`` -> ``pyskl`` (:func:`read_pyskl`); ``.csv`` or a folder with ``labels.csv``
    -> ``csv`` (:func:`read_labels_csv`); another folder -> ``folder``
    (:func:`read_label_folders`). ``kw`` goes to the reader.
    """
    if kind not in _KINDS:
        raise HMError(f"unknown dataset kind {kind!r}; use one of {', '.join(_KINDS)}")
    p = Path(path)
    if not p.exists():
        raise HMError(f"dataset not found: {p}")
    if kind == "auto":
        if p.is_dir():
            kind = "ntu" if _has_skeletons(p) else "csv" if (p / "labels.csv").is_file() else "folder"
        else:
            suffix = p.suffix.lower()
            kinds = {".skeleton": "ntu", ".pkl": "pyskl", ".pickle": "pyskl", ".csv": "csv"}
            if suffix not in kinds:
                raise HMError(f"cannot tell the dataset kind of {p.name!r}: expected a folder of NTU .skeleton "
                              f"files, a pyskl .pkl, a labels .csv or a folder of label folders")  # fmt: skip
            kind = kinds[suffix]
    if kind == "ntu":
        return _ntu_single(p, **kw) if p.is_file() else read_ntu_dir(p, **kw)
    if kind == "pyskl":
        return read_pyskl(p, **kw)
    if kind == "csv":
        return read_labels_csv(p / "labels.csv" if p.is_dir() else p, **kw)
    return read_label_folders(p, **kw)
