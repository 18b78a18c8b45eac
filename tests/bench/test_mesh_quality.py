"""hm bench mesh-quality: the round trip on the synthetic model (prior draws, few frames and
iterations), the result's structure, its table and its outputs."""

from __future__ import annotations

import math

import pytest
import torch

from hmcli.bench.report import table, to_markdown, write_outputs
from hmcli.bench.mesh_quality import (QualitySettings, mesh_quality, non_leaf_joints, rotation_error_deg,
                                      vertex_error_mm)
from hmcli.mesh.body import SMPL_PARENTS
from hmcli.mesh.synthetic import synthetic_body


@pytest.fixture(scope="module")
def result():
    torch.manual_seed(0)
    settings = QualitySettings(frames=20, iters=5, data="")
    return mesh_quality(["synthetic"], settings, chain_body=None, videos=[])


def test_round_trip_rows(result):
    assert result["benchmark"] == "mesh-quality"
    rows = [r for r in result["rows"] if r["part"] == "round trip"]
    # prior draws x shape known / estimated x IK only / refinement
    assert {(r["shape"], r["fit"]) for r in rows} == {(s, f) for s in ("known", "estimated")
                                                      for f in ("IK only", "IK + refinement")}
    for r in rows:
        assert r["body_model"] == "synthetic" and r["frames"] == 20
        for k in ("mpjpe_mm", "rot_deg", "pve_mm", "pve_pose_only_mm", "pve_shape_only_mm"):
            assert math.isfinite(r[k]) and r[k] >= 0, (k, r[k])
        assert r["pve_mm"] < 60.0            # loose: clean joints of the model's own keypoints
        assert len(r["per_joint_mm"]) == 17
        if r["shape"] == "known":
            assert r["pve_shape_only_mm"] == 0.0 and r["betas_err"] == 0.0
    assert result["notes"] == [] and result["seconds"]["total"] > 0
    assert any(t["target"].startswith("synthetic round-trip PVE") for t in result["targets"])


def test_table_and_outputs(result, tmp_path):
    title, cols, rows = table(result)
    assert "mesh quality" in title and len(rows) == len(result["rows"])
    assert all(len(r) == len(cols) for r in rows)
    assert "PVE mm" in to_markdown(result)
    paths = write_outputs(result, tmp_path, "mesh-quality")
    assert all((tmp_path / p.split("/")[-1]).stat().st_size > 0 for p in paths)


def test_metrics_are_zero_for_identical_bodies():
    body = synthetic_body()
    g = torch.Generator().manual_seed(1)
    from hmcli.mesh.rotations import axis_angle_to_matrix

    R = axis_angle_to_matrix(torch.randn(3, 24, 3, generator=g) * 0.3)
    b = torch.randn(body.num_betas, generator=g) * 0.5
    pve, parts = vertex_error_mm(body, b, R, b, R, torch.zeros(body.num_vertices, dtype=torch.long))
    assert pve < 1e-3 and parts.shape == (1,)
    assert float(rotation_error_deg(R, R).max()) < 0.1
    assert non_leaf_joints(SMPL_PARENTS) == [k for k in range(24) if k not in (10, 11, 15, 22, 23)]


def test_split_must_be_test_or_val(tmp_path):
    """--split picks the CMU subjects (val: the ones to tune on); anything else is refused."""
    from hmcli.io.atomic import HMError

    with pytest.raises(HMError, match="split"):
        mesh_quality(["synthetic"], QualitySettings(frames=5, iters=1, data=str(tmp_path), split="train"),
                     chain_body=None, videos=[])
    r = mesh_quality(["synthetic"], QualitySettings(frames=5, iters=1, data=str(tmp_path), split="val"),
                     chain_body=None, videos=[])
    assert r["settings"]["split"] == "val" and r["notes"]         # no CMU data there: prior draws only
