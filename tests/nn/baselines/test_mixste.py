import pytest
import torch

from hmcli.nn.baselines import MixSTE, MixSTEConfig
from hmcli.nn.registry import build, count_parameters, presets

SMALL = dict(num_joints=5, dim=32, depth=2, heads=4, mlp_ratio=2.0, maxlen=16)


def small(**kw) -> MixSTE:
    torch.manual_seed(0)
    return MixSTE(MixSTEConfig(**{**SMALL, **kw})).eval()


def test_param_count():
    with torch.device("meta"):
        m = build("mixste")
    n = count_parameters(m)
    assert abs(n - 33.78e6) / 33.78e6 < 0.05, n
    assert len(m.spatial) == len(m.temporal) == 8
    assert presets()["mixste-causal"][1]["causal"] is True


def test_shapes_and_confidence_dropped():
    m = small()
    x = torch.randn(2, 7, 5, 2)
    with torch.no_grad():
        y = m(x)
        assert y.shape == (2, 7, 5, 3)
        assert m.represent(x).shape == (2, 7, 5, 32)
        xc = torch.cat([x, torch.rand(2, 7, 5, 1)], dim=-1)  # (x, y, confidence)
        torch.testing.assert_close(m(xc), y)


def test_too_long_input_raises():
    with pytest.raises(ValueError, match="maxlen is 16"):
        small()(torch.randn(1, 20, 5, 2))


def test_causal_mask():
    m = small(causal=True)
    x = torch.randn(2, 10, 5, 2)
    y = x.clone()
    t = 4
    y[:, t + 1 :] = torch.randn_like(y[:, t + 1 :])
    with torch.no_grad():
        a, b = m(x), m(y)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1], rtol=0, atol=1e-5)
    assert (a[:, t + 1 :] - b[:, t + 1 :]).abs().max() > 1e-3
