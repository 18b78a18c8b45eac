"""Joint sets (keypoint layouts) used across hm.

A :class:`JointSet` names the joints of one layout in their storage order and
records its bones (``edges``) and its left/right pairs. ``left[i]`` and
``right[i]`` are mirror images of each other, which is what
:attr:`JointSet.flip_index` relies on.

Registered layouts (see :data:`JOINT_SETS`):

* ``h36m17``      Human3.6M 17-joint skeleton, a tree rooted at the pelvis;
                  the only set with ``parents`` and the lifter's output layout.
* ``coco17``      COCO keypoints.
* ``blazepose33`` MediaPipe BlazePose landmarks.
* ``halpe26``     Halpe full-body 26 (COCO 17 + head, neck, hip, feet).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class JointSet:
    """A keypoint layout.

    name:    registry key, e.g. ``"h36m17"``.
    joints:  joint names in storage order (index = position along the J axis).
    edges:   bones as (a, b) joint indices; for sets with ``parents`` they are
             (parent, child).
    left:    indices of left-side joints ...
    right:   ... and their mirror partners, position by position.
    parents: parent index per joint (-1 for the root), or None when the layout
             is not used as a kinematic tree.
    """

    name: str
    joints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    parents: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.joints)
        if len(set(self.joints)) != n:
            raise ValueError(f"{self.name}: joint names must be unique")
        for a, b in self.edges:
            if not (0 <= a < n and 0 <= b < n) or a == b:
                raise ValueError(f"{self.name}: bad edge ({a}, {b})")
        if len(self.left) != len(self.right):
            raise ValueError(f"{self.name}: left and right must have the same length")
        sided = list(self.left) + list(self.right)
        if len(set(sided)) != len(sided) or any(not 0 <= i < n for i in sided):
            raise ValueError(f"{self.name}: left/right indices must be distinct and in range")
        if self.parents is not None:
            if len(self.parents) != n:
                raise ValueError(f"{self.name}: parents must have one entry per joint")
            if sum(p == -1 for p in self.parents) != 1:
                raise ValueError(f"{self.name}: parents must have exactly one root (-1)")
            for child, p in enumerate(self.parents):
                if p != -1 and not (0 <= p < n and p != child):
                    raise ValueError(f"{self.name}: bad parent {p} for joint {child}")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @cached_property
    def _lookup(self) -> dict[str, int]:
        return {j: i for i, j in enumerate(self.joints)}

    def index(self, name: str) -> int:
        """Position of the joint called ``name``; ValueError if this set has none."""
        try:
            return self._lookup[name]
        except KeyError:
            raise ValueError(f"joint {name!r} is not in joint set {self.name!r}") from None

    @property
    def flip_index(self) -> tuple[int, ...]:
        """Permutation p with ``flipped[..., i, :] = k[..., p[i], :]``: left and right swapped.

        Centre joints map to themselves; applying p twice is the identity.
        """
        perm = list(range(self.num_joints))
        for a, b in zip(self.left, self.right):
            perm[a], perm[b] = b, a
        return tuple(perm)

    @property
    def root(self) -> int:
        """Index of the root joint (the parent-less one), 0 when the set has no tree."""
        return self.parents.index(-1) if self.parents is not None else 0


# ----------------------------------------------------------------------------------------
# construction helpers


def _mirror_name(name: str) -> str | None:
    """Name of the mirror partner (left_x <-> right_x, x_left <-> x_right), None if central."""
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a) :]
    for a, b in (("_left", "_right"), ("_right", "_left")):
        if name.endswith(a):
            return name[: -len(a)] + b
    return None


def _sides_from_names(joints: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(left, right) index tuples paired by name."""
    pos = {j: i for i, j in enumerate(joints)}
    left: list[int] = []
    right: list[int] = []
    for i, j in enumerate(joints):
        partner = _mirror_name(j)
        if partner is None:
            continue
        if partner not in pos:
            raise ValueError(f"joint {j!r} has no mirror partner {partner!r}")
        if j.startswith("left_") or j.endswith("_left"):
            left.append(i)
            right.append(pos[partner])
    return tuple(left), tuple(right)


def _edges_by_name(joints: tuple[str, ...], pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[int, int], ...]:
    pos = {j: i for i, j in enumerate(joints)}
    return tuple((pos[a], pos[b]) for a, b in pairs)


