"""Body-proportion augmentation for training clips (world joints in metres).

A lifter trained on a handful of people learns their bone lengths as a prior, and a new
person's depth is then read against the wrong proportions. ``random_bone_scales`` draws
one length factor per bone, the same for a bone and its mirror partner, and
``rescale_bones`` rebuilds every frame of a clip from the root outwards with each bone
vector scaled by its factor: joint angles, root trajectory and timing are kept, so the
motion stays real while the body changes. Scales are drawn once per clip (a person does
not change size within a clip).

``splice_upper_body`` makes new motion from two real clips: the legs, pelvis and root
trajectory of one clip with the upper body (thorax, head and arms, relative to the pelvis)
of another, the way motion editors splice an upper-body action onto locomotion. Each
upper-body bone of the donor is expressed in the donor's pelvis frame (hips and spine),
carried into the base clip's pelvis frame and given the base body's bone length, so the
result is one consistent body. With a few minutes of capture, most arm movements a
test subject makes were only ever seen over one particular leg movement; splicing
decouples the two. ``splice_arm`` goes one step further and gives one arm (elbow and
wrist) the movement of a third clip, relative to the chest, so that the two arms need not
move as they did together in any capture.

``random_proportions`` goes further than ``random_bone_scales``: real people differ from
the CMU subjects by far more than 5 % per bone (narrow or broad shoulders, long or short
legs, children). It draws one factor per bone group, mirror-symmetric, once per person,
from a ``ProportionRanges`` (uniform draws; the ``wide`` preset):

==================  ===========  ==================================================
group               range        bones (H36M-17, the bone that ends at the joint)
==================  ===========  ==================================================
shoulder width      0.75-1.25    thorax -> left/right shoulder
hip width           0.80-1.20    pelvis -> left/right hip
leg / torso ratio   0.85-1.15    r: legs (thigh, shin) x sqrt(r), torso (pelvis ->
                                 spine -> thorax) / sqrt(r)
limb lengths        0.88-1.12    upper arm, forearm, thigh, shin: one factor each
head and neck       0.90-1.10    thorax -> nose -> head
overall scale       0.92-1.08    every bone; with probability 0.25 (a child) 0.6-1.0
==================  ===========  ==================================================

The ``adult`` preset is the same without children (overall scale 0.92-1.08 always).
``keep_on_floor`` then moves a rescaled clip vertically so its feet stay where they were
(a shorter person's pelvis is lower, so cameras see it from a different height).

``random_speed`` draws a playback speed for a clip: the capture is resampled as if the
person had moved that much faster or slower, while the clip keeps its frame rate (and Δ).
People dance, walk and jump at many tempos; a few minutes of capture show only a few.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hmcli.skeleton.joints import JointSet


def _tree_order(parents: tuple[int, ...]) -> list[int]:
    """Joint indices ordered so that every parent comes before its children."""
    order: list[int] = []
    placed: set[int] = set()
    while len(order) < len(parents):
        progressed = False
        for j, p in enumerate(parents):
            if j not in placed and (p == -1 or p in placed):
                order.append(j)
                placed.add(j)
                progressed = True
        if not progressed:
            raise ValueError("parents do not form a tree")
    return order


def check_bone_jitter(jitter: float) -> float:
    """``jitter`` as a float; ValueError unless 0 <= jitter < 0.5 (factors stay within 1 +- 2 jitter > 0)."""
    value = float(jitter)
    if not 0.0 <= value < 0.5:
        raise ValueError(f"bone jitter must be in [0, 0.5), got {jitter}")
    return value


def check_splice_prob(prob: float, name: str = "splice_prob") -> float:
    """``prob`` as a float; ValueError (naming the setting ``name``) unless 0 <= prob <= 1."""
    value = float(prob)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {prob}")
    return value


def check_splice_arms(arms: float, splice_prob: float) -> float:
    """``arms`` as a float; ValueError unless it is a probability, and 0 when ``splice_prob`` is 0
    (arms are spliced into spliced clips only, so without them the setting would do nothing)."""
    value = check_splice_prob(arms, "splice_arms")
    if value and not float(splice_prob):
        raise ValueError("splice_arms acts on spliced clips only; set splice_prob > 0 too")
    return value


def check_speed_aug(factor: float) -> float:
    """``factor`` as a float; ValueError unless 1 <= factor <= 2 (1: motion at its captured speed)."""
    value = float(factor)
    if not 1.0 <= value <= 2.0:
        raise ValueError(f"speed_aug must be in [1, 2], got {factor}")
    return value


def random_speed(rng: np.random.Generator, factor: float) -> float:
    """A playback speed drawn log-uniformly in ``[1 / factor, factor]`` (1.0 without a draw when factor is 1)."""
    if factor == 1.0:
        return 1.0
    return float(np.exp(rng.uniform(-np.log(factor), np.log(factor))))


def random_bone_scales(rng: np.random.Generator, joint_set: JointSet, jitter: float) -> np.ndarray:
    """(J,) length factor of the bone that ends at each joint (1 at the root).

    Factors are ``1 + jitter * N(0, 1)`` clipped to ``1 +- 2 * jitter``; a joint and its
    mirror partner share one factor, so the body stays left-right symmetric.
    """
    if joint_set.parents is None:
        raise ValueError(f"joint set {joint_set.name!r} has no bone tree")
    jitter = check_bone_jitter(jitter)
    n = joint_set.num_joints
    draws = 1.0 + jitter * rng.standard_normal(n)  # (J,)
    scales = np.clip(draws, 1.0 - 2.0 * jitter, 1.0 + 2.0 * jitter)
    for a, b in zip(joint_set.left, joint_set.right):
        scales[b] = scales[a]
    scales[joint_set.root] = 1.0
    return scales


@dataclass(frozen=True)
class ProportionRanges:
    """Per-person body proportion factors, each drawn uniformly in its (low, high) range
    (module docstring table). ``child_prob``: chance that the overall scale comes from
    ``child_scale`` instead of ``adult_scale``."""

    shoulder_width: tuple[float, float] = (0.75, 1.25)
    hip_width: tuple[float, float] = (0.80, 1.20)
    leg_torso: tuple[float, float] = (0.85, 1.15)
    limb: tuple[float, float] = (0.88, 1.12)
    head_neck: tuple[float, float] = (0.90, 1.10)
    adult_scale: tuple[float, float] = (0.92, 1.08)
    child_prob: float = 0.25
    child_scale: tuple[float, float] = (0.60, 1.00)

    def __post_init__(self) -> None:
        for name in ("shoulder_width", "hip_width", "leg_torso", "limb", "head_neck", "adult_scale", "child_scale"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"proportions: {name} must be a range 0 < low <= high, got {(lo, hi)}")
        check_splice_prob(self.child_prob, "child_prob")


#: Named proportion ranges for the ``proportions`` setting (training) and ``hm eval --proportions``.
PROPORTION_PRESETS: dict[str, ProportionRanges] = {
    "wide": ProportionRanges(),
    "adult": ProportionRanges(child_prob=0.0),
}


def proportion_preset(name: str) -> ProportionRanges | None:
    """The ranges of a preset; None for ``""`` / ``"none"`` (off); ValueError for unknown names."""
    if name in ("", "none"):
        return None
    if name not in PROPORTION_PRESETS:
        raise ValueError(f"unknown proportions '{name}' (available: none, {', '.join(PROPORTION_PRESETS)})")
    return PROPORTION_PRESETS[name]


# H36M-17 joints (the bone ending there) of each proportion group, both sides where mirrored.
_SHOULDERS = ("left_shoulder", "right_shoulder")
_HIPS = ("left_hip", "right_hip")
_LIMBS = (("left_elbow", "right_elbow"), ("left_wrist", "right_wrist"), ("left_knee", "right_knee"),
          ("left_ankle", "right_ankle"))
_LEGS = ("left_knee", "right_knee", "left_ankle", "right_ankle")
_TORSO = ("spine", "thorax")
_HEAD = ("nose", "head")


def random_proportions(rng: np.random.Generator, joint_set: JointSet, ranges: ProportionRanges) -> np.ndarray:
    """(J,) length factor of the bone that ends at each joint (1 at the root) for one person.

    Needs the H36M-17 joint names (hips, shoulders, ...). Draw order: shoulder width, hip
    width, leg/torso ratio, the four limb segments, head/neck, child or not, overall scale.
    """
    if joint_set.parents is None:
        raise ValueError(f"joint set {joint_set.name!r} has no bone tree")
    idx = joint_set.index
    scales = np.ones(joint_set.num_joints)  # (J,)
    shoulder = rng.uniform(*ranges.shoulder_width)
    hip = rng.uniform(*ranges.hip_width)
    ratio = rng.uniform(*ranges.leg_torso)
    limbs = rng.uniform(*ranges.limb, size=len(_LIMBS))  # (4,)
    head = rng.uniform(*ranges.head_neck)
    child = rng.random() < ranges.child_prob
    overall = rng.uniform(*(ranges.child_scale if child else ranges.adult_scale))
    for name in _SHOULDERS:
        scales[idx(name)] *= shoulder
    for name in _HIPS:
        scales[idx(name)] *= hip
    for name in _LEGS:
        scales[idx(name)] *= np.sqrt(ratio)
    for name in _TORSO:
        scales[idx(name)] /= np.sqrt(ratio)
    for factor, pair in zip(limbs, _LIMBS):
        for name in pair:
            scales[idx(name)] *= factor
    for name in _HEAD:
        scales[idx(name)] *= head
    scales *= overall
    scales[joint_set.root] = 1.0
    return scales


def keep_on_floor(original: np.ndarray, rescaled: np.ndarray, joint_set: JointSet, up: int = 1) -> np.ndarray:
    """``rescaled`` (F, J, 3) moved along world axis ``up`` so that its feet keep ``original``'s height.

    The shift is one number per clip: the mean over frames of the lower ankle's height
    in ``original`` minus the same in ``rescaled``.
    """
    a = np.asarray(original, dtype=np.float64)
    b = np.asarray(rescaled, dtype=np.float64)
    ankles = [joint_set.index("left_ankle"), joint_set.index("right_ankle")]
    low_a = a[:, ankles, up].min(axis=1)  # (F,)
    low_b = b[:, ankles, up].min(axis=1)  # (F,)
    out = b.copy()  # (F, J, 3)
    out[..., up] += float((low_a - low_b).mean())
    return out.astype(np.asarray(rescaled).dtype, copy=False)


def random_body(clip: np.ndarray, rng: np.random.Generator, joint_set: JointSet, bone_jitter: float,
                proportions: ProportionRanges | None) -> np.ndarray:
    """``clip`` (F, J, 3) on a randomly proportioned body: per-bone factors of
    :func:`random_bone_scales` (``bone_jitter``, 0: none) times those of :func:`random_proportions`
    (``proportions``, None: none), one draw per clip; with ``proportions`` the feet stay on the
    clip's floor (:func:`keep_on_floor`). Draws nothing and returns ``clip`` when both are off."""
    if not bone_jitter and proportions is None:
        return clip
    scales = random_bone_scales(rng, joint_set, bone_jitter) if bone_jitter else np.ones(joint_set.num_joints)
    if proportions is not None:
        scales = scales * random_proportions(rng, joint_set, proportions)  # (J,)
    body = rescale_bones(clip, joint_set.parents, scales)  # (F, J, 3)
    return keep_on_floor(clip, body, joint_set) if proportions is not None else body


