"""Truth-free quality figures of a 3D pose sequence (no ground truth needed).

Input everywhere: an H36M-17 sequence ``(F, 17, 3)`` in metres (any origin; the lifter's output
is root-relative in camera axes: x right, y down, z forward), frames that hold any non-finite
value count as missing, and the clip's frame rate ``fps``. Every function is pure (numpy only,
no I/O); results are frozen dataclasses with ``to_dict()`` for JSON.

What each figure measures (a real body has constant bones, is nearly symmetric, moves smoothly
and does not slide a planted foot; none of these needs to know the true pose):

* **bone-length stability** (:func:`bone_stability`): per bone of the H36M tree (16), the
  coefficient of variation of its length over the clip's valid frames, ``std / mean``
  (population std). 0 for a rigid skeleton. ``mean_cv`` is the mean over the 16 bones,
  ``limb_cv`` over the 8 limb bones (upper arms, forearms, thighs, shins: no torso or head
  bones, which depend most on how the joints were built from the detector's landmarks).
* **left/right asymmetry** (:func:`symmetry`): for upper arm, forearm, thigh and shin, per frame
  ``|L - R| / ((L + R) / 2)``, averaged over the valid frames (``per_frame``: catches both a
  constant bias and frame-to-frame disagreement), and the same ratio of the clip-mean lengths
  (``of_means``: the constant part only). ``mean``: the mean of ``per_frame`` over the 4 pairs.
* **jitter** (:func:`jitter`): the mean norm of the **second** finite difference
  ``p[t+1] - 2 p[t] + p[t-1]`` of each joint's position relative to the pelvis, over the
  triples of consecutive valid frames; ``mm_per_frame2`` in mm/frame² and ``m_per_s2`` =
  that × fps² / 1000 in m/s² (an acceleration). Real motion contributes too, so compare
  models on the same clip; mm/frame² grows with noise alone, m/s² also with the frame rate.
  ``mean_*``: the mean over the 16 non-pelvis joints (the pelvis is 0 by construction).
* **foot skating** (:func:`foot_skate`): the up axis ``u`` is estimated (:func:`estimate_up`:
  the camera's -y axis, or the clip's mean pelvis -> thorax direction). Each frame's *lower
  ankle* is the one with the smaller height ``p . u``; the frame is in *contact* when that
  height is within ``margin`` (default 0.03 m) of the clip's low level (the 5th percentile of
  the lower-ankle height, robust to single outliers). Between two consecutive valid frames both
  in contact with the same lower ankle, its horizontal displacement (the component orthogonal
  to ``u``) × fps is a sliding speed; ``speed_m_s`` is their mean (m/s; a planted foot gives 0),
  ``contact_fraction`` the share of valid frames in contact. The figure is only as meaningful
  as the sequence's origin: on root-relative poses (hm's and MediaPipe's world landmarks are
  both hip-centred) it is the foot's horizontal motion *relative to the pelvis*, so real hip
  sway (a squat pushes the hips back) counts as skating. Models compared on the same clip
  share that real part. The pelvis-free companion is **stance drift**: over consecutive valid
  frames where both ankles are *level* (their height difference within ``margin`` of its
  median over the clip, which absorbs a constant offset from a rolled camera or a tilted up
  estimate; as when both feet stand on the floor), the horizontal change of the left-minus-right ankle vector × fps
  (``stance_speed_m_s``; ``level_fraction``: the share of valid frames that are level). Two
  planted feet keep that vector fixed whatever the hips do (a squat clip should give 0); feet
  that really move while level (a jumping jack's landing) count.
* **agreement** (:func:`agreement`): between two sequences of the same clip, P-MPJPE (per
  frame similarity Procrustes alignment, then mean joint distance) and root-relative MPJPE
  (pelvis subtracted, no rotation: meaningful only when both use the same axes), in mm, over
  the frames valid in both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from hmcli.skeleton.joints import H36M17

__all__ = [
    "BONES",
    "BONE_NAMES",
    "SYMMETRIC_PAIRS",
    "BoneStability",
    "Symmetry",
    "Jitter",
    "FootSkate",
    "Agreement",
    "TruthFreeReport",
    "valid_frames",
    "bone_lengths",
    "bone_stability",
    "symmetry",
    "jitter",
    "estimate_up",
    "foot_skate",
    "agreement",
    "truth_free_report",
]

_J = H36M17.joints
PELVIS, THORAX = _J.index("pelvis"), _J.index("thorax")
ANKLES = (_J.index("left_ankle"), _J.index("right_ankle"))

#: The 16 bones of the H36M-17 tree as (parent, child) indices, and their names (the child's).
BONES: tuple[tuple[int, int], ...] = tuple(H36M17.edges)
BONE_NAMES: tuple[str, ...] = tuple(f"{_J[a]}->{_J[b]}" for a, b in BONES)


def _bone(a: str, b: str) -> int:
    return BONES.index((_J.index(a), _J.index(b)))


#: (name, left bone index, right bone index) into :data:`BONES`.
SYMMETRIC_PAIRS: tuple[tuple[str, int, int], ...] = (
    ("upper_arm", _bone("left_shoulder", "left_elbow"), _bone("right_shoulder", "right_elbow")),
    ("forearm", _bone("left_elbow", "left_wrist"), _bone("right_elbow", "right_wrist")),
    ("thigh", _bone("left_hip", "left_knee"), _bone("right_hip", "right_knee")),
    ("shin", _bone("left_knee", "left_ankle"), _bone("right_knee", "right_ankle")),
)

_NAN = float("nan")


def _dict(obj) -> dict:
    def conv(v):
        if isinstance(v, float):
            return None if not np.isfinite(v) else v
        if isinstance(v, (tuple, list)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v

    return conv(asdict(obj))


@dataclass(frozen=True)
class BoneStability:
    """Per bone (order of :data:`BONE_NAMES`): mean length (m) and coefficient of variation."""

    names: tuple[str, ...]
    mean_m: tuple[float, ...]
    cv: tuple[float, ...]
    mean_cv: float  # mean of cv over the bones; nan without valid frames
    limb_cv: float  # mean of cv over the 8 limb bones of SYMMETRIC_PAIRS

    def to_dict(self) -> dict:
        return _dict(self)


@dataclass(frozen=True)
class Symmetry:
    """Per pair of :data:`SYMMETRIC_PAIRS`: ``|L - R| / mean(L, R)`` per frame, averaged, and of the clip means."""

    pairs: tuple[str, ...]
    per_frame: tuple[float, ...]
    of_means: tuple[float, ...]
    mean: float  # mean of per_frame over the pairs

    def to_dict(self) -> dict:
        return _dict(self)


@dataclass(frozen=True)
class Jitter:
    """Mean |second difference| of each joint relative to the pelvis (17 values; the pelvis is 0)."""

    mm_per_frame2: tuple[float, ...]
    m_per_s2: tuple[float, ...]
    mean_mm_per_frame2: float  # over the 16 non-pelvis joints
    mean_m_per_s2: float
    triples: int  # consecutive valid frame triples used

    def to_dict(self) -> dict:
        return _dict(self)


@dataclass(frozen=True)
class FootSkate:
    """Horizontal speed of the lower ankle while in contact (see the module docstring)."""

    speed_m_s: float  # mean over contact transitions; nan when there are none
    speed_mm_per_frame: float
    contact_fraction: float  # valid frames in contact
    transitions: int  # consecutive contact pairs with the same lower ankle
    stance_speed_m_s: float  # horizontal speed of the left - right ankle vector over consecutive level frames
    level_fraction: float  # valid frames with both ankles level
    level_transitions: int
    up: tuple[float, float, float]
    up_method: str
    margin_m: float

    def to_dict(self) -> dict:
        return _dict(self)


@dataclass(frozen=True)
class Agreement:
    """Distance between two sequences of the same clip, mm, over the frames valid in both."""

    p_mpjpe_mm: float
    mpjpe_mm: float  # root-relative, no alignment
    frames: int

    def to_dict(self) -> dict:
        return _dict(self)


@dataclass(frozen=True)
class TruthFreeReport:
    """All single-sequence figures of one clip."""

    frames: int
    valid: int
    fps: float
    bones: BoneStability
    symmetry: Symmetry
    jitter: Jitter
    skate: FootSkate

    def to_dict(self) -> dict:
        return _dict(self)


def _check(seq: np.ndarray) -> np.ndarray:
    x = np.asarray(seq, np.float64)
    if x.ndim != 3 or x.shape[1:] != (17, 3):
        raise ValueError(f"expected an (F, 17, 3) H36M-17 sequence, got shape {x.shape}")
    return x


def _check_fps(fps: float) -> float:
    fps = float(fps)
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps}")
    return fps


def valid_frames(seq: np.ndarray) -> np.ndarray:
    """(F,) bool: frames whose 17 joints are all finite."""
    return np.isfinite(_check(seq)).all(axis=(1, 2))


def bone_lengths(seq: np.ndarray) -> np.ndarray:
    """(F, 16) bone lengths in the order of :data:`BONES` (nan in missing frames)."""
    x = _check(seq)
    a, b = (list(t) for t in zip(*BONES))
    return np.linalg.norm(x[:, b] - x[:, a], axis=-1)


def _nanmean(x: np.ndarray, axis=None):
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.sum(np.isfinite(x), axis=axis)
        s = np.nansum(x, axis=axis)
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def bone_stability(seq: np.ndarray) -> BoneStability:
    """Coefficient of variation of every bone's length over the valid frames."""
    lens = bone_lengths(seq)[valid_frames(seq)]  # (V, 16)
    if lens.shape[0] == 0:
        nan16 = (_NAN,) * len(BONES)
        return BoneStability(BONE_NAMES, nan16, nan16, _NAN, _NAN)
    mean = lens.mean(0)
    cv = lens.std(0) / np.maximum(mean, 1e-12)
    limbs = [i for _, li, ri in SYMMETRIC_PAIRS for i in (li, ri)]
    return BoneStability(BONE_NAMES, tuple(map(float, mean)), tuple(map(float, cv)), float(cv.mean()),
                         float(cv[limbs].mean()))  # fmt: skip


