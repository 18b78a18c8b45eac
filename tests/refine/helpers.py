"""Tiny refiner checkpoints for tests."""

from __future__ import annotations

import torch

from hmcli.refine.checkpoint import save_refiner
from hmcli.refine.codec import RefineCodec
from hmcli.refine.model import Refiner2D, RefinerConfig

TINY = dict(dim=16, layers=1, state=4, expand=1.0, k=2)


def tiny_refiner(identity: bool = True, seed: int = 0, **overrides) -> Refiner2D:
    """A tiny refiner; ``identity``: its read-out left at zero (it returns its input), else random."""
    torch.manual_seed(seed)
    m = Refiner2D(RefinerConfig(**{**TINY, **overrides}))
    if not identity:
        torch.nn.init.normal_(m.head.weight, std=0.05)
    return m.eval()


def tiny_refiner_file(path, identity: bool = True, seed: int = 0, clip_frames: int = 16, **overrides) -> str:
    save_refiner(path, tiny_refiner(identity, seed, **overrides), RefineCodec(),
                 meta={"model_id": "tiny-refiner", "clip_frames": clip_frames})
    return str(path)
