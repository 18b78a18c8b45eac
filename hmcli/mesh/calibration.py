"""Per-keypoint offsets that make a body model's H36M-17 keypoints the lifter's (CMU's).

A body model's keypoints are its kinematic joints and a few surface points
(:mod:`hmcli.mesh.body`); the lifter's are CMU motion-capture joints, placed differently:
CMU's head is the end of its head bone and its nose a point in front of the skull base, its
hips sit lower and wider, its elbows and shoulders elsewhere on the bone. Even a body fitted
to clean CMU joints misses them by ~23 mm (Anny), mostly at the head, nose and hips, and
fitting a lifted clip then pulls the joints away from where the lifter put them.

The fix is a calibrated offset per keypoint, rigid in the rest frame of one kinematic joint
(``ATTACH``) and in units of the body's leg length (:class:`hmcli.mesh.body.KeypointMap`).
It is learned from CMU **training** subjects only (never the test subjects 09 and 49, nor
the validation subjects): the body is fitted to the clean ground-truth joints of a fixed
selection of training clips (the same fit ``hm mesh`` runs, 2D = their exact projection),
the mean residual of each keypoint in its joint's frame is added to its offset, and this is
repeated ``rounds`` times (the fit absorbs part of each correction).

Rebuild: ``hm mesh calibrate --data ../shared/data/cmu-amc`` (:mod:`hmcli.mesh.train_calibration`)
(model card: models/mesh-keypoint-offsets.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from hmcli.mesh.body import BodyModel, KeypointMap, forward_kinematics, leg_length

__all__ = ["ATTACH", "DEFAULT_CALIBRATION", "Calibration", "apply_calibration", "load_calibration",
           "save_calibration", "calibrate", "keypoint_residuals", "training_clips"]

DEFAULT_CALIBRATION = Path(__file__).resolve().parents[2] / "models" / "mesh-keypoint-offsets.npz"

# H36M-17 keypoint -> the joint (SMPL tree names) whose rest frame carries its offset: the
# joint the keypoint moves with (for a joint keypoint, its parent; the torso blends, the
# joint they ride on; nose and head, the head). The pelvis is the origin of every
# root-relative figure and gets none.
ATTACH: tuple[str | None, ...] = (
    None,               # pelvis
    "pelvis",           # right hip
    "right_hip",        # right knee
    "right_knee",       # right ankle
    "pelvis",           # left hip
    "left_hip",         # left knee
    "left_knee",        # left ankle
    "spine1",           # spine
    "spine3",           # thorax
    "head",             # nose
    "head",             # head
    "left_collar",      # left shoulder
    "left_shoulder",    # left elbow
    "left_elbow",       # left wrist
    "right_collar",     # right shoulder
    "right_shoulder",   # right elbow
    "right_elbow",      # right wrist
)


@dataclass(frozen=True)
class Calibration:
    """Offsets of one body model: (17, 3) in leg lengths, in the rest frame of ``attach``."""

    body: str
    offset: np.ndarray          # (17, 3)
    attach: tuple[str, ...]     # (17,) joint names ('' = none)


def _attach_index(model: BodyModel, attach: tuple[str | None, ...]) -> torch.Tensor:
    idx = {n: i for i, n in enumerate(model.joint_names)}
    return torch.tensor([idx.get(a or "pelvis", 0) for a in attach], dtype=torch.long)


def _leg(model: BodyModel) -> tuple[int, int, int]:
    idx = {n: i for i, n in enumerate(model.joint_names)}
    return idx["left_hip"], idx["left_knee"], idx["left_ankle"]


def with_offsets(model: BodyModel, offset: torch.Tensor, attach: tuple[str | None, ...] = ATTACH) -> BodyModel:
    """Set the keypoint offsets (17, 3) of ``model`` (in place; returns it)."""
    km = model.keypoints
    off = torch.as_tensor(offset, dtype=torch.float32).clone()
    off[0] = 0.0
    model.keypoints = KeypointMap(km.joint_w, km.vert_idx, km.vert_w, off, _attach_index(model, attach), _leg(model))
    return model


def save_calibration(path: str | os.PathLike, cals: list[Calibration], meta: dict | None = None) -> None:
    arrays: dict[str, np.ndarray] = {}
    for c in cals:
        arrays[f"{c.body}/offset"] = np.asarray(c.offset, np.float32)
        arrays[f"{c.body}/attach"] = np.asarray([a or "" for a in c.attach])
    for k, v in (meta or {}).items():
        arrays[f"meta/{k}"] = np.asarray(v)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def load_calibration(path: str | os.PathLike | None = None) -> dict[str, Calibration]:
    """Body model name -> its calibration ({} when the file does not exist)."""
    p = Path(path) if path is not None else DEFAULT_CALIBRATION
    if not p.is_file():
        return {}
    out = {}
    with np.load(p, allow_pickle=False) as z:
        for key in z.files:
            if key.endswith("/offset"):
                name = key[: -len("/offset")]
                out[name] = Calibration(name, z[key], tuple(str(a) for a in z[f"{name}/attach"]))
    return out


def apply_calibration(model: BodyModel, path: str | os.PathLike | None = None) -> BodyModel:
    """Give ``model`` the calibrated offsets stored for its name (in place; returns it). A
    model without an entry (SMPL / SMPL-X: no files to calibrate on here) is left as is."""
    cal = load_calibration(path).get(model.name)
    if cal is None:
        return model
    return with_offsets(model, torch.from_numpy(cal.offset), tuple(a or None for a in cal.attach))


@torch.no_grad()
def keypoint_residuals(model: BodyModel, rotmats: torch.Tensor, betas: torch.Tensor,
                       target_rel: torch.Tensor) -> torch.Tensor:
    """Per-frame residual of each keypoint, target minus body, root-relative, in the rest
    frame of its attach joint and in leg lengths: (F, 17, 3). rotmats (F, K, 3, 3), betas (S,),
    target_rel (F, 17, 3) root-relative."""
    from hmcli.mesh.body import posed_keypoints

    rest = model.rest(betas[None])
    kp, _ = posed_keypoints(model, rest, rotmats, betas[None])                 # (F, 17, 3)
    _, glob = forward_kinematics(rotmats, rest.joints, model.parents)         # (F, K, 3, 3)
    km = model.keypoints
    att = km.offset_joint if km.offset_joint is not None else _attach_index(model, ATTACH)
    r = target_rel - (kp - kp[:, :1])                                         # (F, 17, 3) world
    local = (glob[:, att].transpose(-1, -2) @ r.unsqueeze(-1)).squeeze(-1)    # (F, 17, 3)
    return local / leg_length(rest.joints, _leg(model))[:, None, None]


def training_clips(data_dir: str | os.PathLike, frames: int = 2400, fps: float = 30.0, seed: int = 0) -> list[dict]:
    """Clean evaluation items (virtual camera, exact 2D) of whole CMU **training** sequences,
    one action after another, until about ``frames`` frames (deterministic)."""
    from hmcli.data.cmu import load_cmu_dir
    from hmcli.data.dataset import make_eval_set
    from hmcli.data.resample import resampled_length
    from hmcli.data.splits import filter_split

    seqs = filter_split(load_cmu_dir(data_dir), "train")
    by_action: dict[str, list] = {}
    for s in seqs:
        by_action.setdefault(s.action, []).append(s)
    picked, total = [], 0
    while total < frames and any(by_action.values()):
        for a in sorted(by_action):
            if by_action[a] and total < frames:
                s = by_action[a].pop(0)
                picked.append(s)
                total += resampled_length(s.num_frames, s.fps, fps)
    return make_eval_set(picked, fps, seed=seed, clip_len=None, cameras_per_sequence=1, corruption=None)


def _fit_clean(model: BodyModel, item: dict, prior, opts, max_frames: int):
    """The body fitted to an item's clean joints (shape estimated): (rotmats, betas, gt_rel)."""
    from hmcli.mesh.fit import FitTargets, fit_body
    from hmcli.types import Camera

    gt = np.asarray(item["joints3d"], np.float32)[:max_frames]
    gt = gt - gt[:, :1]                                                       # (F, 17, 3)
    w, h, K = item["width"], item["height"], item["K"]
    xy = np.asarray(item["xy_clean"], np.float32)[:max_frames] + np.array([w / 2.0 - K[0, 2], h / 2.0 - K[1, 2]], np.float32)
    F = gt.shape[0]
    cam = Camera(float(K[0, 0]), w / 2.0, h / 2.0)
    out = fit_body(model, FitTargets(gt, xy, np.ones((F, 17), np.float32), np.ones(F, bool), cam, 30.0), prior, opts)
    return out.rotmats, out.betas, torch.from_numpy(gt)