def rescale_bones(joints: np.ndarray, parents: tuple[int, ...], scales: np.ndarray) -> np.ndarray:
    """Clip ``joints`` (..., J, 3) with each bone (parent -> child) scaled by ``scales[child]``.

    The root keeps its position; children are placed from their (already placed) parents.
    Scales of 1 give the input back exactly.
    """
    x = np.asarray(joints, dtype=np.float64)
    s = np.asarray(scales, dtype=np.float64)
    if x.ndim < 2 or x.shape[-2] != len(parents) or s.shape != (len(parents),):
        raise ValueError(f"expected joints (..., {len(parents)}, 3) and scales ({len(parents)},), "
                         f"got {x.shape} and {s.shape}")
    out = np.empty_like(x)  # (..., J, 3)
    for j in _tree_order(parents):
        p = parents[j]
        if p == -1:
            out[..., j, :] = x[..., j, :]
        else:
            out[..., j, :] = out[..., p, :] + s[j] * (x[..., j, :] - x[..., p, :])
    return out.astype(np.asarray(joints).dtype, copy=False)


def pelvis_frames(joints: np.ndarray, joint_set: JointSet) -> np.ndarray:
    """(..., 3, 3) rotation per frame whose columns are the pelvis axes in world coordinates.

    x: from the left hip to the right hip; y: from the pelvis to the spine, made
    orthogonal to x; z = x × y. joints: (..., J, 3) with ``joint_set``'s layout.
    """
    return _body_frames(joints, joint_set, ("left_hip", "right_hip"), ("pelvis", "spine"))


