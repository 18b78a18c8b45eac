import pytest
import torch

from hmcli.bench.flops import count_flops, cpu_gflops, utilisation

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (tests/conftest.py)


def test_flops_counts_matmul_and_fft():
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    assert count_flops(lambda: a @ b)[0] == 2 * 8 * 16 * 4
    n, _ = count_flops(lambda: torch.fft.irfft(torch.fft.rfft(torch.randn(4, 64), dim=-1), n=64, dim=-1))
    assert n == 2 * int(2.5 * 4 * 64 * 6)
    assert cpu_gflops(256, 256, 256, repeats=1) > 0
    assert utilisation(1e9, 10.0, 100.0) == pytest.approx(0.1) and utilisation(None, 1, 1) is None
