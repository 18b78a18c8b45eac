import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from hmcli.bench.flops import count_flops
from hmcli.nn.baselines import DSTformerKVStreamer
from hmcli.nn.baselines.common import Mlp, fuse_mlp_gelu
from hmcli.nn.hummuss import Streamer
from hmcli.nn.packed import MIN_PACKED_WEIGHTS, PackedLinear, linear_then, pack_linears, packing_available
from hmcli.nn.registry import build

onednn = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="PyTorch built without oneDNN")


def _layer(n_in=256, n_out=320, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_out, n_in, generator=g) / n_in**0.5, torch.randn(n_out, generator=g)


@onednn
@pytest.mark.parametrize("act", ["none", "gelu"])
@pytest.mark.parametrize("shape", [(1, 256), (17, 256), (3, 17, 256), (2, 50, 256)])
def test_packed_linear_matches_reference(act, shape):
    w, b = _layer()
    lin = PackedLinear(w, b, act=act)
    x = torch.randn(*shape)
    with torch.inference_mode():
        got = lin(x)
    ref = F.linear(x, w, b)
    ref = F.gelu(ref) if act == "gelu" else ref
    assert lin.is_packed and got.shape == ref.shape == (*shape[:-1], 320)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


@onednn
@pytest.mark.parametrize("op", ["add", "mul"])
def test_binary_post_op_matches_reference(op):
    w, b = _layer()
    lin = PackedLinear(w, b)
    x, other = torch.randn(2, 17, 256), torch.randn(2, 17, 640)[..., :320]  # a non-contiguous operand too
    ref = F.linear(x, w, b) + other if op == "add" else F.linear(x, w, b) * other
    with torch.inference_mode():
        torch.testing.assert_close(lin.binary(x, other, op), ref, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(linear_then(lin, x, other, op), ref, rtol=1e-4, atol=1e-4)
        plain = nn.Linear(256, 320)
        plain.weight.data, plain.bias.data = w.clone(), b.clone()
        torch.testing.assert_close(linear_then(plain, x, other, op), ref, rtol=1e-5, atol=1e-5)


def test_unpacked_and_grad_paths_are_the_reference():
    w, b = _layer()
    x = torch.randn(5, 256)
    off = PackedLinear(w, b, act="gelu", pack=False)
    assert not off.is_packed
    assert torch.equal(off(x), F.gelu(F.linear(x, w, b)))
    on = PackedLinear(w, b)
    with torch.enable_grad():  # autograd never goes through the packed op
        assert torch.equal(on(x), F.linear(x, w, b))


def test_bad_arguments_are_errors():
    w, b = _layer()
    with pytest.raises(ValueError, match="act must be one of"):
        PackedLinear(w, b, act="relu")
    with pytest.raises(ValueError, match="weight must be"):
        PackedLinear(w, b[:-1])
    with pytest.raises(ValueError, match="binary needs"):
        PackedLinear(w, b, act="gelu").binary(torch.randn(1, 256), torch.randn(1, 320), "add")
    with pytest.raises(ValueError, match="op must be one of"):
        linear_then(nn.Linear(2, 2), torch.randn(1, 2), torch.randn(1, 2), "sub")


@onednn
def test_pack_linears_copies_and_matches():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 256), nn.GELU(), nn.Linear(256, 512), nn.GELU(), nn.Linear(512, 3))
    packed = pack_linears(net)
    kinds = [type(m).__name__ for m in packed]
    assert kinds == ["Linear", "GELU", "PackedLinear", "GELU", "Linear"]  # small layers stay plain
    assert all(type(m) is not PackedLinear for m in net)  # the original is untouched
    dropped = pack_linears(nn.ModuleDict({"in_proj": nn.Linear(256, 256), "out": nn.Linear(256, 256)}), drop=("in_proj",))
    assert isinstance(dropped["in_proj"], nn.Identity) and isinstance(dropped["out"], PackedLinear)
    assert packed[2].is_packed and packed[2].weight.numel() >= MIN_PACKED_WEIGHTS
    x = torch.randn(4, 17, 3)
    with torch.inference_mode():
        torch.testing.assert_close(packed(x), net(x), rtol=1e-4, atol=1e-4)


@onednn
def test_fuse_mlp_gelu():
    torch.manual_seed(0)
    mlp = Mlp(256, 512).eval()
    fused = fuse_mlp_gelu(pack_linears(mlp))
    assert isinstance(fused.act, nn.Identity) and fused.fc1.act == "gelu" and fused.fc1.is_packed
    x = torch.randn(17, 256)
    with torch.inference_mode():
        torch.testing.assert_close(fused(x), mlp(x), rtol=1e-4, atol=1e-4)


@onednn
def test_flops_of_packed_linears_are_counted():
    w, b = _layer()
    lin = PackedLinear(w, b)
    x = torch.randn(17, 256)
    with torch.inference_mode():
        assert count_flops(lambda: lin(x))[0] == 2 * 17 * 256 * 320
        assert count_flops(lambda: lin.binary(x, torch.randn(17, 320), "add"))[0] == 2 * 17 * 256 * 320


@onednn
def test_streamers_packed_equal_plain():
    """Layers wide enough to be packed: both streamers give what their plain versions give."""
    torch.manual_seed(0)
    h = build("hummuss-causal", dim=256, depth=1, state=8, rep_dim=64).eval()
    d = build("dstformer-lite-causal", dim=256, depth=1, heads=4, mlp_ratio=2.0, rep_dim=64, maxlen=16).eval()
    frames = torch.randn(12, 2, 17, 3)
    for fast, slow in ((Streamer(h), Streamer(h, packed=False)),
                       (DSTformerKVStreamer(d, 8), DSTformerKVStreamer(d, 8, packed=False))):
        assert any(isinstance(m, PackedLinear) and m.is_packed for m in fast._net.modules()) \
            if isinstance(fast, Streamer) else any(isinstance(m, PackedLinear) for m in fast.model.modules())
        for f in frames:
            torch.testing.assert_close(fast.step(f), slow.step(f), rtol=1e-4, atol=1e-4)


def test_packing_available_matches_the_build():
    assert packing_available() == torch.backends.mkldnn.is_available()


# The three failures _pack's guard catches, each raised as PyTorch words it: the op rejects
# the input, the build has no CPU kernel for it, or torch.ops has no such op at all.
@pytest.mark.parametrize("error", [
    pytest.param(RuntimeError("mkldnn_linear_pointwise: unsupported input"), id="op-rejects-input"),
    pytest.param(NotImplementedError("Could not run 'mkldnn::_linear_pointwise' with arguments from the 'CPU' backend"),
                 id="kernel-missing-in-build"),
    pytest.param(AttributeError("'_OpNamespace' 'mkldnn' object has no attribute '_linear_pointwise'"), id="op-absent"),
])
def test_a_build_that_cannot_pack_falls_back_to_f_linear(monkeypatch, error):
    import hmcli.nn.packed as packed_mod

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(packed_mod, "_packed_call", broken)
    w, b = _layer()
    lin = PackedLinear(w, b, act="gelu")
    assert not lin.is_packed
    x = torch.randn(17, 256)
    with torch.inference_mode():
        torch.testing.assert_close(lin(x), F.gelu(F.linear(x, w, b)))


def test_a_packed_product_that_disagrees_is_not_used(monkeypatch):
    import hmcli.nn.packed as packed_mod

    real = packed_mod._packed_call
    monkeypatch.setattr(packed_mod, "_packed_call", lambda *a: real(*a) + 1.0)
    w, b = _layer()
    assert not PackedLinear(w, b).is_packed
