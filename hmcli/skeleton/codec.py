"""PoseCodec: the single place where pixels and metres become model units and back.

Models never see pixels or metres. Every tensor going into or coming out of a
lifter passes through a :class:`PoseCodec`, and the codec's settings are stored
in checkpoints (``to_dict`` / ``from_dict``) so a model is always decoded with
the convention it was trained with.

Conventions (version 1)
-----------------------
2D input, pixels
    x to the right, y down, origin at the top-left corner of the image, the
    image spanning [0, w] x [0, h] (w = width, h = height).

2D model units, ``input_norm="image"`` (version 1 and the default)
    ``u = (x - w/2) / s``, ``v = (y - h/2) / s`` with ``s = max(w, h) / 2``.
    The image centre goes to (0, 0) and the longer image side to [-1, 1]; the
    aspect ratio is kept, so the shorter side covers [-h/w, h/w] (landscape)
    or [-w/h, w/h] (portrait). Encoded 2D is (..., J, 3) = (u, v, conf).

2D model units, ``input_norm="person"`` (version 2)
    The image units above, then per frame, from that frame's present joints only
    (so a frame encodes the same way offline and in a stream): the centre ``c``
    is the mean of the present pelvis and hips (the mean of all present joints
    when none of them is present), the scale ``r`` the root mean square distance
    of the present joints from ``c``, and ``(u, v) <- ((u, v) - c) / r``. The
    person's position and size in the picture are removed: with phone and webcam
    focal lengths and distances of 2.5-6 m the same pose spans a 4x range of
    image sizes, and the lifter no longer has to learn that invariance. The 3D
    side is unchanged (metres), so body size comes from the learned prior.
    Person units cannot be decoded back to pixels (``decode_2d`` refuses).

Location channels, ``location=True`` (version 3; person units only)
    Person units discard where the person is in the picture and how large, and with them
    the viewing direction and the movement towards or away from the camera, which tell a
    lifter which way the body faces. With ``location`` every joint carries three more
    channels, the same for all joints of a frame: ``(cx, cy, log r)`` with the person
    centre ``c`` relative to the image centre and the spread ``r`` (both from the person
    units above, in pixels) divided by an assumed focal length, the image diagonal
    ``sqrt(w^2 + h^2)`` (a typical phone or webcam field of view when the real one is
    unknown). Encoded 2D is then (..., J, 6) = (u, v, conf, cx, cy, log r); a frame
    without any present joint gets zeros.

Confidence
    Passed through unchanged. A joint with confidence <= 0 is *missing*: its
    (u, v) are set to exactly 0 so garbage coordinates of undetected joints
    never reach the model. A joint whose pixel coordinates are not finite
    (nan/inf) is also treated as missing: (u, v) = 0 and its confidence is
    set to 0.

3D
    Camera axes: x right, y down, z forward (away from the camera).
    Root-relative: joint 0 (the pelvis for h36m17) is subtracted, so the root
    is always at the origin. ``model_units = metres / metres_per_unit``;
    with the default ``metres_per_unit = 1.0`` one model unit is one metre.

All methods accept numpy arrays or torch tensors and return the same kind
(dtype and device are preserved for floating inputs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from hmcli.skeleton._array import Array, as_float_array, cast_like, cat, is_torch, isfinite, where_or_zero
from hmcli.skeleton.convert import flip_pose
from hmcli.skeleton.joints import JointSet, get_joint_set


def _image_frame(width: float, height: float) -> tuple[float, float, float]:
    """(centre x, centre y, scale s) for an image of the given size."""
    w, h = float(width), float(height)
    if not (w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)):
        raise ValueError(f"image width and height must be positive, got {width}x{height}")
    return w / 2.0, h / 2.0, max(w, h) / 2.0


@dataclass(frozen=True)
class PoseCodec:
    """Normalisation between pixels / metres and model units (see module docstring).

    joint_set:        name of the joint layout the model works in.
    metres_per_unit:  metres represented by one 3D model unit.
    """

    VERSION: ClassVar[int] = 3
    INPUT_NORMS: ClassVar[tuple[str, ...]] = ("image", "person")

    joint_set: str = "h36m17"
    metres_per_unit: float = 1.0
    input_norm: str = "image"
    location: bool = False

    def __post_init__(self) -> None:
        get_joint_set(self.joint_set)  # raises for unknown names
        if self.input_norm not in self.INPUT_NORMS:
            raise ValueError(f"input_norm must be one of {', '.join(self.INPUT_NORMS)}, got {self.input_norm!r}")
        if self.location and self.input_norm != "person":
            raise ValueError("location channels need input_norm='person' (image units keep the location already)")
        m = float(self.metres_per_unit)
        if not (m > 0 and math.isfinite(m)):
            raise ValueError(f"metres_per_unit must be a positive finite number, got {self.metres_per_unit}")
        object.__setattr__(self, "metres_per_unit", m)

    @property
    def joints(self) -> JointSet:
        return get_joint_set(self.joint_set)

    @property
    def in_channels(self) -> int:
        """Channels per joint of encoded 2D: 3 (u, v, conf), or 6 with the location channels."""
        return 6 if self.location else 3

    @property
    def root(self) -> int:
        """Index subtracted to make 3D root-relative (always joint 0 in version 1)."""
        return 0

    def _check(self, x: Array, channels: tuple[int, ...], what: str) -> Array:
        x = as_float_array(x)
        j = self.joints.num_joints
        if x.ndim < 2 or x.shape[-2] != j or x.shape[-1] not in channels:
            raise ValueError(f"{what}: expected (..., {j}, {'|'.join(map(str, channels))}), got {tuple(x.shape)}")
        return x

    # ----------------------------------------------------------------------------- 2D

    def encode_2d(self, xy: Array, conf: Array, width: float, height: float) -> Array:
        """Pixels (..., J, 2) + confidence (..., J) -> model input (..., J, in_channels):
        (u, v, conf), then (cx, cy, log r) with ``location``."""
        xy = self._check(xy, (2,), "encode_2d xy")
        conf = cast_like(conf, xy)
        if tuple(conf.shape) != tuple(xy.shape[:-1]):
            raise ValueError(f"conf must have shape {tuple(xy.shape[:-1])}, got {tuple(conf.shape)}")
        cx, cy, s = _image_frame(width, height)
        uv = cat([(xy[..., 0:1] - cx) / s, (xy[..., 1:2] - cy) / s], axis=-1)  # (..., J, 2)
        finite = isfinite(xy).all(-1)  # (..., J)
        conf = where_or_zero(finite, conf)  # (..., J)
        present = (conf > 0)[..., None]  # (..., J, 1)
        uv = where_or_zero(present, uv)  # (..., J, 2)
        if self.input_norm == "person":
            focal = math.hypot(float(width), float(height)) / s if self.location else None  # image units
            uv, loc = self._person_units(uv, conf, focal)  # (..., J, 2), (..., J, 3) or None
            if loc is not None:
                return cat([uv, conf[..., None], loc], axis=-1)  # (..., J, 6)
        return cat([uv, conf[..., None]], axis=-1)  # (..., J, 3)

    def _centre_joints(self) -> list[int]:
        names = self.joints.joints
        return [names.index(n) for n in ("pelvis", "right_hip", "left_hip") if n in names]

    def _person_units(self, uv: Array, conf: Array, focal: float | None) -> tuple[Array, Array | None]:
        """Image units (..., J, 2) of present joints (others 0) -> person units (module docstring),
        and with a ``focal`` length (image units) the location channels (..., J, 3)."""
        import torch

        t_uv = torch.as_tensor(uv)  # (..., J, 2)
        vis = (torch.as_tensor(conf) > 0).to(t_uv.dtype)  # (..., J)
        n_all = vis.sum(-1, keepdim=True)  # (..., 1)
        centre = (t_uv * vis[..., None]).sum(-2) / n_all.clamp(min=1)  # (..., 2)
        idx = self._centre_joints()
        if idx:
            v_c = vis[..., idx]  # (..., K)
            n_c = v_c.sum(-1, keepdim=True)  # (..., 1)
            c_hips = (t_uv[..., idx, :] * v_c[..., None]).sum(-2) / n_c.clamp(min=1)  # (..., 2)
            centre = torch.where(n_c > 0, c_hips, centre)
        d = t_uv - centre[..., None, :]  # (..., J, 2)
        ms = ((d * d).sum(-1) * vis).sum(-1, keepdim=True) / n_all.clamp(min=1)  # (..., 1)
        r = ms.clamp(min=1e-6).sqrt()  # (..., 1) = max(sqrt(ms), 1e-3), with a finite gradient for empty frames
        out = d / r[..., None] * vis[..., None]  # (..., J, 2)
        loc = None
        if focal is not None:
            frame = torch.cat([centre / focal, (r / focal).log()], dim=-1) * (n_all > 0)  # (..., 3); empty frames 0
            loc = frame[..., None, :].expand(*out.shape[:-1], 3)  # (..., J, 3), the same for every joint
        if is_torch(uv):
            return out, loc
        out_np = out.numpy().astype(uv.dtype, copy=False)
        return out_np, None if loc is None else loc.numpy().astype(uv.dtype, copy=False)

    def flip_2d(self, x: Array) -> Array:
        """Encoded 2D (..., J, in_channels) of the horizontally mirrored picture: joints swapped
        left/right, u negated and, with ``location``, cx negated."""
        x = self._check(x, (self.in_channels,), "flip_2d")
        y = flip_pose(x, self.joint_set)  # (..., J, C)
        if self.location:
            y = cat([y[..., :3], -y[..., 3:4], y[..., 4:]], axis=-1)  # (..., J, 6)
        return y

    def decode_2d(self, u: Array, width: float, height: float) -> Array:
        """Model units (..., J, 2) -> pixels (..., J, 2).

        A (..., J, 3) input is also accepted; channel 2 (confidence) is passed
        through, so ``decode_2d(encode_2d(xy, conf, w, h), w, h)`` gives
        (x, y, conf) back.
        """
        if self.input_norm != "image":
            raise ValueError(f"decode_2d: {self.input_norm}-normalised 2D has no pixel inverse (the per-frame centre and scale are not kept)")
        u = self._check(u, (2, 3), "decode_2d")
        cx, cy, s = _image_frame(width, height)
        xy = cat([u[..., 0:1] * s + cx, u[..., 1:2] * s + cy], axis=-1)  # (..., J, 2)
        return cat([xy, u[..., 2:]], axis=-1) if u.shape[-1] == 3 else xy

    # ----------------------------------------------------------------------------- 3D

    def encode_3d(self, j3d_metres: Array) -> Array:
        """Camera-space joints in metres (..., J, 3) -> root-relative model units (..., J, 3)."""
        j = self._check(j3d_metres, (3,), "encode_3d")
        r = self.root
        return (j - j[..., r : r + 1, :]) / self.metres_per_unit  # (..., J, 3)

    def decode_3d(self, y: Array) -> Array:
        """Model output (..., J, 3) -> root-relative metres (..., J, 3)."""
        y = self._check(y, (3,), "decode_3d")
        r = self.root
        return (y - y[..., r : r + 1, :]) * self.metres_per_unit  # (..., J, 3)

    # ----------------------------------------------------------------------------- storage

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able description (stored in checkpoints)."""
        return {"version": self.VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PoseCodec":
        """Inverse of :meth:`to_dict`; rejects other versions and unknown keys."""
        d = dict(d)
        version = d.pop("version", None)
        if version not in (1, 2, cls.VERSION):
            raise ValueError(f"unsupported PoseCodec version {version!r} (this code reads versions 1 to {cls.VERSION})")
        known = {"joint_set", "metres_per_unit"} | ({"input_norm"} if version >= 2 else set()) | (
            {"location"} if version >= 3 else set())
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown PoseCodec fields: {sorted(unknown)}")
        return cls(**d)
