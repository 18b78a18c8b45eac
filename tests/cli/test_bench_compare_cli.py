import json

import pytest
from typer.testing import CliRunner

from hmcli.cli.main import app
from tests.bench.tiny import CAUSAL, OFFLINE

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (tests/conftest.py)


def _sets(d):
    return [a for m, ov in d.items() for k, v in ov.items() for a in ("--set", f"{m}.{k}={json.dumps(list(v)) if isinstance(v, tuple) else v}")]


def test_cli_streaming_with_baselines_writes_files(tmp_path):
    r = CliRunner().invoke(app, ["bench", "streaming", "--threads", "1", "--models", ",".join(CAUSAL), "--batch", "1", "--contexts", "6,40",
                                 "--repeats", "2", "--budget", "0.2", "--out", str(tmp_path), *_sets(CAUSAL)])
    assert r.exit_code == 0, r.output
    d = json.loads((tmp_path / "streaming.json").read_text())
    assert len(d["rows"]) == 14 and d["offline_causal_243_ms"] == {}  # 2 contexts x 7 methods
    assert (tmp_path / "streaming.png").is_file() and "KV cache" in (tmp_path / "streaming.md").read_text()
    assert "HumMUSS speed-up" in r.stdout


def test_cli_train_and_throughput_json():
    r = CliRunner().invoke(app, ["bench", "train", "--threads", "1", "--models", "hummuss-small,dstformer-lite", "--frames", "9",
                                 "--repeats", "1", "--budget", "0.1", "--json", *_sets({k: OFFLINE[k] for k in ("hummuss-small", "dstformer-lite")})])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["benchmark"] == "train" and len(d["rows"]) == 2 and d["settings"]["precisions"] == ["fp32"]
    args = ["bench", "train", "--threads", "1", "--models", "hummuss-small", "--frames", "9", "--repeats", "1", "--budget", "0.1",
            "--json", *_sets({"hummuss-small": OFFLINE["hummuss-small"]})]
    r = CliRunner().invoke(app, [*args, "--precision", "fp32,bf16"])
    assert r.exit_code == 0, r.output
    assert [x["precision"] for x in json.loads(r.stdout)["rows"]] == ["fp32", "bf16"]
    for bad, message in (("fp16", "unknown precision 'fp16' (available: fp32, bf16)"), (",", "--precision needs at least one")):
        r = CliRunner().invoke(app, [*args, "--precision", bad])
        assert r.exit_code != 0 and message in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["bench", "throughput", "--threads", "1", "--models", "hummuss-small,pstmo-s", "--minutes", "0.02",
                                 "--repeats", "1", "--budget", "0.1", "--json", *_sets({k: OFFLINE[k] for k in ("hummuss-small", "pstmo-s")})])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["benchmark"] == "throughput" and d["settings"]["frames"] == 36 and len(d["rows"]) == 2
