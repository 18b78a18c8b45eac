"""Acclaim ASF (skeleton) / AMC (motion) parsing and forward kinematics.

Conventions implemented here (Acclaim format as used by the CMU mocap database):

* ``:units length L`` -- one ASF length unit is ``1/L`` inches, so a value ``v`` is
  ``v / L * 0.0254`` metres.  Bone lengths, the root position and the AMC root
  translation are all expressed in these units.  ``angle deg|rad`` applies to the ASF
  ``axis`` / ``orientation`` values and ``limits``; the AMC file carries its own
  ``:DEGREES`` / ``:RADIANS`` keyword (degrees if absent).
* An Euler triple with an order string such as ``XYZ`` means "rotate about X first,
  then Y, then Z" about fixed axes; for column vectors the matrix is ``Rz @ Ry @ Rx``.
  The same rule holds for a bone's ``dof`` line: the AMC values are applied in the
  order they are listed (``dof rx ry rz`` -> ``M = Rz @ Ry @ Rx``; ``dof ry rz`` ->
  ``M = Rz @ Ry``).  The root's rotation channels are applied in the order of the
  root ``order`` line.
* ``axis`` gives the bone's local frame ``C`` in the default pose, expressed in world
  axes.  A dof rotation ``M`` acts in that local frame, so in world axes it is
  ``L = C @ M @ C^-1``.  Global rotations accumulate down the hierarchy,
  ``G_child = G_parent @ L_child``, and the bone end is
  ``p_end = p_start + G_child @ (direction * length)`` with ``p_start`` the parent's end
  (the root position for bones attached to the root).  The root uses its
  ``orientation`` (in the root ``axis`` order) as ``C``.
* The AMC root translation is the absolute root position; the ASF root ``position``
  is only used when the root has no translation channels.
* CMU's world frame is Y-up (X to the subject's left and Z forward in the ASF default
  pose); this module does not change axes.

Parse errors raise ``MocapFormatError`` (an ``HMError`` and a ``ValueError``) with the file
name and 1-based line number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hmcli.io.atomic import HMError

INCH_M = 0.0254

_AXES = {"X": 0, "Y": 1, "Z": 2}
_ROT_CHANNELS = ("rx", "ry", "rz")
_TRANS_CHANNELS = ("tx", "ty", "tz")
_VALID_CHANNELS = set(_ROT_CHANNELS) | set(_TRANS_CHANNELS) | {"l"}


# ----------------------------------------------------------------------------- rotations


def axis_rotation(axis: str, angles_rad: np.ndarray) -> np.ndarray:
    """Rotation matrices about one coordinate axis.

    axis: 'X', 'Y' or 'Z'.  angles_rad: (...) radians.  Returns (..., 3, 3) float64
    rotating column vectors counter-clockwise (right-hand rule).
    """
    a = np.asarray(angles_rad, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    ax = axis.upper()
    if ax == "X":
        rows = ((o, z, z), (z, c, -s), (z, s, c))
    elif ax == "Y":
        rows = ((c, z, s), (z, o, z), (-s, z, c))
    elif ax == "Z":
        rows = ((c, -s, z), (s, c, z), (z, z, o))
    else:
        raise ValueError(f"unknown rotation axis {axis!r}")
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)  # (..., 3, 3)


def euler_to_matrix(angles_deg: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """Euler angles in degrees -> rotation matrices.

    angles_deg: (..., n) with n == len(order); ``angles_deg[..., i]`` is the angle about
    axis ``order[i]``.  Rotations are applied in ``order`` (first letter first) about
    fixed axes, i.e. for ``order='XYZ'`` the result is ``Rz @ Ry @ Rx``.
    Returns (..., 3, 3) float64.
    """
    ang = np.asarray(angles_deg, dtype=np.float64)
    if ang.shape[-1] != len(order):
        raise ValueError(f"got {ang.shape[-1]} angles for order {order!r}")
    out = np.broadcast_to(np.eye(3), ang.shape[:-1] + (3, 3)).copy()  # (..., 3, 3)
    for i, ax in enumerate(order):
        out = axis_rotation(ax, np.deg2rad(ang[..., i])) @ out
    return out


# ----------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class Bone:
    """One ASF bone.

    direction: (3,) unit vector of the bone in world axes in the default pose.
    length: metres (already scaled by the ASF units).
    axis_deg: (3,) Euler angles (degrees) of the bone's local frame, in ``axis_order``.
    dof: rotation/translation channel names in AMC value order, e.g. ('rx', 'ry', 'rz').
    limits: one (lo, hi) pair per dof, in degrees for rotations (inf allowed).
    """

    id: int
    name: str
    direction: np.ndarray
    length: float
    axis_deg: np.ndarray
    axis_order: str = "XYZ"
    dof: tuple[str, ...] = ()
    limits: tuple[tuple[float, float], ...] = ()


@dataclass
class Skeleton:
    """Parsed ASF skeleton.

    length_scale: metres per ASF length unit (``0.0254 / L``).
    root_order: root channels in AMC order, e.g. ('tx','ty','tz','rx','ry','rz').
    root_axis: Euler order of the root orientation, e.g. 'XYZ'.
    root_position: (3,) metres.  root_orientation_deg: (3,) degrees.
    bones: bone name -> Bone, in file order.
    parent: bone name -> parent name ('root' for bones attached to the root).
    """

    name: str
    length_scale: float
    mass: float
    angle_unit: str
    root_order: tuple[str, ...]
    root_axis: str
    root_position: np.ndarray
    root_orientation_deg: np.ndarray
    bones: dict[str, Bone]
    parent: dict[str, str]
    source: str = "<string>"

    def children(self, name: str) -> list[str]:
        return [b for b, p in self.parent.items() if p == name]

    def topological_order(self) -> list[str]:
        """Bone names ordered so that every parent comes before its children."""
        order: list[str] = []
        stack = list(reversed(self.children("root")))
        while stack:
            b = stack.pop()
            order.append(b)
            stack.extend(reversed(self.children(b)))
        return order


@dataclass
class Motion:
    """Parsed AMC motion.

    frame_numbers: (F,) int64 as written in the file.
    values: bone name -> (F, ndof) float64 in the file's units (angles in degrees after
    parsing -- radians files are converted; root translation in ASF length units).
    """

    frame_numbers: np.ndarray
    values: dict[str, np.ndarray]
    source: str = "<string>"

    @property
    def num_frames(self) -> int:
        return int(self.frame_numbers.shape[0])


@dataclass
class FKResult:
    """Forward-kinematics output.

    names: ['root', *bones in topological order].
    positions: (F, B, 3) float64 metres, the root position and each bone's END point.
    rotations: (F, B, 3, 3) float64 global rotation of each bone (root: root rotation).
    """

    names: list[str]
    positions: np.ndarray
    rotations: np.ndarray = field(repr=False)


# ----------------------------------------------------------------------------- ASF parsing


class MocapFormatError(HMError, ValueError):
    """A malformed ASF / AMC file: the user's data, reported as one line (not a crash)."""


