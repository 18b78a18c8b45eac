import csv

import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.bvh import bvh_fk, bvh_to_camera, read_bvh
from hmcli.io.export import export, export_csv, format_from_path
from hmcli.io.h5 import read_result
from hmcli.io.jsonio import read_result_json
from hmcli.skeleton import H36M17
from hmcli.types import Keypoints2D, Pose3DResult


def make_result(f=4):
    rng = np.random.default_rng(0)
    j3 = rng.normal(0, 0.3, (f, 17, 3)).astype(np.float32)
    j3[:, 0] = 0
    j3[1, 5] = np.nan
    kp = Keypoints2D(rng.uniform(0, 100, (f, 17, 2)).astype(np.float32), np.ones((f, 17), np.float32),
                     "h36m17", np.arange(f) / 20.0, 100, 100, np.ones(f, bool))  # fmt: skip
    return Pose3DResult(kp, j3, "m", "h")


def test_csv_long_format(tmp_path):
    res = make_result()
    out = tmp_path / "a.csv"
    export_csv(out, res)
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["frame", "t", "joint", "x", "y", "z"]
    assert len(rows) == 1 + 4 * 17
    assert [r[2] for r in rows[1:18]] == list(H36M17.joints)
    r = rows[1 + 2 * 17 + 3]
    assert (r[0], r[1], r[2]) == ("2", "0.100000", "right_ankle")
    np.testing.assert_allclose([float(v) for v in r[3:]], res.joints3d[2, 3], atol=5e-5)
    assert rows[1 + 17 + 5][3:] == ["", "", ""]  # NaN -> empty


@pytest.mark.parametrize("name, fmt", [("r.bvh", "bvh"), ("r.CSV", "csv"), ("r.json", "json"), ("r.hdf5", "h5")])
def test_format_from_suffix(name, fmt):
    assert format_from_path(name) == fmt


def test_dispatch_writes_each_format(tmp_path):
    res = make_result()
    res.joints3d[1, 5] = res.joints3d[0, 5]
    assert export(res, tmp_path / "x.json") == "json"
    np.testing.assert_allclose(read_result_json(tmp_path / "x.json").joints3d, res.joints3d, atol=6e-5)
    assert export(res, tmp_path / "x.h5") == "h5"
    np.testing.assert_array_equal(read_result(tmp_path / "x.h5").joints3d, res.joints3d)
    assert export(res, tmp_path / "x.data", fmt="BVH") == "bvh"
    hier, motion = read_bvh(tmp_path / "x.data")
    assert motion.num_frames == 4 and motion.frame_time == pytest.approx(0.05)
    assert bvh_to_camera(bvh_fk(hier, motion)).shape == (4, 17, 3)


def test_unknown_format(tmp_path):
    with pytest.raises(HMError, match="unknown export format 'fbx'; choose one of: bvh, csv, json, h5"):
        export(make_result(), tmp_path / "x.fbx", "fbx")
    with pytest.raises(HMError, match="cannot tell the export format"):
        export(make_result(), tmp_path / "x.fbx")
    assert list(tmp_path.iterdir()) == []