def symmetry(seq: np.ndarray) -> Symmetry:
    """Left/right length asymmetry of upper arm, forearm, thigh and shin."""
    lens = bone_lengths(seq)[valid_frames(seq)]  # (V, 16)
    names = tuple(p[0] for p in SYMMETRIC_PAIRS)
    if lens.shape[0] == 0:
        nan4 = (_NAN,) * len(names)
        return Symmetry(names, nan4, nan4, _NAN)
    per_frame, of_means = [], []
    for _, li, ri in SYMMETRIC_PAIRS:
        lft, rgt = lens[:, li], lens[:, ri]
        per_frame.append(float(np.mean(np.abs(lft - rgt) / np.maximum((lft + rgt) / 2, 1e-12))))
        ml, mr = lft.mean(), rgt.mean()
        of_means.append(float(abs(ml - mr) / max((ml + mr) / 2, 1e-12)))
    return Symmetry(names, tuple(per_frame), tuple(of_means), float(np.mean(per_frame)))


def jitter(seq: np.ndarray, fps: float) -> Jitter:
    """Mean |p[t+1] - 2 p[t] + p[t-1]| per joint, positions relative to the pelvis."""
    x = _check(seq)
    fps = _check_fps(fps)
    ok = valid_frames(x)
    rel = x - x[:, PELVIS : PELVIS + 1]  # (F, 17, 3)
    if x.shape[0] < 3:
        trip = np.zeros(0, bool)
    else:
        trip = ok[2:] & ok[1:-1] & ok[:-2]  # (F-2,)
    if not trip.any():
        nan17 = (_NAN,) * 17
        return Jitter(nan17, nan17, _NAN, _NAN, 0)
    acc = np.linalg.norm(rel[2:] - 2 * rel[1:-1] + rel[:-2], axis=-1)[trip]  # (T, 17) m/frame²
    mm = acc.mean(0) * 1000.0  # (17,)
    ms2 = mm * fps * fps / 1000.0
    others = [j for j in range(17) if j != PELVIS]
    return Jitter(tuple(map(float, mm)), tuple(map(float, ms2)), float(mm[others].mean()),
                  float(ms2[others].mean()), int(trip.sum()))  # fmt: skip


