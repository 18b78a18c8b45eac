"""Runs only where the optional '.[mediapipe]' extra is installed (not in the base CI)."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mediapipe")

from hmcli.detect import detect_video  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "sample_videos" / "jumping_jacks.mp4"


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample video not in this checkout")
def test_blazepose_on_sample_clip():
    kp = detect_video(SAMPLE, "mediapipe", max_frames=8)
    assert kp.joint_set == "blazepose33" and kp.xy.shape == (8, 33, 2)
    assert kp.detected.all()
    assert kp.detector.startswith("mediapipe-")
    # the person stands in the middle of the 540x540 frame: hips between shoulders and ankles
    y = kp.xy[:, :, 1].mean(axis=0)
    assert y[11] < y[23] < y[27]  # left shoulder above left hip above left ankle
    assert 0 < kp.xy[..., 0].mean() < kp.width
    assert kp.conf[:, 23:29].mean() > 0.5


def test_blank_frames_have_no_person():
    from hmcli.detect import get_detector, run_detector

    det = get_detector("mediapipe")
    try:
        frames = [(i, i / 30, np.zeros((96, 96, 3), np.uint8)) for i in range(3)]
        kp = run_detector(det, frames)
    finally:
        det.close()
    assert not kp.detected.any() and kp.conf.max() == 0.0


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample video not in this checkout")
def test_world_landmarks_of_the_sample_clip_are_metres_around_the_hips():
    from hmcli import api

    kp, world = api.detect_world(SAMPLE, max_frames=4)
    assert kp.detected.all() and world.shape == (4, 33, 3) and np.isfinite(world).all()
    hips = world[:, [23, 24]].mean(1)  # (4, 3): the origin is the hips' midpoint
    assert np.abs(hips).max() < 0.02
    tall = world[:, [27, 28], 1].mean(1) - world[:, 0, 1]  # ankles below the nose (y down), metres
    assert ((tall > 1.0) & (tall < 2.0)).all()
