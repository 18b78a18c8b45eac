import math

import pytest
import torch

from hmcli.nn.ssm import (
    DSSM,
    causal_conv_fft,
    causal_conv_reference,
    reverse_steps,
    ssm_kernel,
    ssm_kernel_reference,
    ssm_scan,
    steps_from_timestamps,
    zoh,
)

torch.manual_seed(0)


def _ssm(h=8, n=16):
    torch.manual_seed(1)
    return DSSM(h, n).eval()


def test_init_follows_the_description():
    s = DSSM(4, 8, dt_min=1e-3, dt_max=1e-1)
    lam = s.eigenvalues()
    assert lam.shape == (4, 4)
    assert torch.allclose(lam.real, torch.full((4, 4), -0.5))
    assert torch.allclose(lam.imag, math.pi * torch.arange(4.0).repeat(4, 1))
    dt = s.dt()
    assert bool(((dt >= 1e-3) & (dt <= 1e-1)).all())


def test_kernel_matches_closed_form_sum():
    s = _ssm()
    length = 12
    k = s.kernel(length)  # (H, L)
    lam, c, dt = s.eigenvalues(), s.output_weights(), s.dt()
    for h in (0, 5):
        for l in (0, 3, 11):
            d = dt[h]
            val = 2 * sum(
                (c[h, n] * (torch.exp(lam[h, n] * d) - 1) / lam[h, n] * torch.exp(lam[h, n] * l * d)).real
                for n in range(lam.shape[1])
            )
            assert torch.isclose(k[h, l], val, atol=1e-5)


@pytest.mark.parametrize("length", [1, 2, 16, 17, 243, 1024])
def test_blocked_kernel_equals_full_vandermonde(length):
    s = _ssm(h=6, n=32)
    with torch.no_grad():
        s.log_dt.uniform_(math.log(1e-3), math.log(1e-1))
    lam, c = s.eigenvalues(), s.output_weights()
    for dt in (s.dt(), s.dt(torch.tensor([0.5, 2.0, 8.0]))):  # (H,) and per-sample (B, H)
        k = ssm_kernel(lam, c, dt, length)
        k_ref = ssm_kernel_reference(lam, c, dt, length)
        assert k.shape == k_ref.shape == dt.shape + (length,)
        assert (k - k_ref).abs().max() < 1e-4 * k_ref.abs().max().clamp(min=1.0)


