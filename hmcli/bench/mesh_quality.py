"""``hm bench mesh-quality``: how good the fitted meshes are, on truths hm can make.

There are no ground-truth meshes, so three measurements use what is known exactly:

1. **Round trip** per body model: a body of a known random shape posed by known rotations --
   (a) held-out CMU motion (test subjects) turned into rotations by the IK (the joints no H36M
   keypoint moves -- hands, feet, wrists, ankles -- at the pose prior's mean, as the fit's IK
   sets them), (b) smooth random
   draws of the pose prior (:func:`hmcli.bench.mesh.synthetic_clip`) -- seen by a virtual
   camera; its own H36M keypoints (root-relative) are the "lifted" joints and their projection
   the 2D (confidence 1). Fitted with the shape known (fixed to the truth) and estimated, by
   the IK alone (``iters=0``) and with the default refinement. Reported: MPJPE of the fitted
   keypoints, mean geodesic rotation error over the non-leaf joints, and PVE (mean per-vertex
   error of the full mesh, root-relative: vertices minus the pelvis keypoint), plus PVE with
   only the fitted pose (true shape) and only the fitted shape (true pose), and per-joint
   figures in the JSON.
2. **Full chain** on held-out CMU subjects: the lifter's own evaluation items
   (:func:`hmcli.data.dataset.make_eval_set`, seed 0, camera 0: detector-like corrupted 2D)
   -> the shipped lifter (:func:`hmcli.api.lift`) -> fit. Reference: the same body fitted to
   the clean ground truth (root-relative camera-space joints and their exact projection).
   Both fits get the virtual camera's focal length (and 2D shifted so its principal point is
   the image centre, which is exact for a pinhole); the lifter sees the 2D as its evaluation
   does. Reported: PVE chain vs reference, MPJPE vs GT of the lifted joints and of the fitted
   keypoints (IK alone and refined), and of the reference (the body's keypoint floor).
3. **Real video**: detect + lift + fit with the default body model: reprojection error against
   the detector and the temporal jitter (mean acceleration) of the fitted vs lifted joints.

Every figure of one run comes from the same code, data and settings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from hmcli.bench.common import machine

__all__ = ["QualitySettings", "Truth", "Fitted", "rotation_error_deg", "vertex_error_mm", "prior_truth",
           "cmu_truths", "fit_truth", "round_trip", "chain", "video_quality", "mesh_quality",
           "mesh_quality_table", "DEFAULT_VIDEOS", "PVE_GOAL_MM"]

PVE_GOAL_MM = 25.0
DEFAULT_VIDEOS = ("../shared/data/videos/pose_1.mp4", "../shared/data/videos/pose_squats.mp4",
                  "sample_videos/jumping_jacks.mp4")
Say = Callable[[str], None]


@dataclass(frozen=True)
class QualitySettings:
    """What the benchmark measures (defaults: ~5 min on 2 cores with anny)."""

    frames: int = 300                 # round trip: frames per case (CMU: split over cmu_clips clips)
    cmu_clips: int = 3
    chain_frames: int = 1500          # full chain: whole test sequences until about this many frames
    fps: float = 30.0                 # CMU is resampled to this rate
    iters: int | None = None          # refinement iterations (None: FitOptions' default)
    shape_std: float = 0.7            # known random shapes: betas ~ N(0, shape_std^2), clipped to +-2 std
    seed: int = 0
    data: str = "../shared/data/cmu-amc"
    split: str = "test"               # CMU subjects of the round trip and the chain: test (09, 49) or val
                                      # (02, 55: the one to tune on)


@dataclass
class Truth:
    """A posed body whose every part is known. F frames, K joints, S betas."""

    label: str
    lifted: object                    # Pose3DResult: root-relative true keypoints + their projection
    rotmats: torch.Tensor             # (F, K, 3, 3)
    betas: torch.Tensor               # (S,)
    keypoints: torch.Tensor           # (F, 17, 3) camera space
    focal: float | None = None        # None: the default camera (image diagonal)


@dataclass
class Fitted:
    rotmats: torch.Tensor             # (F, K, 3, 3)
    betas: torch.Tensor               # (S,)
    keypoints: torch.Tensor           # (F, 17, 3) camera space
    quality: dict


# ----------------------------------------------------------------------------- metrics


def _rel(kp: torch.Tensor) -> torch.Tensor:
    """(F, 17, 3) -> root-relative (pelvis keypoint at 0)."""
    return kp - kp[:, :1]


def mpjpe_mm(a: torch.Tensor, b: torch.Tensor) -> tuple[float, list[float]]:
    """Root-relative MPJPE of (F, 17, 3) keypoints, mm: (mean, per joint (17,))."""
    e = (_rel(torch.as_tensor(a)) - _rel(torch.as_tensor(b))).norm(dim=-1) * 1000    # (F, 17)
    return float(e.mean()), [float(x) for x in e.mean(0)]


def non_leaf_joints(parents: tuple[int, ...]) -> list[int]:
    return sorted({p for p in parents if p >= 0})


def rotation_error_deg(Ra: torch.Tensor, Rb: torch.Tensor) -> torch.Tensor:
    """Geodesic angle (degrees) between local rotations (F, K, 3, 3) -> (F, K)."""
    tr = (Ra.transpose(-1, -2) @ Rb).diagonal(dim1=-2, dim2=-1).sum(-1)
    return torch.rad2deg(torch.arccos(((tr - 1) / 2).clamp(-1.0, 1.0)))


def _verts_rel(body, betas: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """Root-relative full mesh (f, V, 3): vertices minus the pelvis keypoint (same body frame)."""
    v = body.vertices(betas[None].float(), R.float())               # (f, V, 3) root joint at rest
    rest = body.rest(betas[None].float())
    from hmcli.mesh.body import posed_keypoints

    k, _ = posed_keypoints(body, rest, R.float(), betas[None].float())
    return v - k[:, :1]


@torch.no_grad()
def vertex_error_mm(body, betas_a: torch.Tensor, Ra: torch.Tensor, betas_b: torch.Tensor, Rb: torch.Tensor,
                    groups: torch.Tensor | None = None, chunk: int = 32) -> tuple[float, np.ndarray | None]:
    """PVE (mm) between two posed bodies, root-relative. Ra/Rb (F, K, 3, 3), betas (S,).
    groups: (V,) group id per vertex -> also the mean error per group (G,)."""
    F = Ra.shape[0]
    total = 0.0
    gsum = None if groups is None else torch.zeros(int(groups.max()) + 1, dtype=torch.float64)
    for s in range(0, F, chunk):
        e = min(F, s + chunk)
        d = (_verts_rel(body, betas_a, Ra[s:e]) - _verts_rel(body, betas_b, Rb[s:e])).norm(dim=-1)  # (f, V)
        total += float(d.double().sum())
        if gsum is not None:
            gsum.index_add_(0, groups, d.double().sum(0))
    n = F * body.num_vertices
    if gsum is None:
        return 1000 * total / n, None
    counts = torch.bincount(groups, minlength=gsum.numel()).double().clamp_min(1) * F
    return 1000 * total / n, (1000 * gsum / counts).numpy()


def nearest_joint_groups(body) -> torch.Tensor:
    """(V,) the nearest rest joint of every vertex of the mean body (a body-part label)."""
    with torch.no_grad():
        z = torch.zeros(1, body.num_betas)
        v = body.vertices(z, torch.eye(3).expand(1, body.num_joints, 3, 3).clone())[0]   # (V, 3)
        j = body.rest(z).joints[0]                                                         # (K, 3)
        return torch.cdist(v, j).argmin(1)


# ----------------------------------------------------------------------------- truths


def random_betas(body, std: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(body.num_betas, generator=g) * std).clamp(-2 * std, 2 * std)


def prior_truth(body, frames: int, seed: int, betas: torch.Tensor, prior) -> Truth:
    from hmcli.bench.mesh import synthetic_clip

    lifted, R, kp = synthetic_clip(body, frames, seed=seed, prior=prior, betas=betas)
    return Truth("prior draws", lifted, R, betas, kp, None)


def _keypoints2d(xy: np.ndarray, conf: np.ndarray, width: int, height: int, fps: float, detector: str):
    from hmcli.types import Keypoints2D

    F = xy.shape[0]
    return Keypoints2D(np.asarray(xy, np.float32), np.asarray(conf, np.float32), "h36m17",
                       np.arange(F) / fps, int(width), int(height), np.asarray(conf, np.float32).max(1) > 0,
                       detector=detector)


def _project(kp_cam: torch.Tensor, focal: float, width: int, height: int) -> np.ndarray:
    """(F, 17, 3) camera space -> (F, 17, 2) px, principal point at the image centre."""
    return (kp_cam[..., :2] / kp_cam[..., 2:3] * focal + torch.tensor([width / 2.0, height / 2.0])).numpy()


def action_order(seqs) -> list:
    """Sequences round-robin over their actions (each action's in the given order)."""
    by_action: dict[str, list] = {}
    for s in seqs:
        by_action.setdefault(s.action, []).append(s)
    order = []
    while any(by_action.values()):
        for a in list(by_action):
            if by_action[a]:
                order.append(by_action[a].pop(0))
    return order


def cmu_clips(seqs, frames: int, clips: int, fps: float) -> list[tuple[str, np.ndarray]]:
    """``clips`` windows of ``frames // clips`` frames at ``fps`` from the middle of sequences of
    different actions (round-robin over actions, in subject/trial order): [(trial id, (f, 17, 3))]."""
    from hmcli.data.resample import resample

    per = max(3, frames // max(1, clips))
    out = []
    for s in action_order(seqs):
        full = resample(s.joints, s.fps, fps)                       # (F', 17, 3)
        if full.shape[0] < per:
            continue
        a = (full.shape[0] - per) // 2
        out.append((s.trial_id, full[a:a + per]))
        if len(out) == clips:
            break
    return out


def cmu_truths(body, clips: list[tuple[str, np.ndarray]], betas: torch.Tensor, seed: int,
               prior=None) -> list[Truth]:
    """CMU motion as rotations of ``body`` (shape ``betas``): IK of the camera-space joints, then
    the body's own keypoints posed by those rotations, at the mocap pelvis, are the truth.
    With ``prior`` the joints no H36M keypoint moves (hands, feet, wrists, ankles) are at the
    prior's mean (:func:`hmcli.mesh.fit.prior_fill`), else at the body's rest pose."""
    from hmcli.data.camera import random_camera, world_to_camera
    from hmcli.mesh.body import posed_keypoints
    from hmcli.mesh.fit import ik_only
    from hmcli.types import Pose3DResult

    out = []
    for i, (tid, clip) in enumerate(clips):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC0FFEE, i]))
        cam = random_camera(rng, "any", joints=clip)
        j_cam = torch.tensor(world_to_camera(clip, cam), dtype=torch.float32)    # (F, 17, 3)
        with torch.no_grad():
            R, rest = ik_only(body, j_cam - j_cam[:, :1], betas, prior=prior)
            kp, _ = posed_keypoints(body, rest, R, betas[None])
        kp_cam = kp - kp[:, :1] + j_cam[:, :1]
        uv = _project(kp_cam, cam.fx, cam.width, cam.height)
        k2 = _keypoints2d(uv, np.ones(uv.shape[:2]), cam.width, cam.height, 30.0, "synthetic")
        lifted = Pose3DResult(k2, _rel(kp_cam).numpy().astype(np.float32), "truth", "")
        out.append(Truth(f"CMU {tid}", lifted, R, betas.clone(), kp_cam, float(cam.fx)))
    return out