def chest_frames(joints: np.ndarray, joint_set: JointSet) -> np.ndarray:
    """(..., 3, 3) rotation per frame whose columns are the chest axes in world coordinates.

    x: from the left shoulder to the right shoulder; y: from the spine to the thorax, made
    orthogonal to x; z = x × y (the pelvis frame's construction, one level up).
    """
    return _body_frames(joints, joint_set, ("left_shoulder", "right_shoulder"), ("spine", "thorax"))


def _body_frames(joints: np.ndarray, joint_set: JointSet, across: tuple[str, str],
                 upwards: tuple[str, str]) -> np.ndarray:
    """(..., 3, 3) axes: x along ``across`` (from, to), y along ``upwards`` made orthogonal to x, z = x × y."""
    x = np.asarray(joints, dtype=np.float64)
    ax = x[..., joint_set.index(across[1]), :] - x[..., joint_set.index(across[0]), :]  # (..., 3)
    ax = ax / np.maximum(np.linalg.norm(ax, axis=-1, keepdims=True), 1e-9)
    up = x[..., joint_set.index(upwards[1]), :] - x[..., joint_set.index(upwards[0]), :]  # (..., 3)
    ay = up - (up * ax).sum(-1, keepdims=True) * ax
    ay = ay / np.maximum(np.linalg.norm(ay, axis=-1, keepdims=True), 1e-9)
    az = np.cross(ax, ay)
    return np.stack([ax, ay, az], axis=-1)  # (..., 3, 3)


