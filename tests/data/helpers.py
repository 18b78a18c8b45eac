"""Tiny hand-made ASF/AMC files for the data tests (no external data)."""

from __future__ import annotations

import numpy as np

# One ASF length unit = 1 / 0.5 inch = 0.0508 m.
TINY_SCALE = 0.0254 / 0.5

TINY_ASF = """# hand-made test skeleton
:version 1.10
:name TINY
:units
  mass 1.0
  length 0.5
  angle deg
:documentation
   free text that must be ignored
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name a
     direction 0 2 0
     length 10
     axis 0 0 0  XYZ
    dof rx ry rz
    limits (-160.0 20.0)
           (-70.0 70.0)
           (-60.0 70.0)
  end
  begin
     id 2
     name b
     direction 1 0 0
     length 5
     axis 0 0 90  XYZ
    dof rx
    limits (-10 170)
  end
  begin
     id 3
     name c
     direction 0 0 1
     length 2
     axis 0 0 0 XYZ
  end
:hierarchy
  begin
    root a c
    a b
  end
"""


def tiny_amc(frames: list[dict[str, list[float]]], header: str = ":FULLY-SPECIFIED\n:DEGREES\n") -> str:
    """AMC text for the tiny skeleton; missing bones default to zeros."""
    lines = ["#!OML:ASF tiny.asf", header.rstrip("\n")]
    for i, fr in enumerate(frames, start=1):
        lines.append(str(i))
        root = fr.get("root", [0.0] * 6)
        lines.append("root " + " ".join(f"{v:g}" for v in root))
        lines.append("a " + " ".join(f"{v:g}" for v in fr.get("a", [0.0, 0.0, 0.0])))
        lines.append("b " + " ".join(f"{v:g}" for v in fr.get("b", [0.0])))
    return "\n".join(lines) + "\n"


# A CMU-named skeleton, small but with every bone cmu_to_h36m needs.
# (name, parent, direction, length in units, dof)
MINI_CMU_BONES: list[tuple[str, str, tuple[float, float, float], float, str]] = [
    ("lhipjoint", "root", (1, -1, 0), 2.0, ""),
    ("lfemur", "lhipjoint", (0, -1, 0), 8.0, "rx ry rz"),
    ("ltibia", "lfemur", (0, -1, 0), 7.0, "rx"),
    ("rhipjoint", "root", (-1, -1, 0), 2.0, ""),
    ("rfemur", "rhipjoint", (0, -1, 0), 8.0, "rx ry rz"),
    ("rtibia", "rfemur", (0, -1, 0), 7.0, "rx"),
    ("lowerback", "root", (0, 1, 0), 2.0, "rx ry rz"),
    ("upperback", "lowerback", (0, 1, 0), 2.0, "rx ry rz"),
    ("thorax", "upperback", (0, 1, 0), 2.0, "rx ry rz"),
    ("lowerneck", "thorax", (0, 1, 0), 1.5, "rx ry rz"),
    ("upperneck", "lowerneck", (0, 1, 0), 1.5, "rx ry rz"),
    ("head", "upperneck", (0, 1, 0), 1.5, "rx ry rz"),
    ("lclavicle", "thorax", (1, 0, 0), 3.0, "ry rz"),
    ("lhumerus", "lclavicle", (1, 0, 0), 5.0, "rx ry rz"),
    ("lradius", "lhumerus", (1, 0, 0), 4.0, "rx"),
    ("rclavicle", "thorax", (-1, 0, 0), 3.0, "ry rz"),
    ("rhumerus", "rclavicle", (-1, 0, 0), 5.0, "rx ry rz"),
    ("rradius", "rhumerus", (-1, 0, 0), 4.0, "rx"),
]
MINI_SCALE = 0.0254 / 0.45


def mini_cmu_asf() -> str:
    out = [":version 1.10", ":name VICON", ":units", "  mass 1.0", "  length 0.45",
           "  angle deg", ":root", "   order TX TY TZ RX RY RZ", "   axis XYZ",
           "   position 0 0 0", "   orientation 0 0 0", ":bonedata"]
    for i, (name, _, d, ln, dof) in enumerate(MINI_CMU_BONES, start=1):
        out += ["  begin", f"     id {i}", f"     name {name}",
                f"     direction {d[0]} {d[1]} {d[2]}", f"     length {ln}",
                "     axis 0 0 0  XYZ"]
        if dof:
            out.append(f"    dof {dof}")
        out.append("  end")
    out += [":hierarchy", "  begin"]
    children: dict[str, list[str]] = {}
    for name, parent, *_ in MINI_CMU_BONES:
        children.setdefault(parent, []).append(name)
    for parent, kids in children.items():
        out.append(f"    {parent} {' '.join(kids)}")
    out += ["  end"]
    return "\n".join(out) + "\n"


def mini_cmu_amc(root_positions: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> str:
    """AMC for the mini CMU skeleton. root_positions: (F, 3) ASF units; extra: bone -> (F, ndof)."""
    extra = extra or {}
    lines = [":FULLY-SPECIFIED", ":DEGREES"]
    for i, rp in enumerate(root_positions):
        lines.append(str(i + 1))
        lines.append(f"root {rp[0]:.6f} {rp[1]:.6f} {rp[2]:.6f} 0 0 0")
        for name, _, _, _, dof in MINI_CMU_BONES:
            if not dof:
                continue
            n = len(dof.split())
            vals = extra[name][i] if name in extra else np.zeros(n)
            lines.append(name + " " + " ".join(f"{v:.6f}" for v in vals))
    return "\n".join(lines) + "\n"
