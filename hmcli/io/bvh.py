"""BVH motion-capture export of H36M-17 joints, and a strict BVH reader with forward kinematics.

Coordinate frame and units
--------------------------
hm's 3D joints are metres in camera axes (x right, y down, z forward, away from the
camera). BVH files are written Y-up in centimetres::

    X_bvh =  100 * x      (the subject's left, for a subject facing the camera)
    Y_bvh = -100 * y      (up)
    Z_bvh = -100 * z      (towards the camera: a subject facing the camera faces +Z)

This is a 180 degree rotation about x plus a scale, so handedness is kept. Blender's BVH
importer reads it with its defaults (Y up, -Z forward, scale 1, i.e. 1 BVH unit = 1 Blender unit:
set the import scale to 0.01 to get metres).

Skeleton
--------
The hierarchy follows ``H36M17.parents``, rooted at the pelvis, with joints written in
depth-first order, which is the H36M index order. Joints with children are ``JOINT`` s;
the leaves (ankles, wrists, head) are ``End Site`` s. The thorax has three children (the
neck/nose chain and both shoulders), the pelvis three (both hips and the spine).

The rest pose is T-pose-like: hips sideways from the pelvis, legs down, spine/neck/head up,
shoulders and arms straight out sideways. Each bone's OFFSET is its rest direction times
its MEDIAN length over all frames (so the file has constant bone lengths).

Motion
------
Channels: the root (pelvis) has ``Xposition Yposition Zposition Zrotation Xrotation
Yrotation``, every other joint ``Zrotation Xrotation Yrotation``. A joint's local rotation
matrix is ``Rz(z) @ Rx(x) @ Ry(y)`` (channel order, column vectors, degrees), and
``global_j = global_parent @ local_j``; a child sits at ``pos_parent + global_parent @ offset``.

Rotations are solved per frame from the positions: a joint with one child gets the
smallest rotation (relative to its parent's frame) that takes the child's rest direction
to the observed direction; a joint with several children (pelvis, thorax) gets the
rotation that best maps all its children's rest directions onto the observed ones
(weighted Kabsch/SVD). For poses whose bone lengths are constant and whose pelvis and
thorax triangles keep their rest shape, forward kinematics reproduces the input exactly
(up to the written precision); otherwise end points differ by the bone-length deviation
from the median and by the misfit of the pelvis/thorax child directions.

Frames with a missing (non-finite) joint repeat the nearest earlier valid frame (the
nearest later one at the start of the sequence).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hmcli.io.atomic import HMError, atomic_write
from hmcli.skeleton import H36M17

__all__ = [
    "BVHHierarchy",
    "BVHMotion",
    "REST_DIRECTIONS",
    "write_bvh",
    "read_bvh",
    "bvh_fk",
    "camera_to_bvh",
    "bvh_to_camera",
    "euler_zxy_from_matrix",
    "matrix_from_euler_zxy",
    "h36m_rest_offsets",
    "solve_h36m_motion",
]

CM_PER_M = 100.0
ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
JOINT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")
_VALID_CHANNELS = {"Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation"}

_UP, _DOWN, _LEFT, _RIGHT = (0.0, 1.0, 0.0), (0.0, -1.0, 0.0), (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0)
_REST_BY_NAME = {
    "right_hip": _RIGHT, "right_knee": _DOWN, "right_ankle": _DOWN,
    "left_hip": _LEFT, "left_knee": _DOWN, "left_ankle": _DOWN,
    "spine": _UP, "thorax": _UP, "nose": _UP, "head": _UP,
    "left_shoulder": _LEFT, "left_elbow": _LEFT, "left_wrist": _LEFT,
    "right_shoulder": _RIGHT, "right_elbow": _RIGHT, "right_wrist": _RIGHT,
}  # fmt: skip

#: (17, 3) unit rest direction (BVH axes) of the bone ending at each H36M joint; root row is 0.
REST_DIRECTIONS = np.array(
    [(0.0, 0.0, 0.0) if p < 0 else _REST_BY_NAME[n] for n, p in zip(H36M17.joints, H36M17.parents)]
)

_PARENTS = np.array(H36M17.parents)
_CHILDREN = [[c for c, p in enumerate(H36M17.parents) if p == j] for j in range(H36M17.num_joints)]
# Joints that carry rotation channels (those with children), in file (= index) order.
_ROTATING = [j for j in range(H36M17.num_joints) if _CHILDREN[j]]


# ------------------------------------------------------------------ coordinate frames


def camera_to_bvh(points_m: np.ndarray) -> np.ndarray:
    """Camera-axes metres (x right, y down, z forward) -> BVH Y-up centimetres."""
    p = np.asarray(points_m, np.float64)
    return p * np.array([CM_PER_M, -CM_PER_M, -CM_PER_M])


def bvh_to_camera(points_cm: np.ndarray) -> np.ndarray:
    """Inverse of :func:`camera_to_bvh`."""
    p = np.asarray(points_cm, np.float64)
    return p * np.array([1.0 / CM_PER_M, -1.0 / CM_PER_M, -1.0 / CM_PER_M])


# ------------------------------------------------------------------ rotations


def _axis_matrices(axis: str, deg: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices about 'X', 'Y' or 'Z' by ``deg`` degrees (right-handed)."""
    r = np.radians(np.asarray(deg, np.float64))
    c, s = np.cos(r), np.sin(r)
    o, z = np.ones_like(r), np.zeros_like(r)
    if axis == "X":
        rows = [[o, z, z], [z, c, -s], [z, s, c]]
    elif axis == "Y":
        rows = [[c, z, s], [z, o, z], [-s, z, c]]
    elif axis == "Z":
        rows = [[c, -s, z], [s, c, z], [z, z, o]]
    else:
        raise ValueError(f"unknown rotation axis {axis!r}")
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def matrix_from_euler_zxy(angles_deg: np.ndarray) -> np.ndarray:
    """(..., 3) angles (z, x, y) in degrees -> (..., 3, 3) matrices ``Rz @ Rx @ Ry``."""
    a = np.asarray(angles_deg, np.float64)
    return _axis_matrices("Z", a[..., 0]) @ _axis_matrices("X", a[..., 1]) @ _axis_matrices("Y", a[..., 2])


