"""CMU mocap (ASF/AMC) -> H36M-17 joint sequences.

Joint mapping (CMU bone *end* = the distal joint of that bone; ``root`` = root position):

==  ==============  ==========================================================
 #  H36M-17         CMU source
==  ==============  ==========================================================
 0  pelvis          ``root``
 1  right_hip       end of ``rhipjoint`` (= start of ``rfemur``)
 2  right_knee      end of ``rfemur``
 3  right_ankle     end of ``rtibia``
 4  left_hip        end of ``lhipjoint``
 5  left_knee       end of ``lfemur``
 6  left_ankle      end of ``ltibia``
 7  spine           midpoint of the ends of ``lowerback`` and ``upperback`` (the middle
                    of the ``upperback`` bone, about half way from root to neck base,
                    which is where H36M puts its spine joint; it stays on the chain
                    when the back bends)
 8  thorax          end of ``thorax`` (neck base, where the clavicles start)
 9  nose            end of ``upperneck`` + ``G_head @ NOSE_OFFSET_M`` where ``G_head``
                    is the global rotation of the ``head`` bone and the offset points
                    forward (+Z of the ASF default pose).  Without rotations the
                    forward direction is estimated from the shoulders and the neck.
10  head            end of ``head``
11  left_shoulder   end of ``lclavicle``
12  left_elbow      end of ``lhumerus``
13  left_wrist      end of ``lradius``
14  right_shoulder  end of ``rclavicle``
15  right_elbow     end of ``rhumerus``
16  right_wrist     end of ``rradius``
==  ==============  ==========================================================

Coordinates stay in the CMU world frame (Y up, metres; floor near y = 0).

More data (``load_cmu_sources``): extra directories in any CMU-like layout join the main
one, e.g. ``../shared/data/cmu-amc-extra`` (subjects 01, 02, 03; ``NN.asf`` and
``NN_TT.amc`` side by side, names without descriptions, so their action is ``misc``;
CRLF line endings, which the readers accept like LF). A trial already loaded from an
earlier source (same subject and trial number, e.g. that folder's ``02_01``-``02_03``,
which are the ``cmu-amc`` files ``02_01 - walk`` ...) is skipped: the first source wins.

Frame rate.  AMC files do not store their rate.  CMU captures at 120 Hz and lists a
handful of (other) trials as 60 fps on its web site, which is not available offline.
``FPS_OVERRIDES`` maps trial ids (``"SS_TT"``) to a known rate; everything else gets
``default_fps`` (120).  For the 13-subject subset in ``../shared/data/cmu-amc`` the
override table is empty, by measurement (``estimate_fps_gravity``): every trial with
airborne phases (all jumps, runs with >=6 airborne frames, jumping jacks, some dance)
gives an implied gravity of 6-14 m/s^2 at 120 fps, while a 60 fps trial read as
120 fps would give about 39 m/s^2; walking speeds are 0.7-1.7 m/s and running speeds
2.1-4.2 m/s at 120 fps (half that at 60 fps would make runs slower than walks).
For slow dance/stretch trials of subjects 49 and 55 the rate cannot be measured; they
are assumed to be 120 fps like the other trials of the same capture sessions.

Action labels (``action_from_description``): the first comma-separated phrase of the
description is matched against keyword rules in this order, falling back to the whole
description, then ``misc``:

* ``basketball``: basketball, dribbl
* ``dance``: danc, lambada, lindy, salsa, waltz, charleston, ballet, pirouette,
  arabesque, jete
* ``stretch``: stretch, streching, yoga, exercise, squat, jumping jack, calisthenic
* ``jump``: jump, hop, leap
* ``run``: run, jog, sprint
* ``walk``: walk, stroll, march
* ``sports``: soccer, football, golf, box, punch, kick, tennis, baseball, swing,
  throw, catch, frisbee, volleyball, martial
* ``misc``: anything else (also files without a description, as in the full CMU zip).
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hmcli.data.asfamc import MocapFormatError, Skeleton, fk_full, load_amc, load_asf
from hmcli.io.atomic import atomic_write

H36M17_NAMES: tuple[str, ...] = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "spine", "thorax", "nose", "head", "left_shoulder", "left_elbow",
    "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
)

# H36M-17 index -> CMU joint (bone end) for the joints that map one-to-one.
_DIRECT: dict[int, str] = {
    0: "root", 1: "rhipjoint", 2: "rfemur", 3: "rtibia", 4: "lhipjoint", 5: "lfemur",
    6: "ltibia", 8: "thorax", 10: "head", 11: "lclavicle", 12: "lhumerus",
    13: "lradius", 14: "rclavicle", 15: "rhumerus", 16: "rradius",
}
REQUIRED_CMU_JOINTS: tuple[str, ...] = tuple(sorted(set(_DIRECT.values()) | {
    "lowerback", "upperback", "upperneck"}))

# Nose relative to the skull base (end of upperneck) in the head bone's default-pose
# frame: 9 cm forward (+Z), 1 cm up (metres).
NOSE_OFFSET_M = np.array([0.0, 0.01, 0.09])

ACTIONS: tuple[str, ...] = ("walk", "run", "jump", "dance", "basketball", "sports",
                            "stretch", "misc")

_ACTION_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("basketball", ("basketball", "dribbl")),
    ("dance", ("danc", "lambada", "lindy", "salsa", "waltz", "charleston", "ballet",
               "pirouette", "arabesque", "jete")),
    ("stretch", ("stretch", "streching", "yoga", "exercise", "squat", "jumping jack",
                 "calisthenic")),
    ("jump", ("jump", "hop", "leap")),
    ("run", ("run", "jog", "sprint")),
    ("walk", ("walk", "stroll", "march")),
    ("sports", ("soccer", "football", "golf", "box", "punch", "kick", "tennis",
                "baseball", "swing", "throw", "catch", "frisbee", "volleyball",
                "martial")),
)

DEFAULT_FPS = 120.0
# Trial id "SS_TT" -> frame rate, for trials known not to be 120 fps.  Empty for the
# shared 13-subject subset (see module docstring); extend for other CMU subjects.
FPS_OVERRIDES: dict[str, float] = {}

GRAVITY = 9.81
_CACHE_VERSION = 1  # bump when the mapping or the loader output changes

_AMC_NAME_RE = re.compile(r"^(\d+)_(\d+)(.*)\.amc$", re.IGNORECASE)


@dataclass
class Sequence:
    """One mocap trial as H36M-17 joints.

    joints: (F, 17, 3) float32 metres, CMU world frame (Y up).
    """

    subject: str
    trial: str
    description: str
    action: str
    fps: float
    joints: np.ndarray
    path: str

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def trial_id(self) -> str:
        return f"{self.subject}_{self.trial}"


def action_from_description(description: str) -> str:
    """Coarse action label from a CMU description (rules in the module docstring)."""
    desc = description.lower().strip()
    for text in (desc.split(",", 1)[0], desc):
        for label, keys in _ACTION_RULES:
            if any(k in text for k in keys):
                return label
    return "misc"


def parse_amc_filename(name: str) -> tuple[str, str, str]:
    """``'05_10  dance, turn.amc'`` -> (``'05'``, ``'10'``, ``'dance, turn'``).

    Subject is zero-padded to two digits; the trial keeps its digits as written.
    Raises ValueError for names not of the form ``<subject>_<trial>[ - desc].amc``.
    """
    m = _AMC_NAME_RE.match(Path(name).name)
    if m is None:
        raise ValueError(f"not a CMU AMC file name: {name!r}")
    desc = m.group(3).strip().lstrip("-").strip()
    return f"{int(m.group(1)):02d}", m.group(2), desc


def _forward_from_positions(p: np.ndarray, idx: dict[str, int]) -> np.ndarray:
    """Unit forward vectors (F, 3) from shoulders and neck (x left, y up, z = x cross y)."""
    left = p[:, idx["lclavicle"]] - p[:, idx["rclavicle"]]  # (F, 3)
    up = p[:, idx["upperneck"]] - p[:, idx["thorax"]]  # (F, 3)
    fwd = np.cross(left, up)
    n = np.linalg.norm(fwd, axis=-1, keepdims=True)
    return fwd / np.maximum(n, 1e-9)


def cmu_to_h36m(
    positions: np.ndarray,
    names: list[str],
    rotations: np.ndarray | None = None,
) -> np.ndarray:
    """CMU FK output -> H36M-17 joints (see the module table).

    positions: (F, B, 3) bone-end positions (``fk`` output); names: the B names.
    rotations: optional (F, B, 3, 3) global rotations (``fk_full``), used for the nose.
    Returns (F, 17, 3) in the same units/frame as ``positions``.
    """
    idx = {n: i for i, n in enumerate(names)}
    missing = [n for n in REQUIRED_CMU_JOINTS if n not in idx]
    if missing:
        raise MocapFormatError(f"CMU skeleton lacks joints {missing}")
    p = np.asarray(positions, dtype=np.float64)
    out = np.zeros((p.shape[0], 17, 3), dtype=np.float64)  # (F, 17, 3)
    for j, cmu in _DIRECT.items():
        out[:, j] = p[:, idx[cmu]]
    out[:, 7] = 0.5 * (p[:, idx["lowerback"]] + p[:, idx["upperback"]])
    if rotations is not None and "head" in idx:
        offset = np.asarray(rotations)[:, idx["head"]] @ NOSE_OFFSET_M  # (F, 3)
    else:
        fwd = _forward_from_positions(p, idx)  # (F, 3)
        up = p[:, idx["upperneck"]] - p[:, idx["thorax"]]
        up = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
        offset = fwd * NOSE_OFFSET_M[2] + up * NOSE_OFFSET_M[1]
    out[:, 9] = p[:, idx["upperneck"]] + offset
    return out


def skeleton_to_h36m(skeleton: Skeleton, amc_path: str | Path) -> np.ndarray:
    """Load one AMC for ``skeleton`` and return (F, 17, 3) float32 metres, Y up."""
    res = fk_full(skeleton, load_amc(amc_path, skeleton))
    return cmu_to_h36m(res.positions, res.names, res.rotations).astype(np.float32)


def estimate_fps_gravity(
    joints: np.ndarray,
    candidates: tuple[float, ...] = (120.0, 60.0),
    min_air_frames: int = 6,
    clearance_m: float = 0.10,
) -> float | None:
    """Frame-rate check from ballistic flight (documented rule, used to build the manifest).

    joints: (F, 17, 3) metres, Y up.  Frames where both ankles are more than
    ``clearance_m`` above the clip's floor level (5th percentile of the lower ankle) are
    "airborne"; on each airborne run of at least ``min_air_frames`` frames a parabola is
    fitted to the mean height of the 17 joints (a centre-of-mass proxy), giving an
    acceleration ``a`` in metres/frame^2.  The candidate rate whose implied gravity
    ``-a * fps^2`` is closest to 9.81 m/s^2 (in log ratio) is returned; None when the
    clip has no usable airborne phase or the fit does not point downwards.
    """
    y = np.asarray(joints, dtype=np.float64)[..., 1]  # (F, 17)
    low = np.minimum(y[:, 3], y[:, 6])  # (F,)
    air = low > np.percentile(low, 5) + clearance_m
    com = y.mean(axis=1)  # (F,)
    accs: list[float] = []
    weights: list[int] = []
    f = len(air)
    i = 0
    while i < f:
        if not air[i]:
            i += 1
            continue
        j = i
        while j < f and air[j]:
            j += 1
        if j - i >= min_air_frames:
            t = np.arange(j - i, dtype=np.float64)
            accs.append(2.0 * np.polyfit(t, com[i:j], 2)[0])
            weights.append(j - i)
        i = j
    if not accs:
        return None
    a = float(np.average(accs, weights=weights))
    if a >= 0:
        return None
    errs = [abs(np.log(-a * c * c / GRAVITY)) for c in candidates]
    return float(candidates[int(np.argmin(errs))])


def _subject_of_asf(path: Path) -> str | None:
    m = re.match(r"^(\d+)$", path.stem)
    return f"{int(m.group(1)):02d}" if m else None


def find_trials(root: str | Path) -> tuple[dict[str, list[Path]], list[Path]]:
    """Index a CMU-style directory: (subject -> ASF paths, AMC paths), both sorted.

    Any layout works as long as ASF files are named ``<subject>.asf`` and AMC files
    ``<subject>_<trial>[ - description].amc`` somewhere below ``root`` (e.g.
    ``asf/`` + ``Training/`` ..., or ``subjects/NN/`` with both side by side).
    """
    r = Path(root)
    if not r.is_dir():
        raise MocapFormatError(f"motion capture data must be a folder (CMU ASF/AMC layout), got: {r}")
    asfs: dict[str, list[Path]] = {}
    amcs: list[Path] = []
    for p in sorted(r.rglob("*")):
        if not p.is_file():
            continue
        suf = p.suffix.lower()
        if suf == ".asf":
            s = _subject_of_asf(p)
            if s is not None:
                asfs.setdefault(s, []).append(p)
        elif suf == ".amc" and _AMC_NAME_RE.match(p.name):
            amcs.append(p)
    return asfs, amcs


def save_sequences(sequences: list[Sequence], path: str | Path, fingerprint: str = "") -> None:
    """Write sequences to one ``.npz`` file (joints + JSON metadata)."""
    meta = [{"subject": s.subject, "trial": s.trial, "description": s.description,
             "action": s.action, "fps": s.fps, "path": s.path} for s in sequences]
    arrays = {f"j{i}": s.joints.astype(np.float32) for i, s in enumerate(sequences)}
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    # atomic_write: a per-process temp name (two runs caching at once do not mix), fsync, and the
    # temps of killed runs removed
    with atomic_write(p, "wb") as fh:
        np.savez(fh, meta=np.array(json.dumps({"fingerprint": fingerprint, "sequences": meta})), **arrays)


def load_sequences(path: str | Path) -> tuple[list[Sequence], str]:
    """Read a ``save_sequences`` file: (sequences, fingerprint)."""
    with np.load(Path(path), allow_pickle=False) as z:
        info = json.loads(str(z["meta"]))
        seqs = [Sequence(joints=z[f"j{i}"], **m) for i, m in enumerate(info["sequences"])]
    return seqs, str(info["fingerprint"])


def _fingerprint(amcs: list[Path], asfs: dict[str, list[Path]], **params: object) -> str:
    files = [(str(p), p.stat().st_size, p.stat().st_mtime_ns)
             for p in sorted(amcs + [a for v in asfs.values() for a in v])]
    blob = json.dumps({"version": _CACHE_VERSION, "files": files, "params": params},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def load_cmu_dir(
    root: str | Path,
    subjects: list[str] | None = None,
    default_fps: float = DEFAULT_FPS,
    fps_overrides: dict[str, float] | None = None,
    cache: str | Path | None = None,
    trials: set[str] | None = None,
) -> list[Sequence]:
    """Load every AMC under ``root`` as an H36M-17 ``Sequence``.

    subjects: optional subject ids to keep ("02" or "2"); trials: optional trial ids to keep
    (``"SS_TT"``, as :attr:`Sequence.trial_id`).  Subjects without an ASF are
    skipped with a warning; a trial found twice (same subject and trial id, e.g. in
    both Training/ and Testing/) is loaded once, with a warning.  The ASF next to an
    AMC is preferred over one elsewhere.  Returns sequences sorted by (subject, trial).
    fps: ``fps_overrides`` (default ``FPS_OVERRIDES``) by trial id, else ``default_fps``.
    cache: nothing is written unless a path is given; then the result is stored there
    (``.npz``) and reused while the files (paths, sizes, mtimes) and parameters match.
    """
    overrides = FPS_OVERRIDES if fps_overrides is None else fps_overrides
    keep = None if subjects is None else {f"{int(s):02d}" for s in subjects}
    asfs, amcs = find_trials(root)
    fp = ""
    if cache is not None:
        fp = _fingerprint(amcs, asfs, subjects=sorted(keep) if keep else None,
                          default_fps=default_fps, overrides=sorted(overrides.items()),
                          **({"trials": sorted(trials)} if trials is not None else {}))
        if Path(cache).is_file():
            cached, cached_fp = load_sequences(cache)
            if cached_fp == fp:
                return cached
    if trials is not None:
        amcs = [p for p in amcs if "_".join(parse_amc_filename(p.name)[:2]) in trials]
    out = _load_all(asfs, amcs, keep, default_fps, overrides)
    if cache is not None:
        save_sequences(out, cache, fp)
    return out


def trial_key(seq: Sequence) -> tuple[str, int]:
    """(subject, trial number): ``02_01`` in one folder and ``02_01 - walk`` in another are the same trial."""
    return seq.subject, int(seq.trial)


def load_cmu_sources(
    root: str | Path,
    extra: list[str] | tuple[str, ...] = (),
    subjects: list[str] | None = None,
    default_fps: float = DEFAULT_FPS,
) -> list[Sequence]:
    """``load_cmu_dir(root)`` plus every trial of the ``extra`` directories not already loaded
    (by :func:`trial_key`, in order: ``root`` first, then each extra). Sorted by (subject, trial)."""
    out = load_cmu_dir(root, subjects=subjects, default_fps=default_fps)
    have = {trial_key(s) for s in out}
    for more in extra:
        for seq in load_cmu_dir(more, subjects=subjects, default_fps=default_fps):
            if trial_key(seq) not in have:
                have.add(trial_key(seq))
                out.append(seq)
    out.sort(key=lambda s: (int(s.subject), int(s.trial)))
    return out


def _load_all(
    asfs: dict[str, list[Path]],
    amcs: list[Path],
    keep: set[str] | None,
    default_fps: float,
    overrides: dict[str, float],
) -> list[Sequence]:
    skeletons: dict[Path, Skeleton] = {}
    seen: dict[tuple[str, str], Path] = {}
    no_asf: dict[str, int] = {}
    out: list[Sequence] = []
    for amc in amcs:
        subject, trial, desc = parse_amc_filename(amc.name)
        if keep is not None and subject not in keep:
            continue
        candidates = asfs.get(subject, [])
        if not candidates:
            no_asf[subject] = no_asf.get(subject, 0) + 1
            continue
        key = (subject, trial)
        if key in seen:
            warnings.warn(f"trial {subject}_{trial} found twice; using {seen[key]}, "
                          f"skipping {amc}", stacklevel=3)
            continue
        seen[key] = amc
        same_dir = [a for a in candidates if a.parent == amc.parent]
        asf = same_dir[0] if same_dir else candidates[0]
        if asf not in skeletons:
            skeletons[asf] = load_asf(asf)
        joints = skeleton_to_h36m(skeletons[asf], amc)
        out.append(Sequence(
            subject=subject,
            trial=trial,
            description=desc,
            action=action_from_description(desc),
            fps=float(overrides.get(f"{subject}_{trial}", default_fps)),
            joints=joints,
            path=str(amc),
        ))
    for subject, n in sorted(no_asf.items()):
        warnings.warn(f"subject {subject}: no ASF skeleton found, skipping {n} AMC file(s)",
                      stacklevel=3)
    out.sort(key=lambda s: (int(s.subject), int(s.trial)))
    return out