# ----------------------------------------------------------------------------- fitting


def fit_truth(lifted, body, opts, prior, focal: float | None = None, betas: torch.Tensor | None = None) -> Fitted:
    """``mesh.api.fit`` (shape estimated) or, with ``betas``, the same fit with the shape fixed
    to ``betas`` (:func:`hmcli.mesh.fit.fit_body` with ``init_betas``, targets built as
    ``api.fit`` builds them)."""
    from hmcli.mesh import api as mesh_api
    from hmcli.mesh.fit import fit_body
    from hmcli.mesh.rotations import axis_angle_to_matrix

    if betas is None:
        res = mesh_api.fit(lifted, body, opts, prior=prior, focal=focal)
        R = axis_angle_to_matrix(torch.from_numpy(res.pose))
        return Fitted(R, torch.from_numpy(res.betas), torch.from_numpy(res.joints3d), dict(res.quality))
    kp = lifted.kpts2d
    cam = mesh_api.default_camera(kp.width, kp.height, focal)
    out = fit_body(body, mesh_api.fit_targets(lifted, cam), prior, opts, init_betas=betas)
    return Fitted(out.rotmats, out.betas, out.keypoints, dict(out.quality))


def _compare(body, truth_R, truth_b, truth_kp, fit: Fitted, groups, group_names) -> dict:
    names_h36m = _h36m_names()
    mp, mp_j = mpjpe_mm(fit.keypoints, truth_kp)
    nl = non_leaf_joints(tuple(body.parents))
    rot = rotation_error_deg(fit.rotmats.float(), truth_R.float())             # (F, K)
    pve, by_group = vertex_error_mm(body, fit.betas, fit.rotmats, truth_b, truth_R, groups)
    pve_pose, _ = vertex_error_mm(body, truth_b, fit.rotmats, truth_b, truth_R)
    same_shape = torch.allclose(fit.betas.float(), truth_b.float())
    pve_shape = 0.0 if same_shape else vertex_error_mm(body, fit.betas, truth_R, truth_b, truth_R)[0]
    worst = np.argsort(-by_group)[:3]
    return {
        "mpjpe_mm": mp, "rot_deg": float(rot[:, nl].mean()), "pve_mm": pve,
        "pve_pose_only_mm": pve_pose, "pve_shape_only_mm": pve_shape,
        "per_joint_mm": dict(zip(names_h36m, mp_j)),
        "per_joint_rot_deg": {body.joint_names[k]: float(rot[:, k].mean()) for k in nl},
        "pve_by_part_mm": {group_names[g]: float(by_group[g]) for g in range(len(by_group))},
        "worst_parts": ", ".join(f"{group_names[g]} {by_group[g]:.0f}" for g in worst),
        "betas_err": float((fit.betas.float() - truth_b.float()).abs().mean()),
    }


