"""Transformer baselines for 2D -> 3D lifting: DSTformer (MotionBERT), MixSTE, P-STMO.

Importing this package registers their architectures and presets with ``hmcli.nn.registry``.
"""

from hmcli.nn.baselines.dstformer import DSTformer, DSTformerConfig, DSTformerKVStreamer
from hmcli.nn.baselines.mixste import MixSTE, MixSTEConfig
from hmcli.nn.baselines.pstmo import PSTMO, PSTMOConfig, PSTMOPretrain
from hmcli.nn.baselines.streaming import WindowRecomputeStreamer

__all__ = [
    "DSTformer",
    "DSTformerConfig",
    "DSTformerKVStreamer",
    "MixSTE",
    "MixSTEConfig",
    "PSTMO",
    "PSTMOConfig",
    "PSTMOPretrain",
    "WindowRecomputeStreamer",
]