def _both_sides(*pairs: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """Expand name pairs written with a '{s}' side placeholder into left and right copies."""
    out: list[tuple[str, str]] = []
    for side in ("left", "right"):
        out.extend((a.format(s=side), b.format(s=side)) for a, b in pairs)
    return tuple(out)


def _from_names(name: str, joints: tuple[str, ...], edge_names: tuple[tuple[str, str], ...]) -> JointSet:
    left, right = _sides_from_names(joints)
    return JointSet(name=name, joints=joints, edges=_edges_by_name(joints, edge_names), left=left, right=right)


# ----------------------------------------------------------------------------------------
# Human3.6M, 17 joints

_H36M_JOINTS = (
    "pelvis",  # 0
    "right_hip",  # 1
    "right_knee",  # 2
    "right_ankle",  # 3
    "left_hip",  # 4
    "left_knee",  # 5
    "left_ankle",  # 6
    "spine",  # 7
    "thorax",  # 8
    "nose",  # 9
    "head",  # 10
    "left_shoulder",  # 11
    "left_elbow",  # 12
    "left_wrist",  # 13
    "right_shoulder",  # 14
    "right_elbow",  # 15
    "right_wrist",  # 16
)
_H36M_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

H36M17 = JointSet(
    name="h36m17",
    joints=_H36M_JOINTS,
    edges=tuple((p, c) for c, p in enumerate(_H36M_PARENTS) if p >= 0),
    left=(4, 5, 6, 11, 12, 13),
    right=(1, 2, 3, 14, 15, 16),
    parents=_H36M_PARENTS,
)

# ----------------------------------------------------------------------------------------
# COCO, 17 keypoints

_COCO_JOINTS = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

_COCO_EDGES = (
    ("left_eye", "right_eye"),
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
) + _both_sides(
    ("nose", "{s}_eye"),
    ("{s}_eye", "{s}_ear"),
    ("{s}_ear", "{s}_shoulder"),
    ("{s}_shoulder", "{s}_elbow"),
    ("{s}_elbow", "{s}_wrist"),
    ("{s}_shoulder", "{s}_hip"),
    ("{s}_hip", "{s}_knee"),
    ("{s}_knee", "{s}_ankle"),
)

COCO17 = _from_names("coco17", _COCO_JOINTS, _COCO_EDGES)

# ----------------------------------------------------------------------------------------
# MediaPipe BlazePose, 33 landmarks

_BLAZEPOSE_JOINTS = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)

_BLAZEPOSE_EDGES = (
    ("mouth_left", "mouth_right"),
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
) + _both_sides(
    ("nose", "{s}_eye_inner"),
    ("{s}_eye_inner", "{s}_eye"),
    ("{s}_eye", "{s}_eye_outer"),
    ("{s}_eye_outer", "{s}_ear"),
    ("{s}_shoulder", "{s}_elbow"),
    ("{s}_elbow", "{s}_wrist"),
    ("{s}_wrist", "{s}_pinky"),
    ("{s}_wrist", "{s}_index"),
    ("{s}_wrist", "{s}_thumb"),
    ("{s}_pinky", "{s}_index"),
    ("{s}_shoulder", "{s}_hip"),
    ("{s}_hip", "{s}_knee"),
    ("{s}_knee", "{s}_ankle"),
    ("{s}_ankle", "{s}_heel"),
    ("{s}_heel", "{s}_foot_index"),
    ("{s}_ankle", "{s}_foot_index"),
)

BLAZEPOSE33 = _from_names("blazepose33", _BLAZEPOSE_JOINTS, _BLAZEPOSE_EDGES)

# ----------------------------------------------------------------------------------------
# Halpe full body, 26 keypoints

_HALPE_JOINTS = _COCO_JOINTS + (
    "head",  # 17
    "neck",  # 18
    "hip",  # 19
    "left_big_toe",  # 20
    "right_big_toe",  # 21
    "left_small_toe",  # 22
    "right_small_toe",  # 23
    "left_heel",  # 24
    "right_heel",  # 25
)

_HALPE_EDGES = (
    ("head", "neck"),
    ("neck", "hip"),
) + _both_sides(
    ("nose", "{s}_eye"),
    ("{s}_eye", "{s}_ear"),
    ("neck", "{s}_shoulder"),
    ("{s}_shoulder", "{s}_elbow"),
    ("{s}_elbow", "{s}_wrist"),
    ("hip", "{s}_hip"),
    ("{s}_hip", "{s}_knee"),
    ("{s}_knee", "{s}_ankle"),
    ("{s}_ankle", "{s}_heel"),
    ("{s}_heel", "{s}_big_toe"),
    ("{s}_heel", "{s}_small_toe"),
)

HALPE26 = _from_names("halpe26", _HALPE_JOINTS, _HALPE_EDGES)

# ----------------------------------------------------------------------------------------
# registry

JOINT_SETS: dict[str, JointSet] = {js.name: js for js in (H36M17, COCO17, BLAZEPOSE33, HALPE26)}


def get_joint_set(name: str | JointSet) -> JointSet:
    """The registered joint set called ``name`` (a JointSet passes through unchanged)."""
    if isinstance(name, JointSet):
        return name
    try:
        return JOINT_SETS[name]
    except KeyError:
        known = ", ".join(sorted(JOINT_SETS))
        raise ValueError(f"unknown joint set {name!r}; known joint sets: {known}") from None