def test_blocked_kernel_gradients_equal_reference():
    grads = []
    for fn in (ssm_kernel, ssm_kernel_reference):
        s = _ssm(h=4, n=16).train()
        w = torch.randn(4, 100, generator=torch.Generator().manual_seed(3))
        (fn(s.eigenvalues(), s.output_weights(), s.dt(), 100) * w).sum().backward()
        grads.append([p.grad.clone() for p in (s.log_neg_re, s.imag, s.c, s.log_dt)])
    for g, g_ref in zip(*grads):
        assert torch.allclose(g, g_ref, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("shape", [(3, 50, 8), (2, 37, 5, 8)])
def test_fft_equals_reference_convolution(shape):
    s = _ssm()
    u = torch.randn(*shape)
    k = s.kernel(shape[1])
    y_ref = causal_conv_reference(u, k)
    y_fft = causal_conv_fft(u, k)
    assert y_ref.shape == u.shape
    assert (y_ref - y_fft).abs().max() < 1e-4


def test_recurrence_equals_convolution():
    s = _ssm()
    u = torch.randn(2, 64, 3, 8)  # (B, L, J, H)
    da, db = s.discrete()
    y_scan, state = ssm_scan(u, da, db, s.output_weights())
    y_ref = causal_conv_reference(u, s.kernel(64))
    assert state.shape == (2, 3, 8, 8)
    assert (y_scan - y_ref).abs().max() < 1e-4


def test_module_modes_agree_and_include_skip():
    s = _ssm()
    u = torch.randn(2, 30, 8)
    with torch.no_grad():
        ys = {m: s(u, mode=m) for m in ("fft", "reference", "scan", "matrix")}
    for m in ("reference", "scan", "matrix"):
        assert (ys["fft"] - ys[m]).abs().max() < 1e-4, m
    y_no_skip = causal_conv_fft(u, s.kernel(30))
    assert torch.allclose(ys["fft"] - y_no_skip, s.d * u, atol=1e-5)


def test_causality_output_unchanged_by_future_inputs():
    s = _ssm()
    u = torch.randn(1, 40, 8)
    u2 = u.clone()
    u2[:, 25:] = torch.randn(1, 15, 8)
    with torch.no_grad():
        y1, y2 = s(u), s(u2)
    assert torch.allclose(y1[:, :25], y2[:, :25], atol=1e-5)
    assert not torch.allclose(y1[:, 25:], y2[:, 25:], atol=1e-3)


def test_uniform_steps_equal_fft_path_with_scale():
    s = _ssm()
    u = torch.randn(2, 45, 8)
    with torch.no_grad():
        y_fft = s(u, dt_scale=2.0)
        y_steps = s(u, steps=torch.full((45,), 2.0))
        y_steps_b = s(u, steps=torch.full((2, 45), 2.0))
    assert (y_fft - y_steps).abs().max() < 1e-4
    assert (y_fft - y_steps_b).abs().max() < 1e-4


def test_per_sample_scale_equals_separate_calls():
    s = _ssm()
    u = torch.randn(2, 20, 8)
    with torch.no_grad():
        y = s(u, dt_scale=torch.tensor([1.0, 3.0]))
        y0 = s(u[:1], dt_scale=1.0)
        y1 = s(u[1:], dt_scale=3.0)
    assert (y[:1] - y0).abs().max() < 1e-5
    assert (y[1:] - y1).abs().max() < 1e-5


def test_zoh_is_exact_for_held_input_across_frame_rates():
    """A constant input sampled at 30 fps (Δ) or 15 fps (2Δ) gives the same output at the
    same instants: sample i at 30 fps ends at (i+1)Δ, sample k at 15 fps at (2k+2)Δ."""
    s = _ssm()
    u30 = torch.ones(1, 40, 8)
    u15 = torch.ones(1, 20, 8)
    with torch.no_grad():
        y30 = s(u30, dt_scale=1.0)
        y15 = s(u15, dt_scale=2.0)
    assert (y30[:, 1::2] - y15).abs().max() < 1e-4


def test_irregular_steps_scan_equals_step_by_step():
    s = _ssm()
    u = torch.randn(2, 25, 8)
    steps = torch.rand(25) * 2 + 0.5
    with torch.no_grad():
        y = s(u, steps=steps)
        state = s.init_state((2,))
        outs = []
        for k in range(25):
            da, db = zoh(s.eigenvalues(), (s.dt() * steps[k]).unsqueeze(-1))
            yk, state = s.step(u[:, k], state, da, db)
            outs.append(yk)
    assert (torch.stack(outs, 1) - y).abs().max() < 1e-5


def test_reverse_steps_and_timestamps():
    steps = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert reverse_steps(steps).tolist() == [1.0, 4.0, 3.0, 2.0]
    t = torch.tensor([0.0, 1 / 30, 2 / 30, 4 / 30], dtype=torch.float64)
    st = steps_from_timestamps(t, 30.0)
    assert torch.allclose(st, torch.tensor([1.0, 1.0, 1.0, 2.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="increasing"):
        steps_from_timestamps(torch.tensor([0.0, 0.1, 0.1]), 30.0)


def test_kernel_per_batch_shape_and_gradients_flow():
    s = DSSM(4, 8).train()
    k = ssm_kernel(s.eigenvalues(), s.output_weights(), s.dt(torch.tensor([1.0, 2.0])), 10)
    assert k.shape == (2, 4, 10)
    u = torch.randn(2, 16, 4)
    s(u).pow(2).sum().backward()
    for p in s.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()


def test_inference_cache_invalidated_by_parameter_update():
    s = _ssm()
    with torch.no_grad():
        k1 = s.kernel(10).clone()
        s.log_dt.add_(0.5)
        k2 = s.kernel(10)
    assert not torch.allclose(k1, k2)


def test_cached_kernel_never_leaks_into_autograd():
    s = _ssm().eval()
    u = torch.randn(2, 12, 8)
    with torch.inference_mode():
        y_inf = s(u)  # fills the cache
    y = s(u)  # eval mode, gradients on: recomputed, differentiable
    y.pow(2).sum().backward()
    assert s.log_dt.grad is not None and torch.isfinite(s.log_dt.grad).all()
    assert torch.allclose(y.detach(), y_inf, atol=1e-6)