def estimate_up(seq: np.ndarray, method: str = "camera") -> np.ndarray:
    """Unit up vector (3,) of a sequence.

    ``camera``: ``(0, -1, 0)``, the camera's up for camera axes with y down (hm's output and
    MediaPipe's world landmarks); right for a level camera, off by the camera's pitch / roll.
    ``spine``: the normalised mean over the valid frames of the unit pelvis -> thorax direction;
    needs no camera assumption, but leans with the person (a squat's forward lean tilts it).
    """
    if method == "camera":
        return np.array([0.0, -1.0, 0.0])
    if method != "spine":
        raise ValueError(f"up method must be 'camera' or 'spine', got {method!r}")
    x = _check(seq)
    d = (x[:, THORAX] - x[:, PELVIS])[valid_frames(x)]  # (V, 3)
    n = np.linalg.norm(d, axis=-1, keepdims=True)
    d = d[n[:, 0] > 1e-9] / n[n[:, 0] > 1e-9]
    if d.shape[0] == 0:
        raise ValueError("no valid frame to estimate the up direction from")
    m = d.mean(0)
    return m / max(np.linalg.norm(m), 1e-12)


def foot_skate(seq: np.ndarray, fps: float, up: str | np.ndarray = "camera", margin: float = 0.03,
               low_percentile: float = 5.0) -> FootSkate:  # fmt: skip
    """Mean horizontal speed of the lower ankle over consecutive contact frames (module docstring).

    ``up``: 'camera', 'spine' (:func:`estimate_up`) or a vector (normalised here)."""
    x = _check(seq)
    fps = _check_fps(fps)
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if isinstance(up, str):
        method = up
        u = estimate_up(x, up)
    else:
        method = "given"
        u = np.asarray(up, np.float64).reshape(3)
        if not np.isfinite(u).all() or np.linalg.norm(u) < 1e-12:
            raise ValueError("up must be a finite non-zero 3-vector")
        u = u / np.linalg.norm(u)
    ok = valid_frames(x)
    ank = x[:, list(ANKLES)]  # (F, 2, 3)
    h = ank @ u  # (F, 2)
    lower = np.argmin(np.where(np.isfinite(h), h, np.inf), axis=1)  # (F,)
    hl = np.take_along_axis(h, lower[:, None], 1)[:, 0]  # (F,)
    upt = tuple(float(v) for v in u)
    if not ok.any():
        return FootSkate(_NAN, _NAN, _NAN, 0, _NAN, _NAN, 0, upt, method, float(margin))

    def horizontal_speed(p: np.ndarray, idx: np.ndarray) -> float:  # mean |horizontal p[t+1] - p[t]| × fps
        if idx.size == 0:
            return _NAN
        d = p[idx + 1] - p[idx]  # (T, 3)
        return float(np.linalg.norm(d - np.outer(d @ u, u), axis=-1).mean() * fps)

    low = float(np.percentile(hl[ok], low_percentile))
    contact = ok & (hl <= low + margin)  # (F,)
    idx = np.flatnonzero(contact[1:] & contact[:-1] & (lower[1:] == lower[:-1]))  # (T,) pairs t, t+1
    speed = horizontal_speed(ank[np.arange(x.shape[0]), lower], idx)  # the lower ankle
    dh = h[:, 0] - h[:, 1]  # (F,) left - right ankle height
    level = ok & (np.abs(dh - np.median(dh[ok])) <= margin)  # (F,)
    lidx = np.flatnonzero(level[1:] & level[:-1])
    stance = horizontal_speed(ank[:, 0] - ank[:, 1], lidx)
    return FootSkate(speed, speed * 1000.0 / fps, float(contact.sum() / ok.sum()), int(idx.size), stance,
                     float(level.sum() / ok.sum()), int(lidx.size), upt, method, float(margin))  # fmt: skip


