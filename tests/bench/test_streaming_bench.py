import json

from typer.testing import CliRunner

from hmcli.bench.streaming import hummuss_streaming
from hmcli.cli.main import app


def test_rows_per_context_with_constant_state():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny per-frame ops: a thread pool only adds overhead here
    try:
        rows = hummuss_streaming("hummuss-small-causal", batch=2, contexts=[5, 40], repeats=3)
    finally:
        torch.set_num_threads(threads)
    assert [r.context for r in rows] == [5, 40]
    assert rows[0].state_bytes == rows[1].state_bytes > 0
    assert all(r.step_ms > 0 and r.batch == 2 for r in rows)


def test_cli_json_has_ratios_and_offline_time():
    r = CliRunner().invoke(app, ["bench", "streaming", "--models", "hummuss-small-causal", "--batch", "1",
                                 "--contexts", "4,30", "--repeats", "3", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert len(d["rows"]) == 4 and "hummuss-small-causal" in d["offline_causal_243_ms"]  # packed and plain linears
    assert [r["method"] for r in d["rows"]] == ["recurrent step"] * 2 + ["recurrent step (plain linears)"] * 2
    assert sorted(d["ratios"]) == ["hummuss-small-causal B=1: step@30 / step@4",
                                   "hummuss-small-causal recurrent step B=1 @30: plain / packed linears",
                                   "hummuss-small-causal recurrent step B=1 @4: plain / packed linears"]


def test_cli_rejects_bidirectional_model():
    r = CliRunner().invoke(app, ["bench", "streaming", "--models", "hummuss-small", "--contexts", "3"])
    assert r.exit_code == 4 and "not a causal model" in r.stderr
