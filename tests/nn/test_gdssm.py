import pytest
import torch

from hmcli.nn.gdssm import GDSSMBlock


def _block(**kw):
    torch.manual_seed(0)
    args = dict(dim=16, expand=2.5, k=2, state=8, bidirectional=True, axis="frames")
    args.update(kw)
    return GDSSMBlock(**args).eval()


@pytest.mark.parametrize("axis", ["frames", "joints"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_block_modes_agree(axis, bidirectional):
    blk = _block(axis=axis, bidirectional=bidirectional)
    x = torch.randn(2, 11, 5, 16)  # (B, F, J, D)
    with torch.no_grad():
        y = blk(x)
        y_ref = blk(x, mode="reference")
        y_scan = blk(x, mode="scan")
    assert y.shape == x.shape
    assert (y - y_ref).abs().max() < 1e-4
    assert (y - y_scan).abs().max() < 1e-4


def test_bidirectional_backward_branch_is_a_flipped_causal_ssm():
    """Changing a late frame changes early outputs (bidirectional) but not for a causal block."""
    x = torch.randn(1, 20, 3, 16)
    x2 = x.clone()
    x2[:, 15:] = torch.randn(1, 5, 3, 16)
    with torch.no_grad():
        bi, uni = _block(bidirectional=True), _block(bidirectional=False)
        assert not torch.allclose(bi(x)[:, :15], bi(x2)[:, :15], atol=1e-4)
        assert torch.allclose(uni(x)[:, :15], uni(x2)[:, :15], atol=1e-5)


def test_irregular_steps_bidirectional_matches_uniform_when_uniform():
    blk = _block()
    x = torch.randn(2, 13, 3, 16)
    with torch.no_grad():
        assert (blk(x, dt_scale=1.5) - blk(x, steps=torch.full((13,), 1.5))).abs().max() < 1e-4


def test_joint_blocks_ignore_time_scaling():
    blk = _block(axis="joints")
    x = torch.randn(1, 4, 17, 16)
    with torch.no_grad():
        assert torch.equal(blk(x, dt_scale=1.0), blk(x, dt_scale=3.0))


def test_parameter_count_formula():
    """Fused projections have the size of the separate ones in the description."""
    dm, n, k, N = 32, 2.5, 2, 8
    blk = GDSSMBlock(dm, n, k, N, bidirectional=True, axis="frames")
    e, h = int(n * dm), dm // k
    lin = lambda i, o: i * o + o
    ssm = h * (N // 2) * 4 + 2 * h  # Λre, Λim, C (complex) + log Δ, D
    expected = 2 * dm + lin(dm, e) + 2 * lin(dm, h) + 2 * ssm + 2 * lin(h, dm) + lin(dm, e) + lin(e, dm)
    assert sum(p.numel() for p in blk.parameters()) == expected
    uni = GDSSMBlock(dm, 3, k, N, bidirectional=False, axis="frames")
    e = 3 * dm
    expected = 2 * dm + lin(dm, e) + lin(dm, h) + ssm + lin(h, e) + lin(e, dm)
    assert sum(p.numel() for p in uni.parameters()) == expected


@pytest.mark.parametrize("axis", ["frames", "joints"])
def test_ssm_runs_in_float32_under_bf16_autocast(axis):
    """Autocast lowers the linear layers only: the SSM gets float32 in and gives the float32
    result it gives without autocast; the whole block stays within bfloat16 rounding."""
    blk = _block(axis=axis, bidirectional=False)
    u = torch.randn(2, 11, 5, blk.hidden).bfloat16()  # (B, F, J, H), as a lowered projection gives it
    x = torch.randn(2, 11, 5, 16)  # (B, F, J, D)
    with torch.no_grad():
        y_ref = blk._ssm(blk.ssm_f, u.float(), False, 1.0, None, "fft" if axis == "frames" else "matrix")
        out_ref = blk(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = blk._ssm(blk.ssm_f, u, False, 1.0, None, "fft" if axis == "frames" else "matrix")
            out = blk(x)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, y_ref, rtol=0, atol=0)
    assert out.shape == x.shape
    rel = ((out.float() - out_ref).norm() / out_ref.norm()).item()
    assert 0 < rel < 2e-2  # lowered linears: not bit-equal, but bfloat16-close
