"""Tiny numpy/torch dispatch layer used by the skeleton functions.

Every helper takes either numpy arrays or torch tensors and answers in the same
kind. torch is only imported when a tensor is actually passed in, so the
numpy-only code paths stay light.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

Array = Any  # np.ndarray | torch.Tensor


def is_torch(x: object) -> bool:
    """True for torch tensors (checked by type module, without importing torch)."""
    return type(x).__module__.split(".", 1)[0] == "torch"


def as_float_array(x: Array) -> Array:
    """Tensors stay tensors, anything else becomes a numpy array; integers become float32."""
    if is_torch(x):
        return x if x.is_floating_point() else x.float()
    a = np.asarray(x)
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32)
    return a


def cat(parts: Sequence[Array], axis: int) -> Array:
    if is_torch(parts[0]):
        import torch

        return torch.cat(list(parts), dim=axis)
    return np.concatenate(list(parts), axis=axis)


def minimum(a: Array, b: Array) -> Array:
    if is_torch(a):
        import torch

        return torch.minimum(a, b)
    return np.minimum(a, b)


def isfinite(x: Array) -> Array:
    if is_torch(x):
        import torch

        return torch.isfinite(x)
    return np.isfinite(x)


def where_or_zero(mask: Array, x: Array) -> Array:
    """x where mask is true, 0 elsewhere (mask broadcasts against x)."""
    if is_torch(x):
        import torch

        return torch.where(mask, x, torch.zeros_like(x))
    return np.where(mask, x, np.zeros_like(x))


def cast_like(x: Array, ref: Array) -> Array:
    """x as the same kind (numpy/torch), dtype and device as ref."""
    if is_torch(ref):
        import torch

        return torch.as_tensor(x, dtype=ref.dtype, device=ref.device)
    return np.asarray(x, dtype=ref.dtype)
