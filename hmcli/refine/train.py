"""Training the 2D refiner (``hm train --task refine2d``).

Each step draws a batch of windows of CMU motion capture exactly as the lifters' training does
(:class:`~hmcli.data.dataset.PoseWindows`: random clip length, virtual cameras of
``camera_kind``, body ``proportions``, the ``corrupt_model`` 2D errors), encodes the corrupted
2D with :class:`~hmcli.refine.codec.RefineCodec` and trains the refiner to return the exact
projection: the mean per-joint 2D distance in the codec's units, over every joint of every frame
(missed joints included: the refiner fills them). A frame rate from ``[fps] + fps_aug`` is drawn
per step and Δ scaled to it. Validation: the 2D error (percent of the person's height) on fixed
windows of the validation subjects; ``best.pt`` keeps the best, ``last.pt`` the last step.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from hmcli.io.atomic import HMError
from hmcli.refine.checkpoint import save_refiner
from hmcli.refine.api import refine_clips, refined_confidence
from hmcli.refine.codec import ClipFrame, RefineCodec
from hmcli.refine.model import Refiner2D, RefinerConfig

__all__ = ["RefineTrainConfig", "refine_config", "train_refiner", "refine_loss", "RefineOptionError"]


class RefineOptionError(HMError):
    """An unknown or ill-typed refiner training option (a usage error)."""


@dataclass
class RefineTrainConfig:
    data: str = "../shared/data/cmu-amc"
    data_extra: list = field(default_factory=list)
    out: str = "runs/refine2d"
    steps: int = 6000
    batch_size: int = 16
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.01
    fps: float = 30.0
    fps_aug: list = field(default_factory=list)
    clip_min: int = 27
    clip_max: int = 81
    camera_kind: str = "mixed"
    proportions: str = "wide"
    corrupt_model: str = "mixed"
    bone_jitter: float = 0.05
    val_every: int = 500
    val_cameras: int = 1
    seed: int = 0
    threads: int = 0
    model_id: str = "refine2d"
    model: dict = field(default_factory=dict)  # RefinerConfig fields (dim, layers, state, ...)
    init_from: str = ""      # a refiner checkpoint to start from (path or shipped name)
    # through a lifter: a frozen lifter (path or shipped name) lifts the refined 2D, and its 3D error
    # (metres, root-relative) joins the loss with weight lambda_lift; validation then scores that lift
    lift_model: str = ""
    lambda_lift: float = 1.0
    lambda_2d: float = 1.0
    fill_conf: float = 0.5   # the lifter's confidence for filled-in joints (stored with the refiner; 0: left missing)

    def __post_init__(self) -> None:
        from hmcli.data.augment import proportion_preset
        from hmcli.data.camera import check_camera_kind
        from hmcli.data.corrupt import corruption_preset

        try:
            check_camera_kind(self.camera_kind)
            proportion_preset(self.proportions)
            corruption_preset(self.corrupt_model)
            RefinerConfig(**self.model)
        except (ValueError, TypeError) as e:
            raise RefineOptionError(str(e)) from None
        if self.steps < 1 or self.batch_size < 1 or not 1 <= self.clip_min <= self.clip_max:
            raise RefineOptionError("steps and batch_size must be >= 1, and 1 <= clip_min <= clip_max")
        if not (self.lr > 0 and self.fps > 0 and all(float(r) > 0 for r in self.fps_aug)):
            raise RefineOptionError("lr, fps and fps_aug rates must be positive")


def refine_config(overrides: list[str] | None = None, config: str | Path | None = None, **opts) -> RefineTrainConfig:
    """RefineTrainConfig from a YAML file, options (None: not given) and ``key=value`` overrides
    (typed by YAML; ``model.dim=96`` sets a model field), in that order of precedence."""
    from hmcli.io.options import dataclass_options

    return dataclass_options(RefineTrainConfig, overrides, config, opts, "refine2d training", RefineOptionError,
                             nested=("model",), ignore=("task",))


def refine_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean per-joint 2D distance over valid frames. pred, target: (B, F, J, 2); valid: (B, F) bool."""
    d = (pred - target).norm(dim=-1).mean(-1)  # (B, F)
    w = valid.to(d.dtype)
    return (d * w).sum() / w.sum().clamp(min=1)


