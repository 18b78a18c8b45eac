"""Checkpoint files: weights + architecture config + codec + description of the training data.

A checkpoint is a plain dict of tensors, strings, numbers, lists and dicts written with
``torch.save`` and read back with ``torch.load(weights_only=True)``, so loading a file can
never execute code. Layout::

    {"format": "hm.checkpoint", "version": 1,
     "arch": "hummuss", "config": {...}, "codec": {...},
     "state_dict": {name: tensor}, "dtype": "float16" | "float32",
     "meta": {"model_id": ..., "data": {...}, "train": {...}, "metrics": {...}}}

Training checkpoints (``--resume``) add ``"train_state"`` with optimizer, scheduler, RNG and
step; shipped checkpoints leave it out and may store weights in float16.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from hmcli.io.atomic import HMError, atomic_write
from hmcli.nn.registry import build_from_config
from hmcli.skeleton.codec import PoseCodec

FORMAT = "hm.checkpoint"
VERSION = 1


class CheckpointError(HMError):
    """A checkpoint file that is missing, corrupt, or of another format/version."""


@dataclass
class LoadedModel:
    model: nn.Module
    arch: str
    config: dict
    codec: PoseCodec
    meta: dict = field(default_factory=dict)
    path: str | None = None
    sha256: str | None = None

    @property
    def model_id(self) -> str:
        return str(self.meta.get("model_id") or (Path(self.path).stem if self.path else self.arch))


def config_dict(model: nn.Module) -> dict:
    return asdict(model.cfg)


def atomic_torch_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:  # fsync'ed; temps of killed writers are removed
        torch.save(obj, f)


def _to_half(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating-point tensors of a state dict rounded to float16 (the others unchanged)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    arch: str,
    codec: PoseCodec,
    meta: dict | None = None,
    train_state: dict | None = None,
    half: bool = False,
) -> None:
    """Write a checkpoint atomically (temp file + rename)."""
    sd = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if half:
        sd = _to_half(sd)
    obj = {
        "format": FORMAT,
        "version": VERSION,
        "arch": arch,
        "config": config_dict(model),
        "codec": codec.to_dict(),
        "state_dict": sd,
        "dtype": "float16" if half else "float32",
        "meta": meta or {},
    }
    if train_state is not None:
        obj["train_state"] = train_state
    atomic_torch_save(obj, Path(path))


def release_checkpoint(src: str | os.PathLike, dst: str | os.PathLike, model_id: str,
                       metrics: dict[str, float], trained_as: str = "", half: bool = False) -> None:
    """Write the checkpoint ``src`` as a shipped model ``dst`` (atomically): no training state,
    ``meta.model_id`` = ``model_id`` (``meta.train.out`` follows it), the held-out ``metrics``
    that ``hm info`` lists, and optionally the command the weights came from (``trained_as``).
    Config and codec are copied unchanged; the weights too, or rounded to float16 with
    ``half`` (e.g. a run's ``last.pt``, which keeps float32 for resuming)."""
    obj = read_checkpoint(src)
    obj.pop("train_state", None)
    if half and obj.get("dtype") != "float16":
        obj["state_dict"] = _to_half(obj["state_dict"])
        obj["dtype"] = "float16"
    meta = dict(obj.get("meta") or {})
    meta["model_id"] = model_id
    if isinstance(meta.get("train"), dict):
        meta["train"] = {**meta["train"], "out": str(Path(meta["train"].get("out", "runs/x")).parent / model_id)}
    meta["metrics"] = {k: float(v) for k, v in metrics.items()}
    if trained_as:
        meta["trained_as"] = trained_as
    obj["meta"] = meta
    atomic_torch_save(obj, Path(dst))


def interpolate_checkpoints(paths: list[str | os.PathLike], weights: list[float], model_id: str) -> dict:
    """A checkpoint dict whose floating-point weights are ``sum(w_i * weights_i)`` of the checkpoints
    at ``paths`` (same architecture, config and codec; e.g. a model and its fine-tuned version:
    weights (1 - a, a) interpolate between them, a > 1 extrapolates), float16, no training state,
    the first file's meta with ``model_id``. Raises CheckpointError on mismatched files."""
    if not paths or len(paths) != len(weights):
        raise CheckpointError("interpolation needs one weight per checkpoint")
    objs = [read_checkpoint(p) for p in paths]
    first = objs[0]
    for p, o in zip(paths[1:], objs[1:]):
        if (o["arch"], o["config"], o["codec"]) != (first["arch"], first["config"], first["codec"]) or \
                o["state_dict"].keys() != first["state_dict"].keys():
            raise CheckpointError(f"{p}: another architecture, config or codec than {paths[0]}")
    sd = {k: (sum(w * o["state_dict"][k].float() for w, o in zip(weights, objs)).half() if v.is_floating_point()
              else v)
          for k, v in first["state_dict"].items()}
    out = {k: v for k, v in first.items() if k != "train_state"}
    out.update(state_dict=sd, dtype="float16",
               meta={**(first.get("meta") or {}), "model_id": model_id,
                     "interpolated": [{"path": str(p), "weight": float(w)} for p, w in zip(paths, weights)]})
    return out


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def first_line(e: BaseException) -> str:
    """An exception's first message line (its type name when it has no message)."""
    lines = str(e).splitlines()
    return lines[0][:200] if lines and lines[0].strip() else type(e).__name__


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Read and validate the raw checkpoint dict (weights_only: no code runs)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols before refusing
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt zip, pickle with forbidden globals, truncated or empty file
        raise CheckpointError(f"cannot read checkpoint {p}: {first_line(e)}") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"{p} is not an hm checkpoint")
    if obj.get("version") != VERSION:
        raise CheckpointError(
            f"{p} has checkpoint version {obj.get('version')}, this hm reads version {VERSION}; "
            "use a matching hm release"
        )
    return obj


