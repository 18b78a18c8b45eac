"""Training configuration: a typed dataclass, read from YAML/TOML and dotted CLI overrides."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hmcli.data.augment import check_bone_jitter, check_splice_prob
from hmcli.io.atomic import HMError


@dataclass
class TrainConfig:
    # model
    model: str = "hummuss-small"  # preset or architecture name (hm info lists them)
    model_overrides: dict[str, Any] = field(default_factory=dict)
    task: str = "pose3d"  # pose3d, or mpm (masked pose modelling pre-training: hummuss, pstmo)
    init_from: str = ""  # checkpoint whose matching weights initialise the model (e.g. an mpm run's last.pt)
    # data
    data: str = "../shared/data/cmu-amc"  # a directory in CMU ASF/AMC layout
    fps: float = 30.0  # training frame rate (Δ multiplier 1)
    fps_aug: list[float] = field(default_factory=list)  # extra rates sampled in training, Δ scaled
    clip_min: int = 27
    clip_max: int = 81
    camera_kind: str = "any"
    input_norm: str = "person"  # 2D normalisation of the codec: person (per-frame centre and size) or image
    input_location: bool = False  # person units + the person's place and size in the picture (3 more channels)
    flip_prob: float = 0.5
    bone_jitter: float = 0.0  # std of per-bone length factors drawn per clip (0: the subjects' own bodies)
    splice_prob: float = 0.0  # fraction of clips given the upper body of another random clip (0: as captured)
    # optimisation
    steps: int = 2000
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 100
    grad_clip: float = 1.0
    lambda_vel: float = 1.0
    lambda_reproj: float = 0.0
    lambda_multi: float = 1.0  # P-STMO: weight of the multi-frame (TEM) output's loss
    mask_ratio: float = 0.8  # mpm: fraction of frames hidden
    mask_joints: int = 2  # mpm: joints hidden in each remaining frame
    seed: int = 0
    # bookkeeping
    out: str = "runs/hummuss"
    eval_every: int = 250
    save_every: int = 250
    val_clip: int = 243
    # clips: validation windows of val_clip frames (fast); lift: whole validation trials lifted
    # as hm lift runs the model (trained-length windows, test-time flip), the figure
    # ``hm eval --split val`` reports. best.pt is chosen by it.
    val_mode: str = "clips"
    # lift: virtual cameras per validation trial (hm eval --split val --cameras N). With 2, the
    # figure moves by ~3 mm with the choice of cameras; more cameras rank checkpoints more surely.
    val_cameras: int = 2
    threads: int = 0  # torch threads (0: all cores / world size)
    recompute_layers: bool = False  # HumMUSS: activation checkpointing per layer (long clips in less memory)
    half_export: bool = True  # store the final/best weights in float16

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(value: str, like: Any) -> Any:
    """Parse a CLI override string to the type of the default value."""
    if isinstance(like, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise HMError(f"expected true/false, got '{value}'")
    if isinstance(like, int):
        return int(value)
    if isinstance(like, float):
        return float(value)
    if isinstance(like, (list, dict)):
        return yaml.safe_load(value)
    return value


def load_config_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise HMError(f"config file not found: {p}")
    try:
        if p.suffix == ".toml":
            data = tomllib.loads(p.read_text())
        else:
            data = yaml.safe_load(p.read_text()) or {}
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as e:
        raise HMError(f"cannot parse config {p}: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise HMError(f"config {p} must be a mapping of option: value")
    return data


def resolve_config(file: str | Path | None = None, overrides: list[str] | None = None, **kwargs: Any) -> TrainConfig:
    """Defaults < config file < keyword arguments < ``key=value`` overrides.

    ``model.dim=64`` style keys go to ``model_overrides``."""
    values: dict[str, Any] = {}
    if file:
        values.update(load_config_file(file))
    values.update({k: v for k, v in kwargs.items() if v is not None})
    defaults = TrainConfig()
    mo = dict(values.pop("model_overrides", {}) or {})
    for item in overrides or []:
        if "=" not in item:
            raise HMError(f"override '{item}' is not key=value")
        key, val = item.split("=", 1)
        if key.startswith("model."):
            mo[key[6:]] = yaml.safe_load(val)
        elif key in TrainConfig.field_names():
            values[key] = _coerce(val, getattr(defaults, key))
        else:
            raise HMError(f"unknown option '{key}' (known: {', '.join(sorted(TrainConfig.field_names()))})")
    unknown = set(values) - TrainConfig.field_names()
    if unknown:
        raise HMError(f"unknown option(s) in config: {', '.join(sorted(unknown))}")
    cfg = TrainConfig(**values, model_overrides=mo)
    if cfg.task not in ("pose3d", "mpm"):
        raise HMError(f"unknown task '{cfg.task}' (available: pose3d, mpm)")
    if cfg.input_norm not in ("person", "image"):
        raise HMError(f"unknown input_norm '{cfg.input_norm}' (available: person, image)")
    if cfg.val_mode not in ("clips", "lift"):
        raise HMError(f"unknown val_mode '{cfg.val_mode}' (available: clips, lift)")
    if cfg.val_cameras < 1:
        raise HMError(f"val_cameras must be at least 1, got {cfg.val_cameras}")
    if cfg.val_mode == "lift" and cfg.task != "pose3d":
        raise HMError("val_mode=lift validates 3D lifting; use it with task=pose3d")
    try:
        check_splice_prob(cfg.splice_prob)
    except ValueError as e:
        raise HMError(str(e)) from None
    if cfg.input_location and cfg.input_norm != "person":
        raise HMError("input_location needs input_norm=person (image units keep the location already)")
    try:
        check_bone_jitter(cfg.bone_jitter)
    except ValueError:
        raise HMError(f"bone_jitter must be in [0, 0.5), got {cfg.bone_jitter}") from None
    if not 1 <= cfg.clip_min <= cfg.clip_max:
        raise HMError("need 1 <= clip_min <= clip_max")
    return cfg


def resume_config(overrides: list[str] | None = None, **kwargs: Any) -> TrainConfig:
    """The configuration of the run being resumed: its own ``config.yaml`` < keyword arguments < overrides.

    The run directory is ``out`` (a keyword or an ``out=`` override). Overrides are meant for what may change
    mid-run (``steps``, ``threads``, ``eval_every``); the trainer refuses a model that no longer fits the
    run's weights."""
    out = kwargs.get("out")
    for item in overrides or []:
        if item.startswith("out="):
            out = item.split("=", 1)[1]
    if not out:
        raise HMError("--resume needs the run directory: --out RUN")
    file = Path(out) / "config.yaml"
    if not file.is_file():
        raise HMError(f"{out} holds no run to resume (no config.yaml)")
    return resolve_config(file, overrides, **kwargs)


def dump_config(cfg: TrainConfig, path: Path) -> None:
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def config_json(cfg: TrainConfig) -> str:
    return json.dumps(cfg.to_dict(), sort_keys=True)
