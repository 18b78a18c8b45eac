"""Action classifier checkpoints: the backbone (an hm lifter checkpoint's pieces) + the head.

Layout (``torch.save`` of plain containers and tensors; read with ``weights_only=True``)::

    {"format": "hm.action", "version": 1, "classes": [...], "window_s": 2.0, "fps": 30.0,
     "backbone": {"arch", "config", "codec", "state_dict"}, "head": {"config", "state_dict"},
     "meta": {...}}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hmcli.action.model import ActionClassifier, ActionHead, ActionHeadConfig
from hmcli.skeleton.codec import PoseCodec
from hmcli.io.checkpoint import (CheckpointError, atomic_torch_save, check_config_fits_weights, config_dict,
                                 file_sha256, first_line, read_payload)

__all__ = ["ACTION_FORMAT", "LoadedAction", "save_action", "load_action", "DEFAULT_ACTION_MODEL",
           "DEFAULT_CAUSAL_ACTION_MODEL", "resolve_action_model"]

ACTION_FORMAT = "hm.action"
ACTION_VERSION = 1
MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_ACTION_MODEL = "hummuss-action-cmu"
DEFAULT_CAUSAL_ACTION_MODEL = "hummuss-action-causal-cmu"


@dataclass
class LoadedAction:
    model: ActionClassifier
    codec: PoseCodec
    classes: tuple[str, ...]
    window_s: float
    fps: float
    arch: str
    meta: dict = field(default_factory=dict)
    path: str | None = None
    sha256: str | None = None

    @property
    def model_id(self) -> str:
        return str(self.meta.get("model_id") or (Path(self.path).stem if self.path else "action"))

    @property
    def window_frames(self) -> int:
        return max(1, int(round(self.window_s * self.fps)))


def save_action(path: str | os.PathLike, clf: ActionClassifier, arch: str, codec: PoseCodec,
                classes: tuple[str, ...], window_s: float, fps: float, meta: dict | None = None,
                half: bool = False, train_state: dict | None = None) -> None:
    def sd(m: torch.nn.Module) -> dict:
        out = {k: v.detach().cpu() for k, v in m.state_dict().items()}
        return {k: v.half() if half and v.is_floating_point() else v for k, v in out.items()}

    obj = {
        "format": ACTION_FORMAT, "version": ACTION_VERSION, "classes": list(classes),
        "window_s": float(window_s), "fps": float(fps),
        "backbone": {"arch": arch, "config": config_dict(clf.backbone), "codec": codec.to_dict(),
                     "state_dict": sd(clf.backbone)},
        "head": {"config": clf.head_config(), "state_dict": sd(clf.head)},
        "meta": meta or {},
    }
    if train_state is not None:
        obj["train_state"] = train_state
    atomic_torch_save(obj, Path(path))


def resolve_action_model(name: str | os.PathLike | None, causal: bool = False) -> Path:
    if name is None:
        name = DEFAULT_CAUSAL_ACTION_MODEL if causal else DEFAULT_ACTION_MODEL
    p = Path(name)
    if p.is_file():
        return p
    cand = MODELS_DIR / f"{name}.pt"
    if cand.is_file():
        return cand
    raise CheckpointError(f"action model not found: {name} (a .pt path, or a name in {MODELS_DIR})")


def read_action(path: str | os.PathLike) -> dict:
    return read_payload(path, ACTION_FORMAT, ACTION_VERSION, "action model", "hm lift models go to --model of hm lift")


def load_action(name: str | os.PathLike | None = None, causal: bool = False) -> LoadedAction:
    from hmcli.nn.registry import build_from_config

    path = resolve_action_model(name, causal)
    obj = read_action(path)
    try:
        bb = obj["backbone"]
        check_config_fits_weights(bb["config"], bb["state_dict"], path)
        backbone = build_from_config(bb["arch"], bb["config"])
        backbone.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in bb["state_dict"].items()})
        head = ActionHead(ActionHeadConfig(**obj["head"]["config"]))
        head.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in obj["head"]["state_dict"].items()})
        classes = tuple(str(c) for c in obj["classes"])
        codec = PoseCodec.from_dict(bb["codec"])
    except (KeyError, TypeError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"action model {path} is inconsistent: {first_line(e)}") from None
    clf = ActionClassifier(backbone, head).eval()
    if causal and not clf.causal:
        raise CheckpointError(f"{path} has a bidirectional backbone; --causal needs a causal action model")
    return LoadedAction(clf, codec, classes, float(obj["window_s"]), float(obj["fps"]), bb["arch"],
                        obj.get("meta", {}), str(path), file_sha256(path))
