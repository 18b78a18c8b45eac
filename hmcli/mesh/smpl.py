"""SMPL and SMPL-X as hm body models (:class:`SMPLBody`).

The fitting path never evaluates the full mesh: :meth:`SMPLBody.rest` is linear in the
betas over precomputed joint and keypoint-vertex bases, and ``posed_keypoints`` (in
:mod:`hmcli.mesh.body`) skins only the two keypoint vertices. :meth:`SMPLBody.vertices`
(the full mesh, once, at the end) goes through the ``smplx`` package's ``SMPLLayer`` /
``SMPLXLayer`` built from the same arrays; models built with :meth:`SMPLBody.from_arrays`
fall back to :func:`lbs_vertices` (a plain torch LBS that equals smplx's, tested against it)
when smplx is not installed. Models loaded from files with :func:`load_smpl` need smplx.

Kinematic tree: SMPL's 24 joints; for SMPL-X its first 22 (pelvis .. wrists, same order
and parents as SMPL's first 22). SMPL-X's jaw, eyes and fingers keep the identity
rotation; their skinning weights are folded into their nearest body ancestor (head,
wrists), which is exact for identity rotations, and the hands are flat (``flat_hand_mean``).

H36M-17 keypoints (the lifter's order) read off the posed body:

===  ==============  =====================================  ====================
idx  H36M joint      SMPL source                            exactness
===  ==============  =====================================  ====================
0    pelvis          joint 0 pelvis                         approx. (same place)
1    right_hip       joint 2 right_hip                      approx. (H36M lower/wider)
2    right_knee      joint 5 right_knee                     approx.
3    right_ankle     joint 8 right_ankle                    approx.
4    left_hip        joint 1 left_hip                       approx. (H36M lower/wider)
5    left_knee       joint 4 left_knee                      approx.
6    left_ankle      joint 7 left_ankle                     approx.
7    spine           joint 6 spine2                         approx. (mid back)
8    thorax          joint 12 neck                          approx. (neck base)
9    nose            vertex: SMPL 332, SMPL-X 9120          surface point
10   head (top)      vertex: SMPL 411, SMPL-X 8980          surface point
11   left_shoulder   joint 16 left_shoulder                 approx.
12   left_elbow      joint 18 left_elbow                    approx.
13   left_wrist      joint 20 left_wrist                    approx.
14   right_shoulder  joint 17 right_shoulder                approx.
15   right_elbow     joint 19 right_elbow                   approx.
16   right_wrist     joint 21 right_wrist                   approx.
===  ==============  =====================================  ====================

``hmcli.mesh.api.load_body_model`` then moves rows 0, 7 and 8 (pelvis, spine, thorax) onto
the pelvis -> neck chain at the lifter's CMU proportions
(:func:`hmcli.mesh.body.adapt_keypoints_to_cmu`); the table is the model's own mapping.

The vertex ids are chosen by topology (6890 vertices: SMPL; 10475: SMPL-X); a model of any
other topology (the synthetic one) names them in its arrays as ``hm_nose_vertex`` and
``hm_headtop_vertex`` (these keys win over the table).

Model files: :func:`load_smpl` looks in ``model_dir``, else ``$HM_SMPL_DIR``, else
``~/.local/share/hm/body_models`` (and its ``smpl/`` / ``smplx/`` subfolder) for
``SMPL_<GENDER>.npz|pkl`` or the official names (``basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl``,
``basicModel_f_lbs_10_207_0_v1.0.0.pkl``, ``basicmodel_m_lbs_10_207_0_v1.0.0.pkl``, ...), and
``SMPLX_<GENDER>.npz|pkl``. A ``.pkl`` is read by :func:`hmcli.mesh.pklsafe.load_smpl_pkl`
(never plain pickle), an ``.npz`` with ``allow_pickle=False``; smplx gets the arrays (SMPL:
``data_struct``; SMPL-X: a sanitized temporary npz), so smplx never unpickles a user file.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hmcli.io.atomic import HMError
from hmcli.mesh.body import (
    H36M_FROM_SMPL,
    SMPL_JOINT_NAMES,
    SMPL_PARENTS,
    BodyModel,
    KeypointMap,
    RestBody,
    forward_kinematics,
    skin_points,
)
from hmcli.mesh.pklsafe import check_smpl_arrays, load_smpl_pkl, normalize_smpl_arrays

__all__ = [
    "SMPLBody",
    "load_smpl",
    "find_smpl_file",
    "load_npz_arrays",
    "load_model_arrays",
    "lbs_vertices",
    "default_model_dir",
    "KEYPOINT_VERTICES",
    "SMPL_URL",
    "SMPLX_URL",
]

SMPL_URL = "https://smpl.is.tue.mpg.de"
SMPLX_URL = "https://smpl-x.is.tue.mpg.de"

# vertex count -> (nose, head top) vertex ids
KEYPOINT_VERTICES: dict[int, tuple[int, int]] = {6890: (332, 411), 10475: (9120, 8980)}

_NUM_JOINTS = {"smpl": 24, "smplx": 22}
_SMPLX_KEYS = ("lmk_faces_idx", "lmk_bary_coords", "hands_componentsl", "hands_componentsr",
               "hands_meanl", "hands_meanr")
_GENDERS = {"neutral": "NEUTRAL", "female": "FEMALE", "male": "MALE"}


def _smplx_module() -> Any | None:
    try:
        import smplx
    except ImportError:
        return None
    return smplx


class SMPLBody(BodyModel):
    """SMPL (24 joints) or SMPL-X (22 body joints) over a dict of model arrays.

    Build it with :func:`load_smpl` (files) or :meth:`from_arrays` (in-memory arrays, e.g.
    :func:`hmcli.mesh.synthetic.make_synthetic_smpl`). ``backend`` says where the full mesh
    of :meth:`vertices` comes from: 'smplx' or 'torch' (:func:`lbs_vertices`).
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], kind: str = "smpl", name: str | None = None,
                 num_betas: int = 10, gender: str = "neutral", source: str = "<arrays>",
                 backend: str = "auto") -> None:
        if kind not in _NUM_JOINTS:
            raise HMError(f"unknown SMPL body model kind {kind!r}: use 'smpl' or 'smplx'")
        check_smpl_arrays(arrays, source)
        d = normalize_smpl_arrays(arrays)
        K = _NUM_JOINTS[kind]
        K_file = d["J_regressor"].shape[0]
        parents_file = [int(p) if 0 <= int(p) < K_file else -1 for p in d["kintree_table"][0]]
        parents = tuple(parents_file[:K])
        if K_file < K or parents != SMPL_PARENTS[:K] or (kind == "smpl" and K_file != K):
            raise HMError(f"{source} is not an {kind.upper()} model: its kinematic tree "
                          f"({K_file} joints) differs from {kind.upper()}'s")
        if backend == "auto":
            backend = "smplx" if _smplx_module() is not None else "torch"
        if backend not in ("smplx", "torch"):
            raise ValueError(f"backend must be 'auto', 'smplx' or 'torch', not {backend!r}")
        if kind == "smplx" and backend == "smplx":
            missing = [k for k in _SMPLX_KEYS if k not in d]
            if missing:
                raise HMError(f"{source} is not an SMPL-X model file: it has no {', '.join(missing)}")

        V = d["v_template"].shape[0]
        P = d["shapedirs"].shape[2]
        # smplx's rule: 10 shape components unless the file has a 300-component space
        S = min(num_betas, 10 if P < 300 else 300, P)
        self.name = name or kind
        self.kind = kind
        self.gender = gender
        self.source = source
        self.backend = backend
        self.parents = parents
        self.joint_names = SMPL_JOINT_NAMES[:K]
        self.num_betas = S
        self.faces = np.ascontiguousarray(d["f"], dtype=np.int64)
        self.num_vertices = V
        self._arrays = d
        self._layer: Any = None                                   # smplx layer, built on first use
        self._torch_cache: dict[str, torch.Tensor] | None = None  # full arrays for backend 'torch'

        nose, top = _keypoint_vertices(d, source)
        kp_idx = np.array([nose, top], dtype=np.int64)                         # (M,)
        f32 = torch.float32
        jr = d["J_regressor"][:K].astype(np.float64)                             # (K, V)
        v_t = d["v_template"].astype(np.float64)                                 # (V, 3)
        sd = d["shapedirs"][:, :, :S].astype(np.float64)                         # (V, 3, S)
        self.J_template = torch.tensor(jr @ v_t, dtype=f32)                      # (K, 3)
        self.J_dirs = torch.tensor(np.einsum("kv,vcs->kcs", jr, sd), dtype=f32)  # (K, 3, S)
        self.kp_template = torch.tensor(v_t[kp_idx], dtype=f32)                 # (M, 3)
        self.kp_dirs = torch.tensor(sd[kp_idx], dtype=f32)                      # (M, 3, S)
        npose = (K - 1) * 9
        if d["posedirs"].shape[2] < npose:
            raise HMError(f"{source} is not a valid {kind.upper()} model file: posedirs has "
                          f"{d['posedirs'].shape[2]} components, fewer than {npose}")
        self.kp_posedirs = torch.tensor(d["posedirs"][kp_idx, :, :npose], dtype=f32)  # (M, 3, (K-1)*9)
        self._fold = _fold_to_body(parents_file, K)                               # (K_file,)
        self.kp_weights = torch.tensor(_fold_weights(d["weights"][kp_idx], self._fold, K), dtype=f32)  # (M, K)

        M = kp_idx.size
        joint_w = torch.zeros(17, K)
        for h, j in H36M_FROM_SMPL.items():
            joint_w[h, j] = 1.0
        vert_w = torch.zeros(17, M)
        vert_w[9, 0] = 1.0
        vert_w[10, 1] = 1.0
        self.keypoints = KeypointMap(joint_w=joint_w, vert_idx=torch.from_numpy(kp_idx), vert_w=vert_w)
        self.canon = torch.eye(3).repeat(K, 1, 1)                                 # (K, 3, 3)
        idx = {n: i for i, n in enumerate(self.joint_names)}
        self.hinge_axes = {
            idx["left_knee"]: torch.tensor([1.0, 0.0, 0.0]),
            idx["right_knee"]: torch.tensor([1.0, 0.0, 0.0]),
            idx["left_elbow"]: torch.tensor([0.0, -1.0, 0.0]),
            idx["right_elbow"]: torch.tensor([0.0, 1.0, 0.0]),
        }

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_arrays(cls, d: Mapping[str, np.ndarray], kind: str = "smpl", name: str | None = None,
                    num_betas: int = 10, gender: str = "neutral", backend: str = "auto") -> "SMPLBody":
        """A body over in-memory arrays (SMPL file layout), e.g. ``make_synthetic_smpl()``;
        ``vertices`` uses smplx when installed (``backend='auto'``), else plain torch LBS."""
        return cls(d, kind=kind, name=name, num_betas=num_betas, gender=gender, backend=backend)

    # ------------------------------------------------------------------ BodyModel

    def rest(self, betas: torch.Tensor) -> RestBody:
        """betas (B, S') with S' <= num_betas -> rest joints (B, K, 3), keypoint vertices (B, M, 3)."""
        s = betas.shape[-1]
        if s > self.num_betas:
            raise ValueError(f"{self.name} has {self.num_betas} shape components, got betas with {s}")
        dt = betas.dtype if betas.is_floating_point() else self.J_template.dtype
        b = betas.to(dt)
        joints = self.J_template.to(dt) + torch.einsum("kcs,bs->bkc", self.J_dirs[..., :s].to(dt), b)  # (B, K, 3)
        kp = self.kp_template.to(dt) + torch.einsum("mcs,bs->bmc", self.kp_dirs[..., :s].to(dt), b)    # (B, M, 3)
        return RestBody(joints=joints, kp_verts=kp)

    def kp_pose_offsets(self, betas: torch.Tensor, rotmats: torch.Tensor) -> torch.Tensor:
        """SMPL pose correctives of the keypoint vertices (B, M, 3) from rotmats (B, K, 3, 3)."""
        B, K = rotmats.shape[:2]
        eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
        feat = (rotmats[:, 1:] - eye).reshape(B, (K - 1) * 9)                  # (B, (K-1)*9)
        return torch.einsum("bp,mcp->bmc", feat, self.kp_posedirs.to(feat.dtype))  # (B, M, 3)

    def vertices(self, betas: torch.Tensor, rotmats: torch.Tensor) -> torch.Tensor:
        """Full posed mesh (B, V, 3), root joint at its rest position (no translation).

        betas (B, S') or (1, S'), S' <= num_betas (missing components are 0); rotmats
        (B, K, 3, 3) local rotations of the body joints."""
        B, K = rotmats.shape[:2]
        if K != self.num_joints:
            raise ValueError(f"{self.name} has {self.num_joints} joints, got rotations for {K}")
        b = torch.zeros(B, self.num_betas, dtype=torch.float32, device=rotmats.device)
        b[:, : betas.shape[-1]] = betas.to(b).expand(B, -1)                      # (B, S)
        R = rotmats.to(torch.float32)
        if self.backend == "torch":
            return lbs_vertices(self._torch_arrays(R.device), b, R, self.parents)
        layer = self._smplx_layer().to(R.device)
        with torch.no_grad() if not (R.requires_grad or b.requires_grad) else contextlib.nullcontext():
            out = layer(betas=b, global_orient=R[:, 0], body_pose=R[:, 1:], transl=torch.zeros(B, 3, device=R.device))
        return out.vertices                                                      # (B, V, 3)

    def to(self, device: torch.device | str) -> "SMPLBody":
        """Move the fitting buffers to ``device`` (in place); returns self."""
        for attr in ("J_template", "J_dirs", "kp_template", "kp_dirs", "kp_posedirs", "kp_weights", "canon"):
            setattr(self, attr, getattr(self, attr).to(device))
        km = self.keypoints
        self.keypoints = KeypointMap(km.joint_w.to(device), km.vert_idx.to(device), km.vert_w.to(device),
                                     None if km.offset is None else km.offset.to(device),
                                     None if km.offset_joint is None else km.offset_joint.to(device), km.leg)
        self.hinge_axes = {k: v.to(device) for k, v in self.hinge_axes.items()}
        return self

    # ------------------------------------------------------------------ full mesh backends

    def _torch_arrays(self, device: torch.device) -> dict[str, torch.Tensor]:
        cache = self._torch_cache
        if cache is None or cache["v_template"].device != device:
            d, K, S = self._arrays, self.num_joints, self.num_betas
            f32 = torch.float32
            cache = {
                "v_template": torch.tensor(d["v_template"], dtype=f32),                       # (V, 3)
                "shapedirs": torch.tensor(d["shapedirs"][:, :, :S], dtype=f32),               # (V, 3, S)
                "posedirs": torch.tensor(d["posedirs"][:, :, : (K - 1) * 9], dtype=f32),      # (V, 3, P)
                "J_regressor": torch.tensor(d["J_regressor"][:K], dtype=f32),                 # (K, V)
                "weights": torch.tensor(_fold_weights(d["weights"], self._fold, K), dtype=f32),  # (V, K)
            }
            cache = {k: v.to(device) for k, v in cache.items()}
            self._torch_cache = cache
        return cache

    def _smplx_layer(self) -> Any:
        if self._layer is not None:
            return self._layer
        smplx = _smplx_module()
        if smplx is None:
            raise HMError("the SMPL mesh needs the smplx package: pip install smplx")
        d = self._arrays
        quiet = contextlib.redirect_stdout(io.StringIO())     # smplx prints warnings on stdout
        if self.kind == "smpl":
            from smplx.utils import Struct

            extra: dict[str, Any] = {}
            if self.num_vertices != 6890:                     # smplx's extra joints index SMPL vertices
                nose = int(self.keypoints.vert_idx[0])
                extra = {"vertex_ids": {k: nose for k in ("nose", "reye", "leye", "rear", "lear")},
                         "use_hands": False, "use_feet_keypoints": False}
            with quiet:
                layer = smplx.SMPLLayer(model_path="", data_struct=Struct(**d), num_betas=self.num_betas, **extra)
        else:
            with tempfile.TemporaryDirectory(prefix="hm-smplx-") as tmp:
                path = Path(tmp) / f"SMPLX_{_GENDERS.get(self.gender, 'NEUTRAL')}.npz"
                keep = {k: (v.astype(np.float32) if v.dtype.kind == "f" else v)
                        for k, v in d.items() if isinstance(v, np.ndarray) and v.dtype.kind in "biuf"}
                np.savez(path, **keep)
                with quiet:
                    layer = smplx.SMPLXLayer(model_path=str(path), ext="npz", num_betas=self.num_betas,
                                             use_pca=False, flat_hand_mean=True, gender=self.gender)
        self._layer = layer.eval()
        return self._layer


