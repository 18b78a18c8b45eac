"""Loading pickled model files without running code from them.

A pickle is a small program: every global it names is imported and may be called. Official
SMPL / SMPL-X ``.pkl`` files (Python 2 pickles) name only a handful of harmless globals --
numpy's array reconstruction, chumpy's ``Ch`` wrapper and a few of its operators, scipy's
``csc_matrix`` -- so they are read with :class:`hmcli.io.safe_pickle.RestrictedUnpickler`
and an allow-list of exactly those (:data:`SMPL_PKL_GLOBALS`); everything else
(``os.system``, ``builtins.eval``, ...) is refused with a one-line :class:`HMError` before
anything is called.

chumpy (which does not import on Python >= 3.11) and scipy (not a dependency) are never
imported: their classes are replaced by local stand-ins that only keep the pickled state,
and :func:`to_plain` turns a stand-in back into a numpy array (``Ch`` -> ``state['x']``;
``Select``/``Reshape``/``transpose``/``add``/``subtract``/``multiply``/``divide`` are
evaluated; other chumpy operators raise an HMError naming the key; sparse matrices are
densified from ``data``/``indices``/``indptr``/``_shape``).

:func:`load_smpl_pkl` returns a model file's arrays as plain numpy arrays;
:func:`convert_smpl_pkl` writes them to an ``.npz`` (no pickled objects in it).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hmcli.io.atomic import HMError, atomic_write
from hmcli.io.safe_pickle import NUMPY_GLOBALS, SAFE_BUILTINS, RestrictedUnpickler, restricted_load

__all__ = [
    "RestrictedUnpickler",
    "NUMPY_GLOBALS",
    "SAFE_BUILTINS",
    "SMPL_PKL_GLOBALS",
    "ChumpyStandIn",
    "SparseStandIn",
    "to_plain",
    "restricted_load",
    "load_smpl_pkl",
    "convert_smpl_pkl",
    "SMPL_REQUIRED_KEYS",
]


# ----------------------------------------------------------------------------- chumpy & scipy stand-ins


class _StandIn:
    """Keeps the pickled state of an object whose real class is never imported."""

    qualname = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> "_StandIn":
        obj = object.__new__(cls)
        obj.state = {}
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # REDUCE with args: ignore them
        pass

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            state = {**(state[0] or {}), **state[1]}     # (dict state, slot state)
        self.state = dict(state) if isinstance(state, dict) else {"_state": state}


class _NotEvaluable(Exception):
    pass


class ChumpyStandIn(_StandIn):
    """A chumpy object (``Ch`` or one of its operators); :meth:`to_array` evaluates it."""

    qualname = "chumpy.ch.Ch"

    def to_array(self) -> np.ndarray:
        s = self.state
        op = self.qualname.rsplit(".", 1)[-1]
        if op == "Ch":
            if "x" not in s:
                raise _NotEvaluable(self.qualname)
            return np.asarray(to_plain(s["x"]))
        try:
            if op == "Select":
                r = np.asarray(to_plain(s["a"])).ravel()[np.asarray(to_plain(s["idxs"]))]
                return r.reshape(s["preferred_shape"]) if "preferred_shape" in s else r
            if op == "Reshape":
                return np.asarray(to_plain(s["a"])).reshape(s["newshape"])
            if op == "transpose":
                return np.ascontiguousarray(np.transpose(np.asarray(to_plain(s["a"])), s.get("axes")))
            if op in _CH_BINARY:
                return _CH_BINARY[op](np.asarray(to_plain(s["a"])), np.asarray(to_plain(s["b"])))
        except KeyError:
            raise _NotEvaluable(self.qualname) from None
        raise _NotEvaluable(self.qualname)


_CH_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
}

# chumpy classes admitted (as stand-ins): what SMPL/SMPL-X/MANO pickles in the wild name.
_CHUMPY_CLASSES: tuple[tuple[str, str], ...] = (
    ("chumpy.ch", "Ch"),
    ("chumpy.ch", "MatVecMult"),
    ("chumpy.reordering", "Select"),
    ("chumpy.reordering", "Reshape"),
    ("chumpy.reordering", "transpose"),
    ("chumpy.reordering", "Concatenate"),
    ("chumpy.reordering", "Tile"),
    ("chumpy.reordering", "Permute"),
    ("chumpy.ch_ops", "add"),
    ("chumpy.ch_ops", "subtract"),
    ("chumpy.ch_ops", "multiply"),
    ("chumpy.ch_ops", "divide"),
    ("chumpy.ch_ops", "dot"),
    ("chumpy.ch_ops", "sum"),
    ("chumpy.ch_ops", "negative"),
    ("chumpy.logic", "where"),
)


class SparseStandIn(_StandIn):
    """A pickled scipy.sparse csc/csr matrix, densified from its state without scipy."""

    qualname = "scipy.sparse.csc_matrix"

    def to_array(self) -> np.ndarray:
        s = self.state
        shape = s.get("_shape", s.get("shape"))
        fmt = s.get("format") or ("csr" if "csr" in self.qualname else "csc")
        try:
            data = np.asarray(to_plain(s["data"]))
            indices = np.asarray(to_plain(s["indices"]), dtype=np.int64)
            indptr = np.asarray(to_plain(s["indptr"]), dtype=np.int64)
            rows, cols = (int(shape[0]), int(shape[1]))
        except (KeyError, TypeError, ValueError, IndexError):
            raise _NotEvaluable(self.qualname) from None
        outer = cols if fmt == "csc" else rows
        inner = rows if fmt == "csc" else cols
        if (fmt not in ("csc", "csr") or indptr.shape != (outer + 1,) or indptr[0] != 0
                or indptr[-1] != data.size or indices.size != data.size
                or np.any(np.diff(indptr) < 0) or (indices.size and (indices.min() < 0 or indices.max() >= inner))):
            raise _NotEvaluable(self.qualname)
        dense = np.zeros((rows, cols), dtype=data.dtype if data.dtype.kind in "fiub" else np.float64)
        major = np.repeat(np.arange(outer), np.diff(indptr))            # (nnz,)
        if fmt == "csc":
            np.add.at(dense, (indices, major), data)
        else:
            np.add.at(dense, (major, indices), data)
        return dense


_SPARSE_CLASSES: tuple[tuple[str, str], ...] = tuple(
    (mod, f"{fmt}_matrix")
    for fmt in ("csc", "csr")
    for mod in (f"scipy.sparse.{fmt}", f"scipy.sparse._{fmt}", "scipy.sparse")
)


def _stand_in(base: type, module: str, name: str) -> type:
    return type(name, (base,), {"qualname": f"{module}.{name}", "__module__": __name__})


def _copyreg_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """copyreg._reconstructor as protocol 0/1 pickles use it, for stand-ins only."""
    if not (isinstance(cls, type) and issubclass(cls, _StandIn)) or base is not object:
        raise pickle.UnpicklingError("unexpected copyreg._reconstructor call")
    return cls.__new__(cls)


def _smpl_globals() -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {**NUMPY_GLOBALS, **SAFE_BUILTINS}
    out[("copyreg", "_reconstructor")] = _copyreg_reconstructor
    for mod, name in _CHUMPY_CLASSES:
        out[(mod, name)] = _stand_in(ChumpyStandIn, mod, name)
    for mod, name in _SPARSE_CLASSES:
        out[(mod, name)] = _stand_in(SparseStandIn, mod, name)
    return out


SMPL_PKL_GLOBALS: dict[tuple[str, str], Any] = _smpl_globals()
"""Everything an official SMPL / SMPL-X / MANO pickle may name."""


def to_plain(obj: Any) -> Any:
    """Stand-ins -> numpy arrays (recursively through lists/tuples/dicts); others unchanged."""
    if isinstance(obj, (ChumpyStandIn, SparseStandIn)):
        return obj.to_array()
    if isinstance(obj, list):
        return [to_plain(o) for o in obj]
    if isinstance(obj, tuple):
        return tuple(to_plain(o) for o in obj)
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


# ----------------------------------------------------------------------------- SMPL model files

SMPL_REQUIRED_KEYS: tuple[str, ...] = (
    "v_template", "shapedirs", "posedirs", "J_regressor", "kintree_table", "weights", "f",
)


def load_smpl_pkl(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """An official SMPL/SMPL-X ``.pkl`` (chumpy, scipy.sparse inside) as plain numpy arrays.

    Returns v_template (V, 3), shapedirs (V, 3, S), posedirs (V, 3, P), J_regressor (K, V)
    dense float, kintree_table (2, K) int64, weights (V, K), f (Fc, 3) int64, plus every
    other numeric or string array of the file (``bs_style``, ``J``, ``hands_componentsl``,
    ...); dicts, lists and object arrays are dropped. Never imports chumpy or scipy.
    """
    raw = restricted_load(path, SMPL_PKL_GLOBALS)
    if not isinstance(raw, dict):
        raise HMError(f"cannot read {path}: not a body model file (the pickle holds a "
                      f"{type(raw).__name__}, not a dict of arrays)")
    out: dict[str, np.ndarray] = {}
    for key, val in raw.items():
        key = key.decode("latin1") if isinstance(key, bytes) else str(key)
        try:
            val = to_plain(val)
        except _NotEvaluable as e:
            if key in SMPL_REQUIRED_KEYS:
                raise HMError(f"cannot read {path}: its '{key}' is a chumpy/scipy expression "
                              f"({e}) that hm cannot evaluate without chumpy") from None
            continue
        arr = _as_plain_array(val)
        if arr is not None:
            out[key] = arr
    check_smpl_arrays(out, str(path))
    return normalize_smpl_arrays(out)


def _as_plain_array(val: Any) -> np.ndarray | None:
    if isinstance(val, (bytes, str)):
        return np.asarray(val.decode("latin1") if isinstance(val, bytes) else val)
    if isinstance(val, (bool, int, float, np.generic)):
        return np.asarray(val)
    if isinstance(val, np.ndarray) and val.dtype.kind in "biufcUS":
        return val
    return None


def check_smpl_arrays(d: Mapping[str, np.ndarray], source: str) -> None:
    """HMError (one line) unless ``d`` has the SMPL keys with consistent shapes."""
    missing = [k for k in SMPL_REQUIRED_KEYS if k not in d]
    if missing:
        raise HMError(f"{source} is not an SMPL-family model file: it has no {', '.join(missing)}")
    v, sd, pd, jr = (np.asarray(d[k]) for k in ("v_template", "shapedirs", "posedirs", "J_regressor"))
    kt, w, f = (np.asarray(d[k]) for k in ("kintree_table", "weights", "f"))
    V = v.shape[0] if v.ndim == 2 else -1
    K = jr.shape[0] if jr.ndim == 2 else -1
    ok = (v.shape == (V, 3) and sd.ndim == 3 and sd.shape[:2] == (V, 3) and pd.ndim == 3
          and pd.shape[:2] == (V, 3) and jr.shape == (K, V) and kt.shape == (2, K)
          and w.shape == (V, K) and f.ndim == 2 and f.shape[1] == 3 and K > 0)
    if ok and f.size:
        ok = bool(f.min() >= 0 and f.max() < V)
    if not ok:
        shapes = ", ".join(f"{k} {tuple(np.shape(d[k]))}" for k in SMPL_REQUIRED_KEYS)
        raise HMError(f"{source} is not a valid SMPL-family model file: inconsistent shapes ({shapes})")
    extra = [k for k in ("hm_nose_vertex", "hm_headtop_vertex") if k in d]
    for k, a in [*zip(("v_template", "shapedirs", "posedirs", "J_regressor", "kintree_table", "weights", "f"),
                      (v, sd, pd, jr, kt, w, f)), *((k, np.asarray(d[k])) for k in extra)]:
        if a.dtype.kind not in "biuf" or not np.isfinite(a).all() or (k in extra and a.size != 1):
            raise HMError(f"{source} is not a valid SMPL-family model file: {k} is not finite numbers")
        if k in ("kintree_table", "f", *extra) and a.size and float(np.abs(a).max()) >= 2.0 ** 62:
            raise HMError(f"{source} is not a valid SMPL-family model file: {k} holds indices out of range")


def normalize_smpl_arrays(d: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Integer index arrays as int64, J_regressor dense float; other arrays unchanged."""
    out = dict(d)
    out["kintree_table"] = np.asarray(d["kintree_table"]).astype(np.int64)
    out["f"] = np.asarray(d["f"]).astype(np.int64)
    jr = np.asarray(d["J_regressor"])
    out["J_regressor"] = jr if jr.dtype.kind == "f" else jr.astype(np.float64)
    return out


def convert_smpl_pkl(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Write the arrays of an official SMPL/SMPL-X ``.pkl`` to an ``.npz`` (atomically).

    The npz holds no pickled objects (``np.load(dst, allow_pickle=False)`` reads it). smplx
    reads it as ``smplx.SMPLX(dst, ext='npz')`` for SMPL-X files; ``smplx.SMPL`` always
    unpickles its file, so give it the arrays: ``smplx.SMPL('', data_struct=Struct(**arrays))``
    (:mod:`hmcli.mesh.smpl` does).
    """
    arrays = load_smpl_pkl(src)
    with atomic_write(dst, "wb") as fh:
        np.savez(fh, **arrays)
    return Path(dst)
