"""hmcli.io.safe_pickle: globals only through the allow-list, numpy and plain values admitted,
code, persistent ids and broken streams refused with one line before anything runs."""

from __future__ import annotations

import io
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest

from hmcli.io.atomic import HMError
from hmcli.io.safe_pickle import NUMPY_GLOBALS, SAFE_BUILTINS, RestrictedUnpickler, restricted_load

ALLOWED = {**NUMPY_GLOBALS, **SAFE_BUILTINS}


class _Touch:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_and_plain_values_round_trip(tmp_path, protocol):
    obj = {"xy": np.arange(12, dtype=np.float32).reshape(3, 2, 2), "label": np.int64(7), "names": ("a", "b"),
           "tags": {1, 2}, "order": OrderedDict(a=1), "raw": b"\x00\xff", "c": complex(1, 2)}  # fmt: skip
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    got = restricted_load(path, ALLOWED, what="a dataset file")
    assert got.keys() == obj.keys()
    np.testing.assert_array_equal(got["xy"], obj["xy"])
    assert got["xy"].dtype == np.float32 and got["label"] == 7
    assert {k: got[k] for k in ("names", "tags", "order", "raw", "c")} == {k: obj[k] for k in ("names", "tags", "order", "raw", "c")}


def test_code_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"ok": np.zeros(2), "bad": [_Touch(str(marker))]}, protocol=2))
    with pytest.raises(HMError) as e:
        restricted_load(path, ALLOWED, what="a dataset file")
    msg = str(e.value)
    assert msg.startswith(f"refusing to load {path}: it references ") and msg.endswith("which a dataset file never needs")
    assert ".system" in msg and "\n" not in msg
    assert not marker.exists()


def test_an_empty_allow_list_admits_nothing():
    data = pickle.dumps(np.arange(3), protocol=2)
    with pytest.raises(HMError, match="references numpy"):
        RestrictedUnpickler(io.BytesIO(data), {}, source="x.pkl", what="a dataset file").load()


def test_persistent_ids_are_refused():
    class _P(pickle.Pickler):
        def persistent_id(self, obj):
            return "ext" if obj == "external" else None

    buf = io.BytesIO()
    _P(buf, protocol=2).dump(["external"])
    with pytest.raises(HMError, match="persistent ids"):
        RestrictedUnpickler(io.BytesIO(buf.getvalue()), ALLOWED, source="x.pkl").load()


@pytest.mark.parametrize("content", [b"", b"\x80\x02}q", b"not a pickle at all"])
def test_broken_streams_and_missing_files_are_one_line(tmp_path, content):
    path = tmp_path / "broken.pkl"
    path.write_bytes(content)
    with pytest.raises(HMError, match=r"cannot read .*broken\.pkl: not a valid pickle") as e:
        restricted_load(path, ALLOWED)
    assert "\n" not in str(e.value)
    with pytest.raises(HMError, match="cannot read"):
        restricted_load(tmp_path / "missing.pkl", ALLOWED)
