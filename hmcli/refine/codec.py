"""RefineCodec: pixels <-> the 2D refiner's units, one normalisation per clip.

A clip of one person's keypoints (F, J, 2) pixels with confidences (F, J) is moved and scaled
as a whole: the centre ``c`` is the median, over the frames that have any joint, of the mean
of that frame's present joints; the scale ``s`` is the median of those frames' root mean
square distance of the present joints from their mean (floored at ``min_scale`` pixels).
``u = (xy - c) / s``. One normalisation for the whole clip (not per frame) keeps the motion
of the body across the picture and does not turn a missed or swapped joint into a jump of
every other joint. Missing joints (confidence <= 0 or non-finite coordinates) are encoded as
(0, 0, 0). Encoded input is (..., F, J, 3) = (u, v, conf); the model's output (..., F, J, 2)
decodes back to pixels with the same ``c`` and ``s``.

Works on torch tensors with any leading batch shape; numpy arrays go through torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class ClipFrame:
    """The normalisation of a batch of clips: centre (..., 2) pixels and scale (...,) pixels."""

    centre: Tensor
    scale: Tensor


@dataclass(frozen=True)
class RefineCodec:
    min_scale: float = 1.0  # pixels; a clip with no spread (one joint) still decodes

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RefineCodec":
        return cls(**d)

    @staticmethod
    def present(xy: Tensor, conf: Tensor) -> Tensor:
        """(..., F, J) bool: joints with confidence > 0 and finite coordinates."""
        return (conf > 0) & torch.isfinite(xy).all(dim=-1)

    def clip_frame(self, xy: Tensor, conf: Tensor) -> ClipFrame:
        """The clip's centre and scale (see the module docstring). xy: (..., F, J, 2); conf: (..., F, J)."""
        xy = torch.as_tensor(xy, dtype=torch.float32)
        conf = torch.as_tensor(conf, dtype=torch.float32)
        ok = self.present(xy, conf)  # (..., F, J)
        w = ok.to(xy.dtype)
        clean = torch.where(ok[..., None], xy, torch.zeros_like(xy))  # (..., F, J, 2)
        n = w.sum(-1)  # (..., F)
        mean = clean.sum(-2) / n.clamp(min=1)[..., None]  # (..., F, 2)
        spread = (((clean - mean[..., None, :]) ** 2).sum(-1) * w).sum(-1) / n.clamp(min=1)  # (..., F)
        has = n > 0  # (..., F)
        nan = torch.full_like(spread, float("nan"))
        centre = torch.nanmedian(torch.where(has[..., None], mean, nan[..., None]).transpose(-1, -2), dim=-1).values  # (..., 2)
        scale = torch.nanmedian(torch.where(has, spread.sqrt(), nan), dim=-1).values  # (...,)
        centre = torch.nan_to_num(centre, nan=0.0)
        scale = torch.nan_to_num(scale, nan=self.min_scale).clamp(min=self.min_scale)
        return ClipFrame(centre, scale)

    def encode(self, xy: Tensor, conf: Tensor, frame: ClipFrame | None = None) -> tuple[Tensor, ClipFrame]:
        """(..., F, J, 2) px + (..., F, J) -> model input (..., F, J, 3) and the clip's frame."""
        xy = torch.as_tensor(xy, dtype=torch.float32)
        conf = torch.as_tensor(conf, dtype=torch.float32)
        frame = frame if frame is not None else self.clip_frame(xy, conf)
        ok = self.present(xy, conf)  # (..., F, J)
        u = (xy - frame.centre[..., None, None, :]) / frame.scale[..., None, None, None]  # (..., F, J, 2)
        u = torch.where(ok[..., None], u, torch.zeros_like(u))
        c = torch.where(ok, conf, torch.zeros_like(conf))
        return torch.cat([u, c[..., None]], dim=-1), frame

    def encode_target(self, xy: Tensor, frame: ClipFrame) -> Tensor:
        """Exact 2D (..., F, J, 2) px -> refiner units with a given clip frame (training targets)."""
        xy = torch.as_tensor(xy, dtype=torch.float32)
        return (xy - frame.centre[..., None, None, :]) / frame.scale[..., None, None, None]

    @staticmethod
    def decode(u: Tensor, frame: ClipFrame) -> Tensor:
        """Refiner output (..., F, J, 2) -> pixels."""
        return u * frame.scale[..., None, None, None] + frame.centre[..., None, None, :]