def read_payload(path: str | os.PathLike, fmt: str, version: int, what: str, not_this: str) -> dict:
    """A ``torch.save``'d dict of plain containers and tensors of format ``fmt`` and ``version`` (read with
    ``weights_only``: no code runs). ``what`` names the file kind in errors ("action model"); ``not_this``
    ends the message for a file of another format. One-line :class:`CheckpointError` otherwise."""
    p = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols before refusing
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt zip, forbidden globals, truncated or empty file
        raise CheckpointError(f"cannot read {what} {p}: {first_line(e)}") from None
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        raise CheckpointError(f"{p} is not an hm {what} ({not_this})")
    if obj.get("version") != version:
        raise CheckpointError(f"{p} has {what} version {obj.get('version')}; this hm reads {version}")
    return obj


def check_config_fits_weights(config: Any, state_dict: Any, path: Any) -> None:
    """Refuse a config whose sizes no weight in the file has (e.g. depth 1000000 next to a
    one-block state dict): building such a model would take minutes and all memory before the
    weights could be found not to fit. Every integer of a real config (depth, widths, window
    lengths) is at most the number of tensors or the largest tensor dimension."""
    if not isinstance(config, dict) or not isinstance(state_dict, dict):
        return  # the build below reports it
    sizes = [int(d) for v in state_dict.values() if isinstance(v, torch.Tensor) for d in v.shape]
    bound = max([len(state_dict), *sizes, 1])
    big = {k: v for k, v in config.items() if isinstance(v, int) and not isinstance(v, bool) and abs(v) > bound}
    if big:
        k, v = next(iter(big.items()))
        raise CheckpointError(f"checkpoint {path} does not match its architecture: config {k}={v} is larger than "
                              f"any size in its weights ({bound})")


def load_checkpoint(path: str | os.PathLike) -> LoadedModel:
    """Load a model for inference (eval mode, float32)."""
    obj = read_checkpoint(path)
    try:
        check_config_fits_weights(obj["config"], obj["state_dict"], path)
        model = build_from_config(obj["arch"], obj["config"])
        sd = {k: v.float() if v.is_floating_point() else v for k, v in obj["state_dict"].items()}
        bad = [k for k, v in sd.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise CheckpointError(f"checkpoint {path} has NaN or infinite weights ({bad[0]}"
                                  f"{f' and {len(bad) - 1} more' if len(bad) > 1 else ''})")
        model.load_state_dict(sd)
        codec = PoseCodec.from_dict(obj["codec"])
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {path} does not match its architecture: {first_line(e)}") from None
    return LoadedModel(
        model=model.eval(),
        arch=obj["arch"],
        config=obj["config"],
        codec=codec,
        meta=obj.get("meta", {}),
        path=str(path),
        sha256=file_sha256(path),
    )


def models_dirs() -> list[Path]:
    """Where shipped and user checkpoints are looked for: $HM_MODELS, the project's models/,
    ./models."""
    dirs = []
    if os.environ.get("HM_MODELS"):
        dirs.append(Path(os.environ["HM_MODELS"]))
    dirs.append(Path(__file__).resolve().parents[2] / "models")
    dirs.append(Path.cwd() / "models")
    seen, out = set(), []
    for d in dirs:
        r = d.resolve()
        if r not in seen and r.is_dir():
            seen.add(r)
            out.append(r)
    return out


def find_checkpoints() -> list[Path]:
    return sorted({p for d in models_dirs() for p in d.glob("*.pt")})


def resolve_model(name_or_path: str) -> Path:
    """A checkpoint path, or the name of one in the models directories (with or without .pt)."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    for d in models_dirs():
        for cand in (d / name_or_path, d / f"{name_or_path}.pt"):
            if cand.is_file():
                return cand
    known = ", ".join(c.stem for c in find_checkpoints()) or "none found"
    raise CheckpointError(f"model '{name_or_path}' not found (shipped models: {known})")