def _err(source: str, lineno: int, msg: str) -> MocapFormatError:
    return MocapFormatError(f"{source}:{lineno}: {msg}")


def _floats(tokens: list[str], n: int, source: str, lineno: int) -> list[float]:
    if len(tokens) < n:
        raise _err(source, lineno, f"expected {n} numbers, got {len(tokens)}")
    try:
        return [float(t) for t in tokens[:n]]
    except ValueError as e:
        raise _err(source, lineno, f"bad number in {' '.join(tokens)!r}") from e


def _check_order(order: str, source: str, lineno: int) -> str:
    order = order.upper()
    if len(order) != 3 or set(order) != set("XYZ"):
        raise _err(source, lineno, f"bad Euler order {order!r}")
    return order


_LIMIT_RE = re.compile(r"\(\s*([^\s()]+)\s+([^\s()]+)\s*\)")


def _parse_limit_value(tok: str, source: str, lineno: int) -> float:
    t = tok.lower()
    if t in ("inf", "+inf"):
        return math.inf
    if t == "-inf":
        return -math.inf
    try:
        return float(tok)
    except ValueError as e:
        raise _err(source, lineno, f"bad limit value {tok!r}") from e


def parse_asf(text: str, source: str = "<string>") -> Skeleton:
    """Parse ASF text into a ``Skeleton`` (lengths converted to metres)."""
    lines = text.splitlines()
    section = None
    units = {"mass": 1.0, "length": 1.0, "angle": "deg"}
    name = ""
    root_order: tuple[str, ...] = ("tx", "ty", "tz", "rx", "ry", "rz")
    root_axis = "XYZ"
    root_pos = np.zeros(3)
    root_ori = np.zeros(3)
    raw_bones: list[dict] = []
    cur: dict | None = None
    parent: dict[str, str] = {}
    in_limits = False

    for lineno, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        toks = line.split()
        key = toks[0].lower()
        if key.startswith(":"):
            in_limits = False
            section = key
            if key == ":name" and len(toks) > 1:
                name = " ".join(toks[1:])
            if section == ":bonedata" and cur is not None:
                raise _err(source, lineno, "section started inside a bone block")
            continue
        if section == ":units":
            if key in ("mass", "length"):
                units[key] = _floats(toks[1:], 1, source, lineno)[0]
                if units[key] <= 0:
                    raise _err(source, lineno, f"{key} unit must be > 0")
            elif key == "angle":
                if len(toks) < 2 or toks[1].lower() not in ("deg", "rad"):
                    raise _err(source, lineno, "angle unit must be 'deg' or 'rad'")
                units["angle"] = toks[1].lower()
            continue
        if section == ":root":
            if key == "order":
                chans = tuple(t.lower() for t in toks[1:])
                if not chans or any(c not in _VALID_CHANNELS for c in chans):
                    raise _err(source, lineno, f"bad root order {' '.join(toks[1:])!r}")
                root_order = chans
            elif key == "axis":
                if len(toks) < 2:
                    raise _err(source, lineno, "root axis needs an order")
                root_axis = _check_order(toks[1], source, lineno)
            elif key == "position":
                root_pos = np.array(_floats(toks[1:], 3, source, lineno))
            elif key == "orientation":
                root_ori = np.array(_floats(toks[1:], 3, source, lineno))
            continue
        if section == ":bonedata":
            if key == "begin":
                if cur is not None:
                    raise _err(source, lineno, "'begin' inside a bone block")
                cur = {"line": lineno, "dof": (), "limits": [], "axis": None,
                       "order": "XYZ", "id": len(raw_bones) + 1}
                in_limits = False
                continue
            if cur is None:
                raise _err(source, lineno, f"{toks[0]!r} outside a begin/end bone block")
            if key == "end":
                for req in ("name", "direction", "length"):
                    if req not in cur:
                        raise _err(source, lineno, f"bone block has no {req!r}")
                if cur["limits"] and len(cur["limits"]) != len(cur["dof"]):
                    raise _err(source, lineno,
                               f"bone {cur['name']!r}: {len(cur['limits'])} limits for "
                               f"{len(cur['dof'])} dof")
                raw_bones.append(cur)
                cur = None
                in_limits = False
                continue
            if key == "id":
                try:
                    cur["id"] = int(toks[1])
                except (IndexError, ValueError) as e:
                    raise _err(source, lineno, "bad bone id") from e
                in_limits = False
            elif key == "name":
                if len(toks) < 2:
                    raise _err(source, lineno, "bone name missing")
                cur["name"] = toks[1]
                in_limits = False
            elif key == "direction":
                cur["direction"] = _floats(toks[1:], 3, source, lineno)
                in_limits = False
            elif key == "length":
                cur["length"] = _floats(toks[1:], 1, source, lineno)[0]
                in_limits = False
            elif key == "axis":
                cur["axis"] = _floats(toks[1:], 3, source, lineno)
                cur["order"] = _check_order(toks[4], source, lineno) if len(toks) > 4 else "XYZ"
                in_limits = False
            elif key == "dof":
                chans = tuple(t.lower() for t in toks[1:])
                if any(c not in _VALID_CHANNELS for c in chans):
                    raise _err(source, lineno, f"bad dof {' '.join(toks[1:])!r}")
                cur["dof"] = chans
                in_limits = False
            elif key == "limits" or (in_limits and line.startswith("(")):
                body = line[len("limits"):] if key == "limits" else line
                pairs = _LIMIT_RE.findall(body)
                if not pairs:
                    raise _err(source, lineno, "bad limits line")
                for lo, hi in pairs:
                    cur["limits"].append((_parse_limit_value(lo, source, lineno),
                                          _parse_limit_value(hi, source, lineno)))
                in_limits = True
            elif key in ("bodymass", "cofmass"):
                in_limits = False
            else:
                raise _err(source, lineno, f"unknown bone keyword {toks[0]!r}")
            continue
        if section == ":hierarchy":
            if key in ("begin", "end"):
                continue
            for child in toks[1:]:
                if child in parent:
                    raise _err(source, lineno, f"bone {child!r} has two parents")
                parent[child] = toks[0]
            continue
        # :version, :name, :documentation and unknown sections: ignore free text.

    if cur is not None:
        raise _err(source, len(lines), "unterminated bone block")
    if not raw_bones:
        raise _err(source, len(lines), "no :bonedata bones")

    scale = INCH_M / float(units["length"])
    to_deg = 1.0 if units["angle"] == "deg" else 180.0 / math.pi
    bones: dict[str, Bone] = {}
    for rb in raw_bones:
        d = np.asarray(rb["direction"], dtype=np.float64)
        n = float(np.linalg.norm(d))
        if rb["length"] != 0.0 and n < 1e-12:
            raise _err(source, rb["line"], f"bone {rb['name']!r} has a zero direction")
        d = d / n if n > 0 else d
        lim = tuple(
            (lo * to_deg, hi * to_deg) if ch.startswith("r") else (lo * scale, hi * scale)
            for ch, (lo, hi) in zip(rb["dof"], rb["limits"])
        )
        if rb["name"] in bones or rb["name"] == "root":
            raise _err(source, rb["line"], f"duplicate bone name {rb['name']!r}")
        bones[rb["name"]] = Bone(
            id=int(rb["id"]),
            name=rb["name"],
            direction=d,
            length=float(rb["length"]) * scale,
            axis_deg=np.asarray(rb["axis"] if rb["axis"] is not None else [0.0, 0.0, 0.0]) * to_deg,
            axis_order=rb["order"],
            dof=rb["dof"],
            limits=lim,
        )
    for child, par in parent.items():
        if child not in bones:
            raise MocapFormatError(f"{source}: hierarchy names unknown bone {child!r}")
        if par != "root" and par not in bones:
            raise MocapFormatError(f"{source}: hierarchy names unknown parent {par!r}")
    missing = [b for b in bones if b not in parent]
    if missing:
        raise MocapFormatError(f"{source}: bones without a parent in :hierarchy: {missing}")
    skel = Skeleton(
        name=name,
        length_scale=scale,
        mass=float(units["mass"]),
        angle_unit=str(units["angle"]),
        root_order=root_order,
        root_axis=root_axis,
        root_position=root_pos * scale,
        root_orientation_deg=root_ori * to_deg,
        bones=bones,
        parent=parent,
        source=source,
    )
    if len(skel.topological_order()) != len(bones):
        raise MocapFormatError(f"{source}: :hierarchy is not a tree rooted at 'root'")
    return skel


