import pickle

import pytest
import torch

from hmcli.nn.registry import build_from_config
from hmcli.skeleton.codec import PoseCodec
from hmcli.io.checkpoint import (
    CheckpointError,
    load_checkpoint,
    read_checkpoint,
    release_checkpoint,
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


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")  # the crafted file uses protocol 4
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


def test_release_renames_records_metrics_and_drops_training_state(tmp_path):
    m = _model().eval()
    codec = PoseCodec(input_norm="person", location=True)
    meta = {"model_id": "loc-run", "train": {"out": "runs/loc-run", "steps": 5}, "step": 4}
    save_checkpoint(tmp_path / "best.pt", m, "hummuss", codec, meta, train_state={"step": 4}, half=True)
    release_checkpoint(tmp_path / "best.pt", tmp_path / "models" / "lifter.pt", "lifter",
                       {"test_mpjpe_mm": 70.5, "test_p_mpjpe_mm": 50.4}, trained_as="hm train out=runs/loc-run")
    raw = read_checkpoint(tmp_path / "models" / "lifter.pt")
    assert "train_state" not in raw
    lm = load_checkpoint(tmp_path / "models" / "lifter.pt")
    assert lm.model_id == "lifter" and lm.meta["train"] == {"out": "runs/lifter", "steps": 5} and lm.meta["step"] == 4
    assert lm.meta["metrics"] == {"test_mpjpe_mm": 70.5, "test_p_mpjpe_mm": 50.4}
    assert lm.meta["trained_as"] == "hm train out=runs/loc-run" and lm.codec == codec
    src = load_checkpoint(tmp_path / "best.pt")
    for k, v in src.model.state_dict().items():
        assert torch.equal(lm.model.state_dict()[k], v), k
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["lifter.pt"]  # no temp file left


def test_release_of_a_float32_checkpoint_can_round_to_float16(tmp_path):
    m = _model().eval()
    save_checkpoint(tmp_path / "last.pt", m, "hummuss", PoseCodec(), {"model_id": "r", "step": 7}, train_state={"step": 7})
    release_checkpoint(tmp_path / "last.pt", tmp_path / "a.pt", "a", {"test_mpjpe_mm": 1.0}, half=True)
    release_checkpoint(tmp_path / "last.pt", tmp_path / "b.pt", "b", {"test_mpjpe_mm": 1.0})
    assert read_checkpoint(tmp_path / "a.pt")["dtype"] == "float16" and read_checkpoint(tmp_path / "b.pt")["dtype"] == "float32"
    assert (tmp_path / "a.pt").stat().st_size < 0.75 * (tmp_path / "b.pt").stat().st_size
    half, full = load_checkpoint(tmp_path / "a.pt").model.state_dict(), m.state_dict()
    for k, v in full.items():
        assert torch.equal(half[k], v.half().float()), k  # rounded once, loaded back as float32


def test_interpolate_checkpoints_is_the_weighted_sum_and_refuses_other_architectures(tmp_path):
    from hmcli.io.checkpoint import atomic_torch_save, interpolate_checkpoints

    a, b = _model(), _model()
    with torch.no_grad():
        for p in b.parameters():
            p.add_(0.5)
    save_checkpoint(tmp_path / "a.pt", a, "hummuss", PoseCodec(), {"model_id": "a"})
    save_checkpoint(tmp_path / "b.pt", b, "hummuss", PoseCodec(), {"model_id": "b"}, train_state={"step": 3})
    obj = interpolate_checkpoints([tmp_path / "a.pt", tmp_path / "b.pt"], [0.25, 0.75], "mix")
    assert "train_state" not in obj and obj["dtype"] == "float16" and obj["meta"]["model_id"] == "mix"
    assert [r["weight"] for r in obj["meta"]["interpolated"]] == [0.25, 0.75]
    sa, sb = a.state_dict(), b.state_dict()
    for k, v in obj["state_dict"].items():
        if v.is_floating_point():
            assert torch.allclose(v.float(), (0.25 * sa[k] + 0.75 * sb[k]).half().float())
    atomic_torch_save(obj, tmp_path / "mix.pt")
    assert load_checkpoint(tmp_path / "mix.pt").model_id == "mix"          # loads like any checkpoint
    other = build_from_config("hummuss", {**TINY_MODEL, "dim": TINY_MODEL["dim"] * 2})
    save_checkpoint(tmp_path / "c.pt", other, "hummuss", PoseCodec())
    with pytest.raises(CheckpointError, match="another architecture"):
        interpolate_checkpoints([tmp_path / "a.pt", tmp_path / "c.pt"], [0.5, 0.5], "x")
    with pytest.raises(CheckpointError, match="one weight per checkpoint"):
        interpolate_checkpoints([tmp_path / "a.pt"], [0.5, 0.5], "x")
