"""Typed containers of the action task."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ActionSample", "ActionDataset"]


@dataclass
class ActionSample:
    """One labelled clip as 2D keypoints of up to M persons, in the lifter's H36M-17 layout.

    xy: (M, F, 17, 2) float32 pixels; conf: (M, F, 17) float32 in [0, 1] (0 = joint not seen;
    a person absent from a frame has conf 0 there; a missing second person is all zeros).
    label: class index into the dataset's ``classes`` (-1 = unlabelled).
    width, height: image size in pixels; fps: frame rate.
    name: clip id (file name / frame_dir); subject: performer id if known ("" otherwise);
    camera / setup: NTU's camera and setup ids if known (0 otherwise).
    """

    xy: np.ndarray
    conf: np.ndarray
    label: int
    width: int
    height: int
    fps: float
    name: str
    subject: str = ""
    camera: int = 0
    setup: int = 0

    def __post_init__(self) -> None:
        if self.xy.ndim != 4 or self.xy.shape[2:] != (17, 2):
            raise ValueError(f"xy must be (M, F, 17, 2), got {self.xy.shape}")
        if self.conf.shape != self.xy.shape[:3]:
            raise ValueError(f"conf must be {self.xy.shape[:3]}, got {self.conf.shape}")

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[1])

    @property
    def num_persons(self) -> int:
        return int(self.xy.shape[0])


@dataclass
class ActionDataset:
    """Labelled clips with a class list and named splits (split name -> sample indices)."""

    samples: list[ActionSample]
    classes: tuple[str, ...]
    splits: dict[str, list[int]] = field(default_factory=dict)
    source: str = ""
