import json
import os

import h5py
import numpy as np
import pytest

from hmcli.io.atomic import HMError, atomic_write


def _leftovers(d):
    return sorted(p.name for p in d.iterdir())


def test_text_write_creates_file(tmp_path):
    out = tmp_path / "a.json"
    with atomic_write(out, "w") as f:
        json.dump({"x": 1}, f)
    assert json.loads(out.read_text()) == {"x": 1}
    assert _leftovers(tmp_path) == ["a.json"]


def test_exception_leaves_no_file(tmp_path):
    out = tmp_path / "a.bin"
    with pytest.raises(RuntimeError):
        with atomic_write(out, "wb") as f:
            f.write(b"partial")
            raise RuntimeError("boom")
    assert _leftovers(tmp_path) == []


def test_exception_keeps_original_untouched(tmp_path):
    out = tmp_path / "a.txt"
    out.write_text("original")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(out, "w") as f:
            f.write("new content")
            raise KeyboardInterrupt
    assert out.read_text() == "original"
    assert _leftovers(tmp_path) == ["a.txt"]


def test_replaces_existing_on_success(tmp_path):
    out = tmp_path / "a.txt"
    out.write_text("old")
    with atomic_write(out, "w") as f:
        f.write("new")
    assert out.read_text() == "new"


def test_path_mode_with_h5py(tmp_path):
    out = tmp_path / "x.h5"
    with atomic_write(out) as tmp:
        assert tmp.parent == tmp_path and tmp != out
        with h5py.File(tmp, "w") as h5:
            h5["a"] = np.arange(3)
    with h5py.File(out, "r") as h5:
        assert h5["a"][()].tolist() == [0, 1, 2]
    assert _leftovers(tmp_path) == ["x.h5"]


def test_path_mode_exception_cleans_up(tmp_path):
    out = tmp_path / "x.h5"
    with pytest.raises(ValueError):
        with atomic_write(out) as tmp:
            with h5py.File(tmp, "w") as h5:
                h5["a"] = np.arange(3)
            raise ValueError("bad")
    assert _leftovers(tmp_path) == []


def test_numpy_savez_via_file_object(tmp_path):
    out = tmp_path / "k.npz"
    with atomic_write(out, "wb") as f:
        np.savez(f, a=np.ones(2))
    assert np.load(out)["a"].tolist() == [1.0, 1.0]


def test_missing_directory_is_hmerror(tmp_path):
    with pytest.raises(HMError, match="directory does not exist"):
        with atomic_write(tmp_path / "nope" / "a.txt", "w"):
            pass


def test_read_mode_rejected(tmp_path):
    with pytest.raises(ValueError):
        with atomic_write(tmp_path / "a.txt", "r"):
            pass


def test_new_file_gets_normal_permissions(tmp_path):
    out = tmp_path / "a.txt"
    with atomic_write(out, "w") as f:
        f.write("x")
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_hmerror_message_is_one_line():
    e = HMError("first line\nsecond   line")
    assert str(e) == "first line second line"
    assert isinstance(e, Exception)
