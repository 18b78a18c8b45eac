"""Architecture registry: each architecture file registers a builder and its presets.

A preset is a named configuration (e.g. ``hummuss-small-causal``) of a registered
architecture. ``build(name_or_arch, **overrides)`` returns an ``nn.Module`` whose forward
takes ``(B, F, J, C)`` normalised 2D input and returns ``(B, F, J, 3)`` 3D output in
model units (see ``hmcli.skeleton.codec``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import torch.nn as nn

_ARCHS: dict[str, "ArchSpec"] = {}
_PRESETS: dict[str, tuple[str, dict[str, Any]]] = {}


@dataclass(frozen=True)
class ArchSpec:
    name: str
    config_cls: type
    builder: Callable[[Any], nn.Module]
    description: str = ""


def register_arch(name: str, config_cls: type, description: str = "") -> Callable:
    """Decorator for a builder ``fn(config) -> nn.Module``."""

    def deco(fn: Callable[[Any], nn.Module]) -> Callable[[Any], nn.Module]:
        _ARCHS[name] = ArchSpec(name, config_cls, fn, description)
        return fn

    return deco


def register_preset(name: str, arch: str, **fields: Any) -> None:
    _PRESETS[name] = (arch, fields)


def _load_builtin() -> None:
    # Importing the architecture modules registers them.
    import importlib

    for mod in ("hmcli.nn.hummuss", "hmcli.nn.baselines"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:  # a module not written yet, not a broken one
            if e.name != mod:
                raise


def archs() -> dict[str, ArchSpec]:
    _load_builtin()
    return dict(_ARCHS)


def presets() -> dict[str, tuple[str, dict[str, Any]]]:
    _load_builtin()
    return dict(_PRESETS)


def make_config(name: str, **overrides: Any) -> tuple[str, Any]:
    """Resolve a preset or architecture name plus overrides to ``(arch, config)``."""
    _load_builtin()
    if name in _PRESETS:
        arch, fields = _PRESETS[name]
        fields = {**fields, **overrides}
    elif name in _ARCHS:
        arch, fields = name, dict(overrides)
    else:
        known = sorted(set(_PRESETS) | set(_ARCHS))
        raise KeyError(f"unknown model '{name}'; known: {', '.join(known)}")
    spec = _ARCHS[arch]
    valid = {f.name for f in dataclasses.fields(spec.config_cls)}
    bad = set(fields) - valid
    if bad:
        raise KeyError(f"unknown config field(s) for {arch}: {', '.join(sorted(bad))}")
    return arch, spec.config_cls(**fields)


def build(name: str, **overrides: Any) -> nn.Module:
    arch, cfg = make_config(name, **overrides)
    return _ARCHS[arch].builder(cfg)


def build_from_config(arch: str, config: dict[str, Any]) -> nn.Module:
    _load_builtin()
    if arch not in _ARCHS:
        raise KeyError(f"unknown architecture '{arch}'")
    spec = _ARCHS[arch]
    return spec.builder(spec.config_cls(**config))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
