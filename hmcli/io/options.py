"""Options of a dataclass config from a YAML file, command-line options and ``key=value`` overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

from hmcli.io.atomic import HMError

T = TypeVar("T")

__all__ = ["dataclass_options"]


def dataclass_options(cls: type[T], overrides: list[str] | None, config: str | Path | None, opts: dict[str, Any],
                      what: str, error: type[HMError], nested: tuple[str, ...] = (), ignore: tuple[str, ...] = ()) -> T:
    """``cls`` from a YAML ``config`` file, ``opts`` (None: not given) and ``key=value`` ``overrides`` (values
    typed by YAML), in that order of precedence. ``nested``: dict fields set key by key (``model.dim=64``);
    ``ignore``: keys a config file may hold for others (e.g. ``task``). A file that cannot be read raises
    HMError; unknown options and values ``cls`` refuses (TypeError, ValueError) raise ``error`` ("unknown
    ``what`` option ...")."""
    import yaml

    values: dict[str, Any] = {}
    if config is not None:
        try:
            loaded = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError:
            raise HMError(f"cannot read config {config}: not UTF-8 text") from None
        except RecursionError:  # e.g. '[' repeated: nested beyond Python's recursion limit
            raise HMError(f"cannot read config {config}: nested too deeply") from None
        except (OSError, yaml.YAMLError) as e:
            raise HMError(f"cannot read config {config}: {' '.join(str(e).split())}") from None
        if not isinstance(loaded, dict):
            raise HMError(f"config {config} must be a mapping of key: value")
        values.update(loaded)
    values.update({k: v for k, v in opts.items() if v is not None})
    names = {f.name for f in dataclasses.fields(cls)}
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        head, dot, sub = key.partition(".")
        if sep and dot and head in nested:
            values[head] = {**(values.get(head) or {}), sub: yaml.safe_load(raw)}
            continue
        if not sep or key not in names:
            raise error(f"unknown {what} option '{item}' (known: {', '.join(sorted(names))})")
        values[key] = yaml.safe_load(raw)
    for key in [k for k in values if k in ignore]:
        values.pop(key)
    unknown = [k for k in values if k not in names]
    if unknown:
        raise error(f"unknown {what} option '{unknown[0]}'")
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise error(str(e)) from None
