import pytest

from hmcli.bench.throughput_compare import throughput_compare
from tests.bench.tiny import OFFLINE

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (tests/conftest.py)


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
