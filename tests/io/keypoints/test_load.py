import pytest

from hmcli.io.atomic import HMError
from hmcli.io.keypoints import load_keypoints, read_keypoints_bytes, save_keypoints_npz, write_keypoints_json
from tests.cli.helpers import make_keypoints
from tests.io.keypoints.helpers import dump


def test_unknown_json_shape(tmp_path):
    with pytest.raises(HMError, match="unrecognised") as e:
        load_keypoints(dump(tmp_path / "x.json", {"hello": "world"}))
    assert "\n" not in str(e.value)


def test_invalid_json(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(HMError, match="not valid JSON"):
        load_keypoints(p)


def test_unknown_extension(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(HMError, match="unknown keypoint file format"):
        load_keypoints(p)


def test_missing_and_empty(tmp_path):
    with pytest.raises(HMError, match="not found"):
        load_keypoints(tmp_path / "nope.json")
    (tmp_path / "e.json").write_text("")
    with pytest.raises(HMError, match="empty"):
        load_keypoints(tmp_path / "e.json")


def test_h5_dispatches_to_h5_reader(tmp_path, monkeypatch):
    import sys
    import types

    calls = []
    fake = types.ModuleType("hmcli.io.h5")
    fake.read_keypoints = lambda path: calls.append(path) or "sentinel"
    monkeypatch.setitem(sys.modules, "hmcli.io.h5", fake)
    p = tmp_path / "out.h5"
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 8)
    assert load_keypoints(p) == "sentinel" and calls == [p]


def test_read_keypoints_bytes(tmp_path):
    kp = make_keypoints(6)
    save_keypoints_npz(kp, tmp_path / "k.npz")
    write_keypoints_json(tmp_path / "k.json", kp)
    for name in ("k.npz", "k.json"):
        back = read_keypoints_bytes((tmp_path / name).read_bytes())
        assert back.num_frames == 6 and back.source == "synthetic.npz"
    with pytest.raises(HMError, match="no input"):
        read_keypoints_bytes(b"")
    with pytest.raises(HMError, match="unknown keypoint format"):
        read_keypoints_bytes(b"hello")
    with pytest.raises(HMError, match="<stdin>"):
        read_keypoints_bytes(b'{"what": 1}')