def _h36m_names() -> list[str]:
    from hmcli.skeleton.joints import H36M17

    return list(H36M17.joints)


def _options(settings: QualitySettings, iters: int | None):
    from hmcli.mesh.fit import FitOptions

    o = FitOptions()
    it = settings.iters if iters is None else iters
    return o if it is None else replace(o, iters=it)


# ----------------------------------------------------------------------------- the three parts


def round_trip(body, settings: QualitySettings, prior, say: Say = lambda m: None, seqs=None) -> list[dict]:
    """Rows of part 1 for one body model (see the module docstring)."""
    groups = nearest_joint_groups(body)
    betas = random_betas(body, settings.shape_std, settings.seed + 1)
    truths: list[tuple[str, list[Truth]]] = []
    if seqs:
        clips = cmu_clips(seqs, settings.frames, settings.cmu_clips, settings.fps)
        truths.append(("CMU test poses (IK)", cmu_truths(body, clips, betas, settings.seed, prior)))
    truths.append(("prior draws", [prior_truth(body, settings.frames, settings.seed, betas, prior)]))
    rows = []
    for case, ts in truths:
        for shape in ("known", "estimated"):
            for fit_name, iters in (("IK only", 0), ("IK + refinement", None)):
                opts = _options(settings, iters)
                say(f"{body.name}: {case}, shape {shape}, {fit_name}")
                t0 = time.perf_counter()
                parts, frames = [], 0
                for t in ts:
                    f = fit_truth(t.lifted, body, opts, prior, t.focal, t.betas if shape == "known" else None)
                    parts.append((t.rotmats.shape[0], _compare(body, t.rotmats, t.betas, t.keypoints, f, groups,
                                                               body.joint_names)))
                    frames += t.rotmats.shape[0]
                row = _weighted(parts)
                row.update({"part": "round trip", "body_model": body.name, "case": case, "shape": shape,
                            "fit": fit_name, "iters": opts.iters, "frames": frames,
                            "clips": ", ".join(t.label for t in ts), "seconds": time.perf_counter() - t0})
                rows.append(row)
    return rows


