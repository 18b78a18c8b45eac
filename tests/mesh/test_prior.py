"""Pose prior: EM recovers a known mixture; save/load round trip; the shipped prior loads and
prefers real poses to random rotations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hmcli.io.atomic import HMError
from hmcli.mesh.prior import (
    DEFAULT_PRIOR,
    default_prior_path,
    fit_gmm,
    load_prior,
    save_prior,
)


def test_em_recovers_two_separated_gaussians_and_density_integrates():
    rng = np.random.default_rng(0)
    a = rng.normal([-2, 0], 0.3, size=(2000, 2))
    b = rng.normal([2, 1], 0.5, size=(1000, 2))
    p = fit_gmm(np.concatenate([a, b]), components=2, iters=60, min_var=1e-4)
    means = sorted(p.means.numpy().tolist())
    assert np.allclose(means[0], [-2, 0], atol=0.05) and np.allclose(means[1], [2, 1], atol=0.07)
    assert sorted(np.exp(p.log_weights.numpy()).round(2).tolist()) == pytest.approx([1 / 3, 2 / 3], abs=0.02)
    # the density integrates to ~1 over a grid
    xs = torch.linspace(-6, 6, 241)
    grid = torch.stack(torch.meshgrid(xs, xs, indexing="ij"), -1).reshape(-1, 2)
    mass = torch.exp(-p.nll(grid)).sum() * (12 / 240) ** 2
    assert float(mass) == pytest.approx(1.0, abs=0.02)


def test_save_load_round_trip_and_bad_files(tmp_path):
    p = fit_gmm(np.random.default_rng(1).normal(size=(200, 3)), components=2, iters=5, joint_names=("a",))
    f = tmp_path / "prior.npz"
    save_prior(f, p)
    q = load_prior(f)
    assert torch.equal(q.means, p.means) and q.joint_names == ("a",)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(HMError, match="cannot read pose prior"):
        load_prior(tmp_path / "junk.npz")


def test_shipped_prior_prefers_rest_like_poses_over_random_rotations():
    prior = load_prior(DEFAULT_PRIOR)
    assert prior.dim == 69 and len(prior.joint_names) == 23
    g = torch.Generator().manual_seed(0)
    rand = (torch.rand(500, 69, generator=g) - 0.5) * 2 * math.pi / math.sqrt(3)
    near = torch.zeros(1, 69)
    assert float(prior.nll(near)) < float(prior.nll(rand).median())


def test_each_body_gets_its_own_prior_when_one_is_shipped(monkeypatch, tmp_path):
    """Anny has its own prior (its IK's poses are not the synthetic body's in the canonical
    frames); the other bodies, or Anny without the file, take the shared one."""
    from hmcli.mesh import prior as prior_mod

    assert prior_mod.BODY_PRIORS["anny"].is_file()
    assert default_prior_path("anny") == prior_mod.BODY_PRIORS["anny"]
    for name in ("synthetic", "smpl", "smplx", None):
        assert default_prior_path(name) == DEFAULT_PRIOR
    monkeypatch.setitem(prior_mod.BODY_PRIORS, "anny", tmp_path / "missing.npz")
    assert default_prior_path("anny") == DEFAULT_PRIOR


def test_anny_prior_keeps_the_shared_fill_of_the_unseen_joints():
    """Hands, feet, wrists and ankles (no keypoint moves them) are the IK's fill, the prior's
    mean: the Anny prior was built with them at the shared prior's values, so the fill is the same."""
    from hmcli.mesh.fit import unseen_joints
    from hmcli.mesh.synthetic import synthetic_body
    from hmcli.mesh.train_prior import canonical_rest_vector

    shared, anny = load_prior(DEFAULT_PRIOR), load_prior(default_prior_path("anny"))
    assert anny.joint_names == shared.joint_names and anny.dim == shared.dim

    def mean(p):
        w = torch.softmax(p.log_weights, 0)
        return (w[:, None] * p.means).sum(0).reshape(-1, 3)

    body = synthetic_body()
    rest = torch.from_numpy(canonical_rest_vector(body))
    for k in unseen_joints(body):
        assert torch.allclose(mean(anny)[k - 1], rest[k - 1], atol=1e-4)
        assert torch.allclose(mean(shared)[k - 1], rest[k - 1], atol=1e-3)
