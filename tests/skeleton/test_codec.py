import json
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
import torch

from hmcli.skeleton import PoseCodec

SIZES = [(1920, 1080), (720, 1280), (640, 640), (1280, 720), (3, 5)]


@pytest.mark.parametrize(
    "size, pixel, unit",
    [
        ((1920, 1080), (960, 540), (0.0, 0.0)),
        ((1920, 1080), (0, 540), (-1.0, 0.0)),
        ((1920, 1080), (1920, 0), (1.0, -0.5625)),
        ((720, 1280), (360, 0), (0.0, -1.0)),  # portrait: the height spans [-1, 1]
        ((720, 1280), (0, 1280), (-0.5625, 1.0)),
        ((640, 640), (480, 160), (0.5, -0.5)),
    ],
)
def test_encode_2d_known_points(size, pixel, unit):
    codec = PoseCodec()
    xy = np.zeros((17, 2))
    xy[3] = pixel
    conf = np.ones(17)
    enc = codec.encode_2d(xy, conf, *size)  # (17, 3)
    assert enc.shape == (17, 3)
    np.testing.assert_allclose(enc[3], (*unit, 1.0), atol=1e-12)


@pytest.mark.parametrize("w, h", SIZES)
def test_2d_round_trip(w, h):
    codec = PoseCodec()
    rng = np.random.default_rng(w * h)
    xy = rng.uniform(0, 1, size=(8, 17, 2)) * (w, h)  # (F, J, 2) inside the image
    conf = rng.uniform(0.05, 1.0, size=(8, 17))
    enc = codec.encode_2d(xy, conf, w, h)  # (F, J, 3)
    assert np.abs(enc[..., :2]).max() <= 1.0
    np.testing.assert_allclose(enc[..., 2], conf)
    np.testing.assert_allclose(codec.decode_2d(enc[..., :2], w, h), xy, atol=1e-9)
    back = codec.decode_2d(enc, w, h)  # three channels: confidence passes through
    np.testing.assert_allclose(back, np.concatenate([xy, conf[..., None]], -1), atol=1e-9)
    u = rng.uniform(-1, 1, size=(8, 17, 2))
    xy2 = codec.decode_2d(u, w, h)
    np.testing.assert_allclose(codec.encode_2d(xy2, np.ones((8, 17)), w, h)[..., :2], u, atol=1e-12)


def test_aspect_ratio_is_kept():
    codec = PoseCodec()
    xy = np.zeros((17, 2))
    xy[1], xy[2] = (100, 100), (200, 200)  # a 45 degree segment in pixels
    for w, h in SIZES:
        enc = codec.encode_2d(xy, np.ones(17), w, h)
        d = enc[2, :2] - enc[1, :2]
        assert d[0] == pytest.approx(d[1])


def test_zero_confidence_joints_become_zero():
    codec = PoseCodec()
    xy = np.full((2, 17, 2), 12345.0)
    conf = np.full((2, 17), 0.5)
    conf[0, 4] = 0.0
    conf[1, [0, 16]] = 0.0
    xy[1, 7] = np.nan  # non-finite coordinates are treated as missing too
    enc = codec.encode_2d(xy, conf, 640, 480)
    for f, j in [(0, 4), (1, 0), (1, 16), (1, 7)]:
        np.testing.assert_array_equal(enc[f, j], (0.0, 0.0, 0.0))
    assert np.isfinite(enc).all()
    assert enc[0, 5, 2] == 0.5 and enc[0, 5, 0] != 0.0


@pytest.mark.parametrize("mpu", [1.0, 0.001, 2.5])
def test_3d_round_trip_root_relative(mpu):
    codec = PoseCodec(metres_per_unit=mpu)
    j = np.random.default_rng(7).normal(size=(5, 17, 3)) + (0.0, 0.0, 4.0)  # camera space, metres
    y = codec.encode_3d(j)
    np.testing.assert_array_equal(y[:, 0], 0.0)
    np.testing.assert_allclose(y, (j - j[:, :1]) / mpu)
    np.testing.assert_allclose(codec.decode_3d(y), j - j[:, :1], atol=1e-12)
    # decode is root-relative even if the model output is not
    np.testing.assert_allclose(codec.decode_3d(y + 3.0), j - j[:, :1], atol=1e-12)


def test_3d_units_known_value():
    codec = PoseCodec(metres_per_unit=0.001)  # one unit = one millimetre
    j = np.zeros((17, 3))
    j[0] = (0.0, 0.0, 3.0)
    j[1] = (0.1, 0.0, 3.0)
    np.testing.assert_allclose(codec.encode_3d(j)[1], (100.0, 0.0, 0.0))


