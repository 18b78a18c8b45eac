"""Fixtures shared across test modules."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny models: one torch thread is fastest (and robust to a busy machine); restored after."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """A bidirectional and a causal random-weight tiny HumMUSS checkpoint."""
    from tests.cli.helpers import tiny_checkpoint

    d = tmp_path_factory.mktemp("models")
    return {"bi": tiny_checkpoint(d / "bi.pt"), "causal": tiny_checkpoint(d / "causal.pt", causal=True, seed=1)}