def lbs_vertices(arrays: Mapping[str, torch.Tensor], betas: torch.Tensor, rotmats: torch.Tensor,
                 parents: tuple[int, ...]) -> torch.Tensor:
    """Reference SMPL linear blend skinning of every vertex, in torch (same maths as smplx).

    arrays: v_template (V, 3), shapedirs (V, 3, S), posedirs (V, 3, (K-1)*9),
    J_regressor (K, V), weights (V, K); betas (B, S); rotmats (B, K, 3, 3). Returns
    (B, V, 3) with the root joint at its rest position.
    """
    B, K = rotmats.shape[:2]
    v_shaped = arrays["v_template"] + torch.einsum("vcs,bs->bvc", arrays["shapedirs"], betas)   # (B, V, 3)
    J = torch.einsum("kv,bvc->bkc", arrays["J_regressor"], v_shaped)                            # (B, K, 3)
    eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
    feat = (rotmats[:, 1:] - eye).reshape(B, (K - 1) * 9)                                        # (B, P)
    v_posed = v_shaped + torch.einsum("bp,vcp->bvc", feat, arrays["posedirs"])                   # (B, V, 3)
    posed, glob = forward_kinematics(rotmats, J, parents)                                        # (B, K, 3), (B, K, 3, 3)
    return skin_points(v_posed, arrays["weights"], glob, posed, J)                               # (B, V, 3)


