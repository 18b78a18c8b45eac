"""The real 2D detector's error pattern, measured on rendered truth (``scripts/render_detect.py``
writes ``bench_results/detector-2d.*``; ``hm bench rendered`` scores 3D on the same renders).

Issue #35. The lifter was trained on CMU joint centres projected through virtual cameras, but
on real video it sees BlazePose landmarks mapped to H36M-17 (:func:`hmcli.skeleton.to_h36m`).
This benchmark measures how the two differ on images whose truth is known:

1. CMU motion (30 fps windows of training and held-out subjects) is turned into rotations of
   the open Anny body by the analytic IK (:func:`hmcli.mesh.fit.ik_only`, hands and feet at the
   pose prior's mean), with a random shape per clip.
2. Each clip is seen by a few virtual cameras (1280x720, pinhole, principal point at the image
   centre, focal 0.7-0.9 x width, 0.8-1.8 m high, all around the person, pushed back until
   the whole clip's keypoints are inside the image) and the shaded mesh is drawn
   (:func:`hmcli.render.mesh.draw_mesh`, opaque, a skin colour) over a plain grey or a
   blurred colour-noise background (the two looks alternate over cameras).
3. The real detector (:class:`hmcli.detect.mediapipe_pose.MediaPipePose`, the video mode
   ``hm detect`` uses: tracking + landmark smoothing) runs on the frames in order.
   Its own 3D (``pose_world_landmarks``) is recorded beside the 2D (``RenderedClip.det_world``).
4. Its 33 landmarks, mapped to H36M-17 with ``to_h36m(..., "blazepose33")``, are compared
   with the **truth: the posed body's own H36M-17 keypoints projected by the same camera**.
   Those are Anny's CMU-calibrated keypoints (:mod:`hmcli.mesh.calibration`, the ones the
   mesh fit uses): within ~11 mm of CMU's joint centres on training data, i.e. what the
   lifter was trained on, but exactly consistent with the rendered surface. (The CMU joints
   themselves, which the IK does not reproduce exactly, are kept as ``cmu_xy`` / ``cmu3d``.)

Figures (all 2D lengths in units of the person's height ``h``: the body's standing height in
metres projected at the pelvis depth, ``H * f / z_pelvis`` pixels, so they do not depend on
the pose):

* detection rate (frames with a person);
* per joint: mean offset detector minus truth in a body-aligned image frame -- ``up`` along the
  truth's pelvis -> thorax direction, ``left`` perpendicular to it, towards the person's left
  side (the sign of left shoulder/hip minus right shoulder/hip) -- and the spread (std per
  axis, and the mean error length);
* left/right swaps per pair: the detector's left and right joints fit the truth better crossed
  (crossed error < half the straight error, and the straight error > 0.05 h);
* confidence (the H36M joint's, min of its sources) vs error;
* jitter: mean |second difference| (acceleration, h / frame^2) of the detector's joints and of
  the truth's, and the lag-1 autocorrelation of the error (how slowly it drifts).

``fit_mapping`` learns a correction of the BlazePose -> H36M mapping from training-subject
renders (an affine combination of a few landmarks per joint, weights summing to 1; see
:mod:`hmcli.skeleton.blazepose_map`), and ``evaluate`` compares mappings on held-out renders,
in 2D and through the shipped lifter in 3D.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from hmcli.data.rendered import RenderedClip, load_clips, save_clips

__all__ = ["Detector2DSettings", "RenderedClip", "LOOKS", "render_clip", "render_set", "body_frame",
           "error_pattern", "swap_rates", "save_clips", "load_clips"]

Say = Callable[[str], None]

#: name -> (mesh colour BGR, background): ``grey`` a plain (90, 90, 90), ``noise`` blurred colour noise.
LOOKS: dict[str, tuple[tuple[int, int, int], str]] = {
    "skin-grey": ((120, 150, 200), "grey"),
    "skin-noise": ((110, 140, 195), "noise"),
}

#: Training-subject clips (fit the correction) and held-out ones (measure it): trial id, first
#: frame at 30 fps. Several actions each; the held-out subjects are the test split (09, 49).
TRAIN_CLIPS: tuple[tuple[str, int], ...] = (("05_02", 60), ("06_12", 60), ("13_30", 300), ("13_11", 60),
                                            ("06_13", 400), ("05_10", 60))
TEST_CLIPS: tuple[tuple[str, int], ...] = (("09_12", 60), ("49_03", 60), ("49_09", 60), ("49_18", 60),
                                           ("09_11", 0))


@dataclass(frozen=True)
class Detector2DSettings:
    data: str = "../shared/data/cmu-amc"
    frames: int = 120                 # frames per clip (30 fps)
    cameras: int = 2                  # cameras per clip (the looks alternate)
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    shape_std: float = 0.7            # Anny betas ~ N(0, shape_std^2), clipped to +-2 std, one per clip
    seed: int = 0
    # "framed": the cameras below (whole body inside a 1280x720 frame); or a training camera kind of
    # hmcli.data.camera (ceiling, phone, webcam, sports, handheld, standard), drawn by draw_camera
    camera_kind: str = "framed"
    train_clips: tuple[tuple[str, int], ...] = TRAIN_CLIPS
    test_clips: tuple[tuple[str, int], ...] = TEST_CLIPS


# ----------------------------------------------------------------------------- rendering


def _background(rng: np.random.Generator, kind: str, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 BGR background."""
    if kind == "grey":
        return np.full((height, width, 3), 90, np.uint8)
    small = (rng.random((height // 8, width // 8, 3)) * 255).astype(np.uint8)   # (H/8, W/8, 3)
    import cv2

    big = cv2.resize(cv2.GaussianBlur(small, (3, 3), 0), (width, height), interpolation=cv2.INTER_LINEAR)
    return (big.astype(np.float32) * 0.5 + 60).astype(np.uint8)


def _camera(rng: np.random.Generator, clip_world: np.ndarray, settings: Detector2DSettings, margin_px: float = 20.0):
    """A :class:`hmcli.data.camera.Camera` around ``clip_world`` (F, 17, 3), pushed back until every
    joint of every frame projects at least ``margin_px`` inside the image (and 1 m deep)."""
    from hmcli.data.camera import Camera, look_at, project, world_to_camera

    w, h = settings.width, settings.height
    f = float(rng.uniform(0.7, 0.9)) * w
    target = clip_world[:, 0].mean(axis=0)                                       # (3,)
    yaw = float(rng.uniform(0.0, 2.0 * np.pi))
    cam_h = float(rng.uniform(0.8, 1.8))
    d = f * 1.9 / (0.85 * h)                                                     # 1.9 m spans 85 % of the height
    for _ in range(30):
        pos = np.array([target[0] + d * np.sin(yaw), cam_h, target[2] + d * np.cos(yaw)])
        R, t = look_at(pos, target)
        cam = Camera(R=R, t=t, fx=f, fy=f, cx=w / 2.0, cy=h / 2.0, width=w, height=h, kind="render")
        jc = world_to_camera(clip_world, cam)                                    # (F, 17, 3)
        uv = project(jc, cam)                                                    # (F, 17, 2)
        # the head top is ~0.15 m above the H36M head keypoint: keep room for it
        ok = (jc[..., 2].min() > 1.0 and uv[..., 0].min() > margin_px and uv[..., 0].max() < w - margin_px
              and uv[..., 1].min() > margin_px + 0.12 * f / jc[..., 2].min() and uv[..., 1].max() < h - margin_px)
        if ok:
            return cam
        d *= 1.1
    return cam


def render_clip(body, prior, clip_world: np.ndarray, betas: torch.Tensor, cam, look: str,
                rng: np.random.Generator, label: str, split: str, keep_frame: int | None = None):
    """Pose ``body`` with ``clip_world`` (F, 17, 3) CMU joints, render every frame through ``cam``,
    run BlazePose on the frames in order. Returns (RenderedClip, the frame ``keep_frame`` or None)."""
    from hmcli.data.camera import world_to_camera
    from hmcli.detect.mediapipe_pose import MediaPipePose
    from hmcli.detect.world import WorldRecorder
    from hmcli.mesh.body import posed_keypoints
    from hmcli.mesh.fit import ik_only
    from hmcli.render.mesh import draw_mesh
    from hmcli.types import Camera as VideoCamera

    colour, bg_kind = LOOKS[look]
    j_cam = torch.tensor(world_to_camera(clip_world, cam), dtype=torch.float32)   # (F, 17, 3)
    with torch.no_grad():
        R, rest = ik_only(body, j_cam - j_cam[:, :1], betas, prior=prior)       # (F, K, 3, 3)
        kp, _ = posed_keypoints(body, rest, R, betas[None])                     # (F, 17, 3) body frame
        verts = body.vertices(betas[None], R)                                   # (F, V, 3) same frame
        shift = j_cam[:, :1] - kp[:, :1]                                        # (F, 1, 3) to the mocap pelvis
        kp, verts = kp + shift, verts + shift
        rest_v = body.vertices(betas[None], torch.eye(3).expand(1, body.num_joints, 3, 3).clone())[0]
    stature = float(rest_v[:, 1].max() - rest_v[:, 1].min())                    # m (y is the long axis at rest)
    vc = VideoCamera(float(cam.fx), float(cam.cx), float(cam.cy))
    kp_np, verts_np = kp.numpy(), verts.numpy()
    truth_xy = vc.project(kp_np)                                                # (F, 17, 2)
    cmu3d = j_cam.numpy()
    cmu_xy = vc.project(cmu3d)                                                  # (F, 17, 2)
    height_px = stature * float(cam.fx) / kp_np[:, 0, 2]                        # (F,)
    F = clip_world.shape[0]
    det_xy = np.zeros((F, 33, 2), np.float32)
    det_conf = np.zeros((F, 33), np.float32)
    detected = np.zeros(F, bool)
    kept = None
    with MediaPipePose() as mp:
        det = WorldRecorder(mp)                                                 # also keeps its 3D
        for i in range(F):
            frame = _background(rng, bg_kind, cam.width, cam.height)            # (H, W, 3)
            draw_mesh(frame, verts_np[i], body.faces, vc, "shaded", colour, 1.0)
            if keep_frame is not None and i == keep_frame:
                kept = frame.copy()
            xy, conf, ok = det.detect(frame, i / 30.0)
            det_xy[i], det_conf[i], detected[i] = xy, conf, ok
    clip = RenderedClip(label, split, det_xy, det_conf, detected, truth_xy.astype(np.float32),
                        kp_np.astype(np.float32), cmu_xy.astype(np.float32), cmu3d.astype(np.float32),
                        height_px.astype(np.float32), float(cam.fx), int(cam.width), int(cam.height),
                        {"stature_m": stature, "look": look}, det.world)
    return clip, kept


def render_set(settings: Detector2DSettings = Detector2DSettings(), say: Say = lambda m: None,
               keep_frame: int | None = 30, split: str | None = None) -> tuple[list[RenderedClip], np.ndarray | None]:
    """Every clip of ``settings`` through ``settings.cameras`` cameras: (clips, one kept frame).
    ``split`` ("train" or "test"): only that subject split's clips, with the same cameras, bodies and
    looks they get in the whole set (a clip's draws depend on its place in the whole list)."""
    from hmcli.data.camera import check_camera_kind, draw_camera
    from hmcli.data.cmu import load_cmu_dir
    from hmcli.data.resample import resample
    from hmcli.data.splits import split_of
    from hmcli.mesh import api as mesh_api
    from hmcli.mesh.prior import default_prior_path, load_prior

    if settings.camera_kind != "framed":
        check_camera_kind(settings.camera_kind)
    body = mesh_api.load_body_model("anny")
    prior = load_prior(default_prior_path(body.name))   # only its fill of the unseen joints is used
    wanted = [c for c in settings.train_clips + settings.test_clips]
    subjects = sorted({tid.split("_")[0] for tid, _ in wanted if split is None or split_of(tid.split("_")[0]) == split})
    say(f"loading CMU subjects {', '.join(subjects)}")
    seqs = {s.trial_id: s for s in load_cmu_dir(settings.data, subjects=subjects)}
    out: list[RenderedClip] = []
    kept = None
    looks = list(LOOKS)
    n = 0
    for ci, (tid, start) in enumerate(wanted):
        split_c = split_of(tid.split("_")[0])
        if split is not None and split_c != split:
            n += settings.cameras                                               # keep the looks' rotation
            continue
        if tid not in seqs:
            say(f"{tid}: not found, skipped")
            continue
        full = resample(seqs[tid].joints, seqs[tid].fps, settings.fps)         # (F', 17, 3)
        a = min(start, max(0, full.shape[0] - settings.frames))
        clip_world = full[a:a + settings.frames]                                # (F, 17, 3)
        for k in range(settings.cameras):
            rng = np.random.default_rng(np.random.SeedSequence([settings.seed, ci, k]))
            g = torch.Generator().manual_seed(int(rng.integers(1 << 31)))
            betas = (torch.randn(body.num_betas, generator=g) * settings.shape_std).clamp(
                -2 * settings.shape_std, 2 * settings.shape_std)
            if settings.camera_kind == "framed":
                cam = _camera(rng, clip_world, settings)
            else:
                cam = draw_camera(rng, settings.camera_kind, joints=clip_world)
            look = looks[n % len(looks)]
            n += 1
            t0 = time.perf_counter()
            kind = "" if settings.camera_kind == "framed" else f"{settings.camera_kind} "
            c, fr = render_clip(body, prior, clip_world, betas, cam, look, rng,
                                f"{tid} cam{k} {kind}{look}", split_c, keep_frame if kept is None else None)
            kept = fr if kept is None else kept
            c.meta.update({"trial": tid, "action": seqs[tid].action, "start": a, "camera": k,
                           "camera_kind": settings.camera_kind, "betas": betas.tolist(),
                           "seconds": time.perf_counter() - t0})
            say(f"{c.label} ({split_c}, {seqs[tid].action}): {int(c.detected.sum())}/{len(c.detected)} detected, "
                f"{time.perf_counter() - t0:.0f} s")
            out.append(c)
    return out, kept


# ----------------------------------------------------------------------------- analysis


def body_frame(truth_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Body-aligned image axes from the truth (F, 17, 2) H36M-17 px -> (up (F, 2), left (F, 2)), unit.

    up: pelvis -> thorax. left: perpendicular to up, on the side of the person's left
    (sign of (left shoulder - right shoulder) + (left hip - right hip) along it)."""
    up = truth_xy[:, 8] - truth_xy[:, 0]                                         # (F, 2)
    up = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    perp = np.stack([-up[:, 1], up[:, 0]], axis=-1)                              # (F, 2)
    side = (truth_xy[:, 11] - truth_xy[:, 14]) + (truth_xy[:, 4] - truth_xy[:, 1])   # (F, 2)
    sign = np.where((side * perp).sum(-1) >= 0, 1.0, -1.0)                       # (F,)
    return up, perp * sign[:, None]


def _h36m(clip: RenderedClip, mapping: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """The clip's detections as H36M-17 (F, 17, 3) (x, y, conf) with ``mapping`` (default ``to_h36m``)."""
    from hmcli.skeleton.convert import to_h36m

    k = np.concatenate([clip.det_xy, clip.det_conf[..., None]], axis=-1)         # (F, 33, 3)
    return np.asarray((mapping or (lambda a: to_h36m(a, "blazepose33")))(k), np.float64)


LR_PAIRS: tuple[tuple[int, int], ...] = ((4, 1), (5, 2), (6, 3), (11, 14), (12, 15), (13, 16))
PAIR_NAMES = ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")


def swap_rates(det: np.ndarray, truth: np.ndarray, h: np.ndarray) -> np.ndarray:
    """(F, 6) bool: per frame and left/right pair, whether the detector's pair is crossed.

    det, truth: (F, 17, 2) px; h: (F,) person height px. Crossed: the crossed assignment's
    error is under half the straight one and the straight one is over 0.05 h."""
    li = [a for a, _ in LR_PAIRS]
    ri = [b for _, b in LR_PAIRS]
    straight = np.linalg.norm(det[:, li] - truth[:, li], axis=-1) + np.linalg.norm(det[:, ri] - truth[:, ri], axis=-1)
    crossed = np.linalg.norm(det[:, li] - truth[:, ri], axis=-1) + np.linalg.norm(det[:, ri] - truth[:, li], axis=-1)
    return (crossed < 0.5 * straight) & (straight > 0.05 * h[:, None])          # (F, 6)


CONF_BINS: tuple[float, ...] = (0.0, 0.3, 0.5, 0.7, 0.9, 1.0001)


def error_pattern(clips: list[RenderedClip], mapping: Callable[[np.ndarray], np.ndarray] | None = None,
                  truth: str = "truth") -> dict:
    """The figures of the module docstring over ``clips`` (detected frames only for errors)."""
    from hmcli.skeleton.joints import H36M17

    frames = sum(len(c.detected) for c in clips)
    det_frames = sum(int(c.detected.sum()) for c in clips)
    offs, errs, confs, swaps, acc_det, acc_true, lag1 = [], [], [], [], [], [], []
    loss_runs: list[int] = []
    for c in clips:
        k = _h36m(c, mapping)                                                    # (F, 17, 3)
        t = c.truth_xy if truth == "truth" else c.cmu_xy                         # (F, 17, 2)
        h = c.height_px.astype(np.float64)                                       # (F,)
        up, left = body_frame(t)
        d = (k[..., :2] - t) / h[:, None, None]                                  # (F, 17, 2) in h
        local = np.stack([(d * left[:, None]).sum(-1), (d * up[:, None]).sum(-1)], axis=-1)   # (F, 17, 2)
        m = c.detected
        offs.append(local[m])
        errs.append(np.linalg.norm(d[m], axis=-1))                               # (f, 17)
        confs.append(k[m][..., 2])
        swaps.append(swap_rates(k[m][..., :2], t[m], h[m]))
        # jitter on runs of consecutive detected frames
        both = m[2:] & m[1:-1] & m[:-2]                                          # (F-2,)
        a_det = np.linalg.norm(k[2:, :, :2] - 2 * k[1:-1, :, :2] + k[:-2, :, :2], axis=-1) / h[1:-1, None]
        a_true = np.linalg.norm(t[2:] - 2 * t[1:-1] + t[:-2], axis=-1) / h[1:-1, None]
        acc_det.append(a_det[both])
        acc_true.append(a_true[both])
        pair = m[1:] & m[:-1]
        lag1.append((local[1:][pair], local[:-1][pair]))
        run = 0
        for ok in m:
            if not ok:
                run += 1
            elif run:
                loss_runs.append(run)
                run = 0
        if run:
            loss_runs.append(run)
    off = np.concatenate(offs)                                                   # (N, 17, 2)
    err = np.concatenate(errs)                                                   # (N, 17)
    conf = np.concatenate(confs)                                                 # (N, 17)
    sw = np.concatenate(swaps)                                                   # (N, 6)
    ad, at = np.concatenate(acc_det), np.concatenate(acc_true)                   # (M, 17)
    x1 = np.concatenate([a for a, _ in lag1])
    x0 = np.concatenate([b for _, b in lag1])                                    # (P, 17, 2)
    e1, e0 = x1 - x1.mean(0), x0 - x0.mean(0)
    rho = (e1 * e0).sum((0, 2)) / np.sqrt((e1 * e1).sum((0, 2)) * (e0 * e0).sum((0, 2)) + 1e-30)   # (17,)
    joints = {}
    for j, name in enumerate(H36M17.joints):
        joints[name] = {"left": float(off[:, j, 0].mean()), "up": float(off[:, j, 1].mean()),
                        "sd_left": float(off[:, j, 0].std()), "sd_up": float(off[:, j, 1].std()),
                        "err": float(err[:, j].mean()), "err_median": float(np.median(err[:, j])),
                        "conf": float(conf[:, j].mean()), "accel_det": float(ad[:, j].mean()),
                        "accel_truth": float(at[:, j].mean()), "lag1": float(rho[j])}
    bins = []
    for lo, hi in zip(CONF_BINS[:-1], CONF_BINS[1:]):
        sel = (conf >= lo) & (conf < hi)
        bins.append({"conf": f"{lo:.1f}-{min(hi, 1.0):.1f}", "share": float(sel.mean()),
                     "err": float(err[sel].mean()) if sel.any() else float("nan"),
                     "err_p90": float(np.quantile(err[sel], 0.9)) if sel.any() else float("nan"),
                     "over_0.1h": float((err[sel] > 0.1).mean()) if sel.any() else float("nan")})
    return {"frames": frames, "detected_frames": det_frames, "detection_rate": det_frames / max(frames, 1),
            "loss_runs": loss_runs, "mpjpe_2d": float(err.mean()), "joints": joints,
            "swap_rate": {n: float(sw[:, i].mean()) for i, n in enumerate(PAIR_NAMES)},
            "swap_any_rate": float(sw.any(1).mean()), "swap_legs_rate": float(sw[:, :3].all(1).mean()),
            "conf_bins": bins, "accel_det": float(ad.mean()), "accel_truth": float(at.mean())}


# ----------------------------------------------------------------------------- mapping fit and 3D


def stack_training(clips: list[RenderedClip], truth: str = "truth") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Detected frames of ``clips`` as (landmarks (N, 33, 2), target (N, 17, 2), height (N,),
    valid (N, 17)): rows whose joint is not crossed left/right (those are the swap model's, not
    the mapping's)."""
    xs, ts, hs, vs = [], [], [], []
    for c in clips:
        m = c.detected
        t = (c.truth_xy if truth == "truth" else c.cmu_xy)[m]                    # (f, 17, 2)
        k = _h36m(c)[m]                                                          # (f, 17, 3)
        sw = swap_rates(k[..., :2], t, c.height_px[m].astype(np.float64))        # (f, 6)
        valid = np.ones(t.shape[:2], bool)
        for i, (a, b) in enumerate(LR_PAIRS):
            valid[:, a] &= ~sw[:, i]
            valid[:, b] &= ~sw[:, i]
        xs.append(c.det_xy[m])
        ts.append(t)
        hs.append(c.height_px[m])
        vs.append(valid)
    return np.concatenate(xs), np.concatenate(ts), np.concatenate(hs), np.concatenate(vs)


def _mpjpe(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Root-relative per-joint error (F, 17) in mm of (F, 17, 3) m."""
    return np.linalg.norm((a - a[:, :1]) - (b - b[:, :1]), axis=-1) * 1000.0


def _pa_mpjpe(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-joint error (F, 17) in mm of (F, 17, 3) m ``a`` after its per-frame similarity alignment
    onto ``b`` (P-MPJPE, :func:`hmcli.train.metrics.procrustes_align`)."""
    from hmcli.train.metrics import procrustes_align

    al = procrustes_align(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64))
    return np.linalg.norm(al.numpy() - b, axis=-1) * 1000.0


def _summary(truth_rr: list[np.ndarray], truth_pa: list[np.ndarray], cmu_rr: list[np.ndarray]) -> dict:
    """The figures of one 3D source over all clips: lists (one per clip) of (n, 17) per-joint errors in mm."""
    from hmcli.skeleton.joints import H36M17

    et, ep, ec = np.concatenate(truth_rr), np.concatenate(truth_pa), np.concatenate(cmu_rr)   # (N, 17)
    return {"frames": int(et.shape[0]), "mpjpe_truth_mm": float(et.mean()), "pmpjpe_truth_mm": float(ep.mean()),
            "mpjpe_cmu_mm": float(ec.mean()),
            "per_clip_pmpjpe_mm": [float(p.mean()) if p.size else None for p in truth_pa],   # clips in order
            "per_joint_mm": {n: float(et[:, j].mean()) for j, n in enumerate(H36M17.joints)},
            "per_joint_pa_mm": {n: float(ep[:, j].mean()) for j, n in enumerate(H36M17.joints)}}


def world_errors(clips: list[RenderedClip], blazepose_map: str = "cmu") -> dict:
    """The detector's own 3D (BlazePose's world landmarks, recorded while rendering) against the truth,
    as :func:`lift_errors` scores a lifter: the 33 landmarks go to H36M-17 through ``blazepose_map``
    (:func:`hmcli.skeleton.blazepose_map.world_to_h36m`: ``cmu``, the map the lifter's 2D gets, or
    ``midpoints``); root-relative MPJPE in the camera's axes (the world landmarks' axes follow the
    camera's) and P-MPJPE (per-frame similarity alignment), mm, over the detected frames that have
    world landmarks. Raises ValueError for renders made without them."""
    from hmcli.skeleton.blazepose_map import world_to_h36m

    rr, pa, cm = [], [], []
    for c in clips:
        if c.det_world is None:
            raise ValueError(f"{c.label}: these renders have no world landmarks (re-render them)")
        m = c.detected & np.isfinite(c.det_world).all(axis=(1, 2))            # (F,)
        w = world_to_h36m(c.det_world[m].astype(np.float64), blazepose_map)    # (n, 17, 3)
        rr.append(_mpjpe(w, c.truth3d[m]))
        pa.append(_pa_mpjpe(w, c.truth3d[m].astype(np.float64)))
        cm.append(_mpjpe(w, c.cmu3d[m]))
    return _summary(rr, pa, cm)


def _clip_height(xy: np.ndarray) -> float:
    """Median vertical extent (pixels) of (F, J, 2) 2D."""
    return float(max(np.median(xy[..., 1].max(-1) - xy[..., 1].min(-1)), 1.0))


def lift_errors(clips: list[RenderedClip], lifter, mappings: dict[str, Callable[[np.ndarray], np.ndarray] | None],
                say: Say = lambda m: None, refiner=None) -> dict:
    """The shipped lifter (:func:`hmcli.api.lift`) on each clip's 2D: the exact projection of the
    truth (``truth 2D``, confidence 1 inside the image: the lifter's floor on these poses) and the detector's with
    each of ``mappings`` (with the confidence floor ``hm lift`` gives BlazePose). MPJPE (mm, root-relative, detected frames) against the truth's 3D
    keypoints and against the CMU joints; per joint against the truth. With a ``refiner``
    (:mod:`hmcli.refine`) each mapping is also lifted after temporal 2D refinement (``<name>, refined``),
    as ``hm lift --refine`` runs it. ``err2d_pct``: the 2D the lifter got against the truth's projection,
    % of the clip's 2D height (detected frames)."""
    from hmcli import api
    from hmcli.lift import inside_image, model_confidence
    from hmcli.types import Keypoints2D

    acc: dict[str, dict[str, list[np.ndarray]]] = {}
    for c in clips:
        F = len(c.detected)
        ts = np.arange(F) / 30.0
        # the truth's projection: joints outside the image missing, as in training
        inputs = {"truth 2D": (c.truth_xy, inside_image(c.truth_xy, c.width, c.height).astype(np.float32),
                               np.ones(F, bool))}
        for name, fn in mappings.items():
            k = _h36m(c, fn)                                                     # (F, 17, 3)
            # the confidence the lifter gets from BlazePose in hm lift (its floor, hmcli.lift.CONFIDENCE_FLOOR,
            # and 0 outside the image, hmcli.lift.MASK_OUTSIDE_IMAGE)
            conf = model_confidence(k[..., 2] * c.detected[:, None], "blazepose33", None, k[..., :2], c.width,
                                    c.height)                                    # (F, 17)
            inputs[name] = (k[..., :2], conf, c.detected)
            if refiner is not None:
                from hmcli.refine.api import refine_track

                rxy, rconf = refine_track(refiner, k[..., :2], conf, c.detected)  # (F, 17, 2), (F, 17)
                inputs[f"{name}, refined"] = (rxy, rconf, c.detected)
        m = c.detected
        height = _clip_height(c.truth_xy[m]) if m.any() else 1.0
        for name, (xy, conf, det) in inputs.items():
            kp = Keypoints2D(np.asarray(xy, np.float32), np.asarray(conf, np.float32), "h36m17", ts,
                             c.width, c.height, np.asarray(det, bool), detector="render")
            j3 = api.lift(kp, lifter).joints3d                                   # (F, 17, 3)
            a = acc.setdefault(name, {"truth": [], "pa": [], "cmu": [], "2d": []})
            a["truth"].append(_mpjpe(j3[m], c.truth3d[m]))
            a["pa"].append(_pa_mpjpe(j3[m].astype(np.float64), c.truth3d[m].astype(np.float64)))
            a["cmu"].append(_mpjpe(j3[m], c.cmu3d[m]))
            a["2d"].append(np.linalg.norm(np.asarray(xy)[m] - c.truth_xy[m], axis=-1) / height * 100)  # (n, 17)
        say(f"lifted {c.label}")
    return {name: {**_summary(a["truth"], a["pa"], a["cmu"]), "err2d_pct": float(np.concatenate(a["2d"]).mean())}
            for name, a in acc.items()}
