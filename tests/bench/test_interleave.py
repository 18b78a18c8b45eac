import time

import pytest
import torch

from hmcli.bench.interleave import Unit, peak_alloc, run_interleaved

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (tests/conftest.py)


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
