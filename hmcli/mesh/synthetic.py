"""A small synthetic body model in SMPL's file format, for tests and benchmarks.

:func:`make_synthetic_smpl` builds a ~650-vertex stick-figure-with-volume in SMPL's layout:
SMPL's 24-joint tree (``SMPL_PARENTS``), a T-pose of a 1.7 m person in metres (Y up, X the
body's left, Z forward, pelvis at (0, 0.93, 0), soles at y ~ 0.03), one closed tube per bone
(rings of vertices with end caps) and a closed head sphere whose top pole is the head-top
vertex and one of whose vertices is pushed out into a nose. Each joint's ``J_regressor`` row
averages a ring of vertices centred exactly on the joint, so the rest joints
``J_regressor @ v_template`` are the chosen joint positions (to rounding). ``shapedirs``
direction 0 scales the body about the floor point under the pelvis (~3 cm of height per
unit); the others are smooth random fields of a few cm; ``posedirs`` are small random.
The keypoint vertex ids are stored under ``hm_nose_vertex`` / ``hm_headtop_vertex``.

:func:`write_synthetic_smpl` writes it as an ``.npz`` or as a pickle laid out like the
official Python 2 SMPL files (``chumpy.ch.Ch`` objects, a ``scipy.sparse.csc.csc_matrix``
J_regressor, ``numpy.core.multiarray._reconstruct`` arrays) -- built without chumpy or scipy,
so the safe loader is tested on the real layout.
"""

from __future__ import annotations

import copyreg
import io
import os
import pickle
from pathlib import Path

import numpy as np

from hmcli.io.atomic import HMError, atomic_write
from hmcli.mesh.body import SMPL_JOINT_NAMES, SMPL_PARENTS

__all__ = [
    "SYNTHETIC_JOINTS",
    "SMPLX_PARENTS",
    "make_synthetic_smpl",
    "make_synthetic_smplx",
    "write_synthetic_smpl",
    "synthetic_pkl_bytes",
]

# T-pose joint positions (metres): X = body's left, Y up, Z forward.
SYNTHETIC_JOINTS: dict[str, tuple[float, float, float]] = {
    "pelvis": (0.0, 0.93, 0.0),
    "left_hip": (0.09, 0.85, 0.0),
    "right_hip": (-0.09, 0.85, 0.0),
    "spine1": (0.0, 1.03, -0.01),
    "left_knee": (0.10, 0.49, 0.01),
    "right_knee": (-0.10, 0.49, 0.01),
    "spine2": (0.0, 1.16, -0.01),
    "left_ankle": (0.10, 0.09, -0.02),
    "right_ankle": (-0.10, 0.09, -0.02),
    "spine3": (0.0, 1.22, 0.0),
    "left_foot": (0.11, 0.03, 0.10),
    "right_foot": (-0.11, 0.03, 0.10),
    "neck": (0.0, 1.43, -0.01),
    "left_collar": (0.07, 1.36, 0.0),
    "right_collar": (-0.07, 1.36, 0.0),
    "head": (0.0, 1.52, 0.02),
    "left_shoulder": (0.17, 1.38, -0.01),
    "right_shoulder": (-0.17, 1.38, -0.01),
    "left_elbow": (0.43, 1.38, -0.02),
    "right_elbow": (-0.43, 1.38, -0.02),
    "left_wrist": (0.68, 1.38, -0.01),
    "right_wrist": (-0.68, 1.38, -0.01),
    "left_hand": (0.76, 1.38, -0.01),
    "right_hand": (-0.76, 1.38, -0.01),
}

# The child a joint's tube runs to (the bone the joint rotates); leaves have none.
_MAIN_CHILD: dict[int, int] = {0: 3, 3: 6, 6: 9, 9: 12, 12: 15, 13: 16, 14: 17}
_TUBE_RADIUS: dict[str, float] = {
    "pelvis": 0.13, "spine1": 0.13, "spine2": 0.14, "spine3": 0.12, "neck": 0.05,
    "hip": 0.08, "knee": 0.055, "ankle": 0.04, "collar": 0.05, "shoulder": 0.05,
    "elbow": 0.04, "wrist": 0.035,
}
_RING = 8                     # vertices per ring
_STATIONS = (0.0, 0.5, 1.0)   # ring positions along a bone (fraction of its length)
_HEAD_CENTER = (0.0, 1.605, 0.0)
_HEAD_RADIUS = 0.095          # head top at y = 1.70
_HEAD_LAT, _HEAD_LON = 6, 8   # latitude rings (between the poles) x longitudes