def test_dict_round_trip_is_json():
    codec = PoseCodec(joint_set="h36m17", metres_per_unit=0.5)
    d = codec.to_dict()
    assert d["version"] == PoseCodec.VERSION and isinstance(d["version"], int)
    assert d["joint_set"] == "h36m17"
    again = PoseCodec.from_dict(json.loads(json.dumps(d)))
    assert again == codec
    assert PoseCodec.from_dict(PoseCodec().to_dict()) == PoseCodec()


def test_dict_and_field_validation():
    d = PoseCodec().to_dict()
    with pytest.raises(ValueError, match="version"):
        PoseCodec.from_dict({**d, "version": 99})
    with pytest.raises(ValueError, match="version"):
        PoseCodec.from_dict({k: v for k, v in d.items() if k != "version"})
    with pytest.raises(ValueError, match="extra"):
        PoseCodec.from_dict({**d, "extra": 1})
    with pytest.raises(ValueError, match="known joint sets"):
        PoseCodec(joint_set="nope")
    with pytest.raises(ValueError):
        PoseCodec(metres_per_unit=0.0)
    with pytest.raises(FrozenInstanceError):
        PoseCodec().metres_per_unit = 2.0  # type: ignore[misc]


def test_shape_and_size_errors():
    codec = PoseCodec()
    with pytest.raises(ValueError):
        codec.encode_2d(np.zeros((5, 16, 2)), np.ones((5, 16)), 640, 480)
    with pytest.raises(ValueError):
        codec.encode_2d(np.zeros((5, 17, 2)), np.ones((5, 16)), 640, 480)
    with pytest.raises(ValueError):
        codec.encode_2d(np.zeros((5, 17, 2)), np.ones((5, 17)), 0, 480)
    with pytest.raises(ValueError):
        codec.encode_3d(np.zeros((5, 17, 2)))