def _keypoint_vertices(d: Mapping[str, np.ndarray], source: str) -> tuple[int, int]:
    V = d["v_template"].shape[0]
    if "hm_nose_vertex" in d and "hm_headtop_vertex" in d:
        nose, top = int(np.asarray(d["hm_nose_vertex"])), int(np.asarray(d["hm_headtop_vertex"]))
    elif V in KEYPOINT_VERTICES:
        nose, top = KEYPOINT_VERTICES[V]
    else:
        raise HMError(f"{source}: unknown mesh topology ({V} vertices): hm knows the nose and "
                      f"head-top vertices of SMPL (6890) and SMPL-X (10475) only")
    if not (0 <= nose < V and 0 <= top < V):
        raise HMError(f"{source}: keypoint vertex ids {nose}, {top} are outside the {V}-vertex mesh")
    return nose, top


def _fold_to_body(parents: list[int], K: int) -> np.ndarray:
    """(K_file,) index of each file joint's nearest ancestor among the first K joints."""
    out = np.arange(len(parents))
    for j in range(K, len(parents)):
        a = j
        while a >= K:
            a = parents[a]
        out[j] = a
    return out


def _fold_weights(w: np.ndarray, fold: np.ndarray, K: int) -> np.ndarray:
    """Skinning weights (N, K_file) -> (N, K), extra joints' weights moved to their body ancestor."""
    out = np.zeros((w.shape[0], K), dtype=np.float64)
    np.add.at(out.T, fold, np.asarray(w, dtype=np.float64).T)
    return out


