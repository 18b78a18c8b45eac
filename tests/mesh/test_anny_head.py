"""Issue 33: Anny's head where the person's is.

On the sample clip (filmed from below) the lifter put the nose 6-7 cm higher above the thorax
than CMU's, 65 mm from the head where a rigid head has 128. The fit then (1) bent Anny's upper
back and neck towards the shared pose prior's mean (built through the synthetic body's IK, not
Anny's: spine2 / spine3 / neck 21 / 31 / 14 degrees off an upright truth) and (2) reached for
the lifted nose with the head, leaving the skull under the person's. Here an upright Anny with a
level head is lifted with exactly that face error and its exact 2D: the fit must keep the back,
neck and head upright (within 5 degrees; the shared prior left spine2 21 degrees off) and put
the skull top where it is in the image (within 0.4 px).

Uses the default Anny cache (``HM_ANNY_CACHE`` or ``~/.cache/hm/anny``), as tests/mesh/test_anny.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("anny")

from hmcli.mesh import api as mesh_api
from hmcli.mesh.body import posed_keypoints
from hmcli.mesh.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hmcli.types import Keypoints2D, Pose3DResult

F = 12


@pytest.fixture(scope="module")
def body():
    return mesh_api.load_body_model("anny")


def _upright_clip(body):
    """Upright Anny, head level, arms swinging out, turning a little, 3.5 m in front of a 540 px
    camera: (lifted with the sample clip's face error, true rotations, true camera-space
    vertices of the skull top (F, 3), camera)."""
    k = body.joint_names.index
    t = torch.linspace(0, 1, F)
    aa = torch.zeros(F, body.num_joints, 3)
    for side, s in (("left", 1.0), ("right", -1.0)):
        aa[:, k(f"{side}_shoulder"), 2] = s * (0.3 + t)
        aa[:, k(f"{side}_hip"), 2] = s * 0.15 * t
        aa[:, k(f"{side}_elbow"), 1] = s * 0.2
    R = axis_angle_to_matrix(aa)
    turn = axis_angle_to_matrix(torch.stack([t * 0, 0.4 * (t - 0.5), t * 0], -1))
    R[:, 0] = axis_angle_to_matrix(torch.tensor([np.pi, 0.0, 0.0]))[None] @ turn   # facing the camera
    b = torch.zeros(1, body.num_betas)
    with torch.no_grad():
        kp, _ = posed_keypoints(body, body.rest(b), R, b)
        top = int(body.rest_vertices(b)[0, :, 1].argmax())
        shift = torch.tensor([0.0, 0.0, 3.5]) - kp[:, :1]                          # (F, 1, 3)
        top_cam = body.vertices(b, R)[:, top] + shift[:, 0]
    kp_cam = kp + shift
    cam = mesh_api.default_camera(540, 540)
    uv = kp_cam[..., :2] / kp_cam[..., 2:3] * cam.focal + torch.tensor([cam.cx, cam.cy])
    k2 = Keypoints2D(uv.numpy().astype(np.float32), np.ones((F, 17), np.float32), "h36m17",
                     np.arange(F) / 30.0, 540, 540, np.ones(F, bool), detector="synthetic")
    j3 = (kp_cam - kp_cam[:, :1]).numpy().astype(np.float32)
    j3[:, 9] = 0.5 * (j3[:, 9] + j3[:, 10])          # the lifted nose half-way to the head
    return Pose3DResult(k2, j3, "synthetic", ""), R, top_cam, top, cam


def test_upright_head_stays_upright_and_the_skull_lands_on_the_person(body):
    lifted, R, top_true, top, cam = _upright_clip(body)
    res = mesh_api.fit(lifted, body)

    k = body.joint_names.index
    for name in ("spine2", "spine3", "neck", "head"):
        err = np.degrees(np.linalg.norm(res.pose[:, k(name)] - matrix_to_axis_angle(R[:, k(name)]).numpy(), axis=-1))
        assert err.mean() < 5.0, f"{name} bent {err.mean():.1f} degrees off the upright truth"

    def project(x):
        x = np.asarray(x, np.float64)
        return x[..., :2] / x[..., 2:3] * cam.focal + np.array([cam.cx, cam.cy])

    with torch.no_grad():
        verts = mesh_api.mesh_vertices(res, body)                                   # (F, V, 3)
    skull = np.linalg.norm(project(verts[:, top]) - project(top_true.numpy()), axis=-1)
    # 0.26 px here (head keypoint 0.25); 0.55 (0.61) with the face counting as before (2D nose 1, head 0)
    assert skull.max() < 0.4, f"skull top {skull.max():.2f} px off"
    head = np.linalg.norm(project(res.joints3d[:, 10]) - lifted.kpts2d.xy[:, 10], axis=-1)
    assert head.max() < 0.4 and res.quality["reproj_head_px"] < 0.4
