import pytest
import torch

from hmcli.nn.hummuss import HumMUSS, HumMUSSConfig, Streamer
from hmcli.nn.registry import build, count_parameters, make_config


@pytest.mark.parametrize("name", ["hummuss", "hummuss-causal"])
def test_paper_size_is_16m_parameters(name):
    m = build(name)
    assert abs(count_parameters(m) - 16e6) <= 1.6e6
    assert m.cfg.dim == 256 and m.cfg.depth == 5 and m.cfg.state == 128 and m.cfg.rep_dim == 512


def test_paper_expansions():
    assert make_config("hummuss")[1].expand == 2.5
    assert make_config("hummuss-causal")[1].expand == 3.0


def test_shapes_and_representation():
    m = build("hummuss-small").eval()
    x = torch.randn(2, 9, 17, 3)
    with torch.no_grad():
        assert m(x).shape == (2, 9, 17, 3)
        assert m.represent(x).shape == (2, 9, 17, m.cfg.rep_dim)


def test_unknown_model_and_field_errors():
    with pytest.raises(KeyError, match="unknown model"):
        build("nope")
    with pytest.raises(KeyError, match="unknown config field"):
        build("hummuss-small", bogus=1)


def test_causal_model_ignores_the_future():
    torch.manual_seed(0)
    m = build("hummuss-small-causal").eval()
    x = torch.randn(1, 30, 17, 3)
    x2 = x.clone()
    x2[:, 20:] = torch.randn(1, 10, 17, 3)
    with torch.no_grad():
        assert torch.allclose(m(x)[:, :20], m(x2)[:, :20], atol=1e-5)


def test_model_paths_agree():
    torch.manual_seed(0)
    m = HumMUSS(HumMUSSConfig(dim=32, depth=2, state=8, rep_dim=16)).eval()
    x = torch.randn(2, 21, 17, 3)
    with torch.no_grad():
        y = m(x)
        assert (y - m(x, mode="reference")).abs().max() < 1e-4
        assert (y - m(x, mode="scan")).abs().max() < 1e-4
        assert (y - m(x, steps=torch.ones(21))).abs().max() < 1e-4


@pytest.mark.parametrize("name", ["hummuss-small-causal", "hummuss-causal"])
def test_streaming_equals_offline_causal_forward(name):
    torch.manual_seed(0)
    m = build(name).eval()
    x = torch.randn(1, 300, 17, 3)
    with torch.no_grad():
        y_off = m(x)
    s = Streamer(m)
    y_str = torch.stack([s.step(x[:, t]) for t in range(300)], dim=1)
    assert (y_str - y_off).abs().max() <= 1e-4
    assert s.frames == 300


@pytest.mark.parametrize("batch", [1, 2, 5, 8])  # both sides of JOINT_MIX_MAX_ELEMENTWISE
def test_streaming_joint_operator_equals_the_dense_reference(batch):
    torch.manual_seed(batch)
    t = torch.randn(24, 17, 17)  # (2H, J, K)
    u = torch.randn(batch, 17, 24)  # (B, K, 2H)
    ref = torch.einsum("hjk,bkh->bjh", t, u)
    got = Streamer._joint_mix((t, t.permute(1, 2, 0).contiguous()), u)
    assert got.shape == (batch, 17, 24) and (got - ref).abs().max() < 1e-5
    m = build("hummuss-small-causal").eval()  # and the whole step at that batch size
    x = torch.randn(batch, 20, 17, 3)
    with torch.no_grad():
        y_off = m(x)
    s = Streamer(m)
    y_str = torch.stack([s.step(x[:, i]) for i in range(20)], dim=1)
    assert (y_str - y_off).abs().max() <= 1e-4


def test_streaming_folds_trained_layer_norms_exactly():
    """The streamer folds each LayerNorm's affine into the next projection: random (trained-
    like) norm weights and biases must give the offline output too."""
    torch.manual_seed(1)
    m = build("hummuss-small-causal").eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if ".norm." in name:
                p.normal_(1.0 if name.endswith("weight") else 0.0, 0.5)
        x = torch.randn(2, 40, 17, 3)
        y_off = m(x)
    s = Streamer(m)
    y_str = torch.stack([s.step(x[:, t]) for t in range(40)], dim=1)
    assert (y_str - y_off).abs().max() <= 1e-4


