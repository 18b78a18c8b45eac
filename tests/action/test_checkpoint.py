"""hmcli.action.checkpoint: save_action / load_action, and what it refuses."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from typer.testing import CliRunner

from hmcli.action.checkpoint import load_action, save_action
from hmcli.action.model import ActionClassifier, ActionHead, ActionHeadConfig
from hmcli.api import write_keypoints_json
from hmcli.cli.main import app
from hmcli.nn.registry import build_from_config
from hmcli.skeleton import PoseCodec
from hmcli.io.checkpoint import CheckpointError
from tests.cli.helpers import TINY, make_keypoints, tiny_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

CLASSES = ("walk", "run", "wave")


def make_clf(causal=False, seed=0) -> ActionClassifier:
    torch.manual_seed(seed)
    bb = build_from_config("hummuss", {**TINY, "causal": causal})
    head = ActionHead(ActionHeadConfig(len(CLASSES), 17, int(bb.rep.out_features), hidden=8))
    head.bn.running_mean.uniform_(-0.5, 0.5)
    return ActionClassifier(bb, head).eval()


@pytest.mark.parametrize("causal", [False, True])
def test_round_trip_same_logits(tmp_path, causal):
    clf = make_clf(causal)
    p = tmp_path / "a.pt"
    save_action(p, clf, "hummuss", PoseCodec(), CLASSES, 1.5, 25.0, meta={"model_id": "tiny-action"})
    la = load_action(p, causal=causal)
    assert la.classes == CLASSES and la.window_s == 1.5 and la.fps == 25.0 and la.arch == "hummuss"
    assert la.model_id == "tiny-action" and la.path == str(p) and len(la.sha256) == 64
    assert la.window_frames == 38 and la.model.causal == causal and not la.model.training
    x = torch.randn(2, 1, 9, 17, 3)
    w = torch.ones(2, 1, 9)
    with torch.no_grad():
        torch.testing.assert_close(la.model(x, w), clf(x, w), atol=0, rtol=0)
    assert not [q for q in tmp_path.iterdir() if q.name != "a.pt"]  # no temporary left


def test_half_precision_round_trip(tmp_path):
    clf = make_clf()
    save_action(tmp_path / "h.pt", clf, "hummuss", PoseCodec(), CLASSES, 2.0, 30.0, half=True)
    la = load_action(tmp_path / "h.pt")
    assert la.model_id == "h"  # no model_id in meta: the file's stem
    x = torch.randn(1, 1, 5, 17, 3)
    with torch.no_grad():
        torch.testing.assert_close(la.model(x), clf(x), atol=2e-2, rtol=2e-2)


def test_bidirectional_model_refused_for_causal(tmp_path):
    save_action(tmp_path / "bi.pt", make_clf(False), "hummuss", PoseCodec(), CLASSES, 2.0, 30.0)
    with pytest.raises(CheckpointError, match="--causal needs a causal action model"):
        load_action(tmp_path / "bi.pt", causal=True)


def test_lifter_checkpoint_is_not_an_action_model(tmp_path):
    lifter = tiny_checkpoint(tmp_path / "lifter.pt")
    with pytest.raises(CheckpointError, match="is not an hm action model") as e:
        load_action(lifter)
    assert "\n" not in str(e.value)


def test_missing_corrupt_and_inconsistent(tmp_path):
    with pytest.raises(CheckpointError, match="action model not found"):
        load_action(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match="cannot read action model") as e:
        load_action(tmp_path / "junk.pt")
    assert "\n" not in str(e.value)
    p = tmp_path / "a.pt"
    save_action(p, make_clf(), "hummuss", PoseCodec(), CLASSES, 2.0, 30.0)
    obj = torch.load(p, weights_only=True)
    obj["head"]["config"]["num_classes"] = 7   # head weights no longer fit
    torch.save(obj, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="is inconsistent") as e:
        load_action(tmp_path / "bad.pt")
    assert "\n" not in str(e.value)
    obj["version"] = 99
    torch.save(obj, tmp_path / "v99.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        load_action(tmp_path / "v99.pt")


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("how", ["torch", "pickle"])
def test_malicious_pickle_is_refused(tmp_path, how):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pt"
    payload = {"format": "hm.action", "version": 1, "x": _Evil(marker)}
    if how == "torch":
        torch.save(payload, p)
    else:
        with open(p, "wb") as f:
            pickle.dump(payload, f, protocol=2)
    with pytest.raises(CheckpointError, match="cannot read action model") as e:
        load_action(p)
    assert "\n" not in str(e.value)
    assert not marker.exists()
    # and through the CLI as --model: one line, the model exit code, still no marker, no output
    write_keypoints_json(tmp_path / "kp.json", make_keypoints(10))
    r = CliRunner().invoke(app, ["action", str(tmp_path / "kp.json"), "--model", str(p), "-o", str(tmp_path / "a.json")])
    assert r.exit_code == 4, (r.stdout, r.stderr)
    assert r.stderr.startswith("hm: error: cannot read action model") and r.stderr.count("\n") == 1
    assert not marker.exists() and not (tmp_path / "a.json").exists()
