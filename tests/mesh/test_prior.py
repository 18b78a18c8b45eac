"""Pose prior: EM recovers a known mixture; save/load round trip; the shipped prior loads and
prefers real poses to random rotations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hmcli.io.atomic import HMError
from hmcli.mesh.prior import DEFAULT_PRIOR, fit_gmm, load_prior, save_prior


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
