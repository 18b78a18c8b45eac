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
