"""Inference-only linear layers with pre-packed weights (oneDNN), for frame-by-frame streaming.

A streamed frame is a handful of rows (B·J, e.g. 17 at B=1) multiplied by every weight
matrix of the network. PyTorch's default CPU linear re-reads each weight in its stored
layout on every call; oneDNN can reorder a weight once into the blocked layout its kernels
use, and can apply GELU in the same pass. On the 2-core development CPU that made
17-row linears about 2x faster (``hm bench streaming`` prints the effect).

:class:`PackedLinear` is that layer, with the plain ``F.linear`` (+ GELU) as its reference
and fallback: when the op is missing (a PyTorch build without oneDNN, another device, a
dtype oneDNN does not pack) or its first result does not match the reference, the layer
computes the reference instead. :func:`pack_linears` returns a packed copy of a whole
module for inference; the original is left untouched. The packed weights are a snapshot:
train the original, then pack again.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor

ACTIVATIONS = ("none", "gelu")
BINARY_OPS = ("add", "mul")


def _binary_reference(y: Tensor, other: Tensor, op: str) -> Tensor:
    return y + other if op == "add" else y * other


def linear_then(layer: nn.Module, x: Tensor, other: Tensor, op: str) -> Tensor:
    """``layer(x) + other`` or ``layer(x) * other`` (op 'add' / 'mul'): one fused call when
    ``layer`` is a :class:`PackedLinear`, else the plain two steps."""
    if isinstance(layer, PackedLinear):
        return layer.binary(x, other, op)
    if op not in BINARY_OPS:
        raise ValueError(f"op must be one of {BINARY_OPS}, got {op!r}")
    return _binary_reference(layer(x), other, op)


def _reference(x: Tensor, weight: Tensor, bias: Tensor | None, act: str) -> Tensor:
    y = F.linear(x, weight, bias)  # (..., out)
    return F.gelu(y) if act == "gelu" else y


def _packed_call(x: Tensor, packed: Tensor, bias: Tensor | None, act: str) -> Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, act, [], "none" if act == "gelu" else "")


#: A packed call costs about 17 µs more than a plain one whatever its size (on the 2-core
#: development CPU, 17 rows): it pays from about 256 x 256 weights up, so smaller layers
#: (input embeddings, heads, fusion weights) are left plain.
MIN_PACKED_WEIGHTS = 256 * 256


def worth_packing(weight: Tensor) -> bool:
    """Whether a linear layer with this weight gains from packing (see MIN_PACKED_WEIGHTS)."""
    return weight.numel() >= MIN_PACKED_WEIGHTS


def _pack(weight: Tensor, bias: Tensor | None, act: str, rows_hint: int) -> Tensor | None:
    """``weight`` (out, in) reordered for oneDNN; None where this build, device or dtype cannot
    pack it, or where the packed product of a probe input disagrees with ``F.linear``. The
    layer then computes ``F.linear``, so a PyTorch without these private ops still works."""
    if weight.device.type != "cpu" or weight.dtype != torch.float32 or not torch.backends.mkldnn.is_available():
        return None
    probe = torch.linspace(-1.0, 1.0, 3 * weight.shape[1]).reshape(3, weight.shape[1])  # (3, in)
    try:
        packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), int(rows_hint))
        got = _packed_call(probe, packed, bias, act)
    except (AttributeError, RuntimeError, NotImplementedError):  # op absent or unsupported in this build
        return None
    return packed if torch.allclose(got, _reference(probe, weight, bias, act), rtol=1e-4, atol=1e-4) else None


class PackedLinear(nn.Module):
    """``act(x W^T + b)`` with W pre-packed; x (..., in) -> (..., out). act: 'none' or 'gelu'
    (exact). ``pack=False`` keeps the reference computation (for comparisons)."""

    def __init__(self, weight: Tensor, bias: Tensor | None = None, act: str = "none", rows_hint: int = 17, pack: bool = True):
        super().__init__()
        if act not in ACTIVATIONS:
            raise ValueError(f"act must be one of {ACTIVATIONS}, got {act!r}")
        if weight.dim() != 2 or (bias is not None and bias.shape != weight.shape[:1]):
            raise ValueError(f"weight must be (out, in) and bias (out,), got {tuple(weight.shape)}, "
                             f"{None if bias is None else tuple(bias.shape)}")  # fmt: skip
        self.act = act
        self.in_features, self.out_features = weight.shape[1], weight.shape[0]
        self.weight = nn.Parameter(weight.detach().clone(), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)
        with torch.no_grad():
            self.packed = _pack(self.weight, self.bias, act, rows_hint) if pack else None

    @classmethod
    def from_linear(cls, linear: nn.Linear, act: str = "none", rows_hint: int = 17) -> "PackedLinear":
        return cls(linear.weight, linear.bias, act, rows_hint)

    @property
    def is_packed(self) -> bool:
        return self.packed is not None

    def reference(self, x: Tensor) -> Tensor:
        """The plain computation (and the fallback): F.linear, then the activation."""
        return _reference(x, self.weight, self.bias, self.act)

    def _use_packed(self, x: Tensor) -> bool:
        """Packed weights, a float32 CPU input, and no autograd (the packed op has no backward)."""
        return self.packed is not None and x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled()

    def forward(self, x: Tensor) -> Tensor:
        return _packed_call(x, self.packed, self.bias, self.act) if self._use_packed(x) else self.reference(x)  # (..., out)

    def binary(self, x: Tensor, other: Tensor, op: str) -> Tensor:
        """``self(x) + other`` (op 'add') or ``self(x) * other`` ('mul') in one packed call;
        ``other`` has the output's shape. Only for act 'none'."""
        if self.act != "none" or op not in BINARY_OPS:
            raise ValueError(f"binary needs act 'none' and op in {BINARY_OPS}, got act {self.act!r}, op {op!r}")
        if not self._use_packed(x):
            return _binary_reference(self.reference(x), other, op)
        return torch.ops.mkldnn._linear_pointwise.binary(x, other, self.packed, self.bias, op)  # (..., out)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, act={self.act}, packed={self.is_packed}"


def packing_available() -> bool:
    """Whether this PyTorch build packs linears here (a probe layer packs and matches ``F.linear``)."""
    w = torch.linspace(-1.0, 1.0, 64).reshape(8, 8)
    return PackedLinear(w, torch.zeros(8), rows_hint=2).is_packed


def pack_linears(module: nn.Module, rows_hint: int = 17, min_weights: int = MIN_PACKED_WEIGHTS,
                 drop: tuple[str, ...] = ()) -> nn.Module:  # fmt: skip
    """A copy of ``module`` in eval mode with every ``nn.Linear`` of at least ``min_weights``
    weights replaced by a :class:`PackedLinear` (for inference: the packed layers have no
    gradients). Linears named in ``drop`` (attribute names, e.g. ``in_proj``) become
    ``nn.Identity``: for callers that compute them another way. ``module`` is unchanged."""
    packed = copy.deepcopy(module).eval()
    for parent in list(packed.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is not nn.Linear:
                continue
            if name in drop:
                setattr(parent, name, nn.Identity())
            elif child.weight.numel() >= min_weights:
                setattr(parent, name, PackedLinear.from_linear(child, rows_hint=rows_hint))
    return packed
