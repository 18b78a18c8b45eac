import pytest
import torch

from hmcli.nn.registry import build, count_parameters

# Published parameter counts of the peers' configurations; ours must match within 5 %.
PUBLISHED = [
    ("dstformer", 42.47e6),
    ("dstformer-lite", 16.00e6),
    ("mixste", 33.78e6),
    ("pstmo-s", 6.48e6),
    ("pstmo", 7.01e6),
]


@pytest.mark.parametrize("name,expected", PUBLISHED)
def test_param_count_matches_published(name, expected):
    with torch.device("meta"):
        n = count_parameters(build(name))
    assert abs(n - expected) / expected < 0.05, n
