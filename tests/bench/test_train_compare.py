import pytest

from hmcli.bench.report import to_markdown
from hmcli.bench.train_compare import train_compare
from tests.bench.tiny import H, OFFLINE

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (tests/conftest.py)


def test_train_compare_extends_positions_and_skips_fixed_windows():
    r = train_compare(list(OFFLINE), [9, 40], batch=1, repeats=1, budget_s=0.1, overrides=OFFLINE)
    by = {(x["model"], x["frames"]): x for x in r["rows"]}
    assert by[("dstformer-lite", 40)]["step_ms"] > 0 and "extended 32->40" in by[("dstformer-lite", 40)]["note"]
    assert by[("dstformer-lite", 9)]["note"] == ""
    assert by[("pstmo-s", 40)]["step_ms"] is None and by[("pstmo-s", 40)]["note"] == "n/a: fixed window 9"
    assert by[("pstmo-s", 9)]["step_ms"] > 0 and by[("hummuss-small", 40)]["flops"] > by[("hummuss-small", 9)]["flops"] > 0
    assert set(r["speedups"]) == {"hummuss-small vs dstformer-lite F=9", "hummuss-small vs dstformer-lite F=40",
                                  "hummuss-small vs mixste F=9", "hummuss-small vs mixste F=40", "hummuss-small vs pstmo-s F=9"}


def test_train_compare_times_each_precision_side_by_side():
    models = ["hummuss-small", "dstformer-lite"]
    r = train_compare(models, [9], repeats=1, budget_s=0.1, probe=False, overrides=OFFLINE, precisions=("fp32", "bf16"))
    by = {(x["model"], x["precision"]): x for x in r["rows"]}
    assert set(by) == {(m, p) for m in models for p in ("fp32", "bf16")} and all(x["step_ms"] > 0 for x in by.values())
    assert set(r["speedups"]) == {"hummuss-small vs dstformer-lite F=9", "hummuss-small vs dstformer-lite F=9 bf16",
                                  "hummuss-small F=9: bf16 vs fp32", "dstformer-lite F=9: bf16 vs fp32"}
    fp32, bf16 = by[("hummuss-small", "fp32")], by[("hummuss-small", "bf16")]
    assert r["speedups"]["hummuss-small F=9: bf16 vs fp32"] == pytest.approx(fp32["step_ms"] / bf16["step_ms"])
    assert by[("dstformer-lite", "bf16")]["vs_hummuss"] == pytest.approx(by[("dstformer-lite", "bf16")]["step_ms"] / bf16["step_ms"])
    assert "| hummuss-small | " in to_markdown(r) and " | bf16 | " in to_markdown(r)
    six = train_compare(["hummuss-small"], [9], repeats=1, budget_s=0.1, probe=False,
                        overrides={"hummuss-small": {**H, "in_dim": 6}})  # location channels: 6 inputs
    assert six["rows"][0]["step_ms"] > 0
    with pytest.raises(Exception, match="unknown precision 'fp16'"):
        train_compare(models, [9], repeats=1, budget_s=0.1, overrides=OFFLINE, precisions=("fp16",))
