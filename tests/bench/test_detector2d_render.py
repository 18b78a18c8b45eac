"""hmcli.bench.detector2d.render_clip end to end: the Anny body posed with mocap joints, rendered,
and the real detector (BlazePose) run on the frames -- the renders every rendered benchmark and
rendered training pair is made of."""

import numpy as np
import pytest
import torch

from hmcli.skeleton.joints import H36M17

pytest.importorskip("anny")
pytest.importorskip("mediapipe")

#: An upright H36M-17 person, world metres, y up, arms a little apart.
STANDING = {"pelvis": (0, .95, 0), "right_hip": (-.1, .93, 0), "right_knee": (-.11, .52, .02),
            "right_ankle": (-.12, .09, 0), "left_hip": (.1, .93, 0), "left_knee": (.11, .52, .02),
            "left_ankle": (.12, .09, 0), "spine": (0, 1.18, 0), "thorax": (0, 1.42, 0), "nose": (0, 1.56, .09),
            "head": (0, 1.68, 0), "left_shoulder": (.18, 1.40, 0), "left_elbow": (.26, 1.13, 0),
            "left_wrist": (.30, .88, .02), "right_shoulder": (-.18, 1.40, 0), "right_elbow": (-.26, 1.13, 0),
            "right_wrist": (-.30, .88, .02)}


@pytest.mark.usefixtures("one_thread")
def test_render_clip_poses_renders_and_detects_the_body():
    from hmcli.bench.detector2d import Detector2DSettings, _camera, render_clip
    from hmcli.data.rendered import lifter_input
    from hmcli.mesh import api as mesh_api
    from hmcli.mesh.prior import default_prior_path, load_prior

    F = 6
    world = np.array([STANDING[n] for n in H36M17.joints], np.float32)                  # (17, 3)
    clip = world[None] + np.linspace(0, .1, F, dtype=np.float32)[:, None, None] * np.float32([1, 0, 0])  # (F, 17, 3)
    body = mesh_api.load_body_model("anny")
    rng = np.random.default_rng(0)
    settings = Detector2DSettings(frames=F)
    cam = _camera(rng, clip, settings)
    c, frame = render_clip(body, load_prior(default_prior_path(body.name)), clip, torch.zeros(body.num_betas), cam,
                           "skin-grey", rng, "standing cam0 skin-grey", "test", keep_frame=0)
    assert frame.shape == (settings.height, settings.width, 3) and frame.std() > 5      # a body on the background
    assert c.detected.all() and c.det_xy.shape == (F, 33, 2) and c.truth_xy.shape == (F, 17, 2)
    # the truth is the posed body's keypoints, placed on the mocap pelvis and projected by the camera
    np.testing.assert_allclose(c.cmu3d[:, 0], c.truth3d[:, 0], atol=1e-4)
    inside = (c.truth_xy >= 0).all() and (c.truth_xy[..., 0] < settings.width).all() and \
        (c.truth_xy[..., 1] < settings.height).all()
    assert inside and 0.3 * settings.height < c.height_px.mean() < settings.height
    # the detector's landmarks, mapped as hm lift maps them, land on the body's joints (a few % of its height)
    xy, conf = lifter_input(c)                                                          # (F, 17, 2), (F, 17)
    err = np.linalg.norm(xy - c.truth_xy, axis=-1)                                      # (F, 17) px
    assert np.median(err) < 0.05 * c.height_px.mean() and (conf > 0).mean() > 0.9
