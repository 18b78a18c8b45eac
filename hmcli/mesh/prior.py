"""Pose prior: a Gaussian mixture over canonical local joint rotations.

A pose is the axis-angle of every non-root joint's local rotation, expressed in the canonical
T-pose frame (:func:`hmcli.mesh.body.to_canonical`), so one prior serves every body model
that is reduced to hm's 24-joint tree. The shipped mixture
(``models/pose-prior-gmm.npz``) is fitted to CMU motion capture of the training subjects
(never 09 or 49) turned into rotations by the same analytic IK that initialises fitting
(``hm mesh prior`` rebuilds it; its model card has the exact command). Anny has its own
(``models/pose-prior-gmm-anny.npz``, :data:`BODY_PRIORS`): the same poses through Anny's IK.
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hmcli.io.atomic import HMError, atomic_write

__all__ = ["GMMPrior", "fit_gmm", "load_prior", "save_prior", "DEFAULT_PRIOR", "BODY_PRIORS", "default_prior_path"]

DEFAULT_PRIOR = Path(__file__).resolve().parents[2] / "models" / "pose-prior-gmm.npz"
#: Body models with a prior of their own (``hm mesh prior --body NAME``). The canonical frames
#: align bone directions only, so one body's IK poses are not another's: through Anny's IK the
#: CMU poses have spine2 / spine3 / head at -17 / +15 / -19 degrees (canonical, mean), through
#: the synthetic body's +9 / -12 / -27, and the shared prior's mean is +9 / -13 / +55 (its head
#: predates the IK's current head rule). Anny's poses of the validation subjects score a mean
#: NLL of 155 under the shared prior and -89 under its own (the synthetic body's: -30 under the
#: shared one); the refinement bent Anny's upper back and neck towards the shared mean (spine3
#: 32 degrees on the sample clip, against 10 without a prior; issue 33).
BODY_PRIORS: dict[str, Path] = {"anny": DEFAULT_PRIOR.with_name("pose-prior-gmm-anny.npz")}


def default_prior_path(body: str | None = None) -> Path:
    """The shipped prior for body model ``body``: its own (:data:`BODY_PRIORS`) when that file
    exists, else the shared one (:data:`DEFAULT_PRIOR`)."""
    own = BODY_PRIORS.get(body or "")
    return own if own is not None and own.is_file() else DEFAULT_PRIOR
PRIOR_SCHEMA = "hm.pose-prior-gmm"


@dataclass(frozen=True)
class GMMPrior:
    """Mixture of full-covariance Gaussians over D = 3 (K - 1) canonical axis-angle values.

    means (C, D), precision_chol (C, D, D) with precision = L L^T, log_weights (C,),
    log_norm (C,) = log weight + log det L - D/2 log 2 pi.
    """

    means: torch.Tensor
    precision_chol: torch.Tensor
    log_weights: torch.Tensor
    joint_names: tuple[str, ...]

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def log_norm(self) -> torch.Tensor:
        logdet = torch.log(torch.diagonal(self.precision_chol, dim1=-2, dim2=-1)).sum(-1)   # (C,)
        return self.log_weights + logdet - 0.5 * self.dim * math.log(2 * math.pi)

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (...) negative log-likelihood (up to nothing: a true density)."""
        diff = x.unsqueeze(-2) - self.means                                # (..., C, D)
        z = torch.einsum("...cd,cde->...ce", diff, self.precision_chol)   # (..., C, D)
        ll = self.log_norm() - 0.5 * (z * z).sum(-1)                      # (..., C)
        return -torch.logsumexp(ll, -1)


def fit_gmm(x: np.ndarray, components: int = 8, iters: int = 100, seed: int = 0,
            min_var: float = 0.05 ** 2, joint_names: tuple[str, ...] = ()) -> GMMPrior:
    """EM for a full-covariance Gaussian mixture. x: (N, D). Covariances get ``min_var`` added
    to the diagonal (directions the data never moves in, e.g. unobserved twists, stay soft)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float64)
    n, d = x.shape
    # k-means++-style seeds
    centres = [x[rng.integers(n)]]
    for _ in range(1, components):
        d2 = np.min([((x - c) ** 2).sum(1) for c in centres], axis=0)
        centres.append(x[rng.choice(n, p=d2 / d2.sum())])
    mu = np.stack(centres)
    cov = np.repeat(np.cov(x.T)[None] + min_var * np.eye(d), components, 0)
    pi = np.full(components, 1.0 / components)
    for _ in range(iters):
        L = np.linalg.cholesky(np.linalg.inv(cov))                       # (C, D, D)
        diff = x[:, None] - mu[None]                                      # (N, C, D)
        z = np.einsum("ncd,cde->nce", diff, L)
        ll = np.log(pi) + np.log(np.diagonal(L, axis1=1, axis2=2)).sum(1) - 0.5 * (z * z).sum(-1)
        ll -= ll.max(1, keepdims=True)
        r = np.exp(ll)
        r /= r.sum(1, keepdims=True)                                      # (N, C)
        nk = r.sum(0) + 1e-9
        pi = nk / n
        mu = (r.T @ x) / nk[:, None]
        diff = x[:, None] - mu[None]
        cov = np.einsum("nc,ncd,nce->cde", r, diff, diff) / nk[:, None, None] + min_var * np.eye(d)
    L = np.linalg.cholesky(np.linalg.inv(cov))
    return GMMPrior(torch.tensor(mu, dtype=torch.float32), torch.tensor(L, dtype=torch.float32),
                    torch.tensor(np.log(pi), dtype=torch.float32), tuple(joint_names))


def save_prior(path: str | os.PathLike, prior: GMMPrior, meta: dict | None = None) -> None:
    arrays = {
        "schema": np.array(PRIOR_SCHEMA),
        "means": prior.means.numpy(),
        "precision_chol": prior.precision_chol.numpy(),
        "log_weights": prior.log_weights.numpy(),
        "joint_names": np.array(prior.joint_names, dtype=str),
    }
    for k, v in (meta or {}).items():
        arrays[f"meta_{k}"] = np.array(v)
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def load_prior(path: str | os.PathLike | None = None) -> GMMPrior:
    p = Path(path) if path is not None else DEFAULT_PRIOR
    try:
        with np.load(p, allow_pickle=False) as z:
            if str(z["schema"]) != PRIOR_SCHEMA:
                raise HMError(f"{p} is not an hm pose prior (schema {z['schema']})")
            means, L, lw = z["means"], z["precision_chol"], z["log_weights"]
            names = tuple(str(s) for s in z["joint_names"])
    except HMError:
        raise
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:  # EOFError: an empty file
        raise HMError(f"cannot read pose prior {p}: {e or type(e).__name__}") from None
    if means.ndim != 2 or L.shape != (means.shape[0], means.shape[1], means.shape[1]) or lw.shape != means.shape[:1]:
        raise HMError(f"pose prior {p} has inconsistent shapes")
    if any(a.dtype.kind not in "iuf" or not np.isfinite(a).all() for a in (means, L, lw)):
        raise HMError(f"pose prior {p} holds values that are not finite numbers")
    return GMMPrior(torch.tensor(means, dtype=torch.float32), torch.tensor(L, dtype=torch.float32),
                    torch.tensor(lw, dtype=torch.float32), names)
