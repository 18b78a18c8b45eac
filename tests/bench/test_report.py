import json

import pytest
import torch

from hmcli.bench.common import machine_line
from hmcli.bench.report import write_outputs
from hmcli.bench.train_compare import train_compare
from tests.bench.tiny import OFFLINE

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (tests/conftest.py)


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


def test_markdown_renders_further_tables():
    from hmcli.bench.report import to_markdown

    res = {"benchmark": "truth-free", "rows": [], "machine": {},
           "tables": [{"title": "Per bone", "columns": ["clip", "a|b"], "rows": [["x.mp4", "1|2"]]}]}
    md = to_markdown(res)
    assert "### Per bone\n\n| clip | a/b |\n|---|---|\n| x.mp4 | 1/2 |" in md