def _weighted(parts: list[tuple[int, dict]]) -> dict:
    """Frame-weighted mean of the numeric (and per-key dict) figures of several clips."""
    n = sum(w for w, _ in parts)
    out: dict = {}
    for key, v in parts[0][1].items():
        if isinstance(v, float):
            out[key] = sum(w * p[key] for w, p in parts) / n
        elif isinstance(v, dict):
            out[key] = {k: sum(w * p[key][k] for w, p in parts) / n for k in v}
    groups = out.get("pve_by_part_mm")
    if groups:
        worst = sorted(groups.items(), key=lambda kv: -kv[1])[:3]
        out["worst_parts"] = ", ".join(f"{k} {v:.0f}" for k, v in worst)
    return out


def chain_items(seqs, settings: QualitySettings) -> list[dict]:
    """The lifter's evaluation items (seed 0, camera 0) of whole test sequences, one action after
    another, until about ``chain_frames`` frames."""
    from hmcli.data.dataset import make_eval_set
    from hmcli.data.resample import resampled_length

    picked, total = [], 0
    for s in action_order(seqs):
        if total >= settings.chain_frames:
            break
        picked.append(s)
        total += resampled_length(s.num_frames, s.fps, settings.fps)
    return make_eval_set(picked, settings.fps, seed=0, clip_len=None, cameras_per_sequence=1)


