"""Tiny versions of every preset the benchmarks use (dimensions only; structure unchanged)."""

H = dict(dim=16, depth=1, state=8, rep_dim=16)
D = dict(dim=16, depth=1, heads=2, rep_dim=16, maxlen=32)
M = dict(dim=16, depth=1, heads=2, maxlen=32)
P = dict(frames=9, strides=(3, 3), dim=16, heads=2, ffn_dim=16, sem_hidden=16, tem_depth=1)
CAUSAL = {"hummuss-small-causal": H, "dstformer-lite-causal": D, "mixste-causal": M, "pstmo-s-causal": P}
OFFLINE = {"hummuss-small": H, "dstformer-lite": D, "mixste": M, "pstmo-s": P}
