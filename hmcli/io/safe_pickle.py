"""Unpickling without running code: a restricted unpickler and the allow-lists it takes.

A pickle is a small program: every global it names is imported and may be called.
:class:`RestrictedUnpickler` resolves globals only through an explicit allow-list
``{(module, name): replacement}`` and refuses everything else (``os.system``,
``builtins.eval``, ...) with a one-line :class:`HMError` before anything is called.
:data:`NUMPY_GLOBALS` admits numpy arrays, dtypes and scalars; :data:`SAFE_BUILTINS` plain
containers and values. Body model files (:mod:`hmcli.mesh.pklsafe`) and pyskl action
datasets (:mod:`hmcli.action.readers`) are read through it.
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hmcli.io.atomic import HMError

__all__ = ["RestrictedUnpickler", "restricted_load", "NUMPY_GLOBALS", "SAFE_BUILTINS"]


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves globals only through ``allowed``.

    allowed: {(module, name): object to use instead}; module names are looked up both as
    written in the pickle and after Python 2 -> 3 renaming (``__builtin__`` -> ``builtins``,
    ``copy_reg`` -> ``copyreg``). source: the file name used in error messages; what: how
    the refusal message calls such files ("a body model file"). Persistent ids are refused.
    """

    def __init__(self, file: io.BufferedIOBase, allowed: Mapping[tuple[str, str], Any], *,
                 source: str, what: str = "a body model file", encoding: str = "latin1") -> None:
        super().__init__(file, encoding=encoding, fix_imports=True)
        self._allowed = dict(allowed)
        self._source = source
        self._what = what

    def find_class(self, module: str, name: str) -> Any:
        keys = _candidate_names(module, name)
        for key in keys:
            if key in self._allowed:
                return self._allowed[key]
        shown = ".".join(keys[-1])       # Python 3 spelling: builtins.eval, not __builtin__.eval
        raise HMError(f"refusing to load {self._source}: it references {shown}, "
                      f"which {self._what} never needs")

    def persistent_load(self, pid: Any) -> Any:
        raise HMError(f"refusing to load {self._source}: it uses persistent ids, "
                      f"which {self._what} never needs")


def _candidate_names(module: str, name: str) -> list[tuple[str, str]]:
    out = [(module, name)]
    if (module, name) in _compat_pickle.NAME_MAPPING:
        out.append(_compat_pickle.NAME_MAPPING[(module, name)])
    elif module in _compat_pickle.IMPORT_MAPPING:
        out.append((_compat_pickle.IMPORT_MAPPING[module], name))
    return out


def restricted_load(path: str | os.PathLike, allowed: Mapping[tuple[str, str], Any], *,
                    what: str = "a body model file") -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler`; any failure -> one-line HMError."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise HMError(f"cannot read {p}: {e.strerror or e}") from None
    try:
        return RestrictedUnpickler(io.BytesIO(data), allowed, source=str(p), what=what).load()
    except HMError:
        raise
    except Exception as e:  # noqa: BLE001 - any malformed stream is the user's file problem
        raise HMError(f"cannot read {p}: not a valid pickle ({type(e).__name__}: {e})") from None


# ----------------------------------------------------------------------------- numpy & builtins


def _numpy_core(attr_module: str, name: str) -> Any:
    import importlib

    for mod in (f"numpy._core.{attr_module}", f"numpy.core.{attr_module}"):
        try:
            return getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"numpy has no {attr_module}.{name}")  # pragma: no cover


def _codecs_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """What Python 3 pickles (protocol < 3) call to rebuild ``bytes``: only str -> latin1."""
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise pickle.UnpicklingError("unexpected _codecs.encode call")
    return obj.encode("latin1", errors)


def _numpy_globals() -> dict[tuple[str, str], Any]:
    rec = _numpy_core("multiarray", "_reconstruct")
    scalar = _numpy_core("multiarray", "scalar")
    frombuf = _numpy_core("numeric", "_frombuffer")
    out: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for core in ("numpy.core", "numpy._core"):
        out[(f"{core}.multiarray", "_reconstruct")] = rec
        out[(f"{core}.multiarray", "scalar")] = scalar
        out[(f"{core}.numeric", "_frombuffer")] = frombuf
    return out


NUMPY_GLOBALS: dict[tuple[str, str], Any] = _numpy_globals()
"""numpy arrays, dtypes and scalars, as numpy 1 and numpy 2 pickle them."""

SAFE_BUILTINS: dict[tuple[str, str], Any] = {
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "slice"): slice,
    ("builtins", "bytearray"): bytearray,
    ("builtins", "object"): object,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _codecs_encode,
}
"""Plain containers and values; no callable here can reach code or the file system."""