def _centred(xy: np.ndarray, K: np.ndarray, width: int, height: int) -> np.ndarray:
    """2D of a camera with principal point (cx, cy) as seen by one with it at the image centre."""
    return xy + np.array([width / 2.0 - K[0, 2], height / 2.0 - K[1, 2]], np.float32)


def chain(body, seqs, settings: QualitySettings, prior, lifter, say: Say = lambda m: None) -> list[dict]:
    """Rows of part 2 (see the module docstring)."""
    from hmcli import api
    from hmcli.types import Pose3DResult

    groups = nearest_joint_groups(body)
    items = chain_items(seqs, settings)
    acc: dict[str, list[tuple[int, dict]]] = {}
    t0 = time.perf_counter()
    for it in items:
        tid = f"{it['subject']}_{it['trial']}"
        w, h, K = it["width"], it["height"], it["K"]
        gt = it["joints3d"] - it["joints3d"][:, :1]                                        # (F, 17, 3)
        F = gt.shape[0]
        say(f"chain {tid}: lifting {F} frames")
        lifted = api.lift(_keypoints2d(it["xy"], it["conf"], w, h, settings.fps, "synthetic-corrupt"), lifter)
        lift_mm, lift_j = mpjpe_mm(torch.from_numpy(lifted.joints3d), torch.from_numpy(gt))
        noisy = Pose3DResult(_keypoints2d(_centred(it["xy"], K, w, h), it["conf"], w, h, settings.fps, "synthetic-corrupt"),
                             lifted.joints3d, lifted.model_id, lifted.model_hash)
        clean = Pose3DResult(_keypoints2d(_centred(it["xy_clean"], K, w, h), np.ones((F, 17)), w, h, settings.fps, "clean"),
                             gt.astype(np.float32), "ground truth", "")
        focal = float(K[0, 0])
        say(f"chain {tid}: reference fit")
        ref = fit_truth(clean, body, _options(settings, None), prior, focal)
        r_mm, r_j = mpjpe_mm(ref.keypoints, torch.from_numpy(gt))
        acc.setdefault("reference", []).append((F, {"mpjpe_mm": r_mm, "per_joint_mm": dict(zip(_h36m_names(), r_j)),
                                                    "lift_mpjpe_mm": 0.0}))
        for fit_name, iters in (("IK only", 0), ("IK + refinement", None)):
            say(f"chain {tid}: {fit_name}")
            f = fit_truth(noisy, body, _options(settings, iters), prior, focal)
            m, mj = mpjpe_mm(f.keypoints, torch.from_numpy(gt))
            pve, by_group = vertex_error_mm(body, f.betas, f.rotmats, ref.betas, ref.rotmats, groups)
            vs_ref, _ = mpjpe_mm(f.keypoints, ref.keypoints)
            acc.setdefault(fit_name, []).append((F, {
                "mpjpe_mm": m, "lift_mpjpe_mm": lift_mm, "pve_mm": pve, "mpjpe_vs_reference_mm": vs_ref,
                "rot_deg": float(rotation_error_deg(f.rotmats, ref.rotmats)[:, non_leaf_joints(tuple(body.parents))].mean()),
                "per_joint_mm": dict(zip(_h36m_names(), mj)), "lift_per_joint_mm": dict(zip(_h36m_names(), lift_j)),
                "pve_by_part_mm": {body.joint_names[g]: float(by_group[g]) for g in range(len(by_group))},
                "accel_fit_mm": f.quality.get("accel_fit_mm", math.nan),
                "accel_lift_mm": f.quality.get("accel_lift_mm", math.nan),
            }))
    trials = ", ".join(f"{it['subject']}_{it['trial']}" for it in items)
    frames = sum(it["joints3d"].shape[0] for it in items)
    rows = []
    labels = {"reference": "clean GT joints -> fit (reference)", "IK only": "noisy 2D -> lifter -> IK",
              "IK + refinement": "noisy 2D -> lifter -> IK + refinement"}
    for key in ("reference", "IK only", "IK + refinement"):
        row = _weighted(acc[key])
        row.update({"part": "chain", "body_model": body.name, "case": labels[key], "shape": "estimated",
                    "fit": "IK + refinement" if key == "reference" else key, "frames": frames, "clips": trials,
                    "lifter": lifter.model_id if hasattr(lifter, "model_id") else str(lifter)})
        rows.append(row)
    rows[-1]["seconds"] = time.perf_counter() - t0
    return rows


