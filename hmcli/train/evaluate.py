"""Held-out evaluation of a lifter checkpoint on motion capture, at any frame rate.

Test sequences (whole, not clipped) are resampled from their source rate to ``fps``,
seen by fixed virtual cameras that training never draws, and corrupted like a detector.
With ``scale_dt`` a continuous-time model gets Δ multiplied by ``train_fps / fps``;
without it the model runs as if the frames still came at its training rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hmcli.data.cmu import Sequence
from hmcli.data.dataset import make_eval_set
from hmcli.train.checkpoint import LoadedModel
from hmcli.train.metrics import EvalReport, evaluate
from hmcli.train.trainer import call_model, encode_batch
from hmcli.data.dataset import collate_windows


@dataclass
class EvalSetting:
    fps: float
    scale_dt: bool = True
    cameras: int = 2
    seed: int = 0


@torch.inference_mode()
def predict_items(lm: LoadedModel, items: list[dict], dt_scale: float) -> list[torch.Tensor]:
    """Metres, root-relative (F, J, 3) per item; each whole sequence in one forward pass."""
    preds = []
    for it in items:
        batch = collate_windows([it])
        x, _ = encode_batch(batch, lm.codec)
        y = call_model(lm.model, x, dt_scale)  # (1, F, J, 3)
        preds.append(lm.codec.decode_3d(y[0]))
    return preds


def evaluate_model(lm: LoadedModel, sequences: list[Sequence], setting: EvalSetting) -> EvalReport:
    items = make_eval_set(sequences, setting.fps, seed=setting.seed, clip_len=None, cameras_per_sequence=setting.cameras)
    train_fps = float(lm.config.get("fps", 30.0))
    dt_scale = train_fps / setting.fps if setting.scale_dt else 1.0
    preds = predict_items(lm, items, dt_scale)
    gts = [torch.as_tensor(it["joints3d"]) for it in items]
    return evaluate(preds, gts, [it["action_name"] for it in items], fps=setting.fps)
