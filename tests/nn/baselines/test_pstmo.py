import pytest
import torch

from hmcli.nn.baselines import PSTMO, PSTMOConfig, PSTMOPretrain, WindowRecomputeStreamer
from hmcli.nn.registry import presets

SMALL = dict(num_joints=5, frames=9, strides=(3, 3), dim=32, heads=4, ffn_dim=48, sem_hidden=40, tem_depth=2)


def small(**kw) -> PSTMO:
    torch.manual_seed(0)
    return PSTMO(PSTMOConfig(**{**SMALL, **kw})).eval()


def test_presets_registered():
    p = presets()
    assert p["pstmo-s"][1]["tem_depth"] == 3 and p["pstmo"][1]["tem_depth"] == 4
    assert p["pstmo-causal"][1]["causal"] is True


def test_full_size_sequence_shrinks():
    cfg = PSTMOConfig()
    assert cfg.strides == (3, 3, 3, 3, 3) and cfg.frames == 243 and cfg.output_frame == 121
    with pytest.raises(ValueError, match="prod"):
        PSTMOConfig(frames=81)


def test_shapes():
    m = small()
    x = torch.randn(2, 9, 5, 2)
    with torch.no_grad():
        one, multi = m.forward_multi(x)
        assert m(x).shape == one.shape == (2, 1, 5, 3)
        assert multi.shape == (2, 9, 5, 3)
        xc = torch.cat([x, torch.rand(2, 9, 5, 1)], dim=-1)  # confidence is dropped
        torch.testing.assert_close(m(xc), m(x))
    with pytest.raises(ValueError, match="exactly 9 frames"):
        m(torch.randn(1, 8, 5, 2))
    with pytest.raises(ValueError, match="maxlen is 9"):
        m(torch.randn(1, 10, 5, 2))


@pytest.mark.parametrize("causal,frame", [(False, 4), (True, 8)])
def test_residual_path_keeps_output_frame(causal, frame):
    # The MOFA residual keeps one frame per group: the centre (non-causal) or last (causal).
    m = small(causal=causal)
    assert m.cfg.output_frame == frame
    h = torch.zeros(1, 9, 32)
    h[0, :, 0] = torch.arange(9.0)
    for layer in m.mofa.layers:
        h = h[:, layer.keep :: layer.stride]
    assert h.shape[1] == 1 and h[0, 0, 0] == frame


def test_causal_streaming_one_window_per_frame():
    m = small(causal=True)
    x = torch.randn(1, 12, 5, 2)
    s = WindowRecomputeStreamer(m, window=9)  # pads the first frames by repeating frame 0
    outs = [s.step(x[:, t]) for t in range(12)]
    with torch.no_grad():
        torch.testing.assert_close(outs[-1], m(x[:, -9:])[:, 0])
        padded = torch.cat([x[:, :1].expand(1, 7, 5, 2), x[:, :2]], dim=1)
        torch.testing.assert_close(outs[1], m(padded)[:, 0])


def small_pretrain() -> PSTMOPretrain:
    torch.manual_seed(0)
    return PSTMOPretrain(PSTMOConfig(**SMALL), dec_dim=24, dec_heads=4, dec_ffn_dim=32).eval()


def test_mpm_masks():
    m = PSTMOPretrain(PSTMOConfig(), dec_dim=16, dec_heads=2, dec_ffn_dim=16)  # full-length window
    g = torch.Generator().manual_seed(0)
    tmask, smask = m.sample_masks(3, 243, generator=g)
    assert tmask.shape == (3, 243) and smask.shape == (3, 243, 17)
    assert (tmask.sum(1) == round(0.8 * 243)).all()
    assert not smask[tmask].any()  # no spatial masking inside masked frames
    assert (smask[~tmask].sum(-1) == 2).all()  # 2 joints per remaining frame
    t2, s2 = m.sample_masks(3, 243, generator=torch.Generator().manual_seed(0))
    assert torch.equal(tmask, t2) and torch.equal(smask, s2)  # seeded


def test_mpm_forward_and_masked_loss():
    m = small_pretrain()
    x = torch.randn(2, 9, 5, 2)
    recon, tmask, smask = m(x, generator=torch.Generator().manual_seed(1))
    assert recon.shape == (2, 9, 5, 2)
    assert tmask.sum(1).tolist() == [7, 7]  # round(0.8 * 9)
    masked = tmask[..., None] | smask
    # loss only looks at masked positions
    target = recon.detach().clone()
    target[~masked] += 5.0
    assert PSTMOPretrain.masked_mse(recon.detach(), target, tmask, smask) == 0
    target[masked] += 1.0
    torch.testing.assert_close(PSTMOPretrain.masked_mse(recon.detach(), target, tmask, smask), torch.tensor(1.0))
    # unmasked frames' content never reaches the loss gradient through the target; the
    # encoder only ever sees visible frames: changing a masked frame's input leaves recon unchanged
    x2 = x.clone()
    x2[tmask] += 3.0
    with torch.no_grad():
        r2, _, _ = m(x2, masks=(tmask, smask))
        r1, _, _ = m(x, masks=(tmask, smask))
    torch.testing.assert_close(r1, r2)
    loss = m.loss(x, generator=torch.Generator().manual_seed(1))
    loss.backward()
    assert m.temporal_pad.grad is not None and m.spatial_pad.grad is not None


def test_encoder_state_dict_loads_into_stage2():
    pre = small_pretrain()
    sd = pre.encoder_state_dict()
    assert sd and all(k.startswith(("sem.", "tem.")) for k in sd)
    model = small()
    model.load_pretrained_encoder(sd)
    for k, v in sd.items():
        torch.testing.assert_close(model.state_dict()[k], v)
    with pytest.raises(KeyError):
        model.load_pretrained_encoder({k: v for k, v in list(sd.items())[1:]})