def video_quality(videos: list[str], body, prior, lifter, settings: QualitySettings, say: Say = lambda m: None) -> list[dict]:
    """Rows of part 3 (see the module docstring)."""
    from pathlib import Path

    from hmcli import api
    from hmcli.mesh import api as mesh_api

    rows = []
    for v in videos:
        if not Path(v).is_file():
            rows.append({"part": "video", "body_model": body.name, "case": Path(v).name, "note": "not found"})
            continue
        say(f"video {Path(v).name}: detect + lift")
        t0 = time.perf_counter()
        kp = api.detect(v)
        lifted = api.lift(kp, lifter)
        t_lift = time.perf_counter() - t0
        for fit_name, iters in (("IK only", 0), ("IK + refinement", None)):
            say(f"video {Path(v).name}: {fit_name}")
            res = mesh_api.fit(lifted, body, _options(settings, iters), prior=prior)
            q = res.quality
            rows.append({"part": "video", "body_model": body.name, "case": Path(v).name, "shape": "estimated",
                         "fit": fit_name, "frames": kp.num_frames, "fps": kp.fps,
                         "detected": int(np.asarray(kp.detected).sum()),
                         "reproj_px": q.get("reproj_px"), "reproj_pct_height": q.get("reproj_pct_height"),
                         "accel_fit_mm": q.get("accel_fit_mm"), "accel_lift_mm": q.get("accel_lift_mm"),
                         "mpjpe_to_lift_mm": q.get("mpjpe_to_lift_mm"), "person_height_px": q.get("person_height_px"),
                         "seconds": q.get("seconds"), "detect_lift_seconds": t_lift})
    return rows