# ----------------------------------------------------------------------------- files


def default_model_dir() -> Path:
    """``$HM_SMPL_DIR`` if set, else ``~/.local/share/hm/body_models``."""
    env = os.environ.get("HM_SMPL_DIR")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "hm" / "body_models"


def _candidate_names(kind: str, gender: str) -> list[str]:
    G = _GENDERS[gender]
    if kind == "smplx":
        return [f"SMPLX_{G}.npz", f"SMPLX_{G}.pkl"]
    official = {
        "neutral": ["basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl", "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"],
        "female": ["basicmodel_f_lbs_10_207_0_v1.1.0.pkl", "basicModel_f_lbs_10_207_0_v1.0.0.pkl"],
        "male": ["basicmodel_m_lbs_10_207_0_v1.1.0.pkl", "basicmodel_m_lbs_10_207_0_v1.0.0.pkl",
                 "basicModel_m_lbs_10_207_0_v1.0.0.pkl"],
    }[gender]
    return [f"SMPL_{G}.npz", f"SMPL_{G}.pkl", *official]


def find_smpl_file(kind: str = "smpl", model_dir: str | os.PathLike | None = None,
                   gender: str = "neutral") -> Path:
    """The model file :func:`load_smpl` would use, or a one-line HMError saying what to get."""
    if kind not in _NUM_JOINTS:
        raise HMError(f"unknown SMPL body model kind {kind!r}: use 'smpl' or 'smplx'")
    if gender not in _GENDERS:
        raise HMError(f"unknown gender {gender!r}: use neutral, female or male")
    root = Path(model_dir).expanduser() if model_dir is not None else default_model_dir()
    names = _candidate_names(kind, gender)
    for folder in (root / kind, root):
        for n in names:
            if (folder / n).is_file():
                return folder / n
    if kind == "smpl":
        what, url = f"SMPL ({gender})", f"{SMPL_URL} (free registration)"
    else:
        what, url = f"SMPL-X ({gender})", f"{SMPLX_URL} (free registration)"
    first = names[0] if kind == "smplx" else names[2]
    other = names[1] if kind == "smplx" else f"{names[1]} / {names[0]}"
    raise HMError(f"no {what} body model in {root}: download it from {url} and put "
                  f"{first} (or {other}) into {root / kind} or {root}, "
                  f"or set HM_SMPL_DIR to the folder that holds it")