def load_asf(path: str | Path) -> Skeleton:
    p = Path(path)
    return parse_asf(p.read_text(encoding="latin-1"), source=str(p))


# ----------------------------------------------------------------------------- AMC parsing


def parse_amc(text: str, source: str = "<string>", skeleton: Skeleton | None = None) -> Motion:
    """Parse AMC text into a ``Motion``.

    Every frame must list the same bones as the first frame.  With ``skeleton`` given,
    bone names and value counts are checked against it (root: ``len(root_order)``).
    """
    frames: list[int] = []
    data: dict[str, list[list[float]]] = {}
    counts: dict[str, int] = {}
    seen: set[str] = set()
    radians = False
    in_frames = False

    def close_frame(lineno: int) -> None:
        if frames and seen != set(counts):
            missing = sorted(set(counts) - seen)
            raise _err(source, lineno, f"frame {frames[-1]} is missing bones {missing}")

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(":"):
            kw = line.split()[0].upper()
            if kw == ":RADIANS":
                radians = True
            elif kw == ":DEGREES":
                radians = False
            continue
        toks = line.split()
        if len(toks) == 1 and toks[0].lstrip("+-").isdecimal():  # isdigit() is true for '²'; int() is not
            close_frame(lineno)
            frames.append(int(toks[0]))
            seen = set()
            in_frames = True
            continue
        if not in_frames:
            raise _err(source, lineno, f"bone values before the first frame number: {toks[0]!r}")
        bone = toks[0]
        try:
            vals = [float(t) for t in toks[1:]]
        except ValueError as e:
            raise _err(source, lineno, f"bad number in line for {bone!r}") from e
        if bone in seen:
            raise _err(source, lineno, f"bone {bone!r} twice in frame {frames[-1]}")
        if len(frames) == 1:
            if skeleton is not None:
                if bone == "root":
                    want = len(skeleton.root_order)
                elif bone in skeleton.bones:
                    want = len(skeleton.bones[bone].dof)
                else:
                    raise _err(source, lineno, f"bone {bone!r} not in skeleton {skeleton.source}")
                if len(vals) != want:
                    raise _err(source, lineno, f"bone {bone!r}: {len(vals)} values, dof needs {want}")
            counts[bone] = len(vals)
            data[bone] = []
        elif bone not in counts:
            raise _err(source, lineno, f"bone {bone!r} not present in the first frame")
        elif len(vals) != counts[bone]:
            raise _err(source, lineno, f"bone {bone!r}: {len(vals)} values, expected {counts[bone]}")
        seen.add(bone)
        data[bone].append(vals)
    if frames:
        n_lines = len(text.splitlines())
        if seen != set(counts):
            missing = sorted(set(counts) - seen)
            raise _err(source, n_lines, f"last frame {frames[-1]} is missing bones {missing}")
    else:
        raise MocapFormatError(f"{source}: no frames")

    values: dict[str, np.ndarray] = {}
    for bone, rows in data.items():
        arr = np.asarray(rows, dtype=np.float64).reshape(len(frames), counts[bone])  # (F, ndof)
        if radians:
            chans = _channels_for(bone, skeleton, counts[bone])
            for i, ch in enumerate(chans):
                if ch.startswith("r"):
                    arr[:, i] = np.rad2deg(arr[:, i])
        values[bone] = arr
    return Motion(frame_numbers=np.asarray(frames, dtype=np.int64), values=values, source=source)