def _load_body(name: str):
    from hmcli.mesh import api as mesh_api

    if name == "synthetic":
        from hmcli.mesh.synthetic import synthetic_body

        return synthetic_body()
    return mesh_api.load_body_model(name)


def mesh_quality(body_models: list[str], settings: QualitySettings = QualitySettings(),
                 chain_body: str | None = "auto", videos: list[str] | None = None,
                 lifter_model: str | None = None, on_progress: Say | None = None) -> dict:
    """All three parts (``chain_body`` None: no chain; ``videos`` None or empty: no videos)."""
    from hmcli.data.cmu import load_cmu_dir
    from hmcli.data.splits import TEST_SUBJECTS, VAL_SUBJECTS
    from hmcli.io.atomic import HMError
    from hmcli.mesh.prior import default_prior_path, load_prior

    say = on_progress or (lambda m: None)
    t_all = time.perf_counter()
    def prior_of(body):  # each body's own prior, if it has one
        return load_prior(default_prior_path(body.name))

    seqs = []
    if settings.data:
        if settings.split not in ("test", "val"):
            raise HMError(f"split must be test or val, got {settings.split!r}")
        say(f"loading CMU {settings.split} subjects")
        try:
            seqs = load_cmu_dir(settings.data, subjects=list(TEST_SUBJECTS if settings.split == "test" else VAL_SUBJECTS))
        except (OSError, ValueError, HMError):
            seqs = []
    rows: list[dict] = []
    notes: list[str] = []
    if settings.data and not seqs:
        notes.append(f"no CMU test sequences under {settings.data}: round trip on prior draws only, no chain")
    seconds: dict[str, float] = {}
    bodies: dict[str, object] = {}
    for name in body_models:
        say(f"loading {name}")
        t0 = time.perf_counter()
        try:
            body = _load_body(name)
        except HMError as e:
            rows.append({"part": "round trip", "body_model": name, "case": "-", "note": f"not available: {e}"})
            continue
        bodies[body.name] = body
        rows += round_trip(body, settings, prior_of(body), say, seqs)
        seconds[f"round trip {body.name}"] = time.perf_counter() - t0
    lifter = None
    if (chain_body and seqs) or videos:
        from hmcli import api

        lifter = api.load_lifter(lifter_model)
    default_body = None
    if chain_body and seqs:
        t0 = time.perf_counter()
        try:
            default_body = _load_body(chain_body)
            rows += chain(default_body, seqs, settings, prior_of(default_body), lifter, say)
        except HMError as e:
            rows.append({"part": "chain", "body_model": chain_body, "case": "-", "note": f"not available: {e}"})
        seconds["chain"] = time.perf_counter() - t0
    if videos:
        t0 = time.perf_counter()
        try:
            body = default_body if default_body is not None and chain_body == "auto" else _load_body("auto")
            rows += video_quality(list(videos), body, prior_of(body), lifter, settings, say)
        except HMError as e:
            rows.append({"part": "video", "body_model": "auto", "case": "-", "note": f"not available: {e}"})
        seconds["videos"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - t_all
    targets = [{"target": f"{r['body_model']} round-trip PVE, {r['case']}, shape {r['shape']}, {r['fit']} (mm)",
                "value": r["pve_mm"], "need": f"<= {PVE_GOAL_MM:.0f}", "ok": r["pve_mm"] <= PVE_GOAL_MM}
               for r in rows if r.get("part") == "round trip" and r.get("fit") == "IK + refinement" and "pve_mm" in r]
    for r in rows:
        if r.get("part") == "chain" and r.get("fit") == "IK + refinement" and "lift_mpjpe_mm" in r and r.get("pve_mm") is not None:
            targets.append({"target": f"{r['body_model']} chain: fitted joints MPJPE vs GT <= lifted joints' (mm)",
                            "value": r["mpjpe_mm"], "need": f"<= {r['lift_mpjpe_mm']:.1f}",
                            "ok": r["mpjpe_mm"] <= r["lift_mpjpe_mm"]})
    return {"benchmark": "mesh-quality", "settings": asdict(settings) | {"body_models": body_models,
            "chain_body": chain_body, "videos": list(videos or []), "lifter": lifter_model or "default"},
            "rows": rows, "targets": targets, "notes": notes, "seconds": seconds, "machine": machine()}


# ----------------------------------------------------------------------------- table


def _n(v, spec: str = ".1f") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:{spec}}"