@pytest.mark.parametrize("name", ["hummuss-small-causal", "hummuss-causal"])
def test_streaming_with_irregular_timestamps_equals_offline(name):
    torch.manual_seed(1)
    m = build(name).eval()
    fps = m.cfg.fps
    gaps = (torch.rand(299, dtype=torch.float64) * 2.5 + 0.5) / fps  # 12..90 fps, jittery
    t = torch.cat([torch.zeros(1, dtype=torch.float64), gaps.cumsum(0)])
    x = torch.randn(1, 300, 17, 3)
    steps = m.steps_for(t).float()
    with torch.no_grad():
        y_off = m(x, steps=steps)
    s = Streamer(m)
    outs = [s.step(x[:, 0], dt=float(steps[0]) / fps)]
    outs += [s.step(x[:, k], dt=float(t[k] - t[k - 1])) for k in range(1, 300)]
    assert (torch.stack(outs, 1) - y_off).abs().max() <= 1e-4


def test_streaming_state_is_constant_size_and_batched():
    m = build("hummuss-small-causal").eval()
    s = Streamer(m)
    x = torch.randn(4, 17, 3)
    s.step(x)
    size = s.state_bytes()
    for _ in range(20):
        y = s.step(x)
    assert y.shape == (4, 17, 3)
    assert s.state_bytes() == size
    cfg = m.cfg
    expected = cfg.depth * 2 * 4 * 17 * (cfg.dim // cfg.k_temporal) * (cfg.state // 2) * 8  # complex64
    assert size == expected
    s.reset()
    assert s.state_bytes() == 0 and s.frames == 0


def test_streaming_rejects_bidirectional_model():
    with pytest.raises(ValueError, match="causal"):
        Streamer(build("hummuss-small"))


def test_dt_scale_changes_temporal_dynamics_only():
    torch.manual_seed(0)
    m = build("hummuss-small").eval()
    x = torch.randn(1, 16, 17, 3)
    with torch.no_grad():
        assert not torch.allclose(m(x), m(x, dt_scale=2.0), atol=1e-4)
        # one frame: nothing to integrate over time except the first input weight
    assert m.dt_scale_for(15.0) == 2.0 and m.dt_scale_for(60.0) == 0.5


def test_snapshot_restore_forks_a_stream_exactly():
    torch.manual_seed(0)
    m = build("hummuss-small-causal").eval()
    x = torch.randn(1, 12, 17, 3)
    s = Streamer(m)
    for t in range(6):
        s.step(x[:, t])
    snap = s.snapshot()
    tail = torch.stack([s.step(x[:, t]) for t in range(6, 12)], 1)
    s2 = Streamer(m)
    s2.restore(snap, batch=3)
    tail2 = torch.stack([s2.step(x[:, t].expand(3, -1, -1)) for t in range(6, 12)], 1)
    assert s2.frames == 12
    assert torch.allclose(tail2, tail.expand(3, -1, -1, -1), atol=1e-6)


# ------------------------------------------------------------------ bounded memory (horizon)


def _truncated_kernels(monkeypatch, taps: int):
    """Offline reference: every kernel longer than ``taps`` is cut after ``taps`` taps (the
    joint axis, 17 < taps, is untouched)."""
    from hmcli.nn.ssm import DSSM

    orig = DSSM.kernel

    def kernel(self, length, dt_scale=1.0):
        k = orig(self, length, dt_scale)
        return torch.cat([k[..., :taps], torch.zeros_like(k[..., taps:])], dim=-1) if length > taps else k

    monkeypatch.setattr(DSSM, "kernel", kernel)


@pytest.mark.parametrize("dt_scale, taps", [(1.0, 20), (0.5, 40), (2.0, 10)])
def test_streaming_horizon_equals_offline_with_truncated_kernels(monkeypatch, dt_scale, taps):
    torch.manual_seed(0)
    m = build("hummuss-small-causal").eval()
    x = torch.randn(2, 70, 17, 3)
    s = Streamer(m, dt_scale=dt_scale, horizon=20)
    y_str = torch.stack([s.step(x[:, t]) for t in range(70)], dim=1)
    with torch.no_grad():
        y_full = m(x, dt_scale=dt_scale)
        _truncated_kernels(monkeypatch, taps)
        y_cut = m(x, dt_scale=dt_scale)
    assert (y_str - y_cut).abs().max() <= 1e-4
    assert (y_str[:, taps:] - y_full[:, taps:]).abs().max() > 1e-3  # the horizon does change the output
    torch.testing.assert_close(y_str[:, :taps], y_full[:, :taps], rtol=0, atol=1e-4)  # nothing forgotten yet
    assert len(s.history) == taps


def test_streaming_horizon_with_irregular_timestamps(monkeypatch):
    """Variable Δ: the state after each frame is the recurrence restarted at the oldest input
    younger than the horizon (an O(L·W) reference in place of the scan)."""
    import hmcli.nn.ssm as S

    torch.manual_seed(1)
    m = build("hummuss-small-causal").eval()
    fps, horizon, n = m.cfg.fps, 12.0, 50
    gaps = (torch.rand(n - 1, dtype=torch.float64) * 2.5 + 0.5) / fps
    t = torch.cat([torch.zeros(1, dtype=torch.float64), gaps.cumsum(0)])
    steps = m.steps_for(t).float()
    tau = torch.cat([torch.zeros(1, dtype=torch.float64), steps[1:].double().cumsum(0)])
    x = torch.randn(1, n, 17, 3)
    s = Streamer(m, horizon=horizon)
    outs = [s.step(x[:, 0], dt=float(steps[0]) / fps)]
    outs += [s.step(x[:, k], dt=float(t[k] - t[k - 1])) for k in range(1, n)]

    def windowed_scan(u, da, db, c, state=None):  # u (B, L, J, H); da, db (L, H, N2)
        ys = []
        for k in range(u.shape[1]):
            j0 = int(((tau[k] - tau[: k + 1]) < horizon - Streamer.HORIZON_EPS).nonzero()[0])
            xs = torch.zeros(u.shape[0], u.shape[2], *c.shape, dtype=c.dtype)  # (B, J, H, N2)
            for j in range(j0, k + 1):
                xs = da[j] * xs + db[j] * u[:, j].unsqueeze(-1)
            ys.append(2.0 * torch.einsum("bjhn,hn->bjh", xs, c).real)
        return torch.stack(ys, dim=1), None

    monkeypatch.setattr(S, "ssm_scan", windowed_scan)
    with torch.no_grad():
        y_ref = m(x, steps=steps)
    assert (torch.stack(outs, 1) - y_ref).abs().max() <= 1e-4


def test_streaming_horizon_state_is_bounded_and_forks():
    torch.manual_seed(0)
    m = build("hummuss-small-causal").eval()
    x = torch.randn(1, 40, 17, 3)
    s = Streamer(m, horizon=8)
    for t in range(20):
        s.step(x[:, t])
    size = s.state_bytes()
    snap = s.snapshot()
    tail = torch.stack([s.step(x[:, t]) for t in range(20, 40)], 1)
    assert s.state_bytes() == size and len(s.history) == 8
    s2 = Streamer(m, horizon=8)
    s2.restore(snap, batch=2)
    tail2 = torch.stack([s2.step(x[:, t].expand(2, -1, -1)) for t in range(20, 40)], 1)
    assert torch.allclose(tail2, tail.expand(2, -1, -1, -1), atol=1e-6)
    with pytest.raises(ValueError, match="horizon"):
        Streamer(m, horizon=0)


def test_layer_recompute_gives_the_same_gradients():
    torch.manual_seed(0)
    m = build("hummuss-small").train()
    x, target = torch.randn(2, 20, 17, 3), torch.randn(2, 20, 17, 3)
    grads = []
    for recompute in (False, True):
        m.zero_grad()
        m.checkpoint_layers = recompute
        (m(x, dt_scale=1.5) - target).pow(2).mean().backward()
        grads.append({n: p.grad.clone() for n, p in m.named_parameters()})
    for n, g in grads[0].items():
        torch.testing.assert_close(grads[1][n], g, rtol=1e-5, atol=1e-7, msg=n)


@pytest.mark.parametrize("horizon", [None, 12])
def test_streaming_state_update_in_chunks_equals_one_pass(monkeypatch, horizon):
    """Chunked state update (rows of B·J, a ragged last chunk) == the whole state at once."""
    torch.manual_seed(0)
    m = build("hummuss-small-causal").eval()
    x = torch.randn(3, 30, 17, 3)  # R = 51 rows
    ref = Streamer(m, horizon=horizon)
    y_ref = torch.stack([ref.step(x[:, t]) for t in range(30)], dim=1)
    row_bytes = m.layers[0].st_temporal.hidden * m.layers[0].st_temporal.ssm_f.n2 * 4
    monkeypatch.setattr(Streamer, "STATE_CHUNK_BYTES", 5 * row_bytes)  # chunks of 5 rows: 10 full + 1 of 1
    s = Streamer(m, horizon=horizon)
    y = torch.stack([s.step(x[:, t]) for t in range(30)], dim=1)
    torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-6)
    for pair, pair_ref in zip(s.states, ref.states):
        for st, st_ref in zip(pair, pair_ref):
            torch.testing.assert_close(st, st_ref, rtol=0, atol=1e-6)
