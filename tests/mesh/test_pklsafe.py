"""The restricted unpickler for SMPL model files: refuses code, reads the real layout."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.mesh.pklsafe import (
    SMPL_PKL_GLOBALS,
    RestrictedUnpickler,
    convert_smpl_pkl,
    load_smpl_pkl,
    restricted_load,
    to_plain,
)
from hmcli.mesh.synthetic import make_synthetic_smpl, synthetic_pkl_bytes, write_synthetic_smpl


class _Touch:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Eval:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return eval, (f"open({self.marker!r}, 'w').close()",)


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("payload", [_Touch, _Eval])
@pytest.mark.parametrize("nested", [False, True])
def test_code_in_pickle_is_refused_before_it_runs(tmp_path, payload, nested):
    marker = tmp_path / "pwned"
    obj = payload(str(marker))
    if nested:      # hidden inside an otherwise plausible model dict
        obj = {"v_template": np.zeros((3, 3)), "shapedirs": [obj]}
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(HMError) as e:
        load_smpl_pkl(path)
    msg = _one_line(e)
    assert msg.startswith(f"refusing to load {path}: it references ")
    assert ("system" in msg) if payload is _Touch else ("builtins.eval" in msg)
    assert msg.endswith("which a body model file never needs")
    assert not marker.exists()


def test_other_globals_are_refused(tmp_path):
    import subprocess

    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(subprocess.Popen, protocol=2))
    with pytest.raises(HMError, match=r"references subprocess\.Popen"):
        load_smpl_pkl(path)


def test_generic_unpickler_uses_its_own_allow_list(tmp_path):
    data = pickle.dumps({"a": np.arange(3), "s": {1, 2}}, protocol=2)
    with pytest.raises(HMError, match=r"references numpy\._core\.multiarray\._reconstruct|references numpy"):
        RestrictedUnpickler(io.BytesIO(data), {}, source="x.pkl", what="a dataset file").load()
    got = RestrictedUnpickler(io.BytesIO(data), SMPL_PKL_GLOBALS, source="x.pkl").load()
    assert np.array_equal(got["a"], np.arange(3)) and got["s"] == {1, 2}
    with pytest.raises(HMError, match="which a dataset file never needs"):
        RestrictedUnpickler(io.BytesIO(pickle.dumps(os.getcwd)), {}, source="x.pkl", what="a dataset file").load()


def test_chumpy_style_pickle_loads_and_equals_the_npz(tmp_path):
    pkl = write_synthetic_smpl(tmp_path / "m.pkl", seed=3)
    npz = write_synthetic_smpl(tmp_path / "m.npz", seed=3)
    got = load_smpl_pkl(pkl)
    with np.load(npz, allow_pickle=False) as z:
        want = {k: z[k] for k in z.files}
    for k, v in want.items():
        assert got[k].dtype == v.dtype or k.startswith("hm_"), k
        np.testing.assert_array_equal(got[k], v, err_msg=k)
    assert got["J_regressor"].shape == (24, got["v_template"].shape[0])
    np.testing.assert_allclose(got["J"], got["J_regressor"] @ got["v_template"])
    assert str(got["bs_style"]) == "lbs"


def test_pickle_names_the_python2_era_globals():
    import pickletools

    data = synthetic_pkl_bytes(make_synthetic_smpl())
    names = {a for op, a, _ in pickletools.genops(data) if op.name == "GLOBAL"}
    assert {"chumpy.ch Ch", "scipy.sparse.csc csc_matrix", "numpy.core.multiarray _reconstruct",
            "__builtin__ set"} <= names


@pytest.mark.parametrize("module", ["scipy.sparse._csc", "scipy.sparse.csc"])
def test_sparse_module_names(tmp_path, module):
    d = make_synthetic_smpl()
    p = tmp_path / "m.pkl"
    p.write_bytes(synthetic_pkl_bytes(d, sparse_module=module))
    np.testing.assert_array_equal(load_smpl_pkl(p)["J_regressor"], d["J_regressor"])


def test_real_scipy_pickle_is_densified_without_scipy_objects(tmp_path):
    sp = pytest.importorskip("scipy.sparse")
    dense = np.zeros((4, 6))
    dense[0, 1], dense[3, 5], dense[2, 0] = 1.5, -2.0, 0.25
    p = tmp_path / "s.pkl"
    p.write_bytes(pickle.dumps({"m": sp.csc_matrix(dense), "r": sp.csr_matrix(dense)}, protocol=2))
    got = restricted_load(p, SMPL_PKL_GLOBALS)
    assert not any(type(v).__module__.startswith("scipy") for v in got.values())
    np.testing.assert_array_equal(to_plain(got["m"]), dense)
    np.testing.assert_array_equal(to_plain(got["r"]), dense)


def test_chumpy_operators_evaluate():
    G = SMPL_PKL_GLOBALS

    def make(mod, name, state):
        cls = G[(mod, name)]
        obj = cls.__new__(cls)
        obj.__setstate__(state)
        return obj

    x = make("chumpy.ch", "Ch", {"x": np.arange(6.0).reshape(2, 3), "_dirty_vars": set()})
    sel = make("chumpy.reordering", "Select", {"a": x, "idxs": np.array([5, 0]), "preferred_shape": (2, 1)})
    np.testing.assert_array_equal(to_plain(sel), [[5.0], [0.0]])
    add = make("chumpy.ch_ops", "add", {"a": x, "b": np.ones((2, 3))})
    np.testing.assert_array_equal(to_plain(add), np.arange(6.0).reshape(2, 3) + 1)
    tr = make("chumpy.reordering", "transpose", {"a": x, "axes": None})
    np.testing.assert_array_equal(to_plain(tr), np.arange(6.0).reshape(2, 3).T)


def test_unevaluable_chumpy_key_names_the_key(tmp_path):
    class Dot:
        def __reduce_ex__(self, protocol):
            import copyreg
            return copyreg.__newobj__, (Dot,), {"a": np.ones(3), "b": np.ones(3)}

    class P(pickle._Pickler):
        def save_global(self, obj, name=None):
            if obj is Dot:
                self.write(pickle.GLOBAL + b"chumpy.ch_ops\ndot\n")
                self.memoize(obj)
                return
            return super().save_global(obj, name)

    d = dict(make_synthetic_smpl())
    d["shapedirs"] = Dot()
    buf = io.BytesIO()
    P(buf, protocol=2).dump(d)
    p = tmp_path / "m.pkl"
    p.write_bytes(buf.getvalue())
    with pytest.raises(HMError, match="'shapedirs'") as e:
        load_smpl_pkl(p)
    _one_line(e)


@pytest.mark.parametrize("content", ["truncated", "garbage", "empty", "list"])
def test_broken_files_give_one_line_errors(tmp_path, content):
    p = tmp_path / "m.pkl"
    good = synthetic_pkl_bytes(make_synthetic_smpl())
    p.write_bytes({"truncated": good[: len(good) // 2], "garbage": os.urandom(256) + b"\x00" * 10,
                   "empty": b"", "list": pickle.dumps([1, 2], protocol=2)}[content])
    with pytest.raises(HMError) as e:
        load_smpl_pkl(p)
    assert str(p) in _one_line(e)


def test_missing_keys_and_file(tmp_path):
    p = tmp_path / "m.pkl"
    p.write_bytes(pickle.dumps({"v_template": np.zeros((3, 3))}, protocol=2))
    with pytest.raises(HMError, match="has no shapedirs"):
        load_smpl_pkl(p)
    with pytest.raises(HMError, match="cannot read"):
        load_smpl_pkl(tmp_path / "nope.pkl")


def test_convert_writes_an_npz_smplx_loads(tmp_path):
    smplx = pytest.importorskip("smplx")
    import torch
    from smplx.utils import Struct

    src = write_synthetic_smpl(tmp_path / "SMPL_NEUTRAL.pkl")
    dst = convert_smpl_pkl(src, tmp_path / "SMPL_NEUTRAL.npz")
    with np.load(dst, allow_pickle=False) as z:       # no pickled objects inside
        arrays = {k: z[k] for k in z.files}
    nose = int(arrays["hm_nose_vertex"])
    layer = smplx.SMPLLayer(model_path="", data_struct=Struct(**arrays), num_betas=10,
                            vertex_ids={k: nose for k in ("nose", "reye", "leye", "rear", "lear")},
                            use_hands=False, use_feet_keypoints=False)
    out = layer(betas=torch.zeros(1, 10))
    np.testing.assert_allclose(out.vertices[0].numpy(), arrays["v_template"], atol=1e-6)
    assert not list(tmp_path.glob(".*.tmp"))         # atomic write left no temp file