def mesh_quality_table(result: dict) -> tuple[str, list[str], list[list[str]]]:
    """One table for the three parts. Round trip: errors against the known truth; chain: joints
    vs the mocap GT, PVE / rotations vs the reference fit; video: joints vs the lift."""
    cols = ["part", "body", "case", "shape", "fit", "frames", "MPJPE mm", "rot °", "PVE mm",
            "PVE pose/shape mm", "lift MPJPE mm", "reproj px (% h)", "accel fit/lift mm/f²", "note"]
    out = []
    for r in result["rows"]:
        if "note" in r and "mpjpe_mm" not in r and "reproj_px" not in r:
            out.append([r.get("part", ""), r.get("body_model", ""), r.get("case", ""), "", "", "", "", "", "", "", "", "",
                        "", r["note"]])
            continue
        part = r["part"]
        pose_shape = (f"{_n(r.get('pve_pose_only_mm'))} / {_n(r.get('pve_shape_only_mm'))}"
                      if "pve_pose_only_mm" in r else "-")
        reproj = (f"{_n(r.get('reproj_px'), '.1f')} ({_n(r.get('reproj_pct_height'), '.2f')} %)"
                  if r.get("reproj_px") is not None else "-")
        accel = (f"{_n(r.get('accel_fit_mm'), '.2f')} / {_n(r.get('accel_lift_mm'), '.2f')}"
                 if r.get("accel_fit_mm") is not None else "-")
        if part == "round trip":
            note = f"worst parts: {r.get('worst_parts', '')}"
        elif part == "chain":
            note = ("MPJPE vs GT" if r["case"].startswith("clean") else
                    f"MPJPE vs GT; vs reference {_n(r.get('mpjpe_vs_reference_mm'))} mm; PVE, rot vs reference")
        else:
            note = f"MPJPE fit vs lift; {r.get('detected', '?')} frames detected"
        mp = r.get("mpjpe_mm", r.get("mpjpe_to_lift_mm"))
        out.append([part, r["body_model"], r["case"], r.get("shape", ""), r.get("fit", ""), str(r.get("frames", "")),
                    _n(mp), _n(r.get("rot_deg")), _n(r.get("pve_mm")), pose_shape,
                    _n(r.get("lift_mpjpe_mm")) if part == "chain" and not r["case"].startswith("clean") else "-",
                    reproj, accel, note])
    s = result.get("seconds", {})
    return (f"hm mesh quality (round trip vs known truth, chain vs reference, video vs detector; "
            f"{_n(s.get('total'), '.0f')} s)"), cols, out
