"""Virtual pinhole cameras for the CMU Y-up world.

Camera frame: x right, y down, z forward (optical axis); ``X_cam = R @ X_world + t``.
Pixels: ``u = fx * x / z + cx``, ``v = fy * y / z + cy`` (origin top-left).

``random_camera`` samples a handheld-phone-like or webcam-like camera:

* position: horizontal distance 2.5-6 m from the target (the clip's mean pelvis
  position), uniform yaw over 360 deg, height 0.5-2.2 m above the floor (world y);
  the camera looks at the target (plus a small aim jitter), giving a slight pitch,
  and a small random roll (phones only).
* phone: portrait 1080x1920 or landscape 1920x1080, fx = fy = 0.8-1.0 x the longer
  image side (a ~26 mm-equivalent main camera after the video crop).
* webcam: 1280x720 or 640x480, fx = fy = 0.6-0.9 x width.
* principal point: image centre +- 2 % of the image size.
* When the clip's joints are given, every joint of every frame must be at depth
  >= ``min_depth`` (default 1.0 m, so certainly in front); cameras that fail are
  re-drawn, and after ``max_tries`` the last one is moved back along its optical axis
  until the condition holds.  For landscape images the minimum distance is raised so
  that a 1.9 m tall person fits in 90 % of the image height.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WORLD_UP = np.array([0.0, 1.0, 0.0])  # CMU world is Y-up

PHONE_SIZES: tuple[tuple[int, int], ...] = ((1080, 1920), (1920, 1080))
WEBCAM_SIZES: tuple[tuple[int, int], ...] = ((1280, 720), (640, 480))


@dataclass(frozen=True)
class Camera:
    """Pinhole camera. R: (3, 3) world->camera rotation; t: (3,) metres."""

    R: np.ndarray
    t: np.ndarray
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    kind: str = "custom"

    @property
    def position(self) -> np.ndarray:
        """Camera centre in world coordinates, (3,)."""
        return -self.R.T @ self.t

    @property
    def K(self) -> np.ndarray:
        """Intrinsic matrix (3, 3)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


def look_at(position: np.ndarray, target: np.ndarray, roll_deg: float = 0.0,
            up: np.ndarray = WORLD_UP) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) of a camera at ``position`` (3,) looking at ``target`` (3,).

    The image's "down" is world down projected on the image plane, then rolled by
    ``roll_deg`` about the optical axis (camera x turned towards camera y).
    """
    c = np.asarray(position, dtype=np.float64)
    fwd = np.asarray(target, dtype=np.float64) - c
    n = np.linalg.norm(fwd)
    if n < 1e-9:
        raise ValueError("camera position equals target")
    fwd = fwd / n
    right = np.cross(fwd, up)
    rn = np.linalg.norm(right)
    if rn < 1e-9:
        raise ValueError("camera looks straight along the up axis")
    right = right / rn
    down = np.cross(fwd, right)
    a = np.deg2rad(roll_deg)
    r2 = np.cos(a) * right + np.sin(a) * down
    d2 = -np.sin(a) * right + np.cos(a) * down
    R = np.stack([r2, d2, fwd])  # rows: camera x, y, z in world axes
    return R, -R @ c


def world_to_camera(j_world: np.ndarray, cam: Camera) -> np.ndarray:
    """(..., 3) world points (CMU Y-up) -> (..., 3) camera frame (x right, y down, z fwd)."""
    p = np.asarray(j_world, dtype=np.float64)
    return p @ cam.R.T + cam.t


def project(j_cam: np.ndarray, cam: Camera) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 2) pixels; points with z <= 1e-6 give nan."""
    p = np.asarray(j_cam, dtype=np.float64)
    z = p[..., 2]
    ok = z > 1e-6
    zs = np.where(ok, z, 1.0)
    uv = np.stack([cam.fx * p[..., 0] / zs + cam.cx, cam.fy * p[..., 1] / zs + cam.cy], axis=-1)
    uv[~ok] = np.nan
    return uv


def _intrinsics(rng: np.random.Generator, kind: str) -> tuple[int, int, float, float, float]:
    if kind == "phone":
        w, h = PHONE_SIZES[int(rng.integers(len(PHONE_SIZES)))]
        f = float(rng.uniform(0.8, 1.0)) * max(w, h)
    elif kind == "webcam":
        w, h = WEBCAM_SIZES[int(rng.integers(len(WEBCAM_SIZES)))]
        f = float(rng.uniform(0.6, 0.9)) * w
    else:
        raise ValueError(f"unknown camera kind {kind!r}")
    cx = w / 2.0 + float(rng.uniform(-0.02, 0.02)) * w
    cy = h / 2.0 + float(rng.uniform(-0.02, 0.02)) * h
    return w, h, f, cx, cy


def random_camera(
    rng: np.random.Generator,
    kind: str = "any",
    target: np.ndarray | None = None,
    joints: np.ndarray | None = None,
    distance: tuple[float, float] = (2.5, 6.0),
    height: tuple[float, float] = (0.5, 2.2),
    aim_jitter_m: float = 0.1,
    max_roll_deg: float = 3.0,
    min_depth: float = 1.0,
    max_tries: int = 50,
) -> Camera:
    """Sample a camera looking at a subject (conventions in the module docstring).

    rng: the only source of randomness.  kind: 'phone', 'webcam' or 'any' (50/50).
    target: (3,) world point to look at; default the mean pelvis (joint 0) of ``joints``,
    or the origin at 0.9 m height when neither is given.
    joints: optional (F, J, 3) world positions of the clip, used for the target and for
    the in-front check.
    """
    if kind == "any":
        kind = "phone" if rng.random() < 0.5 else "webcam"
    jw = None if joints is None else np.asarray(joints, dtype=np.float64)
    if target is None:
        target = jw[:, 0].mean(axis=0) if jw is not None else np.array([0.0, 0.9, 0.0])
    target = np.asarray(target, dtype=np.float64)
    cam = None
    for _ in range(max(1, max_tries)):
        w, h, f, cx, cy = _intrinsics(rng, kind)
        d_fit = f * 1.9 / (0.9 * h)  # distance at which 1.9 m spans 90 % of the height
        d_lo = max(distance[0], min(d_fit, distance[1]))
        d = float(rng.uniform(d_lo, max(d_lo, distance[1])))
        yaw = float(rng.uniform(0.0, 2.0 * np.pi))
        cam_h = float(rng.uniform(*height))
        pos = np.array([target[0] + d * np.sin(yaw), cam_h, target[2] + d * np.cos(yaw)])
        aim = target + rng.normal(0.0, aim_jitter_m, size=3) if aim_jitter_m > 0 else target
        roll = float(rng.uniform(-max_roll_deg, max_roll_deg)) if kind == "phone" else 0.0
        R, t = look_at(pos, aim, roll)
        cam = Camera(R=R, t=t, fx=f, fy=f, cx=cx, cy=cy, width=w, height=h, kind=kind)
        if jw is None or world_to_camera(jw, cam)[..., 2].min() >= min_depth:
            return cam
    assert cam is not None and jw is not None
    # Move back along the optical axis until every joint is deep enough.
    zmin = float(world_to_camera(jw, cam)[..., 2].min())
    shift = (min_depth - zmin) + 1e-3
    pos = cam.position - cam.R[2] * shift
    return Camera(R=cam.R, t=-cam.R @ pos, fx=cam.fx, fy=cam.fy, cx=cam.cx, cy=cam.cy,
                  width=cam.width, height=cam.height, kind=cam.kind)
