"""Training windows from rendered pairs (synthetic clips: no renderer, no detector)."""

import numpy as np
import pytest

from hmcli.bench.detector2d import RenderedClip, save_clips
from hmcli.data.rendered import RenderedPairs, load_rendered_pairs
from hmcli.io.atomic import HMError
from hmcli.skeleton.joints import BLAZEPOSE33


def rendered_clip(split: str = "train", F: int = 40, seed: int = 0, trial: str = "05_02") -> RenderedClip:
    """A clip whose BlazePose landmarks sit in the image, with CMU-like 3D in camera space."""
    rng = np.random.default_rng(seed)
    det = rng.uniform(200, 400, (F, 33, 2)).astype(np.float32)                  # (F, 33, 2) px
    conf = rng.uniform(0.3, 1.0, (F, 33)).astype(np.float32)
    detected = np.ones(F, bool)
    detected[5] = False
    det[5], conf[5] = 0.0, 0.0
    det[7, BLAZEPOSE33.index("left_ankle")] = (300.0, 900.0)                   # below a 640x480 frame
    cmu3d = (rng.normal(0, 0.3, (F, 17, 3)) + np.array([0, 0, 4.0])).astype(np.float32)
    cmu_xy = rng.uniform(200, 400, (F, 17, 2)).astype(np.float32)
    return RenderedClip(f"{trial} cam0", split, det, conf, detected, cmu_xy, cmu3d, cmu_xy, cmu3d,
                        np.full(F, 300.0, np.float32), 500.0, 640, 480, {"trial": trial})


def test_windows_carry_the_detectors_2d_as_hm_lift_gives_it_and_the_cmu_targets():
    from hmcli.lift import to_model_input

    c = rendered_clip()
    pairs = RenderedPairs([c, rendered_clip("test", seed=1, trial="09_01")])
    assert len(pairs) == 1 and pairs.frames == 40                              # held-out clips never train
    w = pairs.window(np.random.default_rng(0), 200)                            # longer than the clip: all of it
    assert w["xy"].shape == (40, 17, 2) and w["joints3d"].shape == (40, 17, 3) and w["conf"].shape == (40, 17)
    np.testing.assert_array_equal(w["joints3d"], c.cmu3d)
    np.testing.assert_array_equal(w["xy_clean"], c.cmu_xy)

    class _LM:
        class codec:
            @staticmethod
            def encode_2d(xy, conf, w, h):
                return np.concatenate([xy, conf[..., None]], axis=-1)

    hxy, _, x = to_model_input(_LM(), c.det_xy, c.det_conf, "blazepose33", 640, 480)
    ok = c.detected
    np.testing.assert_allclose(w["xy"][ok], hxy[ok], atol=1e-5)
    np.testing.assert_allclose(w["conf"][ok], x[ok][..., 2], atol=1e-6)       # floor and image mask as hm lift
    assert (w["conf"][5] == 0).all() and (w["xy"][5] == 0).all()               # a lost frame stays lost
    assert (w["conf"][7] == 0).any()                                           # the ankle below the frame
    assert w["subject"] == "05" and w["fps"] == 30.0 and w["width"] == 640 and w["K"][0, 0] == 500.0
    short = pairs.window(np.random.default_rng(1), 12)
    assert short["xy"].shape == (12, 17, 2)
    a = round(short["start_time"] * 30)
    np.testing.assert_array_equal(short["joints3d"], c.cmu3d[a:a + 12])


def test_load_rendered_pairs_errors(tmp_path):
    save_clips([rendered_clip("test")], str(tmp_path / "held-out.npz"))
    with pytest.raises(HMError, match="data_rendered: no training-split clips"):
        load_rendered_pairs([str(tmp_path / "held-out.npz")])
    with pytest.raises(HMError, match="data_rendered: cannot read"):
        load_rendered_pairs([str(tmp_path / "missing.npz")])
    save_clips([rendered_clip()], str(tmp_path / "train.npz"))
    assert len(load_rendered_pairs([str(tmp_path / "train.npz"), str(tmp_path / "held-out.npz")])) == 1
