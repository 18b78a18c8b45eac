"""Training configuration: a typed dataclass, read from YAML/TOML and dotted CLI overrides."""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from hmcli.data.augment import check_bone_jitter, check_speed_aug, check_splice_arms, check_splice_prob, proportion_preset
from hmcli.data.camera import check_camera_kind
from hmcli.data.corrupt import CORRUPT_MODELS
from hmcli.io.atomic import HMError


PRECISIONS: tuple[str, ...] = ("fp32", "bf16")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise HMError(f"unknown precision '{precision}' (available: {', '.join(PRECISIONS)})")


def autocast_for(precision: str, device: torch.device) -> torch.autocast:
    """The forward-pass context of a training precision: bfloat16 autocast for ``bf16``, a
    disabled one for ``fp32``. Weights, gradients, optimiser state and losses stay float32."""
    check_precision(precision)
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


@dataclass
class TrainConfig:
    # model
    model: str = "hummuss-small"  # preset or architecture name (hm info lists them)
    model_overrides: dict[str, Any] = field(default_factory=dict)
    task: str = "pose3d"  # pose3d, or mpm (masked pose modelling pre-training: hummuss, pstmo)
    init_from: str = ""  # checkpoint whose matching weights initialise the model (e.g. an mpm run's last.pt)
    # data
    data: str = "../shared/data/cmu-amc"  # a directory in CMU ASF/AMC layout
    # more CMU-like directories (e.g. ../shared/data/cmu-amc-extra): their trials join train and val by subject,
    # trials already in `data` (same subject and trial number) skipped; the test split stays `data`'s alone
    data_extra: list[str] = field(default_factory=list)
    # rendered pairs (scripts/render_pairs.py: the real detector's 2D of rendered training-subject bodies + 3D
    # truth, hmcli.data.rendered): a share rendered_p of each 30 fps batch's windows comes from them
    data_rendered: list[str] = field(default_factory=list)
    rendered_p: float = 0.0
    train_on: str = "train"  # train, or train+val: a final fit that adds the validation subjects (no validation, no best.pt)
    fps: float = 30.0  # training frame rate (Δ multiplier 1)
    fps_aug: list[float] = field(default_factory=list)  # extra rates sampled in training, Δ scaled
    clip_min: int = 27
    clip_max: int = 81
    # virtual cameras (hmcli.data.camera): any (= standard, the shipped models' cameras), one named kind
    # (standard, ceiling, phone, webcam, sports, handheld), or mixed (a kind drawn per clip, MIXED_WEIGHTS)
    camera_kind: str = "any"
    input_norm: str = "person"  # 2D normalisation of the codec: person (per-frame centre and size) or image
    input_location: bool = False  # person units + the person's place and size in the picture (3 more channels)
    flip_prob: float = 0.5
    bone_jitter: float = 0.0  # std of per-bone length factors drawn per clip (0: the subjects' own bodies)
    splice_prob: float = 0.0  # fraction of clips given the upper body of another random clip (0: as captured)
    splice_arms: float = 0.0  # per arm of a spliced clip: chance that it moves as in a third clip (0: the donor's arms)
    # body proportions per person and bone group (hmcli.data.augment.PROPORTION_PRESETS): "" (off, the shipped
    # models), wide (shoulders 0.75-1.25, hips 0.8-1.2, leg/torso +-15 %, limbs +-12 %, a quarter children 0.6-1.0x)
    # or adult (wide without children); multiplies the bone_jitter factors
    proportions: str = ""
    # 2D corruption (hmcli.data.corrupt): plain (the shipped models': jitter, outliers, ~15 % masked joints,
    # error-driven confidence), blazepose (BlazePose's measured pattern: drifting per-joint errors, limb-pair swaps,
    # whole lost frames, far-side low visibility) or mixed (either, per clip)
    corrupt_model: str = "plain"
    speed_aug: float = 1.0  # clips played at a speed in [1/speed_aug, speed_aug], Δ unchanged (1: as captured)
    # a 2D refiner (hm train --task refine2d; path or shipped name) run on every training and validation clip's
    # 2D before the lifter sees it, as hm lift --refine runs it ("" : none, the shipped models)
    refine_model: str = ""
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
    # fp32, or bf16: forward passes under bfloat16 autocast (linear layers, attention); SSMs, losses,
    # weights and optimiser state stay float32. Faster on GPUs and on CPUs with bf16 matrix units
    # (AMX, AVX512-BF16); slower elsewhere.
    precision: str = "fp32"
    half_export: bool = True  # store the final/best weights in float16

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(key: str, value: str, like: Any) -> Any:
    """Parse the CLI override ``key=value`` to the type of the default value."""
    if isinstance(like, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise HMError(f"{key}: expected true/false, got '{value}'")
    try:
        if isinstance(like, int):
            return int(value)
        if isinstance(like, float):
            return float(value)
        if isinstance(like, (list, dict)):
            return yaml.safe_load(value)
    except (ValueError, yaml.YAMLError):
        raise HMError(f"{key}: expected {_KIND[type(like)]}, got '{value}'") from None
    return value


_KIND = {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}


def _check_types(values: dict[str, Any], defaults: TrainConfig) -> None:
    """Each value has its field's type (an int is a number; a bool is neither)."""
    for key, val in values.items():
        kind = type(getattr(defaults, key))
        number = (int, float) if kind is float else kind
        ok = isinstance(val, number) and not (kind in (int, float) and isinstance(val, bool))
        if not ok:
            raise HMError(f"{key}: expected {_KIND[kind]}, got {val!r}")
    for v in values.get("data_extra", []):
        if not isinstance(v, str) or not v:
            raise HMError(f"data_extra: expected directory names, got {v!r}")
    for v in values.get("data_rendered", []):
        if not isinstance(v, str) or not v:
            raise HMError(f"data_rendered: expected file names, got {v!r}")
    for v in values.get("fps_aug", []):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise HMError(f"fps_aug: expected positive frame rates, got {v!r}")


#: What ``train_on`` may name: the training subjects, or those plus the validation subjects.
TRAIN_ON: tuple[str, ...] = ("train", "train+val")

# key: (lowest, highest, whether the lowest is allowed)
_RANGES: dict[str, tuple[float, float, bool]] = {
    "steps": (1, math.inf, True), "batch_size": (1, math.inf, True), "lr": (0, math.inf, False),
    "weight_decay": (0, math.inf, True), "warmup": (0, math.inf, True), "grad_clip": (0, math.inf, True),
    "lambda_vel": (0, math.inf, True), "lambda_reproj": (0, math.inf, True), "lambda_multi": (0, math.inf, True),
    "flip_prob": (0, 1, True), "fps": (0, math.inf, False),
    "eval_every": (1, math.inf, True), "save_every": (1, math.inf, True), "val_clip": (1, math.inf, True),
    "val_cameras": (1, math.inf, True), "threads": (0, math.inf, True),
}  # fmt: skip


def _check_ranges(cfg: TrainConfig) -> None:
    for key, (lo, hi, closed) in _RANGES.items():
        v = getattr(cfg, key)
        if not ((v >= lo if closed else v > lo) and v <= hi):
            low = f">= {lo}" if closed else f"> {lo}"
            raise HMError(f"{key} must be {low}" + (f" and <= {hi}" if hi != math.inf else "") + f", got {v}")


def load_config_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise HMError(f"config file not found: {p}")
    try:
        if p.suffix == ".toml":
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        else:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise HMError(f"cannot parse config {p}: not UTF-8 text") from None
    except RecursionError:  # e.g. '{' repeated: YAML nested beyond Python's recursion limit
        raise HMError(f"cannot parse config {p}: nested too deeply") from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as e:
        raise HMError(f"cannot parse config {p}: {(str(e).splitlines() or [type(e).__name__])[0]}") from None
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
    mo = values.pop("model_overrides", {}) or {}
    if not isinstance(mo, dict):
        raise HMError(f"model_overrides: expected a mapping, got {mo!r}")
    mo = dict(mo)
    for item in overrides or []:
        if "=" not in item:
            raise HMError(f"override '{item}' is not key=value")
        key, val = item.split("=", 1)
        if key.startswith("model."):
            try:
                mo[key[6:]] = yaml.safe_load(val)
            except yaml.YAMLError:
                raise HMError(f"{key}: cannot parse '{val}'") from None
        elif key in TrainConfig.field_names():
            values[key] = _coerce(key, val, getattr(defaults, key))
        else:
            raise HMError(f"unknown option '{key}' (known: {', '.join(sorted(TrainConfig.field_names()))})")
    unknown = set(values) - TrainConfig.field_names()
    if unknown:
        raise HMError(f"unknown option(s) in config: {', '.join(sorted(unknown))}")
    _check_types(values, defaults)
    cfg = TrainConfig(**values, model_overrides=mo)
    _check_ranges(cfg)
    if cfg.task not in ("pose3d", "mpm"):
        raise HMError(f"unknown task '{cfg.task}' (available: pose3d, mpm, action, refine2d)")
    if cfg.input_norm not in ("person", "image"):
        raise HMError(f"unknown input_norm '{cfg.input_norm}' (available: person, image)")
    try:
        check_camera_kind(cfg.camera_kind)
    except ValueError as e:
        raise HMError(str(e)) from None
    check_precision(cfg.precision)
    if cfg.corrupt_model not in CORRUPT_MODELS:
        raise HMError(f"unknown corrupt_model '{cfg.corrupt_model}' (available: {', '.join(CORRUPT_MODELS)})")
    if not 0.0 <= cfg.rendered_p <= 1.0:
        raise HMError(f"rendered_p must be in [0, 1], got {cfg.rendered_p}")
    if cfg.rendered_p > 0 and not cfg.data_rendered:
        raise HMError("rendered_p > 0 needs data_rendered (files of scripts/render_pairs.py)")
    if cfg.val_mode not in ("clips", "lift"):
        raise HMError(f"unknown val_mode '{cfg.val_mode}' (available: clips, lift)")
    if cfg.train_on not in TRAIN_ON:
        raise HMError(f"unknown train_on '{cfg.train_on}' (available: {', '.join(TRAIN_ON)})")
    if cfg.val_mode == "lift" and cfg.task != "pose3d":
        raise HMError("val_mode=lift validates 3D lifting; use it with task=pose3d")
    try:
        check_splice_prob(cfg.splice_prob)
        check_splice_arms(cfg.splice_arms, cfg.splice_prob)
        check_speed_aug(cfg.speed_aug)
        proportion_preset(cfg.proportions)
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
