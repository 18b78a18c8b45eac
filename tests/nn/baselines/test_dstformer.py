import pytest
import torch

from hmcli.nn.baselines import DSTformer, DSTformerConfig, DSTformerKVStreamer, WindowRecomputeStreamer
from hmcli.nn.registry import build, presets

SMALL = dict(num_joints=5, dim=32, depth=2, heads=4, mlp_ratio=2.0, rep_dim=24, maxlen=16)


def small(**kw) -> DSTformer:
    torch.manual_seed(0)
    return DSTformer(DSTformerConfig(**{**SMALL, **kw})).eval()


def test_presets_registered():
    p = presets()
    for name in ("dstformer", "dstformer-lite", "dstformer-causal", "dstformer-lite-causal"):
        assert p[name][0] == "dstformer"
    assert p["dstformer-lite-causal"][1]["causal"] is True


def test_shapes_and_represent():
    m = build("dstformer-lite", **SMALL).eval()
    x = torch.randn(2, 7, 5, 3)  # (B, F, J, 3)
    assert m(x).shape == (2, 7, 5, 3)
    assert m.represent(x).shape == (2, 7, 5, 24)


def test_too_long_input_raises():
    m = small()
    with pytest.raises(ValueError, match="F=17 frames.*maxlen is 16"):
        m(torch.randn(1, 17, 5, 3))
    with pytest.raises(ValueError, match="joints"):
        m(torch.randn(1, 4, 6, 3))


def test_causal_mask():
    m = small(causal=True)
    x = torch.randn(2, 12, 5, 3)
    y = x.clone()
    t = 6
    y[:, t + 1 :] = torch.randn_like(y[:, t + 1 :])
    with torch.no_grad():
        a, b = m(x), m(y)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1], rtol=0, atol=1e-5)
    assert (a[:, t + 1 :] - b[:, t + 1 :]).abs().max() > 1e-3


def test_noncausal_sees_future():
    m = small(causal=False)
    x = torch.randn(1, 8, 5, 3)
    y = x.clone()
    y[:, -1] += 1.0
    with torch.no_grad():
        assert (m(x)[:, 0] - m(y)[:, 0]).abs().max() > 1e-4


@pytest.mark.parametrize("max_context", [16, 10])
def test_kv_streaming_matches_recompute(max_context):
    m = small(causal=True)
    x = torch.randn(2, 16, 5, 3)
    n = max_context  # exact within the first max_context frames
    with torch.no_grad():
        ref = m(x[:, :n])  # causal: frame t of a full pass == recompute over frames 0..t
    s = DSTformerKVStreamer(m, max_context=max_context)
    out = torch.stack([s.step(x[:, t]) for t in range(n)], dim=1)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-4)
    if max_context < x.shape[1]:  # the window slides: cache stays bounded
        for t in range(n, x.shape[1]):
            assert s.step(x[:, t]).shape == (2, 5, 3)
        cache = s.cache[0][0]
        assert cache.size == cache.capacity == max_context and cache.k.shape[2] == max_context
    s.reset()
    torch.testing.assert_close(s.step(x[:, 0]), ref[:, 0], rtol=0, atol=1e-4)


def test_window_recompute_streamer():
    m = small(causal=True)
    x = torch.randn(1, 9, 5, 3)
    with torch.no_grad():
        ref = m(x)
    s = WindowRecomputeStreamer(m, window=16)
    out = torch.stack([s.step(x[:, t]) for t in range(9)], dim=1)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    s2 = WindowRecomputeStreamer(m, window=4)
    outs = [s2.step(x[:, t]) for t in range(9)]
    with torch.no_grad():
        torch.testing.assert_close(outs[-1], m(x[:, -4:])[:, -1], rtol=0, atol=1e-5)


def test_streamer_rejects_bad_context():
    with pytest.raises(ValueError):
        DSTformerKVStreamer(small(), max_context=17)


@pytest.mark.parametrize("window", [1, 4, 7])
def test_ring_buffer_cache_equals_attention_over_the_last_window(window):
    from hmcli.nn.baselines.common import Attention

    torch.manual_seed(0)
    attn = Attention(16, 4).eval()
    x = torch.randn(3, 12, 16)  # (N, T, D)
    cache, ks, vs = None, [], []
    with torch.no_grad():
        for t in range(x.shape[1]):
            out, cache = attn.step(x[:, t : t + 1], cache, window)
            q, k, v = attn._qkv(x[:, t : t + 1])  # reference: keep every key, attend over the last window
            ks.append(k)
            vs.append(v)
            ref = attn._out(torch.nn.functional.scaled_dot_product_attention(
                q, torch.cat(ks[-window:], dim=2), torch.cat(vs[-window:], dim=2)))  # fmt: skip
            torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
            assert cache.size == min(t + 1, window)
    big = cache.repeat(2)
    assert big.k.shape[0] == 6 and torch.equal(big.k[3:], cache.k) and big.size == cache.size
