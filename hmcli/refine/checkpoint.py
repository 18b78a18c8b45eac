"""2D refiner checkpoints (``torch.save`` of plain containers and tensors; read with ``weights_only``)::

    {"format": "hm.refine2d", "version": 1, "config": {...}, "codec": {...},
     "state_dict": {...}, "meta": {...}}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hmcli.io.checkpoint import (CheckpointError, atomic_torch_save, check_config_fits_weights, file_sha256,
                                 first_line, models_dirs, read_payload)
from hmcli.refine.codec import RefineCodec
from hmcli.refine.model import Refiner2D, RefinerConfig

__all__ = ["REFINE_FORMAT", "DEFAULT_REFINER", "FILL_CONFIDENCE", "LoadedRefiner", "save_refiner", "load_refiner", "resolve_refiner"]

REFINE_FORMAT = "hm.refine2d"
REFINE_VERSION = 1
DEFAULT_REFINER = "refine2d-cmu"
#: The confidence given to joints the detector missed and a refiner filled in, unless its training set
#: another (``fill_conf`` in its metadata; 0 leaves them missing for the lifter).
FILL_CONFIDENCE = 0.5


@dataclass
class LoadedRefiner:
    model: Refiner2D
    codec: RefineCodec
    meta: dict = field(default_factory=dict)
    path: str | None = None
    sha256: str | None = None

    @property
    def model_id(self) -> str:
        return str(self.meta.get("model_id") or (Path(self.path).stem if self.path else "refine2d"))

    @property
    def fill_conf(self) -> float:
        """The confidence the lifter gets for joints this refiner filled in (its training's ``fill_conf``)."""
        return float(self.meta.get("fill_conf", FILL_CONFIDENCE))

    @property
    def clip_frames(self) -> int:
        """The longest clip the refiner was trained on (its offline window)."""
        return int(self.meta.get("clip_frames", 81))


def save_refiner(path: str | os.PathLike, model: Refiner2D, codec: RefineCodec, meta: dict | None = None,
                 half: bool = False, train_state: dict | None = None) -> None:
    sd = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if half:
        sd = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
    obj = {"format": REFINE_FORMAT, "version": REFINE_VERSION, "config": model.cfg.to_dict(),
           "codec": codec.to_dict(), "state_dict": sd, "meta": meta or {}}
    if train_state is not None:
        obj["train_state"] = train_state
    atomic_torch_save(obj, Path(path))


def resolve_refiner(name: str | os.PathLike | None = None) -> Path:
    name = DEFAULT_REFINER if name is None else name
    p = Path(name)
    if p.is_file():
        return p
    for d in models_dirs():
        cand = d / f"{name}.pt"
        if cand.is_file():
            return cand
    raise CheckpointError(f"2D refiner not found: {name} (a .pt path, or a name in models/)")


def read_refiner(path: str | os.PathLike) -> dict:
    return read_payload(path, REFINE_FORMAT, REFINE_VERSION, "2D refiner", "made by hm train --task refine2d")


def load_refiner(name: str | os.PathLike | None = None) -> LoadedRefiner:
    """A refiner by path or shipped name (default :data:`DEFAULT_REFINER`), eval mode, float32."""
    path = resolve_refiner(name)
    obj = read_refiner(path)
    try:
        check_config_fits_weights(obj["config"], obj["state_dict"], path)
        model = Refiner2D(RefinerConfig(**obj["config"]))
        sd = {k: v.float() if v.is_floating_point() else v for k, v in obj["state_dict"].items()}
        if any(v.is_floating_point() and not torch.isfinite(v).all() for v in sd.values()):
            raise CheckpointError(f"2D refiner {path} has NaN or infinite weights")
        model.load_state_dict(sd)
        codec = RefineCodec.from_dict(obj["codec"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"2D refiner {path} is inconsistent: {first_line(e)}") from None
    return LoadedRefiner(model.eval(), codec, dict(obj.get("meta") or {}), str(path), file_sha256(path))
