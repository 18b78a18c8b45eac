import numpy as np
import pytest
import torch

from hmcli.refine.api import FILL_CONFIDENCE, refine_track, refine_windows, window_starts
from hmcli.refine.checkpoint import LoadedRefiner
from hmcli.refine.codec import RefineCodec
from tests.refine.helpers import tiny_refiner


def _loaded(identity=True, clip_frames=16, **kw):
    return LoadedRefiner(tiny_refiner(identity, **kw), RefineCodec(), {"clip_frames": clip_frames})


def _track(f=40, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(f)[:, None, None]
    xy = (200 + 60 * rng.standard_normal((1, 17, 2)) + 5 * np.sin(t / 4.0)).astype(np.float32)  # (F, 17, 2)
    return xy, np.full((f, 17), 0.9, np.float32)


@pytest.mark.parametrize("n,w", [(5, 16), (16, 16), (17, 16), (40, 16), (101, 81)])
def test_windows_cover_every_frame(n, w):
    starts = window_starts(n, w)
    cover = np.zeros(n, int)
    for a in starts:
        cover[a:a + min(n, w)] += 1
    assert (cover >= 1).all() and starts[0] == 0 and starts[-1] + min(n, w) == n


def test_identity_refiner_returns_the_track_through_windows(one_thread):
    xy, conf = _track(40)
    out = refine_windows(_loaded(), xy, conf)  # 40 frames in windows of 16
    np.testing.assert_allclose(out, xy, atol=2e-3)


def test_one_window_equals_the_model_on_the_whole_clip(one_thread):
    lr = _loaded(identity=False, clip_frames=64)
    xy, conf = _track(40)
    x, frame = lr.codec.encode(xy[None], conf[None])
    with torch.no_grad():
        want = lr.codec.decode(lr.model(x, 0.5), frame)[0].numpy()
    np.testing.assert_allclose(refine_windows(lr, xy, conf, dt_scale=0.5), want, atol=1e-3)


def test_windows_blend_smoothly_and_do_not_depend_on_far_frames(one_thread):
    lr = _loaded(identity=False)
    xy, conf = _track(64)
    a = refine_windows(lr, xy, conf)
    moved = xy.copy()
    moved[56:] += 40.0  # far from frame 10: windows covering frame 10 never see it
    b = refine_windows(lr, moved, conf)
    np.testing.assert_allclose(a[:20], b[:20], atol=1e-4)


def test_missed_joints_are_filled_and_lost_frames_stay_lost(one_thread):
    xy, conf = _track(30)
    conf[5, 3] = 0.0
    xy[5, 3] = 0.0
    conf[10] = 0.0
    xy[10] = 0.0
    det = np.ones(30, bool)
    det[10] = False
    rxy, rconf = refine_track(_loaded(), xy, conf, det)
    assert rconf[5, 3] == pytest.approx(FILL_CONFIDENCE) and rconf[5, 4] == pytest.approx(0.9)
    assert (rconf[10] == 0).all()
    assert np.isfinite(rxy).all() and np.abs(rxy[5, 3]).sum() > 0  # filled with the model's estimate
    np.testing.assert_allclose(np.delete(rxy, [10], 0)[:, 4:], np.delete(xy, [10], 0)[:, 4:], atol=2e-3)


def test_nobody_found_is_returned_unchanged():
    xy, conf = _track(10)
    rxy, rconf = refine_track(_loaded(), xy, np.zeros_like(conf))
    np.testing.assert_array_equal(rxy, xy)
    assert (rconf == 0).all()


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="expected xy"):
        refine_track(_loaded(), np.zeros((5, 17, 3)), np.zeros((5, 17)))
