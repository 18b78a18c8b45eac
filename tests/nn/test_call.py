import torch

from hmcli.nn.registry import build
from hmcli.nn.call import call_model

TINY = {
    "dstformer": dict(dim=16, depth=1, heads=2, rep_dim=16, maxlen=32),
    "pstmo": dict(frames=9, strides=(3, 3), dim=16, heads=2, ffn_dim=16, sem_hidden=16, tem_depth=1),
}


def test_call_model_windowing_matches_direct_calls():
    torch.manual_seed(0)
    d = build("dstformer", **TINY["dstformer"]).eval()
    x = torch.randn(2, 70, 17, 3)
    with torch.no_grad():
        y = call_model(d, x)
        torch.testing.assert_close(y[:, :32], d(x[:, :32]))
        torch.testing.assert_close(y[:, 32:64], d(x[:, 32:64]))
        torch.testing.assert_close(y[:, 64:], d(x[:, 38:70])[:, 26:])  # tail: last full window, new frames
        torch.testing.assert_close(call_model(d, x[:, :20]), d(x[:, :20]))
    for causal, out in ((False, 4), (True, 8)):
        p = build("pstmo", **TINY["pstmo"], causal=causal).eval()
        with torch.no_grad():
            y = call_model(p, x[:, :20])
            assert y.shape == (2, 20, 17, 3)
            torch.testing.assert_close(y[:, 10], p(x[:, 10 - out : 19 - out])[:, 0])
            first = torch.cat([x[:, :1].expand(-1, out, -1, -1), x[:, : 9 - out]], dim=1)  # left edge repeated
            torch.testing.assert_close(y[:, 0], p(first)[:, 0])
            t = torch.tensor([3, 17])
            torch.testing.assert_close(call_model(p, x[:, :20], targets=t), y[:, t])