def test_codec_for_other_joint_sets():
    codec = PoseCodec(joint_set="coco17")
    enc = codec.encode_2d(np.full((17, 2), 320.0), np.ones(17), 640, 640)
    np.testing.assert_array_equal(enc[:, :2], 0.0)
    with pytest.raises(ValueError):
        codec.encode_2d(np.zeros((33, 2)), np.ones(33), 640, 480)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_and_numpy_agree(dtype):
    codec = PoseCodec(metres_per_unit=0.01)
    rng = np.random.default_rng(8)
    xy = rng.uniform(0, 1000, size=(4, 17, 2))
    conf = rng.uniform(0, 1, size=(4, 17))
    conf[0, 3] = 0.0
    j = rng.normal(size=(4, 17, 3))
    t = lambda a: torch.as_tensor(a, dtype=dtype)  # noqa: E731
    tol = dict(rtol=1e-5, atol=1e-5)

    enc_np = codec.encode_2d(xy, conf, 720, 1280)
    enc_t = codec.encode_2d(t(xy), t(conf), 720, 1280)
    assert isinstance(enc_t, torch.Tensor) and enc_t.dtype == dtype
    np.testing.assert_allclose(enc_t.numpy(), enc_np, **tol)
    dec_t = codec.decode_2d(enc_t[..., :2], 720, 1280).numpy()
    np.testing.assert_allclose(dec_t, codec.decode_2d(enc_np[..., :2], 720, 1280), **tol)
    seen = conf > 0
    np.testing.assert_allclose(dec_t[seen], xy[seen], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(dec_t[0, 3], (360.0, 640.0), **tol)  # missing joint decodes to the centre
    # confidence given as numpy next to torch coordinates is accepted
    np.testing.assert_allclose(codec.encode_2d(t(xy), conf, 720, 1280).numpy(), enc_np, **tol)

    y_t = codec.encode_3d(t(j))
    assert y_t.dtype == dtype
    np.testing.assert_allclose(y_t.numpy(), codec.encode_3d(j), **tol)
    np.testing.assert_allclose(codec.decode_3d(y_t).numpy(), codec.decode_3d(codec.encode_3d(j)), **tol)


def test_float32_numpy_stays_float32():
    codec = PoseCodec()
    enc = codec.encode_2d(np.ones((17, 2), np.float32), np.ones(17, np.float32), 640, 480)
    assert enc.dtype == np.float32
    assert codec.encode_3d(np.ones((17, 3), np.float32)).dtype == np.float32


# ------------------------------------------------------------------ person normalisation (version 2)


def _person_pose(rng, frames=6):
    xy = rng.uniform(200, 600, size=(frames, 17, 2))  # (F, J, 2) pixels
    conf = rng.uniform(0.2, 1.0, size=(frames, 17))
    return xy, conf


def test_person_units_remove_position_and_size():
    codec = PoseCodec(input_norm="person")
    rng = np.random.default_rng(3)
    xy, conf = _person_pose(rng)
    enc = codec.encode_2d(xy, conf, 1280, 720)  # (F, J, 3)
    # the same person moved and zoomed (per frame) in another image encodes identically
    shift = rng.uniform(-100, 100, size=(6, 1, 2))
    zoom = rng.uniform(0.5, 2.0, size=(6, 1, 1))
    moved = codec.encode_2d(xy * zoom + shift + 300, conf, 1920, 1080)
    np.testing.assert_allclose(moved, enc, atol=1e-9)
    # centre: the hips' mean (pelvis, right hip, left hip) is at 0; unit rms distance
    hips = enc[:, [0, 1, 4], :2].mean(1)
    np.testing.assert_allclose(hips, 0.0, atol=1e-9)
    np.testing.assert_allclose(np.sqrt((enc[..., :2] ** 2).sum(-1).mean(-1)), 1.0, atol=1e-9)
    np.testing.assert_allclose(enc[..., 2], conf)


def test_person_units_missing_joints_and_frames():
    codec = PoseCodec(input_norm="person")
    rng = np.random.default_rng(4)
    xy, conf = _person_pose(rng, frames=3)
    conf[0, [0, 1, 4]] = 0.0  # no hip in frame 0: centre = mean of the present joints
    conf[1, 5] = 0.0
    conf[2] = 0.0  # nobody in frame 2
    xy[1, 5] = 1e6  # garbage of a missing joint must not move the others
    enc = codec.encode_2d(xy, conf, 640, 480)
    present = conf[0] > 0
    np.testing.assert_allclose(enc[0, present, :2].mean(0), 0.0, atol=1e-9)
    np.testing.assert_array_equal(enc[0, ~present, :2], 0.0)
    np.testing.assert_array_equal(enc[1, 5], 0.0)
    assert np.abs(enc[1, :, :2]).max() < 10
    np.testing.assert_array_equal(enc[2], 0.0)
    assert np.isfinite(enc).all()


def test_person_units_are_per_frame():
    """Encoding a frame alone gives the same as inside a clip (streaming == offline)."""
    codec = PoseCodec(input_norm="person")
    xy, conf = _person_pose(np.random.default_rng(5))
    enc = codec.encode_2d(xy, conf, 640, 480)
    for f in range(xy.shape[0]):
        np.testing.assert_allclose(codec.encode_2d(xy[f], conf[f], 640, 480), enc[f], atol=1e-12)
    t = codec.encode_2d(torch.as_tensor(xy, dtype=torch.float32), torch.as_tensor(conf, dtype=torch.float32), 640, 480)
    assert t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), enc, atol=1e-5)
    assert codec.encode_2d(xy.astype(np.float32), conf.astype(np.float32), 640, 480).dtype == np.float32


def test_person_units_decode_refused_and_dict_versions():
    codec = PoseCodec(input_norm="person")
    with pytest.raises(ValueError, match="no pixel inverse"):
        codec.decode_2d(np.zeros((17, 2)), 640, 480)
    assert PoseCodec.from_dict(codec.to_dict()) == codec
    v1 = {"version": 1, "joint_set": "h36m17", "metres_per_unit": 1.0}  # checkpoints written before version 2
    assert PoseCodec.from_dict(v1) == PoseCodec(input_norm="image")
    with pytest.raises(ValueError, match="unknown PoseCodec fields"):
        PoseCodec.from_dict({**v1, "input_norm": "person"})
    with pytest.raises(ValueError, match="input_norm"):
        PoseCodec(input_norm="bbox")


# ------------------------------------------------------------------ location channels (version 3)


