"""Anny reduced to hm's 24-joint tree: shapes, exactness against anny's own forward pass,
neutral shape, differentiable rest joints, canon, hinges, caching, missing-anny message.

Uses the default cache (``HM_ANNY_CACHE`` or ``~/.cache/hm/anny``): the very first run builds
anny's model data (about 90 s, 830 MB), later runs load it in a few seconds.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

pytest.importorskip("anny")

from hmcli.io.atomic import HMError  # noqa: E402
from hmcli.mesh import anny_body as ab  # noqa: E402
from hmcli.mesh.body import SMPL_PARENTS, posed_keypoints  # noqa: E402
from hmcli.mesh.rotations import axis_angle_to_matrix, rotation_about  # noqa: E402

# float32 reduced LBS against anny's float64 forward: float round-off only (measured 3e-6 m)
TOL = 2e-5   # metres


@pytest.fixture(scope="module")
def body() -> ab.AnnyBody:
    return ab.load_anny()


@pytest.fixture(scope="module")
def anny_model():
    return ab.build_anny_model()


def _anny_forward(model, body: ab.AnnyBody, betas: torch.Tensor, rotmats: torch.Tensor):
    """anny's own float64 forward pass for an hm pose -> (vertices (B, V, 3), bone heads
    (B, Nb, 3)), hm axes."""
    b64, r64 = betas.double(), rotmats.double()
    phen = body.phenotypes(b64)
    B = phen.shape[0]
    empty = torch.zeros(B, 0, dtype=torch.float64)
    rest = model.get_rest_model(model._get_phenotype_blendshape_coefficients(phen, empty, empty))
    deltas = ab.hm_pose_to_anny(r64, body.rest(b64).joints, body.assign, rest["rest_bone_poses"],
                                model.reference_bone_orientations, list(model.bone_parents))
    out = model(pose_parameters=deltas, phenotype_kwargs=phen)
    S = torch.as_tensor(ab.ANNY_TO_HM)
    return out["vertices"] @ S.T, out["bone_poses"][..., :3, 3] @ S.T


def _random(B: int, seed: int, scale: float = 0.6):
    g = torch.Generator().manual_seed(seed)
    betas = torch.randn(B, 6, generator=g)
    rot = axis_angle_to_matrix(torch.randn(B, 24, 3, generator=g) * scale)
    return betas, rot


def test_shapes(body):
    assert body.name == "anny" and body.num_betas == 6 and body.num_joints == 24
    assert body.parents == SMPL_PARENTS
    assert body.num_vertices == 13718
    assert body.faces.shape == (27420, 3) and body.faces.dtype == np.int64
    assert body.faces.min() == 0 and body.faces.max() == body.num_vertices - 1
    M = body.keypoints.vert_idx.numel()
    assert body.keypoints.joint_w.shape == (17, 24) and body.keypoints.vert_w.shape == (17, M)
    rows = body.keypoints.joint_w.sum(1) + body.keypoints.vert_w.sum(1)
    assert torch.allclose(rows, torch.ones(17), atol=1e-5)
    assert body.kp_weights.shape == (M, 24)
    assert torch.allclose(body.kp_weights.sum(1), torch.ones(M), atol=1e-5)
    assert body.canon.shape == (24, 3, 3)
    assert set(body.hinge_axes) == {4, 5, 18, 19}
    betas, rot = _random(3, 0)
    rest = body.rest(betas)
    assert rest.joints.shape == (3, 24, 3) and rest.kp_verts.shape == (3, M, 3)
    assert body.vertices(betas, rot).shape == (3, 13718, 3)
    assert body.vertices(betas[:1], rot).shape == (3, 13718, 3)     # one shape, many frames


def test_reduced_lbs_matches_anny(body, anny_model):
    betas, rot = _random(3, 1)
    va, heads = _anny_forward(anny_model, body, betas, rot)
    v = body.vertices(betas, rot).double()
    assert (v - va).norm(dim=-1).max() < TOL
    # keypoints and joints through the cheap path (body.posed_keypoints) agree too
    kp, joints = posed_keypoints(body, body.rest(betas), rot)
    km = body.keypoints
    kpa = torch.einsum("km,bmd->bkd", km.vert_w.double(), va[:, km.vert_idx])
    assert (kp[:, 9:11].double() - kpa[:, 9:11]).norm(dim=-1).max() < TOL
    idx = {label: i for i, label in enumerate(anny_model.bone_labels)}
    reg = torch.zeros(24, len(idx), dtype=torch.float64)
    for k, name in enumerate(ab.SMPL_JOINT_NAMES):
        for b in ab.JOINT_BONES[name]:
            reg[k, idx[b]] = 1.0 / len(ab.JOINT_BONES[name])
    assert (joints.double() - reg @ heads).norm(dim=-1).max() < TOL


def test_identity_pose_is_rest_mesh(body, anny_model):
    betas, _ = _random(2, 2)
    eye = torch.eye(3).expand(2, 24, 3, 3)
    v = body.vertices(betas, eye).double()
    va, _ = _anny_forward(anny_model, body, betas, eye)
    assert (v - va).abs().max() < TOL
    assert (v - body.rest_vertices(betas).double()).abs().max() < TOL


def test_betas_zero_is_neutral_anny(body, anny_model):
    out = anny_model()                          # anny's defaults: every phenotype 0.5
    S = torch.as_tensor(ab.ANNY_TO_HM)
    ref = out["rest_vertices"][0] @ S.T
    mine = body.rest_vertices(torch.zeros(1, 6))[0].double()
    assert (mine - ref).abs().max() < TOL
    assert torch.allclose(body.phenotypes(torch.zeros(1, 6)), torch.full((1, 6), 0.5))
    # hm axes: Y up, facing +Z, X = left, metres
    assert 1.4 < float(ref[:, 1].max() - ref[:, 1].min()) < 1.9
    j = body.rest(torch.zeros(1, 6)).joints[0]
    assert j[15, 1] > j[0, 1] > j[7, 1]                    # head above pelvis above ankles
    assert j[1, 0] > 0 > j[2, 0]                           # left hip at +X
    assert j[10, 2] > j[7, 2]                              # toes in front of the ankle
    nose = body.keypoints.vert_w[9] @ body.rest(torch.zeros(1, 6)).kp_verts[0]
    assert nose[2] > j[15, 2] + 0.05                       # nose in front of the head joint


def test_phenotype_weights_match_anny(body, anny_model):
    from anny.models.phenotype import phenotype_blendshape_weights

    g = torch.Generator().manual_seed(3)
    betas = torch.cat([torch.zeros(1, 6), torch.randn(5, 6, generator=g) * 2], 0).double()
    mine = body.target_weights(betas)
    theirs = phenotype_blendshape_weights(body.phenotypes(betas), list(anny_model.phenotype_labels),
                                          anny_model.anchors, anny_model.stacked_phenotype_blend_shapes_mask,
                                          extrapolate=False)
    assert torch.allclose(mine, theirs, atol=1e-6)


def test_rest_is_differentiable(body):
    betas = torch.zeros(1, 6, requires_grad=True)
    rest = body.rest(betas)
    (rest.joints[:, :, 1].std() + rest.kp_verts.norm(dim=-1).mean()).backward()
    assert torch.isfinite(betas.grad).all()
    assert (betas.grad.abs() > 1e-6).all()               # every phenotype acts, also at 0.5
    # autograd agrees with finite differences (float64, away from the anchors)
    b0 = torch.tensor([[0.3, -0.4, 0.2, -0.7, 0.5, 0.1]], dtype=torch.float64)

    def f(b):
        return body.rest(b).joints.sum(1)[0]            # (3,)
    jac = torch.autograd.functional.jacobian(f, b0)[:, 0]   # (3, 6)
    eps = 1e-4
    for i in range(6):
        e = torch.zeros_like(b0)
        e[0, i] = eps
        fd = (f(b0 + e) - f(b0 - e)) / (2 * eps)
        assert torch.allclose(jac[:, i], fd, atol=1e-3, rtol=1e-3)


def test_canon_turns_rest_bones_canonical(body):
    j = body.rest(torch.zeros(1, 6)).joints[0]
    R = body.canon
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3).expand(24, 3, 3), atol=1e-5)
    for k in range(24):
        c, d = ab.MAIN_CHILD[k], ab.CANONICAL_DIRECTIONS[k]
        if c < 0:
            assert torch.allclose(R[k], torch.eye(3), atol=1e-6)
            continue
        bone = torch.nn.functional.normalize(j[c] - j[k], dim=0)
        assert torch.allclose(R[k] @ bone, torch.tensor(d), atol=1e-5), ab.SMPL_JOINT_NAMES[k]
    # anny's A-pose: the shoulders need a large turn, the pelvis none
    angle = torch.arccos(((R.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1))
    assert angle[16] > 0.6 and angle[17] > 0.6 and angle[0] == 0


def test_hinge_axes(body):
    j = body.rest(torch.zeros(1, 6)).joints[0]
    for k, (a, b, c) in {18: (16, 18, 20), 19: (17, 19, 21)}.items():
        h = body.hinge_axes[k]
        assert abs(float(h.norm()) - 1) < 1e-5
        normal = torch.nn.functional.normalize(torch.linalg.cross(j[b] - j[a], j[c] - j[b], dim=0), dim=0)
        assert float(h @ normal) > np.cos(np.radians(8))   # ~ the arm plane's normal
        # positive flexion turns the forearm forward (+Z)
        fore = j[c] - j[b]
        turned = rotation_about(h, torch.tensor(0.3)) @ fore
        assert turned[2] > fore[2]
    for k in (4, 5):
        assert float(body.hinge_axes[k] @ torch.tensor([1.0, 0, 0])) > 0.99


def test_conversion_of_rest_pose_is_reference_free(body, anny_model):
    """The identity hm pose in anny's 'local-ref' deltas: no bone leaves its head (only the
    root's delta carries a translation, its rest position)."""
    betas = torch.zeros(1, 6, dtype=torch.float64)
    empty = torch.zeros(1, 0, dtype=torch.float64)
    rest = anny_model.get_rest_model(anny_model._get_phenotype_blendshape_coefficients(
        body.phenotypes(betas), empty, empty))
    d = ab.hm_pose_to_anny(torch.eye(3, dtype=torch.float64).expand(1, 24, 3, 3), body.rest(betas).joints,
                           body.assign, rest["rest_bone_poses"], anny_model.reference_bone_orientations,
                           list(anny_model.bone_parents))
    assert d.shape == (1, len(anny_model.bone_labels), 4, 4)
    assert d[0, 1:, :3, 3].abs().max() < 1e-9                 # rest: no bone moves off its head


