import pickle

import numpy as np
import pytest
import torch

from hmcli.io.checkpoint import CheckpointError
from hmcli.refine.checkpoint import load_refiner
from tests.cli.helpers import tiny_checkpoint
from tests.refine.helpers import tiny_refiner_file


def test_save_load_round_trip(tmp_path, one_thread):
    p = tiny_refiner_file(tmp_path / "r.pt", identity=False, clip_frames=24)
    lr = load_refiner(p)
    assert lr.model_id == "tiny-refiner" and lr.clip_frames == 24 and len(lr.sha256) == 64
    assert not lr.model.training
    x = torch.randn(1, 10, 17, 3)
    again = load_refiner(p)
    with torch.no_grad():
        torch.testing.assert_close(lr.model(x), again.model(x))


def test_other_files_are_refused_in_one_line(tmp_path):
    lifter = tiny_checkpoint(tmp_path / "lifter.pt")
    with pytest.raises(CheckpointError, match="not an hm 2D refiner"):
        load_refiner(lifter)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="cannot read 2D refiner") as e:
        load_refiner(junk)
    assert "\n" not in str(e.value)
    with pytest.raises(CheckpointError, match="not found"):
        load_refiner(tmp_path / "missing.pt")


class _Evil:
    def __reduce__(self):
        return (print, ("owned",))


def test_a_pickle_that_runs_code_is_refused(tmp_path, capsys):
    p = tmp_path / "evil.pt"
    torch.save({"format": "hm.refine2d", "version": 1, "x": _Evil()}, p, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    with pytest.raises(CheckpointError, match="cannot read"):
        load_refiner(p)
    assert "owned" not in capsys.readouterr().out


def test_half_precision_weights_load_as_float32(tmp_path):
    from hmcli.refine.checkpoint import save_refiner
    from hmcli.refine.codec import RefineCodec
    from tests.refine.helpers import tiny_refiner

    p = tmp_path / "half.pt"
    save_refiner(p, tiny_refiner(identity=False), RefineCodec(), half=True)
    lr = load_refiner(p)
    assert all(v.dtype == torch.float32 for v in lr.model.state_dict().values() if v.is_floating_point())
    assert np.isfinite(lr.model.head.weight.detach().numpy()).all()