def _procrustes(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Per-frame similarity alignment of ``p`` (N, J, 3) onto ``g`` (N, J, 3) (proper rotation)."""
    mp, mg = p.mean(1, keepdims=True), g.mean(1, keepdims=True)
    p0, g0 = p - mp, g - mg
    h = np.einsum("nji,njk->nik", p0, g0)  # (N, 3, 3)
    uu, s, vt = np.linalg.svd(h)
    v = np.swapaxes(vt, 1, 2)
    d = np.sign(np.linalg.det(v @ np.swapaxes(uu, 1, 2)))
    d = np.where(d == 0, 1.0, d)
    diag = np.stack([np.ones_like(d), np.ones_like(d), d], -1)  # (N, 3)
    rot = v @ (diag[:, :, None] * np.swapaxes(uu, 1, 2))  # (N, 3, 3)
    scale = (s * diag).sum(-1) / np.maximum((p0**2).sum((1, 2)), 1e-12)  # (N,)
    return scale[:, None, None] * np.einsum("nij,nkj->nki", rot, p0) + mg


def agreement(a: np.ndarray, b: np.ndarray) -> Agreement:
    """P-MPJPE and root-relative MPJPE (mm) of ``a`` against ``b`` over the frames valid in both."""
    x, y = _check(a), _check(b)
    if x.shape != y.shape:
        raise ValueError(f"sequences differ in shape: {x.shape} vs {y.shape}")
    both = valid_frames(x) & valid_frames(y)
    if not both.any():
        return Agreement(_NAN, _NAN, 0)
    x, y = x[both], y[both]
    p = np.linalg.norm(_procrustes(x, y) - y, axis=-1).mean()
    r = np.linalg.norm((x - x[:, PELVIS : PELVIS + 1]) - (y - y[:, PELVIS : PELVIS + 1]), axis=-1).mean()
    return Agreement(float(p * 1000.0), float(r * 1000.0), int(both.sum()))


def truth_free_report(seq: np.ndarray, fps: float, up: str | np.ndarray = "camera", margin: float = 0.03) -> TruthFreeReport:
    """Bone stability, symmetry, jitter and foot skating of one sequence."""
    x = _check(seq)
    fps = _check_fps(fps)
    return TruthFreeReport(int(x.shape[0]), int(valid_frames(x).sum()), fps, bone_stability(x), symmetry(x),
                           jitter(x, fps), foot_skate(x, fps, up, margin))  # fmt: skip