def euler_zxy_from_matrix(mats: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) angles (z, x, y) in degrees with
    ``R = Rz(z) @ Rx(x) @ Ry(y)``; x lies in [-90, 90], z and y in (-180, 180].

    With ``R = Rz Rx Ry``: ``R[2,1] = sin x``, ``R[2,0] = -cos x sin y``,
    ``R[2,2] = cos x cos y``, ``R[0,1] = -sin z cos x``, ``R[1,1] = cos z cos x``.
    At gimbal lock (cos x = 0) only z +- y is defined: y is set to 0 and z read from
    ``R[1,0] = sin z``, ``R[0,0] = cos z``.
    """
    m = np.asarray(mats, np.float64)
    cx = np.hypot(m[..., 2, 0], m[..., 2, 2])
    x = np.arctan2(m[..., 2, 1], cx)
    locked = cx < eps
    y = np.where(locked, 0.0, np.arctan2(-m[..., 2, 0], m[..., 2, 2]))
    z = np.where(locked, np.arctan2(m[..., 1, 0], m[..., 0, 0]), np.arctan2(-m[..., 0, 1], m[..., 1, 1]))
    return np.degrees(np.stack([z, x, y], axis=-1))


def _skew(v: np.ndarray) -> np.ndarray:
    o = np.zeros(v.shape[:-1])
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return np.stack(
        [np.stack([o, -z, y], -1), np.stack([z, o, -x], -1), np.stack([-y, x, o], -1)], axis=-2
    )


def _min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations taking unit vector(s) ``a`` (3,) onto unit vectors ``b`` (F, 3)."""
    a = np.broadcast_to(np.asarray(a, np.float64), b.shape)
    v = np.cross(a, b)
    c = np.einsum("...i,...i->...", a, b)
    eye = np.broadcast_to(np.eye(3), b.shape[:-1] + (3, 3))
    k = _skew(v)
    opposite = (1.0 + c) < 1e-9
    denom = np.where(opposite, 1.0, 1.0 + c)
    rot = eye + k + (k @ k) / denom[..., None, None]
    if np.any(opposite):
        # Half turn about an axis perpendicular to a.
        ref = np.where(np.abs(a[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
        n = np.cross(a, ref)
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
        half = 2.0 * n[..., :, None] * n[..., None, :] - eye
        rot = np.where(opposite[..., None, None], half, rot)
    return rot


def _kabsch(rest: np.ndarray, obs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Rotations G (F, 3, 3) minimising sum_c w_c |G rest_c - obs_c|^2.

    rest: (C, 3), obs: (F, C, 3), w: (F, C) (zero weight for a missing child).
    """
    m = np.einsum("fc,fci,cj->fij", w, obs, rest)
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    d = np.where(d == 0, 1.0, d)
    fix = np.ones(u.shape[:-1])
    fix[..., -1] = d
    return (u * fix[..., None, :]) @ vt


# ------------------------------------------------------------------ solving H36M poses


def _valid_frames(pos: np.ndarray) -> np.ndarray:
    """Copy of pos (F, J, 3) with frames containing non-finite values replaced by the nearest
    earlier valid frame (nearest later one before the first valid frame)."""
    ok = np.isfinite(pos).all(axis=(1, 2))
    if not ok.any():
        raise HMError("no frame has finite 3D joints; nothing to export")
    idx = np.where(ok, np.arange(len(pos)), -1)
    idx = np.maximum.accumulate(idx)
    idx[idx < 0] = int(np.argmax(ok))
    return pos[idx]


def h36m_rest_offsets(joints3d_m: np.ndarray) -> np.ndarray:
    """(17, 3) BVH offsets (cm): rest direction times median bone length over the valid frames."""
    pos = np.asarray(joints3d_m, np.float64)
    ok = np.isfinite(pos).all(axis=(1, 2))
    if not ok.any():
        raise HMError("no frame has finite 3D joints; nothing to export")
    pos = pos[ok]
    offsets = np.zeros((H36M17.num_joints, 3))
    for c, p in enumerate(H36M17.parents):
        if p >= 0:
            length = np.median(np.linalg.norm(pos[:, c] - pos[:, p], axis=-1)) * CM_PER_M
            offsets[c] = REST_DIRECTIONS[c] * length
    return offsets


def solve_h36m_motion(joints3d_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (17, 3) cm and the motion block (F, 3 + 3 * n_rotating) of the BVH channels.

    ``joints3d_m``: (F, 17, 3) metres, camera axes. See the module docstring for the method.
    """
    j3 = np.asarray(joints3d_m, np.float64)
    if j3.ndim != 3 or j3.shape[1:] != (H36M17.num_joints, 3):
        raise ValueError(f"joints3d must be (F, {H36M17.num_joints}, 3), got {j3.shape}")
    if j3.shape[0] == 0:
        raise HMError("no frames to export")
    offsets = h36m_rest_offsets(j3)
    lengths = np.linalg.norm(offsets, axis=-1)
    pos = camera_to_bvh(_valid_frames(j3))
    f = pos.shape[0]
    glob = np.zeros((f, H36M17.num_joints, 3, 3))
    local = {}
    eye = np.broadcast_to(np.eye(3), (f, 3, 3))
    for j in _ROTATING:
        parent_rot = eye if _PARENTS[j] < 0 else glob[:, _PARENTS[j]]
        kids = _CHILDREN[j]
        vec = pos[:, kids] - pos[:, j : j + 1]  # (F, C, 3)
        norm = np.linalg.norm(vec, axis=-1)
        present = norm > 1e-9
        unit = vec / np.where(present, norm, 1.0)[..., None]
        if len(kids) == 1:
            # Observed direction in the parent's frame; minimal rotation from the rest direction.
            u_loc = np.einsum("fji,fj->fi", parent_rot, unit[:, 0])
            rot = _min_rotation(REST_DIRECTIONS[kids[0]], u_loc)
            rot = np.where(present[:, 0, None, None], rot, eye)
            g = parent_rot @ rot
        else:
            w = present * (lengths[kids] ** 2 + 1e-12)
            g = _kabsch(REST_DIRECTIONS[kids], unit, w)
            g = np.where(present.any(axis=1)[:, None, None], g, parent_rot)
            rot = np.swapaxes(parent_rot, -1, -2) @ g
        glob[:, j] = g
        local[j] = rot
    angles = [euler_zxy_from_matrix(local[j]) for j in _ROTATING]
    motion = np.concatenate([pos[:, 0]] + angles, axis=1)
    return offsets, motion


# ------------------------------------------------------------------ writing


def _fmt(values) -> str:
    return " ".join(f"{v:.5f}" for v in values)


def write_bvh(path: str | os.PathLike, joints3d: np.ndarray, fps: float) -> None:
    """Write H36M-17 joints (F, 17, 3), metres in camera axes, as a BVH file (atomically)."""
    fps = float(fps)
    if not math.isfinite(fps) or fps <= 0:
        raise HMError(f"fps must be a positive number, got {fps}")
    offsets, motion = solve_h36m_motion(joints3d)
    names = H36M17.joints
    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        ind = "\t" * depth
        if not _CHILDREN[j]:
            lines.extend([f"{ind}End Site", f"{ind}{{", f"{ind}\tOFFSET {_fmt(offsets[j])}", f"{ind}}}"])
            return
        root = _PARENTS[j] < 0
        chans = ROOT_CHANNELS if root else JOINT_CHANNELS
        lines.append(f"{ind}{'ROOT' if root else 'JOINT'} {names[j]}")
        lines.append(f"{ind}{{")
        lines.append(f"{ind}\tOFFSET {_fmt(np.zeros(3) if root else offsets[j])}")
        lines.append(f"{ind}\tCHANNELS {len(chans)} {' '.join(chans)}")
        for c in _CHILDREN[j]:
            emit(c, depth + 1)
        lines.append(f"{ind}}}")

    emit(H36M17.root, 0)
    lines.append("MOTION")
    lines.append(f"Frames: {motion.shape[0]}")
    lines.append(f"Frame Time: {1.0 / fps:.8f}")
    lines.extend(_fmt(row) for row in motion)
    with atomic_write(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


# ------------------------------------------------------------------ reading


@dataclass
class BVHHierarchy:
    """Nodes in file order. End sites are named ``<parent>_end`` and have no channels."""

    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # (N, 3)
    channels: list[tuple[str, ...]]
    is_end_site: list[bool]

    @property
    def num_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    @property
    def channel_start(self) -> list[int]:
        """Column of each node's first channel in the motion block."""
        out, k = [], 0
        for c in self.channels:
            out.append(k)
            k += len(c)
        return out


@dataclass
class BVHMotion:
    frame_time: float
    values: np.ndarray  # (F, num_channels)

    @property
    def num_frames(self) -> int:
        return int(self.values.shape[0])


class _Tokens:
    def __init__(self, lines: list[str], path: Path) -> None:
        self.items = [(tok, i + 1) for i, line in enumerate(lines) for tok in line.split()]
        self.pos = 0
        self.path = path

    def error(self, msg: str) -> HMError:
        line = self.items[self.pos][1] if self.pos < len(self.items) else "end"
        return HMError(f"{self.path}: invalid BVH at line {line}: {msg}")

    def next(self, what: str) -> str:
        if self.pos >= len(self.items):
            raise self.error(f"unexpected end of HIERARCHY, expected {what}")
        tok = self.items[self.pos][0]
        self.pos += 1
        return tok

    def expect(self, word: str) -> None:
        tok = self.next(repr(word))
        if tok != word:
            self.pos -= 1
            raise self.error(f"expected {word!r}, got {tok!r}")

    def number(self) -> float:
        tok = self.next("a number")
        try:
            v = float(tok)
        except ValueError:
            self.pos -= 1
            raise self.error(f"expected a number, got {tok!r}") from None
        if not math.isfinite(v):
            self.pos -= 1
            raise self.error(f"non-finite number {tok!r}")
        return v

    def peek(self) -> str | None:
        return self.items[self.pos][0] if self.pos < len(self.items) else None


def _parse_node(tk: _Tokens, h: BVHHierarchy, name: str, parent: int) -> None:
    idx = len(h.names)
    h.names.append(name)
    h.parents.append(parent)
    h.is_end_site.append(False)
    tk.expect("{")
    tk.expect("OFFSET")
    offset = [tk.number(), tk.number(), tk.number()]
    tk.expect("CHANNELS")
    n_tok = tk.next("a channel count")
    if not n_tok.isdigit():
        tk.pos -= 1
        raise tk.error(f"expected a channel count, got {n_tok!r}")
    chans = tuple(tk.next("a channel name") for _ in range(int(n_tok)))
    bad = [c for c in chans if c not in _VALID_CHANNELS]
    if bad or len(set(chans)) != len(chans):
        raise tk.error(f"bad channel list {' '.join(chans)} for joint {name!r}")
    h.offsets.append(offset)
    h.channels.append(chans)
    while True:
        tok = tk.next("JOINT, End Site or '}'")
        if tok == "}":
            return
        if tok == "JOINT":
            _parse_node(tk, h, tk.next("a joint name"), idx)
        elif tok == "End":
            tk.expect("Site")
            tk.expect("{")
            tk.expect("OFFSET")
            h.names.append(f"{name}_end")
            h.parents.append(idx)
            h.is_end_site.append(True)
            h.offsets.append([tk.number(), tk.number(), tk.number()])
            h.channels.append(())
            tk.expect("}")
        else:
            tk.pos -= 1
            raise tk.error(f"expected JOINT, End Site or '}}', got {tok!r}")


def read_bvh(path: str | os.PathLike) -> tuple[BVHHierarchy, BVHMotion]:
    """Parse a single-root BVH file strictly; any deviation is an HMError naming the line.

    Checks: HIERARCHY/ROOT structure, balanced braces, known channel names, a MOTION
    section with ``Frames: N`` and ``Frame Time: t > 0``, and exactly N motion lines of
    exactly as many finite numbers as there are channels.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HMError(f"file not found: {p}") from None
    except IsADirectoryError:
        raise HMError(f"expected a BVH file, got a directory: {p}") from None
    except UnicodeDecodeError:
        raise HMError(f"{p} is not a text BVH file") from None
    lines = text.splitlines()
    motion_at = next((i for i, line in enumerate(lines) if line.strip() == "MOTION"), None)
    if motion_at is None:
        raise HMError(f"{p}: invalid BVH: no MOTION section")
    tk = _Tokens(lines[:motion_at], p)
    tk.expect("HIERARCHY")
    tk.expect("ROOT")
    h = BVHHierarchy(names=[], parents=[], offsets=[], channels=[], is_end_site=[])
    _parse_node(tk, h, tk.next("the root name"), -1)
    if tk.peek() is not None:
        raise tk.error(f"unexpected {tk.peek()!r} after the root joint (only one ROOT is supported)")
    h.offsets = np.asarray(h.offsets, np.float64).reshape(-1, 3)

    rest = [(i + 1, line.strip()) for i, line in enumerate(lines[motion_at + 1 :], start=motion_at) if line.strip()]

    def header(k: int, key: str) -> str:
        if k >= len(rest) or not rest[k][1].startswith(key):
            where = rest[k][0] if k < len(rest) else "end"
            raise HMError(f"{p}: invalid BVH at line {where}: expected '{key} ...'")
        return rest[k][1][len(key) :].strip()

    n_txt = header(0, "Frames:")
    t_txt = header(1, "Frame Time:")
    try:
        n_frames = int(n_txt)
        frame_time = float(t_txt)
    except ValueError:
        raise HMError(f"{p}: invalid BVH: bad Frames/Frame Time values {n_txt!r}, {t_txt!r}") from None
    if n_frames < 0 or not (math.isfinite(frame_time) and frame_time > 0):
        raise HMError(f"{p}: invalid BVH: Frames must be >= 0 and Frame Time > 0")
    data = rest[2:]
    if len(data) != n_frames:
        raise HMError(f"{p}: invalid BVH: header says {n_frames} frames, file has {len(data)} motion lines")
    nc = h.num_channels
    values = np.empty((n_frames, nc))
    for row, (lineno, line) in enumerate(data):
        parts = line.split()
        if len(parts) != nc:
            raise HMError(f"{p}: invalid BVH at line {lineno}: {len(parts)} values, expected {nc} channels")
        try:
            values[row] = [float(v) for v in parts]
        except ValueError:
            raise HMError(f"{p}: invalid BVH at line {lineno}: non-numeric motion value") from None
    if not np.isfinite(values).all():
        raise HMError(f"{p}: invalid BVH: non-finite motion values")
    return h, BVHMotion(frame_time=frame_time, values=values)


def bvh_fk(hierarchy: BVHHierarchy, motion: BVHMotion | np.ndarray) -> np.ndarray:
    """World positions (F, N, 3) of every node (joints and end sites, file order) in file units/axes.

    Position channels are added to the node's OFFSET; rotation channels multiply in the
    order they are listed (``local = R_c1 @ R_c2 @ R_c3``).
    """
    vals = motion.values if isinstance(motion, BVHMotion) else np.asarray(motion, np.float64)
    f = vals.shape[0]
    n = len(hierarchy.names)
    pos = np.zeros((f, n, 3))
    rot = np.zeros((f, n, 3, 3))
    starts = hierarchy.channel_start
    for j in range(n):
        trans = np.broadcast_to(hierarchy.offsets[j], (f, 3)).copy()
        local = np.broadcast_to(np.eye(3), (f, 3, 3)).copy()
        for k, ch in enumerate(hierarchy.channels[j]):
            col = vals[:, starts[j] + k]
            if ch.endswith("position"):
                trans[:, "XYZ".index(ch[0])] += col
            else:
                local = local @ _axis_matrices(ch[0], col)
        par = hierarchy.parents[j]
        if par < 0:
            pos[:, j], rot[:, j] = trans, local
        else:
            pos[:, j] = pos[:, par] + np.einsum("fij,fj->fi", rot[:, par], trans)
            rot[:, j] = rot[:, par] @ local
    return pos