def batch_conf(batch: dict) -> torch.Tensor:
    """(B, F, J) the windows' confidence, 0 on padded frames (they then do not move a clip frame)."""
    return batch["conf"] * batch["valid"][..., None]


def encode_batch(codec: RefineCodec, batch: dict) -> tuple[torch.Tensor, torch.Tensor, ClipFrame]:
    """Collated windows -> refiner input (B, F, J, 3), target (B, F, J, 2) and the windows' clip frames."""
    x, frame = codec.encode(batch["xy"], batch_conf(batch))
    return x, codec.encode_target(batch["xy_clean"], frame), frame


def _batch(cfg: RefineTrainConfig, seqs, step: int) -> tuple[dict, float]:
    from hmcli.data.augment import proportion_preset
    from hmcli.data.corrupt import corruption_preset
    from hmcli.data.dataset import PoseWindows, collate_windows

    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 11, step]))
    clip = int(rng.integers(cfg.clip_min, cfg.clip_max + 1))
    rates = [cfg.fps] + [float(r) for r in cfg.fps_aug]
    fps = float(rates[int(rng.integers(len(rates)))])
    ds = PoseWindows(seqs, fps=fps, clip_len=clip, samples_per_epoch=cfg.batch_size, seed=cfg.seed * 1_000_003 + step,
                     camera_kind=cfg.camera_kind, bone_jitter=cfg.bone_jitter,
                     proportions=proportion_preset(cfg.proportions), corruption=corruption_preset(cfg.corrupt_model))
    return collate_windows([ds[i] for i in range(cfg.batch_size)]), cfg.fps / fps


def lift_refined(lifter, px: torch.Tensor, conf: torch.Tensor, batch: dict, dt_scale: float = 1.0) -> torch.Tensor:
    """The lifter's root-relative 3D (B, F, J, 3) metres of refined 2D ``px`` (B, F, J, 2) pixels, differentiable in ``px``."""
    xs = [lifter.codec.encode_2d(px[i], conf[i], int(batch["width"][i]), int(batch["height"][i]))
          for i in range(px.shape[0])]  # (F, J, C) each
    return lifter.codec.decode_3d(lifter.model(torch.stack(xs), dt_scale))


def lift_loss(p3: torch.Tensor, batch: dict, codec) -> torch.Tensor:
    """Mean per-joint 3D distance (metres, root-relative) over valid frames."""
    g3 = codec.decode_3d(codec.encode_3d(batch["joints3d"]))  # (B, F, J, 3)
    d = (p3 - g3).norm(dim=-1).mean(-1)  # (B, F)
    w = batch["valid"].to(d.dtype)
    return (d * w).sum() / w.sum().clamp(min=1)


@torch.no_grad()
def validate_lift(model: Refiner2D, codec: RefineCodec, items: list[dict], lifter, fill_conf: float = 0.5) -> float:
    """MPJPE (mm) of ``lifter`` on the refined 2D of fixed windows (filled joints at ``fill_conf``)."""
    from hmcli.data.dataset import collate_windows

    model.eval()
    errs, n = 0.0, 0
    for i in range(0, len(items), 16):
        batch = collate_windows(items[i:i + 16])
        px, conf = refine_clips(model, codec, batch["xy"], batch_conf(batch), fill_conf)  # (B, F, J, 2), (B, F, J)
        p3 = lift_refined(lifter, px, conf, batch)
        w = float(batch["valid"].sum())
        errs += float(lift_loss(p3, batch, lifter.codec)) * w
        n += w
    model.train()
    return 1000.0 * errs / max(n, 1)


@torch.no_grad()
def validate(model: Refiner2D, codec: RefineCodec, items: list[dict]) -> float:
    """2D error (% of the person's height) after refinement over fixed windows, every joint of found frames."""
    from hmcli.data.dataset import collate_windows
    from hmcli.refine.evaluate import clip_height

    model.eval()
    errs = []
    for i in range(0, len(items), 16):
        chunk = items[i:i + 16]
        batch = collate_windows(chunk)
        x, _, frame = encode_batch(codec, batch)
        px = codec.decode(model(x), frame).numpy()  # (B, F, J, 2)
        for b, it in enumerate(chunk):
            f = it["xy"].shape[0]
            det = (it["conf"] > 0).any(-1)  # (F,)
            e = np.linalg.norm(px[b, :f] - it["xy_clean"], axis=-1)[det] / clip_height(it["xy_clean"]) * 100
            errs.append(e.ravel())
    model.train()
    return float(np.concatenate(errs).mean())


