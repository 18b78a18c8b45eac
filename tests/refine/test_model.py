import pytest
import torch

from tests.refine.helpers import tiny_refiner


def test_untrained_refiner_returns_its_input(one_thread):
    m = tiny_refiner()
    x = torch.randn(2, 12, 17, 3)
    out = m(x)  # (B, F, J, 2)
    assert out.shape == (2, 12, 17, 2)
    torch.testing.assert_close(out, x[..., :2])


def test_fft_path_matches_the_reference_recurrence(one_thread):
    m = tiny_refiner(identity=False)
    x = torch.randn(2, 30, 17, 3)
    with torch.no_grad():
        torch.testing.assert_close(m(x), m(x, mode="reference"), rtol=1e-4, atol=1e-5)


def test_causal_refiner_does_not_look_ahead(one_thread):
    m = tiny_refiner(identity=False, bidirectional=False)
    assert m.causal
    x = torch.randn(1, 20, 17, 3)
    y = x.clone()
    y[:, 12:] += 3.0
    with torch.no_grad():
        a, b = m(x), m(y)
    torch.testing.assert_close(a[:, :12], b[:, :12])
    assert not torch.allclose(a[:, 12:], b[:, 12:])


def test_bidirectional_refiner_uses_the_future_and_dt_scale(one_thread):
    m = tiny_refiner(identity=False)
    x = torch.randn(1, 20, 17, 3)
    y = x.clone()
    y[:, 15:] += 3.0
    with torch.no_grad():
        assert not torch.allclose(m(x)[:, :10], m(y)[:, :10])
        assert not torch.allclose(m(x, 1.0), m(x, 2.0))


def test_wrong_input_shape_is_refused():
    with pytest.raises(ValueError, match="expected"):
        tiny_refiner()(torch.zeros(1, 5, 16, 3))
