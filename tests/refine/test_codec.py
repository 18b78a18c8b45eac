import numpy as np
import pytest
import torch

from hmcli.refine.codec import RefineCodec


def _clip(f=20, j=17, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(100, 500, (f, j, 2)).astype(np.float32)
    conf = rng.uniform(0.2, 1.0, (f, j)).astype(np.float32)
    return torch.from_numpy(xy), torch.from_numpy(conf)


def test_round_trip_and_missing_joints_are_zero():
    codec = RefineCodec()
    xy, conf = _clip()
    conf[3, 5] = 0.0
    xy[4, 2] = float("nan")
    x, frame = codec.encode(xy, conf)
    assert x.shape == (20, 17, 3)
    assert torch.equal(x[3, 5], torch.zeros(3)) and torch.equal(x[4, 2], torch.zeros(3))
    back = codec.decode(x[..., :2], frame)  # (F, J, 2)
    ok = codec.present(xy, conf)
    torch.testing.assert_close(back[ok], xy[ok], rtol=0, atol=1e-3)
    torch.testing.assert_close(codec.decode(codec.encode_target(xy, frame), frame), xy, rtol=0, atol=1e-3, equal_nan=True)


def test_units_do_not_depend_on_where_or_how_large_the_person_is():
    codec = RefineCodec()
    xy, conf = _clip()
    a, _ = codec.encode(xy, conf)
    b, fb = codec.encode(xy * 2.5 + torch.tensor([300.0, -40.0]), conf)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    assert fb.scale > 1.0


def test_clip_frame_is_robust_to_one_wild_frame_and_batches():
    codec = RefineCodec()
    xy, conf = _clip(f=21)
    f0 = codec.clip_frame(xy, conf)
    wild = xy.clone()
    wild[7] += 5000.0  # an outlier frame moves a mean, not the median
    f1 = codec.clip_frame(wild, conf)
    assert torch.allclose(f0.centre, f1.centre, atol=40.0) and torch.allclose(f0.scale, f1.scale, rtol=0.1)
    fb = codec.clip_frame(torch.stack([xy, wild]), torch.stack([conf, conf]))  # (B=2, ...)
    assert fb.centre.shape == (2, 2) and fb.scale.shape == (2,)
    torch.testing.assert_close(fb.centre[1], f1.centre)


def test_empty_clip_has_a_finite_frame():
    codec = RefineCodec()
    xy, conf = _clip()
    frame = codec.clip_frame(xy, torch.zeros_like(conf))
    assert torch.isfinite(frame.centre).all() and float(frame.scale) == pytest.approx(codec.min_scale)


def test_codec_dict_round_trip():
    c = RefineCodec(min_scale=2.0)
    assert RefineCodec.from_dict(c.to_dict()) == c