def load_npz_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """An ``.npz`` model file's arrays, read with ``allow_pickle=False`` (object members,
    e.g. SMPL-X's ``joint2num``, are skipped)."""
    out: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for k in z.files:
                try:
                    out[k] = z[k]
                except ValueError:      # an object array: would need pickle
                    continue
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise HMError(f"cannot read {path}: not a valid .npz model file ({type(e).__name__})") from None
    return out


def load_model_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A model file (.pkl through the restricted unpickler, .npz without pickle) as arrays."""
    p = Path(path)
    if p.suffix == ".pkl":
        return load_smpl_pkl(p)
    if p.suffix == ".npz":
        d = load_npz_arrays(p)
        check_smpl_arrays(d, str(p))
        return normalize_smpl_arrays(d)
    raise HMError(f"cannot read {p}: body model files are .pkl or .npz")


def load_smpl(kind: str = "smpl", model_dir: str | os.PathLike | None = None, gender: str = "neutral",
              num_betas: int = 10, path: str | os.PathLike | None = None) -> SMPLBody:
    """SMPL / SMPL-X from its official file (see the module docstring for where hm looks);
    ``path`` names the file directly. The full mesh comes from smplx (required)."""
    if _smplx_module() is None:
        raise HMError(f"the {kind.upper()} body model needs the smplx package: pip install smplx")
    p = Path(path) if path is not None else find_smpl_file(kind, model_dir, gender)
    arrays = load_model_arrays(p)
    return SMPLBody(arrays, kind=kind, num_betas=num_betas, gender=gender, source=str(p), backend="smplx")