def test_cache_roundtrip_and_status(body, tmp_path, monkeypatch):
    path = tmp_path / "a.npz"
    body.arrays.save(path)
    back = ab.AnnyArrays.load(path)
    for f in ("faces", "template", "weights", "kp_idx", "assign", "joints_basis"):
        assert np.array_equal(getattr(back, f), getattr(body.arrays, f))
    assert back.anny_version == body.anny_version

    # first load in an empty cache dir announces the build, the next one reads the npz only
    calls: list[str] = []
    built: list[int] = []
    monkeypatch.setattr(ab, "build_anny_model", lambda d: built.append(1))
    monkeypatch.setattr(ab, "reduce_anny", lambda m: body.arrays)
    b1 = ab.load_anny(tmp_path / "c", on_status=calls.append)
    assert len(calls) == 1 and "first use" in calls[0] and str(tmp_path / "c") in calls[0]
    b2 = ab.load_anny(tmp_path / "c", on_status=calls.append)
    assert len(calls) == 1 and len(built) == 1
    assert b1.num_vertices == b2.num_vertices == 13718
    monkeypatch.setenv("HM_ANNY_CACHE", str(tmp_path / "env"))
    assert ab.anny_cache_dir() == tmp_path / "env"
    assert ab.anny_cache_dir(tmp_path / "x") == tmp_path / "x"


def test_missing_anny_message(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "anny", None)          # `import anny` raises ImportError
    with pytest.raises(HMError) as e:
        ab.load_anny(tmp_path)
    assert str(e.value) == ab.MISSING_ANNY
    assert "pip install -c constraints.txt" in str(e.value)