def _radius(name: str) -> float:
    return _TUBE_RADIUS.get(name, _TUBE_RADIUS.get(name.split("_", 1)[-1], 0.05))


def _bones() -> list[tuple[int, int]]:
    """(joint, child) for every joint that has a child: its own tube."""
    out = []
    for k in range(len(SMPL_PARENTS)):
        children = [c for c, p in enumerate(SMPL_PARENTS) if p == k]
        if children:
            out.append((k, _MAIN_CHILD.get(k, children[0])))
    return out


def _frame(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.array([0.0, 1.0, 0.0]) if abs(d[2]) > 0.9 else np.array([0.0, 0.0, 1.0])
    u = np.cross(d, ref)
    u /= np.linalg.norm(u)
    return u, np.cross(d, u)


def make_synthetic_smpl(num_betas: int = 10, seed: int = 0, ring: int = _RING) -> dict[str, np.ndarray]:
    """A small SMPL-format model (see the module docstring): v_template (V, 3), shapedirs
    (V, 3, num_betas), posedirs (V, 3, 207), J_regressor (24, V), kintree_table (2, 24),
    weights (V, 24), f (Fc, 3) int64, hm_nose_vertex / hm_headtop_vertex (int64 scalars)."""
    if num_betas < 1 or ring < 3:
        raise ValueError("need num_betas >= 1 and ring >= 3")
    K = len(SMPL_PARENTS)
    joints = np.array([SYNTHETIC_JOINTS[n] for n in SMPL_JOINT_NAMES], dtype=np.float64)   # (K, 3)
    verts: list[np.ndarray] = []
    wts: list[np.ndarray] = []
    faces: list[tuple[int, int, int]] = []
    reg_rings: dict[int, list[int]] = {}
    theta = 2 * np.pi * np.arange(ring) / ring

    def add(p: np.ndarray, w: dict[int, float]) -> int:
        row = np.zeros(K)
        for j, x in w.items():
            row[j] += x
        verts.append(np.asarray(p, dtype=np.float64))
        wts.append(row)
        return len(verts) - 1

    for k, c in _bones():
        a, b = joints[k], joints[c]
        d = (b - a) / np.linalg.norm(b - a)
        u, v = _frame(d)
        r = _radius(SMPL_JOINT_NAMES[k])
        rings: list[list[int]] = []
        for t in _STATIONS:
            centre = a + t * (b - a)
            if t == 0.0 and SMPL_PARENTS[k] >= 0:
                w = {k: 0.7, SMPL_PARENTS[k]: 0.3}
            elif t == 1.0:
                w = {k: 0.7, c: 0.3}
            else:
                w = {k: 1.0}
            ids = [add(centre + r * (np.cos(th) * u + np.sin(th) * v), w) for th in theta]
            rings.append(ids)
        reg_rings.setdefault(k, rings[0])
        if not any(p == c for p in SMPL_PARENTS):      # leaf child: its ring is this tube's end
            reg_rings[c] = rings[-1]
        cap0 = add(a - 0.5 * r * d, {k: 1.0})
        cap1 = add(b + 0.5 * r * d, {k: 1.0})
        for r0, r1 in zip(rings[:-1], rings[1:]):
            for i in range(ring):
                j = (i + 1) % ring
                faces += [(r0[i], r0[j], r1[j]), (r0[i], r1[j], r1[i])]
        for i in range(ring):
            j = (i + 1) % ring
            faces.append((cap0, rings[0][j], rings[0][i]))
            faces.append((cap1, rings[-1][i], rings[-1][j]))

    # head: a UV sphere, poles on the Y axis, rigid to the head joint
    head = SMPL_JOINT_NAMES.index("head")
    hc = np.array(_HEAD_CENTER)
    top = add(hc + [0.0, _HEAD_RADIUS, 0.0], {head: 1.0})
    lat_ids: list[list[int]] = []
    nose = -1
    for i in range(1, _HEAD_LAT + 1):
        phi = np.pi * i / (_HEAD_LAT + 1)                  # from the top pole
        row = []
        for j in range(_HEAD_LON):
            lam = 2 * np.pi * j / _HEAD_LON                 # lam = 0 faces +Z
            p = hc + _HEAD_RADIUS * np.array([np.sin(phi) * np.sin(lam), np.cos(phi), np.sin(phi) * np.cos(lam)])
            if i == (_HEAD_LAT + 1) // 2 + 1 and j == 0:    # just below the equator, facing forward
                p = p + np.array([0.0, 0.0, 0.02])
                nose = len(verts)
            row.append(add(p, {head: 1.0}))
        lat_ids.append(row)
    bottom = add(hc - [0.0, _HEAD_RADIUS, 0.0], {head: 1.0})
    n = _HEAD_LON
    for j in range(n):
        faces.append((top, lat_ids[0][(j + 1) % n], lat_ids[0][j]))
        faces.append((bottom, lat_ids[-1][j], lat_ids[-1][(j + 1) % n]))
    for r0, r1 in zip(lat_ids[:-1], lat_ids[1:]):
        for j in range(n):
            jj = (j + 1) % n
            faces += [(r0[j], r0[jj], r1[jj]), (r0[j], r1[jj], r1[j])]

    V = len(verts)
    v_template = np.stack(verts)                                           # (V, 3)
    weights = np.stack(wts)                                                # (V, K)
    J_regressor = np.zeros((K, V))
    for k in range(K):
        J_regressor[k, reg_rings[k]] = 1.0 / ring

    rng = np.random.default_rng(seed)
    floor = np.array([joints[0, 0], 0.0, joints[0, 2]])
    shapedirs = np.zeros((V, 3, num_betas))
    shapedirs[:, :, 0] = 0.03 / 1.7 * (v_template - floor)                # ~ height
    for s in range(1, num_betas):
        A = rng.normal(0.0, 0.02, (3, 3))
        per_joint = rng.normal(0.0, 0.01, (K, 3))
        shapedirs[:, :, s] = (v_template - joints[0]) @ A.T + weights @ per_joint
    posedirs = rng.normal(0.0, 1e-3, (V, 3, (K - 1) * 9))
    kintree = np.stack([np.array([4294967295, *SMPL_PARENTS[1:]], dtype=np.int64), np.arange(K, dtype=np.int64)])
    return {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": J_regressor,
        "kintree_table": kintree,
        "weights": weights,
        "f": np.asarray(faces, dtype=np.int64),
        "hm_nose_vertex": np.asarray(nose, dtype=np.int64),
        "hm_headtop_vertex": np.asarray(top, dtype=np.int64),
    }


# SMPL-X's 55-joint tree: SMPL's first 22, jaw and eyes under the head, then 15 finger joints
# (index, middle, pinky, ring, thumb; 3 each) under each wrist.
SMPLX_PARENTS: tuple[int, ...] = (
    *SMPL_PARENTS[:22], 15, 15, 15,
    *[p for w, base in ((20, 25), (21, 40)) for f in range(5) for p in (w, base + 3 * f, base + 3 * f + 1)],
)
_SMPLX_V = 10475           # SMPL-X's vertex count: selects hm's SMPL-X keypoint vertex ids
_SMPLX_NOSE, _SMPLX_TOP = 9120, 8980


def make_synthetic_smplx(seed: int = 0) -> dict[str, np.ndarray]:
    """The synthetic body in SMPL-X's file layout (for tests of the SMPL-X path).

    :func:`make_synthetic_smpl`'s mesh padded to SMPL-X's 10475 vertices (the padding sits at
    the pelvis, rigid, in no face) with its nose and head-top vertices moved to SMPL-X's ids
    9120 / 8980; 55 joints (:data:`SMPLX_PARENTS`; jaw, eyes and fingers regressed to the
    head and hand-end rings); the lower head is 30 % skinned to the jaw and the hand ends to
    a middle finger; shapedirs (V, 3, 20) = 10 shape + 10 expression components; posedirs
    (V, 3, 486) float32; identity hand PCA, zero hand means, two face landmarks.
    """
    base = make_synthetic_smpl(num_betas=10, seed=seed)
    rng = np.random.default_rng(seed + 1)
    Vb, K = base["v_template"].shape[0], len(SMPLX_PARENTS)
    V = _SMPLX_V
    pad = V - Vb
    head, lmid, rmid = 15, 28, 43
    pelvis = base["J_regressor"][0] @ base["v_template"]                       # (3,)
    v = np.concatenate([base["v_template"], np.repeat(pelvis[None], pad, 0)])  # (V, 3)
    w = np.zeros((V, K))
    w[:Vb, :22] = base["weights"][:, :22]
    w[:Vb, lmid] = base["weights"][:, 22]
    w[:Vb, rmid] = base["weights"][:, 23]
    w[Vb:, 0] = 1.0
    hc = np.array(_HEAD_CENTER)
    lower_head = (w[:, head] == 1.0) & (v[:, 1] < hc[1])
    w[lower_head, head], w[lower_head, 22] = 0.7, 0.3
    jr = np.zeros((K, V))
    jr[:22, :Vb] = base["J_regressor"][:22]
    jr[22:25, :Vb] = base["J_regressor"][head]
    jr[25:40, :Vb] = base["J_regressor"][22]
    jr[40:55, :Vb] = base["J_regressor"][23]
    sd = np.zeros((V, 3, 20))
    sd[:Vb, :, :10] = base["shapedirs"]
    sd[:Vb, :, 10:] = rng.normal(0.0, 0.003, (Vb, 3, 10)) * (w[:Vb, head] + w[:Vb, 22] > 0)[:, None, None]
    pd = np.zeros((V, 3, (K - 1) * 9), dtype=np.float32)
    pd[:Vb, :, :189] = base["posedirs"][:, :, :189]
    pd[:Vb, :, 189:] = rng.normal(0.0, 1e-3, (Vb, 3, (K - 1) * 9 - 189))
    # move the keypoint vertices to SMPL-X's ids (swap with padding vertices)
    perm = np.arange(V)
    for old, new in ((int(base["hm_nose_vertex"]), _SMPLX_NOSE), (int(base["hm_headtop_vertex"]), _SMPLX_TOP)):
        perm[[old, new]] = perm[[new, old]]
    inv = np.argsort(perm)
    kt = np.stack([np.array([4294967295, *SMPLX_PARENTS[1:]], dtype=np.int64), np.arange(K, dtype=np.int64)])
    return {
        "v_template": v[perm],
        "shapedirs": sd[perm],
        "posedirs": pd[perm],
        "J_regressor": jr[:, perm],
        "kintree_table": kt,
        "weights": w[perm],
        "f": inv[base["f"]].astype(np.int64),
        "lmk_faces_idx": np.array([0, 1], dtype=np.int64),
        "lmk_bary_coords": np.full((2, 3), 1.0 / 3.0),
        "hands_componentsl": np.eye(45),
        "hands_componentsr": np.eye(45),
        "hands_meanl": np.zeros(45),
        "hands_meanr": np.zeros(45),
    }


# ----------------------------------------------------------------------------- chumpy-style pickles


class _FakeCh:
    """Pickles as ``chumpy.ch.Ch`` with chumpy's state layout (NEWOBJ + dict state)."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x

    def __reduce_ex__(self, protocol: int):
        state = {"x": self.x, "_dirty_vars": set(), "_itr": None, "_depends_on_deps": {},
                 "_make_dense": False, "_make_sparse": False}
        return copyreg.__newobj__, (_FakeCh,), state


class _FakeCsc:
    """Pickles as scipy's ``csc_matrix`` (NEWOBJ + __dict__ state) without scipy."""

    def __init__(self, dense: np.ndarray) -> None:
        self.dense = dense

    def __reduce_ex__(self, protocol: int):
        d = self.dense
        col, row = np.nonzero(d.T)              # column-major order of the non-zeros
        indptr = np.concatenate([[0], np.cumsum(np.bincount(col, minlength=d.shape[1]))]).astype(np.int32)
        state = {"_shape": d.shape, "maxprint": 50, "format": "csc",
                 "data": d[row, col].astype(np.float64), "indices": row.astype(np.int32),
                 "indptr": indptr}
        return copyreg.__newobj__, (_FakeCsc,), state


def _reconstruct_fn():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


class _Py2LayoutPickler(pickle._Pickler):  # the pure-Python pickler: save_global can be hooked
    """Writes chosen globals under the names Python 2 era SMPL files use."""

    def __init__(self, file: io.BytesIO, sparse_module: str) -> None:
        super().__init__(file, protocol=2)
        self._aliases = {
            id(_FakeCh): ("chumpy.ch", "Ch"),
            id(_FakeCsc): (sparse_module, "csc_matrix"),
            id(_reconstruct_fn()): ("numpy.core.multiarray", "_reconstruct"),
        }

    def save_global(self, obj, name=None):  # noqa: D401 - pickle API
        alias = self._aliases.get(id(obj))
        if alias is None:
            return super().save_global(obj, name)
        self.write(pickle.GLOBAL + f"{alias[0]}\n{alias[1]}\n".encode("ascii"))
        self.memoize(obj)


def synthetic_pkl_bytes(model: dict[str, np.ndarray], sparse_module: str = "scipy.sparse.csc") -> bytes:
    """``model`` as an SMPL-style pickle: v_template/shapedirs/weights/J as chumpy ``Ch``,
    J_regressor as a csc_matrix from ``sparse_module``, strings bs_style/bs_type, the rest
    plain arrays (ints as Python ints)."""
    out: dict[str, object] = {}
    for k, v in model.items():
        if k in ("v_template", "shapedirs", "weights"):
            out[k] = _FakeCh(np.asarray(v))
        elif k == "J_regressor":
            out[k] = _FakeCsc(np.asarray(v))
        elif np.ndim(v) == 0:
            out[k] = np.asarray(v).item()
        else:
            out[k] = np.asarray(v)
    out["J"] = _FakeCh(np.asarray(model["J_regressor"]) @ np.asarray(model["v_template"]))
    out["bs_style"] = "lbs"
    out["bs_type"] = "lrotmin"
    buf = io.BytesIO()
    _Py2LayoutPickler(buf, sparse_module).dump(out)
    return buf.getvalue()


def write_synthetic_smpl(path: str | os.PathLike, num_betas: int = 10, seed: int = 0,
                         sparse_module: str = "scipy.sparse.csc") -> Path:
    """Write :func:`make_synthetic_smpl` to ``path`` (atomically): ``.npz`` (plain arrays, no
    pickled objects) or ``.pkl`` (official SMPL pickle layout, see :func:`synthetic_pkl_bytes`)."""
    p = Path(path)
    model = make_synthetic_smpl(num_betas=num_betas, seed=seed)
    if p.suffix == ".npz":
        with atomic_write(p, "wb") as fh:
            np.savez(fh, **model)
    elif p.suffix == ".pkl":
        data = synthetic_pkl_bytes(model, sparse_module)
        with atomic_write(p, "wb") as fh:
            fh.write(data)
    else:
        raise HMError(f"cannot write a body model to {p}: use a .npz or .pkl name")
    return p


def synthetic_body(num_betas: int = 10, seed: int = 0):
    """The synthetic model as an :class:`hmcli.mesh.smpl.SMPLBody` named 'synthetic' (tests,
    benchmarks and the pose prior's IK use it; no files, no licence)."""
    from hmcli.mesh.body import adapt_keypoints_to_cmu
    from hmcli.mesh.smpl import SMPLBody

    return adapt_keypoints_to_cmu(
        SMPLBody.from_arrays(make_synthetic_smpl(num_betas=num_betas, seed=seed), kind="smpl", name="synthetic"))
