"""``hm bench mesh``: speed of body fitting (IK alone, default refinement, full mesh) per
body model, and the end-to-end time of a 10 s clip (detection + lifting + mesh).

The motion fitted is a synthetic but human one: a body model posed by samples of the
shipped pose prior, smoothly interpolated over time, seen from a virtual camera 4 m away,
so no data set is needed. Frames/s = frames / wall time of the stage, median of repeats.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from hmcli.bench.common import machine, median_time

__all__ = ["synthetic_clip", "mesh_speed", "mesh_table", "TARGETS"]

TARGETS = {"ik": 1000.0, "refine_smpl": 30.0, "refine_anny": 15.0, "end_to_end_s": 60.0}


def synthetic_clip(body, frames: int = 300, fps: float = 30.0, seed: int = 0, prior=None,
                   width: int = 1280, height: int = 720, betas: torch.Tensor | None = None):
    """A Pose3DResult-like lifted clip made by posing ``body`` (of shape ``betas`` (S,), default the
    mean shape): (lifted, true rotations (F, K, 3, 3), true camera-space keypoints (F, 17, 3))."""
    from hmcli.mesh.api import default_camera
    from hmcli.mesh.body import canonical_rotations, posed_keypoints
    from hmcli.mesh.prior import default_prior_path, load_prior
    from hmcli.mesh.rotations import axis_angle_to_matrix
    from hmcli.types import Keypoints2D, Pose3DResult

    g = torch.Generator().manual_seed(seed)
    prior = prior or load_prior(default_prior_path(body.name))
    keys = max(2, frames // 15 + 2)
    comp = torch.multinomial(prior.log_weights.exp(), keys, replacement=True, generator=g)
    z = torch.randn(keys, prior.dim, generator=g) * 0.5
    # x = mu + L^-T z  (precision = L L^T)
    x = prior.means[comp] + torch.linalg.solve_triangular(prior.precision_chol[comp].transpose(-1, -2),
                                                           z.unsqueeze(-1), upper=True).squeeze(-1)
    t_key = np.linspace(0, frames - 1, keys)
    xs = torch.tensor(np.stack([np.interp(np.arange(frames), t_key, x[:, d].numpy()) for d in range(x.shape[1])], 1),
                      dtype=torch.float32)                                          # (F, D) canonical
    K = body.num_joints
    canon_local = axis_angle_to_matrix(xs.reshape(frames, K - 1, 3))
    rest = body.rest(torch.zeros(1, body.num_betas))
    C = canonical_rotations(rest.joints[0], body.joint_names)
    par = [p if p >= 0 else 0 for p in body.parents]
    # model local = C_p^T L_canon C_k
    R = torch.eye(3).repeat(frames, K, 1, 1)
    R[:, 1:] = C[par[1:]].transpose(-1, -2) @ canon_local @ C[1:]
    yaw = torch.linspace(0, 1.5, frames)
    root = axis_angle_to_matrix(torch.stack([torch.full_like(yaw, np.pi), yaw * 0, yaw * 0], -1))  # face the camera
    R[:, 0] = root @ axis_angle_to_matrix(torch.stack([yaw * 0, yaw, yaw * 0], -1))
    b = torch.zeros(body.num_betas) if betas is None else torch.as_tensor(betas, dtype=torch.float32).reshape(-1)
    with torch.no_grad():
        kp, _ = posed_keypoints(body, body.rest(b[None]) if betas is not None else rest, R, b[None])
    cam = default_camera(width, height)
    pos = torch.stack([torch.linspace(-0.5, 0.5, frames), torch.zeros(frames), torch.full((frames,), 4.0)], -1)
    kp_cam = kp - kp[:, :1] + pos[:, None]
    uv = kp_cam[..., :2] / kp_cam[..., 2:3] * cam.focal + torch.tensor([cam.cx, cam.cy])
    ts = np.arange(frames) / fps
    k2 = Keypoints2D(uv.numpy().astype(np.float32), np.ones((frames, 17), np.float32), "h36m17", ts, width, height,
                     np.ones(frames, bool), detector="synthetic")
    lifted = Pose3DResult(k2, (kp_cam - kp_cam[:, :1]).numpy().astype(np.float32), "synthetic", "")
    return lifted, R, kp_cam


def mesh_speed(body_models: list[str], frames: int = 300, repeats: int = 3, video: str | None = None,
               on_progress: Callable[[str], None] | None = None) -> dict:
    from hmcli.io.atomic import HMError
    from hmcli.mesh import api as mesh_api
    from hmcli.mesh.fit import FitOptions, ik_only

    say = on_progress or (lambda m: None)
    rows: list[dict] = []
    targets: list[dict] = []
    opts = FitOptions()
    for name in body_models:
        say(f"loading {name}")
        try:
            if name == "synthetic":
                from hmcli.mesh.synthetic import synthetic_body

                body = synthetic_body()
            else:
                body = mesh_api.load_body_model(name)
        except HMError as e:
            rows.append({"body_model": name, "stage": "-", "frames": frames, "seconds": None, "frames_per_s": None,
                         "note": f"not available: {e}"})
            continue
        lifted, _, _ = synthetic_clip(body, frames)
        j3 = torch.from_numpy(lifted.joints3d)
        betas = torch.zeros(body.num_betas)
        say(f"{name}: IK")
        ik_only(body, j3, betas)  # warm-up
        t_ik = median_time(lambda: ik_only(body, j3, betas), repeats, warmup=0)
        say(f"{name}: refinement")
        t_fit = median_time(lambda: mesh_api.fit(lifted, body, opts), max(1, repeats - 1), warmup=0)
        res = mesh_api.fit(lifted, body, opts)
        say(f"{name}: vertices")
        t_v = median_time(lambda: mesh_api.mesh_vertices(res, body), 1, warmup=0)
        label = body.name
        for stage, t in (("IK", t_ik), (f"IK + refinement ({opts.iters} it.)", t_fit), ("full mesh", t_v)):
            rows.append({"body_model": label, "stage": stage, "frames": frames, "seconds": t,
                         "frames_per_s": frames / t, "vertices": body.num_vertices, "note": ""})
        targets.append({"target": f"{label} IK frames/s", "value": frames / t_ik, "need": f">= {TARGETS['ik']:.0f}",
                        "ok": frames / t_ik >= TARGETS["ik"]})
        need = TARGETS["refine_anny"] if body.name == "anny" else TARGETS["refine_smpl"]
        targets.append({"target": f"{label} refinement frames/s", "value": frames / t_fit, "need": f">= {need:.0f}",
                        "ok": frames / t_fit >= need})
    result = {"benchmark": "mesh", "settings": {"frames": frames, "repeats": repeats, "iters": opts.iters},
              "rows": rows, "targets": targets, "machine": machine()}
    if video is not None:
        say("end to end")
        result["end_to_end"] = end_to_end(video, body_models[-1] if body_models[-1] != "synthetic" else "auto")
        e2e = result["end_to_end"]
        targets.append({"target": f"end to end {e2e['frames']} frames ({e2e['body_model']}) s",
                        "value": e2e["seconds"], "need": f"< {TARGETS['end_to_end_s']:.0f}",
                        "ok": e2e["seconds"] < TARGETS["end_to_end_s"]})
    return result


def end_to_end(video: str, body_model: str = "auto") -> dict:
    """detect + lift + fit (+ full mesh) of a video, seconds per stage."""
    from hmcli import api
    from hmcli.mesh import api as mesh_api

    t0 = time.perf_counter()
    body = mesh_api.load_body_model(body_model)
    lifter = api.load_lifter()
    t1 = time.perf_counter()
    kp = api.detect(video)
    t2 = time.perf_counter()
    lifted = api.lift(kp, lifter)
    t3 = time.perf_counter()
    res = mesh_api.fit(lifted, body)
    t4 = time.perf_counter()
    mesh_api.mesh_vertices(res, body)
    t5 = time.perf_counter()
    return {"video": video, "frames": kp.num_frames, "body_model": body.name, "load_s": t1 - t0, "detect_s": t2 - t1,
            "lift_s": t3 - t2, "fit_s": t4 - t3, "vertices_s": t5 - t4, "seconds": t5 - t0}


def mesh_table(result: dict) -> tuple[str, list[str], list[list[str]]]:
    cols = ["body model", "stage", "frames", "seconds", "frames/s", "vertices", "note"]
    out = []
    for r in result["rows"]:
        out.append([r["body_model"], r["stage"], str(r["frames"]),
                    "n/a" if r["seconds"] is None else f"{r['seconds']:.3f}",
                    "n/a" if r["frames_per_s"] is None else f"{r['frames_per_s']:.0f}",
                    str(r.get("vertices", "")), r.get("note", "")])
    e = result.get("end_to_end")
    if e:
        out.append([e["body_model"], f"end to end: detect {e['detect_s']:.1f} s, lift {e['lift_s']:.1f} s, fit "
                    f"{e['fit_s']:.1f} s, mesh {e['vertices_s']:.1f} s, load {e['load_s']:.1f} s", str(e["frames"]),
                    f"{e['seconds']:.1f}", f"{e['frames'] / e['seconds']:.1f}", "", e["video"]])
    return "hm mesh speed (2-core CPU unless the machine line says otherwise)", cols, out


def loop_video(dst, frames: int = 300, src=None) -> str:
    """A ``frames``-long video made by playing the bundled sample clip forwards and backwards."""
    from pathlib import Path

    import cv2

    src = src or Path(__file__).resolve().parents[2] / "sample_videos" / "jumping_jacks.mp4"
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    imgs = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        imgs.append(f)
    cap.release()
    seq = imgs + imgs[::-1][1:-1]
    h, w = imgs[0].shape[:2]
    wr = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for i in range(frames):
        wr.write(seq[i % len(seq)])
    wr.release()
    return str(dst)