def calibrate(model: BodyModel, items: list[dict], prior=None, opts=None, rounds: int = 2, max_frames: int = 250,
              say=lambda m: None) -> tuple[torch.Tensor, list[float]]:
    """Offsets (17, 3) for ``model`` from clean training items (see the module docstring).
    Returns (offsets, mean keypoint error (mm) of the fit before each round and after the last)."""
    from hmcli.mesh.body import posed_keypoints
    
    opts = opts or calibration_options()
    offset = torch.zeros(17, 3)
    errors: list[float] = []
    for r in range(rounds + 1):
        with_offsets(model, offset)
        res_sum, n, err = torch.zeros(17, 3), 0, 0.0
        for it in items:
            R, b, gt = _fit_clean(model, it, prior, opts, max_frames)
            with torch.no_grad():
                kp, _ = posed_keypoints(model, model.rest(b[None]), R, b[None])
                err += float(((kp - kp[:, :1]) - gt).norm(dim=-1).sum()) / 17
            res_sum += keypoint_residuals(model, R, b, gt).sum(0)
            n += gt.shape[0]
        errors.append(1000 * err / n)
        say(f"{model.name}: round {r}: {errors[-1]:.1f} mm over {n} frames")
        if r < rounds:
            offset = offset + res_sum / n
            offset[0] = 0.0
    return offset, errors


def calibration_options():
    """The fit the calibration runs on clean joints: ``hm mesh``'s default with every keypoint
    at full weight and the 3D term at weight 1 (as the shipped offsets were built)."""
    from hmcli.mesh.fit import FitOptions

    return replace(FitOptions(), w_3d=1.0, w3d_joint=(1.0,) * 17)


def mean_leg(model: BodyModel) -> float:
    return float(leg_length(model.rest(torch.zeros(1, model.num_betas)).joints, _leg(model))[0])