def upper_body_joints(joint_set: JointSet) -> list[int]:
    """Joints above the spine: the spine's descendants (thorax, neck, head, arms)."""
    if joint_set.parents is None:
        raise ValueError(f"joint set {joint_set.name!r} has no bone tree")
    spine = joint_set.index("spine")
    below = {spine}
    out: list[int] = []
    for j in _tree_order(joint_set.parents):
        if joint_set.parents[j] in below and j != spine:
            below.add(j)
            out.append(j)
    return out


def splice_upper_body(base: np.ndarray, donor: np.ndarray, joint_set: JointSet) -> np.ndarray:
    """``base`` (F, J, 3) with the upper body moving as in ``donor`` (F, J, 3).

    Pelvis, hips, legs and spine keep the base clip's positions. Every bone above the
    spine takes the donor's direction relative to the donor's pelvis frame
    (:func:`pelvis_frames`), turned into the base's pelvis frame, and the base bone's
    length; joints are placed outwards from the base's spine. Splicing a clip onto
    itself gives it back.
    """
    a, b = _clip_pair(base, donor, joint_set)
    turn = pelvis_frames(a, joint_set) @ np.swapaxes(pelvis_frames(b, joint_set), -1, -2)  # (F, 3, 3) donor -> base
    out = _carry_bones(a, b, turn, upper_body_joints(joint_set), joint_set.parents)  # (F, J, 3)
    return out.astype(np.asarray(base).dtype, copy=False)


def _clip_pair(base: np.ndarray, donor: np.ndarray, joint_set: JointSet) -> tuple[np.ndarray, np.ndarray]:
    """Both clips as float64 (F, J, 3); ValueError unless they have the same such shape."""
    a = np.asarray(base, dtype=np.float64)
    b = np.asarray(donor, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 3 or a.shape[1] != joint_set.num_joints:
        raise ValueError(f"expected two (F, {joint_set.num_joints}, 3) clips, got {a.shape} and {b.shape}")
    return a, b


def _carry_bones(a: np.ndarray, b: np.ndarray, turn: np.ndarray, joints: list[int],
                 parents: tuple[int, ...]) -> np.ndarray:
    """``a`` (F, J, 3) with the bones ending at ``joints`` (parents first) pointing as in ``b``.

    Each bone takes ``b``'s direction turned by ``turn`` (F, 3, 3) and keeps ``a``'s length;
    the joints are placed outwards from their (already placed) parents.
    """
    out = a.copy()  # (F, J, 3)
    for j in joints:
        p = parents[j]
        bone = b[:, j] - b[:, p]  # (F, 3)
        unit = bone / np.maximum(np.linalg.norm(bone, axis=-1, keepdims=True), 1e-9)
        length = np.linalg.norm(a[:, j] - a[:, p], axis=-1, keepdims=True)  # (F, 1)
        out[:, j] = out[:, p] + length * np.einsum("fij,fj->fi", turn, unit)
    return out


ARM_SIDES = ("left", "right")


def splice_arm(base: np.ndarray, donor: np.ndarray, joint_set: JointSet, side: str) -> np.ndarray:
    """``base`` (F, J, 3) with one arm's elbow and wrist moving as in ``donor`` (F, J, 3).

    The upper arm and forearm take the donor's directions relative to the donor's chest
    (:func:`chest_frames`), turned into the base's chest frame, with the base bone's
    length; the shoulder and every other joint keep the base clip's positions. Splicing an
    arm of a clip onto itself gives it back.
    """
    if side not in ARM_SIDES:
        raise ValueError(f"side must be left or right, got {side!r}")
    a, b = _clip_pair(base, donor, joint_set)
    turn = chest_frames(a, joint_set) @ np.swapaxes(chest_frames(b, joint_set), -1, -2)  # (F, 3, 3) donor -> base
    arm = [joint_set.index(f"{side}_elbow"), joint_set.index(f"{side}_wrist")]
    out = _carry_bones(a, b, turn, arm, joint_set.parents)  # (F, J, 3)
    return out.astype(np.asarray(base).dtype, copy=False)