def _channels_for(bone: str, skeleton: Skeleton | None, n: int) -> tuple[str, ...]:
    if skeleton is None:
        # Without a skeleton assume CMU layout: root = 3 translations + 3 rotations.
        return ("tx", "ty", "tz", "rx", "ry", "rz") if bone == "root" else ("rx",) * n
    return skeleton.root_order if bone == "root" else skeleton.bones[bone].dof


def load_amc(path: str | Path, skeleton: Skeleton | None = None) -> Motion:
    p = Path(path)
    return parse_amc(p.read_text(encoding="latin-1"), source=str(p), skeleton=skeleton)


# ----------------------------------------------------------------------------- FK


def _dof_rotation(chans: tuple[str, ...], vals: np.ndarray) -> np.ndarray:
    """Rotation from the rotational channels of one bone.

    chans: channel names; vals: (F, len(chans)) degrees.  Channels are applied in the
    listed order.  Returns (F, 3, 3).
    """
    f = vals.shape[0]
    m = np.broadcast_to(np.eye(3), (f, 3, 3)).copy()  # (F, 3, 3)
    for i, ch in enumerate(chans):
        if ch in _ROT_CHANNELS:
            m = axis_rotation(ch[1].upper(), np.deg2rad(vals[:, i])) @ m
    return m


