import pickle

import pytest
import torch

from hmcli.nn.registry import build_from_config
from hmcli.skeleton.codec import PoseCodec
from hmcli.train.checkpoint import (
    CheckpointError,
    load_checkpoint,
    read_checkpoint,
    resolve_model,
    save_checkpoint,
)
from tests.train.fixtures import TINY_MODEL


def _model():
    torch.manual_seed(0)
    return build_from_config("hummuss", dict(TINY_MODEL))


def test_round_trip_float32_exact_and_float16_close(tmp_path):
    m = _model().eval()
    save_checkpoint(tmp_path / "a.pt", m, "hummuss", PoseCodec(), {"model_id": "tiny"})
    save_checkpoint(tmp_path / "b.pt", m, "hummuss", PoseCodec(), {"model_id": "tiny"}, half=True)
    a, b = load_checkpoint(tmp_path / "a.pt"), load_checkpoint(tmp_path / "b.pt")
    x = torch.randn(1, 12, 17, 3)
    with torch.no_grad():
        y = m(x)
        assert torch.equal(a.model(x), y)
        assert (b.model(x) - y).abs().max() < 1e-2
    assert a.model_id == "tiny" and a.codec == PoseCodec() and len(a.sha256) == 64
    assert (tmp_path / "b.pt").stat().st_size < (tmp_path / "a.pt").stat().st_size


def test_version_mismatch_is_a_clear_error(tmp_path):
    obj = {"format": "hm.checkpoint", "version": 99, "arch": "hummuss"}
    torch.save(obj, tmp_path / "v.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        read_checkpoint(tmp_path / "v.pt")


def test_foreign_and_corrupt_files(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an hm checkpoint"):
        read_checkpoint(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match="cannot read"):
        read_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "missing.pt")


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /dev/null",))


def test_pickled_code_is_never_executed(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "hm.checkpoint", "version": 1, "x": _Evil()}, path, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    with pytest.raises(CheckpointError, match="cannot read"):
        read_checkpoint(path)


def test_architecture_mismatch(tmp_path):
    m = _model()
    save_checkpoint(tmp_path / "a.pt", m, "hummuss", PoseCodec())
    obj = torch.load(tmp_path / "a.pt", weights_only=True)
    obj["config"]["dim"] = 32
    torch.save(obj, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(tmp_path / "a.pt")


def test_resolve_model_by_name(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "mine.pt", _model(), "hummuss", PoseCodec())
    monkeypatch.setenv("HM_MODELS", str(tmp_path))
    assert resolve_model("mine") == tmp_path / "mine.pt"
    with pytest.raises(CheckpointError, match="not found"):
        resolve_model("nope")
