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

That distribution is the ``standard`` camera kind. ``draw_camera`` draws from any of the
named kinds in ``CAMERA_KINDS`` (real footage comes from more places than a tripod at chest
height); ``standard`` (also called ``any``) calls ``random_camera`` unchanged, so training
and evaluation figures made with it stay comparable. The other kinds
(``CameraKind`` fields; heights above the floor, distances horizontal from the target, the
clip's mean pelvis; angles in degrees; every range drawn uniformly):

=========  =========  ===========  =========  ========  =====  ==========  ==========================
kind       height m   distance m   h-FOV deg  roll      off-   min depth   sizes
                                                        centre
=========  =========  ===========  =========  ========  =====  ==========  ==========================
ceiling    2.5-4.0    from pitch:  60-90      +-2       0.15   0.5 m       1920x1080, 1280x720,
                      looking                                              640x480
                      down 30-60
phone      0.9-1.7    1.0-2.5      65-80      +-8       0.10   0.4 m       1080x1920, 1920x1080
webcam     0.7-1.1    0.6-1.5      55-78      0         0.10   0.3 m       1280x720, 640x480,
           (aim 0.2-0.5 m above                                            1920x1080
           the pelvis: looks up)
sports     3-15       10-40 (at    10-25      0         0.30   1.0 m       1920x1080, 1280x720
                      least the
                      distance
                      where 1.9 m
                      fills 90 %
                      of the height)
handheld   0.8-1.9    1.5-5.0      60-80      +-15      0.40   1.0 m       1080x1920, 1920x1080
=========  =========  ===========  =========  ========  =====  ==========  ==========================

* focal length from the field of view across the image width: ``f = (w / 2) / tan(hfov / 2)``;
  principal point at the centre +- 2 % as for ``standard``.
* off-centre ``o``: the subject (the target) is put at ``(ox, oy)`` with ``ox, oy ~ U(-o, o)``
  of the half image size away from the principal point (the camera aims beside it; exact
  for the target at the first aim's depth, close elsewhere). ``handheld`` frames are also
  rolled; ``webcam`` and ``phone`` cameras are close enough that parts of the body leave
  the picture (the corruption masks joints outside the image).
* ``ceiling`` draws the camera height and the pitch of the line of sight to the target;
  the horizontal distance follows: ``(height - target height) / tan(pitch)``.
* the in-front rule of ``random_camera`` holds with each kind's ``min_depth``: redraws,
  then a push back along the optical axis (a person who walks far from the mean pelvis
  can push a close camera back).
* ``mixed`` draws a kind per camera with ``MIXED_WEIGHTS`` (standard 0.4, each other kind
  0.12): the training distribution proposed for the real-video retrain.
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


def hfov_focal(width: int, hfov_deg: float) -> float:
    """Focal length (pixels) of a ``width``-pixel image whose horizontal field of view is ``hfov_deg``."""
    return 0.5 * width / float(np.tan(np.deg2rad(hfov_deg) / 2.0))


@dataclass(frozen=True)
class CameraKind:
    """A named distribution of virtual cameras (ranges drawn uniformly; module docstring table).

    height: camera height above the floor (m, world y).
    distance: horizontal distance from the target (m); None: from ``pitch_down``.
    pitch_down: angle of the line of sight to the target below the horizontal (deg); with it
        the distance is ``(height - target height) / tan(pitch)``.
    hfov: horizontal field of view across the image width (deg).
    sizes: (width, height) image sizes, one drawn uniformly.
    roll: largest |roll| about the optical axis (deg).
    offcentre: largest offset of the subject from the principal point, per axis, as a
        fraction of the half image size.
    aim_up: the camera aims this far above the target (m), e.g. a desk webcam looking up.
    fit: when set, the distance's lower bound is raised so that a 1.9 m person spans at
        most this fraction of the image height.
    min_depth: every joint of the clip at least this deep (m).
    """

    name: str
    summary: str
    height: tuple[float, float]
    hfov: tuple[float, float]
    sizes: tuple[tuple[int, int], ...]
    distance: tuple[float, float] | None = None
    pitch_down: tuple[float, float] | None = None
    roll: float = 0.0
    offcentre: float = 0.0
    aim_up: tuple[float, float] = (0.0, 0.0)
    fit: float | None = None
    min_depth: float = 1.0

    def __post_init__(self) -> None:
        if (self.distance is None) == (self.pitch_down is None):
            raise ValueError(f"camera kind {self.name!r}: give distance or pitch_down, not both")
        for name in ("height", "hfov", "distance", "pitch_down", "aim_up"):
            r = getattr(self, name)
            if r is not None and not r[0] <= r[1]:
                raise ValueError(f"camera kind {self.name!r}: {name} range {r} is not (low, high)")
        if not (0 < self.hfov[0] and self.hfov[1] < 180):
            raise ValueError(f"camera kind {self.name!r}: field of view must be in (0, 180) deg")


LANDSCAPE_SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (1280, 720), (640, 480))

CAMERA_KINDS: dict[str, CameraKind] = {
    "ceiling": CameraKind(
        "ceiling", "lab / surveillance camera near the ceiling, looking down 30-60 deg",
        height=(2.5, 4.0), pitch_down=(30.0, 60.0), hfov=(60.0, 90.0), sizes=LANDSCAPE_SIZES,
        roll=2.0, offcentre=0.15, min_depth=0.5),
    "phone": CameraKind(
        "phone", "phone at arm's length, wide main lens, some roll",
        height=(0.9, 1.7), distance=(1.0, 2.5), hfov=(65.0, 80.0), sizes=PHONE_SIZES,
        roll=8.0, offcentre=0.1, min_depth=0.4),
    "webcam": CameraKind(
        "webcam", "desk webcam looking up, close: the person partly out of frame",
        height=(0.7, 1.1), distance=(0.6, 1.5), hfov=(55.0, 78.0), sizes=WEBCAM_SIZES + ((1920, 1080),),
        offcentre=0.1, aim_up=(0.2, 0.5), min_depth=0.3),
    "sports": CameraKind(
        "sports", "elevated sports camera, long lens, far away",
        height=(3.0, 15.0), distance=(10.0, 40.0), hfov=(10.0, 25.0), sizes=((1920, 1080), (1280, 720)),
        offcentre=0.3, fit=0.9, min_depth=1.0),
    "handheld": CameraKind(
        "handheld", "handheld frame: rolled up to 15 deg, subject off-centre",
        height=(0.8, 1.9), distance=(1.5, 5.0), hfov=(60.0, 80.0), sizes=PHONE_SIZES,
        roll=15.0, offcentre=0.4, min_depth=1.0),
}

#: Every named kind ``draw_camera`` knows, in table order (``any`` is another name of ``standard``).
KIND_NAMES: tuple[str, ...] = ("standard",) + tuple(CAMERA_KINDS)
#: ``mixed``: probability of each kind per drawn camera.
MIXED_WEIGHTS: dict[str, float] = {"standard": 0.4, **{k: 0.12 for k in CAMERA_KINDS}}
#: What a ``camera_kind`` setting may name.
CAMERA_KIND_CHOICES: tuple[str, ...] = ("any",) + KIND_NAMES + ("mixed",)


def check_camera_kind(kind: str) -> str:
    """``kind`` unchanged; ValueError unless it is one of ``CAMERA_KIND_CHOICES``."""
    if kind not in CAMERA_KIND_CHOICES:
        raise ValueError(f"unknown camera_kind '{kind}' (available: {', '.join(CAMERA_KIND_CHOICES)})")
    return kind


def draw_camera(rng: np.random.Generator, kind: str = "any", joints: np.ndarray | None = None,
                target: np.ndarray | None = None, max_tries: int = 50) -> Camera:
    """A camera of the named ``kind`` (``CAMERA_KIND_CHOICES``) looking at a subject.

    ``any`` / ``standard``: :func:`random_camera` as before (same draws). ``mixed``: a kind
    drawn with ``MIXED_WEIGHTS`` first. joints: optional (F, J, 3) world clip (target: its
    mean pelvis; in-front check); target: (3,) world point otherwise.
    """
    check_camera_kind(kind)
    if kind == "mixed":
        names = list(MIXED_WEIGHTS)
        p = np.array([MIXED_WEIGHTS[n] for n in names])
        kind = names[int(rng.choice(len(names), p=p / p.sum()))]
    if kind in ("any", "standard"):
        return random_camera(rng, "any", target=target, joints=joints, max_tries=max_tries)
    return _kind_camera(rng, CAMERA_KINDS[kind], joints, target, max_tries)


def _kind_camera(rng: np.random.Generator, spec: CameraKind, joints: np.ndarray | None,
                 target: np.ndarray | None, max_tries: int) -> Camera:
    jw = None if joints is None else np.asarray(joints, dtype=np.float64)  # (F, J, 3)
    if target is None:
        target = jw[:, 0].mean(axis=0) if jw is not None else np.array([0.0, 0.9, 0.0])
    target = np.asarray(target, dtype=np.float64)  # (3,)
    cam = None
    for _ in range(max(1, max_tries)):
        w, h = spec.sizes[int(rng.integers(len(spec.sizes)))]
        f = hfov_focal(w, float(rng.uniform(*spec.hfov)))
        cx = w / 2.0 + float(rng.uniform(-0.02, 0.02)) * w
        cy = h / 2.0 + float(rng.uniform(-0.02, 0.02)) * h
        cam_h = float(rng.uniform(*spec.height))
        if spec.pitch_down is not None:
            pitch = np.deg2rad(float(rng.uniform(*spec.pitch_down)))
            d = max(cam_h - float(target[1]), 0.1) / float(np.tan(pitch))
        else:
            assert spec.distance is not None
            lo, hi = spec.distance
            if spec.fit is not None:
                lo = max(lo, f * 1.9 / (spec.fit * h))  # 1.9 m spans at most `fit` of the height
            d = float(rng.uniform(lo, max(lo, hi)))
        yaw = float(rng.uniform(0.0, 2.0 * np.pi))
        pos = np.array([target[0] + d * np.sin(yaw), cam_h, target[2] + d * np.cos(yaw)])
        aim = target + np.array([0.0, float(rng.uniform(*spec.aim_up)), 0.0])
        roll = float(rng.uniform(-spec.roll, spec.roll))
        R, t = look_at(pos, aim, roll)
        if spec.offcentre > 0:  # turn the camera so that the target lands off the principal point
            ox, oy = rng.uniform(-spec.offcentre, spec.offcentre, size=2)
            z = float((R @ aim + t)[2])
            shift = -(ox * 0.5 * w / f * z) * R[0] - (oy * 0.5 * h / f * z) * R[1]  # (3,) world
            R, t = look_at(pos, aim + shift, roll)
        cam = Camera(R=R, t=t, fx=f, fy=f, cx=cx, cy=cy, width=w, height=h, kind=spec.name)
        if jw is None or world_to_camera(jw, cam)[..., 2].min() >= spec.min_depth:
            return cam
    assert cam is not None and jw is not None
    return _pushed_back(cam, jw, spec.min_depth)


def _pushed_back(cam: Camera, jw: np.ndarray, min_depth: float) -> Camera:
    """``cam`` moved back along its optical axis until every joint of ``jw`` (F, J, 3) is ``min_depth`` deep."""
    zmin = float(world_to_camera(jw, cam)[..., 2].min())
    pos = cam.position - cam.R[2] * ((min_depth - zmin) + 1e-3)
    return Camera(R=cam.R, t=-cam.R @ pos, fx=cam.fx, fy=cam.fy, cx=cam.cx, cy=cam.cy,
                  width=cam.width, height=cam.height, kind=cam.kind)


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
    return _pushed_back(cam, jw, min_depth)  # move back along the optical axis until every joint is deep enough
