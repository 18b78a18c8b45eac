import pytest

from hmcli.bench.report import to_markdown
from hmcli.bench.streaming_compare import streaming_compare
from tests.bench.tiny import CAUSAL, D, H

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (tests/conftest.py)


def test_streaming_rows_ratios_and_windows():
    r = streaming_compare(list(CAUSAL), [1, 2], [8, 40], repeats=2, budget_s=0.5, overrides=CAUSAL)
    rows = r["rows"]
    # 2 batches x 2 contexts x (hummuss packed and plain, dst recompute, dst kv packed and plain, mixste, pstmo)
    assert len(rows) == 2 * 2 * 7
    by = {(x["model"], x["method"], x["batch"], x["context"]): x for x in rows}
    h = [by[("hummuss-small-causal", "recurrent step", b, c)] for b in (1, 2) for c in (8, 40)]
    assert all(x["step_ms"] > 0 and x["state_bytes"] > 0 and x["peak_alloc_bytes"] > 0 and x["flops"] > 0 for x in h)
    assert h[0]["state_bytes"] == h[1]["state_bytes"] and h[2]["state_bytes"] == 2 * h[0]["state_bytes"]
    assert "replicated to B=2" in h[3]["note"]
    # beyond the transformers' max window: n/a, never a number
    for m, meth, w in (("dstformer-lite-causal", "recompute window", 32), ("dstformer-lite-causal", "KV cache", 32),
                       ("mixste-causal", "recompute window", 32), ("pstmo-s-causal", "window per frame", 9)):
        row = by[(m, meth, 1, 40)]
        assert row["step_ms"] is None and row["note"].startswith(f"n/a: max window {w}")
    kv = by[("dstformer-lite-causal", "KV cache", 2, 8)]
    assert kv["step_ms"] > 0 and kv["vs_hummuss"] > 0 and kv["state_bytes"] > 0
    # each baseline is compared with the HumMUSS step that uses the same kind of linears
    hp = by[("hummuss-small-causal", "recurrent step (plain linears)", 2, 8)]
    kvp = by[("dstformer-lite-causal", "KV cache (plain linears)", 2, 8)]
    assert kvp["vs_hummuss"] == pytest.approx(kvp["step_ms"] / hp["step_ms"])
    assert kv["vs_hummuss"] == pytest.approx(kv["step_ms"] / by[("hummuss-small-causal", "recurrent step", 2, 8)]["step_ms"])
    rec = by[("mixste-causal", "recompute window", 1, 8)]
    assert rec["vs_hummuss"] == pytest.approx(rec["step_ms"] / by[("hummuss-small-causal", "recurrent step (plain linears)", 1, 8)]["step_ms"])
    assert [k for k in r["ratios"] if "step@" in k] == ["hummuss-small-causal B=1: step@40 / step@8",
                                                         "hummuss-small-causal B=2: step@40 / step@8"]
    assert "hummuss-small-causal recurrent step B=1 @8: plain / packed linears" in r["ratios"]
    assert "dstformer-lite-causal KV cache B=2 @8: plain / packed linears" in r["ratios"]
    assert "hummuss-small-causal vs mixste-causal recompute window B=1 @8" in r["speedups"]
    assert "n/a" in to_markdown(r)


def test_streaming_targets_at_243():
    ov = {"hummuss-small-causal": H, "dstformer-lite-causal": {**D, "maxlen": 243}}
    r = streaming_compare(list(ov), [1], [243], repeats=1, budget_s=0.1, probe=False, overrides=ov)
    names = [t["target"] for t in r["targets"]]
    assert names == ["B=1: hummuss-small-causal recurrent step (plain linears) vs dstformer-lite-causal recompute window @243",
                     "B=1: hummuss-small-causal recurrent step vs dstformer-lite-causal KV cache @243",
                     "B=1: hummuss-small-causal recurrent step (plain linears) vs dstformer-lite-causal KV cache (plain linears) @243"]
    assert all(isinstance(t["ok"], bool) and t["value"] > 0 for t in r["targets"])


def test_streaming_rejects_bidirectional():
    with pytest.raises(KeyError, match="not a causal model"):
        streaming_compare(["dstformer-lite"], [1], [4], overrides={"dstformer-lite": D})
