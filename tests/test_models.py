"""The shipped checkpoints in models/: loadable, described by their cards, listed by hm info."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hmcli.io.checkpoint import load_checkpoint

MODELS = Path(__file__).resolve().parents[1] / "models"
SHIPPED = ("hummuss-small-cmu", "hummuss-small-causal-cmu")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_matches_its_card(name):
    lm = load_checkpoint(MODELS / f"{name}.pt")
    card = (MODELS / f"{name}.md").read_text(encoding="utf-8")
    assert lm.model_id == name and lm.meta["train"]["out"] == f"runs/{name}"
    assert f"sha256 `{lm.sha256}`" in card  # the card describes this very file
    assert lm.model.cfg.in_dim == lm.codec.in_channels
    row = re.search(r"^\| 30 fps \| ([\d.]+) \| ([\d.]+) \|", card, re.M)
    assert row is not None
    assert lm.meta["metrics"] == {"test_mpjpe_mm": float(row.group(1)), "test_p_mpjpe_mm": float(row.group(2))}
    assert (Path(__file__).resolve().parents[1] / "configs" / f"{name}.yaml").is_file()