def test_location_channels_keep_place_and_size():
    codec = PoseCodec(input_norm="person", location=True)
    assert codec.in_channels == 6 and PoseCodec(input_norm="person").in_channels == 3
    rng = np.random.default_rng(6)
    xy, conf = _person_pose(rng)
    w, h = 1280, 720
    f = np.hypot(w, h)
    enc = codec.encode_2d(xy, conf, w, h)  # (F, J, 6)
    assert enc.shape == (6, 17, 6)
    np.testing.assert_allclose(enc[..., :3], PoseCodec(input_norm="person").encode_2d(xy, conf, w, h))
    np.testing.assert_allclose(enc[..., 3:], np.broadcast_to(enc[:, :1, 3:], enc[..., 3:].shape))  # one value per frame
    centre = xy[:, [0, 1, 4]].mean(1)  # (F, 2) pixels: the hips' mean
    np.testing.assert_allclose(enc[:, 0, 3:5], (centre - [w / 2, h / 2]) / f, atol=1e-9)
    spread = np.sqrt(((xy - centre[:, None]) ** 2).sum(-1).mean(-1))  # (F,) rms distance, pixels
    np.testing.assert_allclose(enc[:, 0, 5], np.log(spread / f), atol=1e-9)
    # moving the person by d pixels moves (cx, cy) by d / f; zooming about the centre by k adds log k
    moved = codec.encode_2d(xy + [40.0, -25.0], conf, w, h)
    np.testing.assert_allclose(moved[..., 3:5] - enc[..., 3:5], np.broadcast_to([40.0 / f, -25.0 / f], (6, 17, 2)), atol=1e-9)
    zoomed = codec.encode_2d((xy - [w / 2, h / 2]) * 1.5 + [w / 2, h / 2], conf, w, h)
    np.testing.assert_allclose(zoomed[..., 5] - enc[..., 5], np.log(1.5), atol=1e-9)
    np.testing.assert_allclose(zoomed[..., :3], enc[..., :3], atol=1e-9)


def test_location_channels_empty_frames_torch_and_per_frame():
    codec = PoseCodec(input_norm="person", location=True)
    xy, conf = _person_pose(np.random.default_rng(7), frames=3)
    conf[2] = 0.0
    enc = codec.encode_2d(xy, conf, 640, 480)
    np.testing.assert_array_equal(enc[2], 0.0)
    for t in range(3):
        np.testing.assert_allclose(codec.encode_2d(xy[t], conf[t], 640, 480), enc[t], atol=1e-12)
    et = codec.encode_2d(torch.as_tensor(xy, dtype=torch.float32), torch.as_tensor(conf, dtype=torch.float32), 640, 480)
    assert et.dtype == torch.float32 and et.shape == (3, 17, 6)
    np.testing.assert_allclose(et.numpy(), enc, atol=1e-5)


def test_flip_2d_is_the_mirrored_picture():
    from hmcli.skeleton.joints import get_joint_set

    perm = list(get_joint_set("h36m17").flip_index)
    xy, conf = _person_pose(np.random.default_rng(8))
    mirrored = xy.copy()
    mirrored[..., 0] = 800 - mirrored[..., 0]
    for codec in (PoseCodec(input_norm="person", location=True), PoseCodec(input_norm="person"), PoseCodec()):
        enc = codec.encode_2d(xy, conf, 800, 600)
        want = codec.encode_2d(mirrored[:, perm], conf[:, perm], 800, 600)
        np.testing.assert_allclose(codec.flip_2d(enc), want, atol=1e-9)
        np.testing.assert_allclose(codec.flip_2d(codec.flip_2d(enc)), enc)
    with pytest.raises(ValueError, match="flip_2d"):
        PoseCodec(input_norm="person", location=True).flip_2d(np.zeros((17, 3)))


def test_location_versions_and_refusals():
    codec = PoseCodec(input_norm="person", location=True)
    assert codec.to_dict()["version"] == 3
    assert PoseCodec.from_dict(codec.to_dict()) == codec
    v2 = {"version": 2, "joint_set": "h36m17", "metres_per_unit": 1.0, "input_norm": "person"}
    assert PoseCodec.from_dict(v2) == PoseCodec(input_norm="person")
    with pytest.raises(ValueError, match="unknown PoseCodec fields"):
        PoseCodec.from_dict({**v2, "location": True})
    with pytest.raises(ValueError, match="unsupported PoseCodec version 4"):
        PoseCodec.from_dict({**v2, "version": 4})
    with pytest.raises(ValueError, match="location channels need input_norm='person'"):
        PoseCodec(location=True)


def test_person_units_have_finite_gradients_with_empty_frames():
    import torch

    from hmcli.skeleton.codec import PoseCodec

    codec = PoseCodec(input_norm="person", location=True)
    xy = (torch.rand(3, 17, 2) * 200 + 50).requires_grad_(True)
    conf = torch.ones(3, 17)
    conf[1] = 0.0  # a frame without the person
    codec.encode_2d(xy, conf, 320, 240).sum().backward()
    assert torch.isfinite(xy.grad).all()