def train_refiner(cfg: RefineTrainConfig, on_step: Callable[[int, float, float | None], None] | None = None) -> dict:
    """Train (see module docstring); returns a summary dict. Writes ``out``/config.json, metrics.jsonl,
    best.pt and last.pt."""
    from hmcli.data.corrupt import corruption_preset
    from hmcli.data.dataset import make_eval_set
    from hmcli.train.trainer import load_split

    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1), encoding="utf-8")
    train_seqs = load_split(cfg.data, "train", tuple(cfg.data_extra))
    val_seqs = load_split(cfg.data, "val", tuple(cfg.data_extra))
    val_items = make_eval_set(val_seqs, cfg.fps, seed=cfg.seed, clip_len=cfg.clip_max, cameras_per_sequence=cfg.val_cameras,
                              camera_kind=cfg.camera_kind, corruption=corruption_preset(cfg.corrupt_model))
    mcfg = RefinerConfig(**{**cfg.model, "fps": cfg.fps})
    model = Refiner2D(mcfg)
    codec = RefineCodec()
    if cfg.init_from:
        from hmcli.refine.checkpoint import load_refiner

        start = load_refiner(cfg.init_from)
        model, codec = start.model, start.codec
        mcfg = model.cfg
        model.train()
    lifter = None
    if cfg.lift_model:
        from hmcli.lift import load_lifter

        lifter = load_lifter(cfg.lift_model)
        lifter.model.eval()
        for p in lifter.model.parameters():
            p.requires_grad_(False)
    score = (lambda: validate_lift(model, codec, val_items, lifter, cfg.fill_conf)) if lifter else (lambda: validate(model, codec, val_items))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def lr_at(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / max(1, cfg.warmup)
        t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    meta = {"model_id": cfg.model_id, "clip_frames": cfg.clip_max, "fill_conf": cfg.fill_conf, "train": asdict(cfg),
            "data": {"train_subjects": sorted({s.subject for s in train_seqs}),
                     "val_subjects": sorted({s.subject for s in val_seqs})}}
    before = score()  # a new refiner: the identity (read-out at zero), the 2D as given
    best, best_step, t0 = math.inf, 0, time.perf_counter()
    log = (out / "metrics.jsonl").open("w", encoding="utf-8")
    key = "val_lift_mpjpe_mm" if lifter is not None else "val_2d_pct"
    log.write(json.dumps({"step": 0, key: before}) + "\n")
    model.train()
    for step in range(1, cfg.steps + 1):
        batch, dt_scale = _batch(cfg, train_seqs, step)
        x, y, frame = encode_batch(codec, batch)
        pred = model(x, dt_scale)  # (B, F, J, 2)
        loss = refine_loss(pred, y, batch["valid"])
        if lifter is not None:
            c = batch_conf(batch)  # (B, F, J)
            conf = refined_confidence(c, c > 0, cfg.fill_conf)  # (B, F, J)
            p3 = lift_refined(lifter, codec.decode(pred, frame), conf, batch, dt_scale)
            loss = cfg.lambda_2d * loss + cfg.lambda_lift * lift_loss(p3, batch, lifter.codec)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        val = None
        if step % cfg.val_every == 0 or step == cfg.steps:
            val = score()
            log.write(json.dumps({"step": step, "loss": loss.item(), key: val,
                                  "time_s": time.perf_counter() - t0}) + "\n")
            log.flush()
            m = {**meta, "step": step, key: val}
            if val < best:
                best, best_step = val, step
                save_refiner(out / "best.pt", model, codec, m)
            save_refiner(out / "last.pt", model, codec, m)
        if on_step is not None:
            on_step(step, loss.item(), val)
    log.close()
    return {"task": "refine2d", "steps": cfg.steps, "time_s": time.perf_counter() - t0, "out": str(out),
            "metric": key, "val_input": before, "best_val": best, "best_step": best_step,
            "parameters": sum(p.numel() for p in model.parameters())}
