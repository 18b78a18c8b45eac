"""Building the pose prior from CMU motion capture (``hm mesh prior``).

The CMU trials of the training subjects (see :mod:`hmcli.data.splits`: validation 02, 55 and
test 09, 49 are left out) are read as H36M-17 joints, sampled at ``fps``, made
root-relative, and turned into local rotations by the same analytic IK that initialises
``hm mesh`` (on the synthetic SMPL-topology body, whose rest pose is the canonical T-pose, for
the shared prior; on Anny for Anny's own). The canonical axis-angle of the 23 non-root joints
(69 values per pose) is fitted by a Gaussian mixture (:func:`hmcli.mesh.prior.fit_gmm`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hmcli.io.atomic import HMError
from hmcli.mesh.body import canonical_rotations, to_canonical
from hmcli.mesh.prior import fit_gmm, save_prior
from hmcli.mesh.rotations import matrix_to_axis_angle

__all__ = ["cmu_pose_samples", "canonical_pose_vectors", "canonical_rest_vector", "build_prior", "PRIOR_BODIES"]


def canonical_pose_vectors(model, joints3d: np.ndarray, betas: torch.Tensor | None = None) -> np.ndarray:
    """IK of root-relative H36M-17 joints (N, 17, 3) on ``model`` -> (N, 3 (K - 1)) canonical
    axis-angle pose vectors (the prior's space)."""
    from hmcli.mesh.fit import ik_only

    b = torch.zeros(model.num_betas) if betas is None else betas
    j = torch.tensor(joints3d - joints3d[:, :1], dtype=torch.float32)
    with torch.no_grad():
        R, rest = ik_only(model, j, b)
        canon = canonical_rotations(rest.joints[0], model.joint_names)
        aa = matrix_to_axis_angle(to_canonical(R, canon, model.parents)[:, 1:])   # (N, K-1, 3)
    return aa.reshape(aa.shape[0], -1).numpy()


def cmu_pose_samples(data_dir: Path, fps: float = 10.0, split: str = "train") -> tuple[np.ndarray, int]:
    """(N, 17, 3) H36M-17 joints of the CMU ``split`` subjects sampled at ``fps``, and the
    number of sequences."""
    from hmcli.data.cmu import load_cmu_dir
    from hmcli.data.splits import filter_split

    if not Path(data_dir).is_dir():
        raise HMError(f"motion capture folder not found: {data_dir}")
    seqs = filter_split(load_cmu_dir(data_dir), split)
    if not seqs:
        raise HMError(f"no CMU {split} sequences under {data_dir}")
    out = []
    for s in seqs:
        step = max(1, int(round(s.fps / fps)))
        out.append(np.asarray(s.joints[::step], np.float32))
    return np.concatenate(out), len(seqs)


def canonical_rest_vector(model) -> np.ndarray:
    """(K - 1, 3) canonical axis-angle of ``model``'s rest pose (every local rotation the identity)."""
    b = torch.zeros(model.num_betas)
    with torch.no_grad():
        rest = model.rest(b[None])
        canon = canonical_rotations(rest.joints[0], model.joint_names)
        eye = torch.eye(3).expand(1, model.num_joints, 3, 3)
        return matrix_to_axis_angle(to_canonical(eye, canon, model.parents)[0, 1:]).numpy()


PRIOR_BODIES = ("synthetic", "anny")


def build_prior(data_dir: Path, out: Path, components: int = 8, fps: float = 10.0, seed: int = 0,
                body: str = "synthetic") -> dict:
    """Fit the prior to CMU training poses through ``body``'s IK: 'synthetic' (the shared
    prior, models/pose-prior-gmm.npz) or 'anny' (its own, with its calibrated keypoints;
    models/pose-prior-gmm-anny.npz). The joints no keypoint moves (hands, feet, wrists,
    ankles) are set to the synthetic body's canonical rest in every pose, as the shared prior
    has them, so the IK's fill of them (the prior's mean) is the same for every body."""
    from hmcli.mesh.fit import unseen_joints
    from hmcli.mesh.synthetic import synthetic_body

    if body not in PRIOR_BODIES:
        raise HMError(f"--body must be one of {', '.join(PRIOR_BODIES)}, got {body!r}")
    shared = synthetic_body()
    if body == "anny":
        from hmcli.mesh.api import load_body_model

        model = load_body_model("anny")
    else:
        model = shared
    joints, n_seq = cmu_pose_samples(data_dir, fps)
    x = canonical_pose_vectors(model, joints).reshape(len(joints), -1, 3)          # (N, K-1, 3)
    if tuple(model.joint_names) != tuple(shared.joint_names):
        raise HMError(f"the {model.name} body's joints are not the shared tree's")
    rest = canonical_rest_vector(shared)                                             # (K-1, 3)
    for k in unseen_joints(model):
        x[:, k - 1] = rest[k - 1]
    x = x.reshape(len(joints), -1)
    if components > len(x):
        raise HMError(f"--components {components} is more than the {len(x)} poses sampled from {data_dir}")
    prior = fit_gmm(x, components=components, seed=seed, joint_names=tuple(model.joint_names[1:]))
    save_prior(out, prior, meta={"samples": len(x), "sequences": n_seq, "fps": fps, "source": "CMU train subjects",
                                 "body": model.name})
    return {"samples": int(len(x)), "sequences": n_seq, "body": model.name}
