import json
import time

import pytest
import torch
from typer.testing import CliRunner

from hmcli.bench.common import machine_line
from hmcli.bench.compare import (Unit, parse_overrides, peak_alloc, run_interleaved, streaming_compare,
                                 throughput_compare, to_markdown, train_compare, write_outputs)
from hmcli.bench.flops import count_flops, cpu_gflops, utilisation
from hmcli.cli.main import app

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (tests/conftest.py)


# Tiny versions of every preset the benchmarks use (dimensions only; structure unchanged).
H = dict(dim=16, depth=1, state=8, rep_dim=16)
D = dict(dim=16, depth=1, heads=2, rep_dim=16, maxlen=32)
M = dict(dim=16, depth=1, heads=2, maxlen=32)
P = dict(frames=9, strides=(3, 3), dim=16, heads=2, ffn_dim=16, sem_hidden=16, tem_depth=1)
CAUSAL = {"hummuss-small-causal": H, "dstformer-lite-causal": D, "mixste-causal": M, "pstmo-s-causal": P}
OFFLINE = {"hummuss-small": H, "dstformer-lite": D, "mixste": M, "pstmo-s": P}


def test_interleaved_round_robin_and_budget():
    calls = []
    fast = Unit("fast", lambda: calls.append("fast"))
    slow_calls = []

    def slow():
        slow_calls.append(1)
        calls.append("slow")
        torch.randn(200, 200) @ torch.randn(200, 200)

    units = [fast, Unit("slow", slow)]
    run_interleaved(units, repeats=4, budget_s=100.0, probe=True)
    # probe round, then round-robin: fast, slow, fast, slow, ...
    assert calls[:2] == ["fast", "slow"] and calls[2:6] == ["fast", "slow", "fast", "slow"]
    assert len(fast.times) == len(units[1].times) == 4 and units[1].flops == 2 * 200**3
    tiny = Unit("tiny-budget", lambda: torch.randn(100, 100) @ torch.randn(100, 100))
    run_interleaved([tiny], repeats=10, budget_s=0.0, probe=False)
    assert len(tiny.times) == 1 and tiny.timing_note() == "1 timed step (time budget)"


def test_fast_units_are_timed_in_bursts_of_consecutive_calls():
    calls = []
    fast = Unit("fast", lambda: calls.append("fast"))

    def slow():
        calls.append("slow")
        time.sleep(0.02)

    units = [fast, Unit("slow", slow)]
    run_interleaved(units, repeats=3, budget_s=100.0, probe=False, burst=4, burst_below_s=0.01)
    assert fast.burst == 4 and units[1].burst == 1
    assert len(fast.times) == 3 and len(units[1].times) == 3
    # first timed round one call each, then bursts of 4 fast calls between single slow ones
    assert calls[:2] == ["fast", "slow"]
    assert calls[2:7] == ["fast"] * 4 + ["slow"]
    assert calls.count("fast") == 1 + 3 * 4 and calls.count("slow") == 3


def test_peak_alloc_sees_temporaries():
    def work():
        a = torch.ones(1000, 1000)  # 4 MB, freed before b is made
        del a
        b = torch.ones(500, 1000)  # 2 MB
        return b.sum()

    peak, out = peak_alloc(work)
    assert float(out) == 500_000 and 4_000_000 <= peak < 6_500_000


def test_flops_counts_matmul_and_fft():
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    assert count_flops(lambda: a @ b)[0] == 2 * 8 * 16 * 4
    n, _ = count_flops(lambda: torch.fft.irfft(torch.fft.rfft(torch.randn(4, 64), dim=-1), n=64, dim=-1))
    assert n == 2 * int(2.5 * 4 * 64 * 6)
    assert cpu_gflops(256, 256, 256, repeats=1) > 0
    assert utilisation(1e9, 10.0, 100.0) == pytest.approx(0.1) and utilisation(None, 1, 1) is None


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


def test_throughput_units_and_flops():
    r = throughput_compare(list(OFFLINE), minutes=100 / 1800, fps=30, repeats=1, budget_s=0.1, window_batch=8, overrides=OFFLINE)
    whole = [x for x in r["rows"] if x["model"] == "hummuss-small" and x["unit"] == "whole sequence"]
    chunked = [x for x in r["rows"] if x["model"] == "hummuss-small" and x["unit"] != "whole sequence"]
    assert len(whole) == len(chunked) == 1 and whole[0]["unit_frames"] == 100
    # HumMUSS also runs in the transformers' chunks (the longest maxlen compared: 32)
    assert chunked[0]["unit_frames"] == 32 and "4 non-overlapping chunks, as the transformers" in chunked[0]["note"]
    assert chunked[0]["hummuss_x"] is None and chunked[0]["frames_per_s"] > 0
    by = {x["model"]: x for x in r["rows"] if x["unit"] != "32-frame chunk" or x["model"] != "hummuss-small"}
    assert by["hummuss-small"]["unit"] == "whole sequence"
    assert by["dstformer-lite"]["unit_frames"] == 32 and "4 non-overlapping chunks" in by["dstformer-lite"]["note"]
    assert by["pstmo-s"]["unit_frames"] == 8
    for x in r["rows"]:
        assert x["frames_per_s"] > 0 and x["flops_per_frame"] > 0 and x["utilisation"] > 0
    assert by["mixste"]["hummuss_x"] > 0 and r["cpu_gflops"]["mean"] > 0


def test_outputs_written(tmp_path):
    r = train_compare(["hummuss-small", "pstmo-s"], [9], repeats=1, budget_s=0.1, probe=False, overrides=OFFLINE)
    paths = write_outputs(r, tmp_path / "res")
    assert [p.rsplit("/", 1)[1] for p in paths] == ["train.json", "train.md", "train.png"]
    assert json.loads((tmp_path / "res" / "train.json").read_text())["benchmark"] == "train"
    assert (tmp_path / "res" / "train.png").read_bytes()[:4] == b"\x89PNG"
    assert "| hummuss-small |" in (tmp_path / "res" / "train.md").read_text()
    saved = json.loads((tmp_path / "res" / "train.json").read_text())["machine"]
    assert saved["cpu"] and saved["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert f"_machine: {machine_line(saved)}_" in (tmp_path / "res" / "train.md").read_text()
    r["command"] = "hm bench train --frames 9"
    write_outputs(r, tmp_path / "res")
    assert "Command: `hm bench train --frames 9`" in (tmp_path / "res" / "train.md").read_text()


def test_parse_overrides():
    assert parse_overrides(["dstformer-lite.dim=64", "pstmo-s.strides=[3,3]"]) == {
        "dstformer-lite": {"dim": 64}, "pstmo-s": {"strides": [3, 3]}}
    from hmcli.io.atomic import HMError

    with pytest.raises(HMError):
        parse_overrides(["dim=3"])


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
