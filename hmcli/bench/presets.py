"""The models a benchmark compares: registry presets built with per-model overrides
(``MODEL.field=value``), and what the benchmarks ask of them (causal, window, input channels,
parameters)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from hmcli.io.atomic import HMError
from hmcli.nn.registry import build, count_parameters, make_config


def build_preset(preset: str, overrides: dict[str, dict] | None, seed: int, **extra: Any) -> tuple[str, nn.Module]:
    ov = {**(overrides or {}).get(preset, {}), **extra}
    arch, _ = make_config(preset, **ov)
    torch.manual_seed(seed)
    return arch, build(preset, **ov)


def is_causal_preset(preset: str, overrides: dict[str, dict] | None) -> bool:
    _, cfg = make_config(preset, **(overrides or {}).get(preset, {}))
    return bool(getattr(cfg, "causal", False))


def max_window(model: nn.Module) -> int | None:
    return getattr(model.cfg, "maxlen", None)


def fixed_window(model: nn.Module) -> int | None:
    return model.cfg.frames if getattr(model, "fixed_window", False) else None


def input_channels(model: nn.Module) -> int:
    """Input channels: (x, y, confidence), which every lifter accepts (2-channel models drop
    the confidence), or more where the model takes more (``in_dim=6``: location channels)."""
    return max(3, int(getattr(model.cfg, "in_dim", 3)))


def params_m(model: nn.Module) -> float:
    return count_parameters(model) / 1e6


def check_causal(models: list[str], overrides: dict[str, dict] | None = None) -> None:
    for m in models:
        if not is_causal_preset(m, overrides):
            raise KeyError(f"'{m}' is not a causal model; streaming needs a causal preset")


def parse_overrides(items: list[str] | None) -> dict[str, dict]:
    """``["dstformer-lite.dim=64", "hummuss.depth=2"]`` -> ``{preset: {field: value}}``."""
    import yaml


    out: dict[str, dict] = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        name, dot, fld = key.rpartition(".")
        if not sep or not dot or not name or not fld:
            raise HMError(f"override '{item}' is not MODEL.field=value")
        out.setdefault(name, {})[fld] = yaml.safe_load(val)
    return out