def fk_full(skeleton: Skeleton, motion: Motion) -> FKResult:
    """Forward kinematics returning positions and global rotations (see module doc).

    Bones absent from the AMC keep their default pose (identity dof rotation).
    """
    nf = motion.num_frames
    order = skeleton.topological_order()
    names = ["root", *order]
    pos = np.zeros((nf, len(names), 3), dtype=np.float64)  # (F, B, 3)
    rot = np.zeros((nf, len(names), 3, 3), dtype=np.float64)  # (F, B, 3, 3)

    # Root.
    c_root = euler_to_matrix(skeleton.root_orientation_deg, skeleton.root_axis)  # (3, 3)
    root_vals = motion.values.get("root")
    if root_vals is None:
        root_vals = np.zeros((nf, len(skeleton.root_order)))
    if root_vals.shape[1] != len(skeleton.root_order):
        raise MocapFormatError(
            f"{motion.source}: root has {root_vals.shape[1]} values, order needs "
            f"{len(skeleton.root_order)}"
        )
    root_pos = np.broadcast_to(skeleton.root_position, (nf, 3)).copy()  # (F, 3)
    for i, ch in enumerate(skeleton.root_order):
        if ch in _TRANS_CHANNELS:
            root_pos[:, _AXES[ch[1].upper()]] = root_vals[:, i] * skeleton.length_scale
    m_root = _dof_rotation(skeleton.root_order, root_vals)  # (F, 3, 3)
    rot[:, 0] = c_root @ m_root @ c_root.T
    pos[:, 0] = root_pos

    index = {n: i for i, n in enumerate(names)}
    for name in order:
        bone = skeleton.bones[name]
        pi = index[skeleton.parent[name]]
        bi = index[name]
        c = euler_to_matrix(bone.axis_deg, bone.axis_order)  # (3, 3)
        vals = motion.values.get(name)
        if vals is None:
            local = np.broadcast_to(np.eye(3), (nf, 3, 3))
        else:
            if vals.shape[1] != len(bone.dof):
                raise MocapFormatError(
                    f"{motion.source}: bone {name!r} has {vals.shape[1]} values, dof "
                    f"{bone.dof} needs {len(bone.dof)}"
                )
            local = c @ _dof_rotation(bone.dof, vals) @ c.T  # (F, 3, 3)
        rot[:, bi] = rot[:, pi] @ local
        offset = bone.direction * bone.length  # (3,)
        pos[:, bi] = pos[:, pi] + rot[:, bi] @ offset
    return FKResult(names=names, positions=pos, rotations=rot)


def fk(skeleton: Skeleton, motion: Motion) -> tuple[list[str], np.ndarray]:
    """Forward kinematics: (names, positions (F, B, 3) metres); see ``fk_full``."""
    res = fk_full(skeleton, motion)
    return res.names, res.positions
