"""The training loop for 2D->3D lifting (task ``pose3d``), single process or DDP via torchrun.

Every step's batch is a pure function of (seed, step, rank): the clip length, the frame
rate and the samples come from generators seeded by those numbers, so ``--resume``
continues exactly (model, optimizer, scheduler, torch RNG and step are restored) and
different ranks see different samples. Under ``torchrun --nproc-per-node N`` the process
group is initialised from the environment (gloo on CPU, NCCL on GPU), gradients are
averaged by DistributedDataParallel, and only rank 0 writes files.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from hmcli.data.cmu import Sequence, load_cmu_dir
from hmcli.data.dataset import PoseWindows, collate_windows, make_eval_set
from hmcli.data.splits import TEST_SUBJECTS, VAL_SUBJECTS, filter_split
from hmcli.io.atomic import HMError
from hmcli.nn.registry import build, count_parameters, make_config
from hmcli.skeleton.codec import PoseCodec
from hmcli.skeleton.convert import flip_pose
from hmcli.train.checkpoint import read_checkpoint, save_checkpoint
from hmcli.train.config import TrainConfig, dump_config
from hmcli.train.losses import PoseLoss

CMU_ACK = (
    "The data used in this project was obtained from mocap.cs.cmu.edu. "
    "The database was created with funding from NSF EIA-0196217."
)


@dataclass
class StepInfo:
    step: int
    total: int
    loss: float
    parts: dict[str, float]
    lr: float
    val_mpjpe: float | None = None


def encode_batch(batch: dict[str, Any], codec: PoseCodec) -> tuple[torch.Tensor, torch.Tensor]:
    """Collated windows -> model input (B, F, J, 3) and 3D target (B, F, J, 3) in model units."""
    xs = []
    for i in range(batch["xy"].shape[0]):
        w, h = int(batch["width"][i]), int(batch["height"][i])
        xs.append(codec.encode_2d(batch["xy"][i], batch["conf"][i], w, h))  # (F, J, 3)
    return torch.stack(xs), codec.encode_3d(batch["joints3d"])


def call_model(model: nn.Module, x: torch.Tensor, dt_scale: float = 1.0) -> torch.Tensor:
    """Forward with Δ scaling for models that have it (continuous-time), plain otherwise."""
    inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    if hasattr(inner, "dt_scale_for"):
        return model(x, dt_scale=dt_scale)
    return model(x)


class _Dist:
    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1
        if self.enabled and not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend)
        self.device = torch.device(f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def load_split(data: str, split: str) -> list[Sequence]:
    root = Path(data)
    if not root.is_dir():
        raise HMError(f"data directory not found: {root} (expected CMU ASF/AMC layout)")
    seqs = filter_split(load_cmu_dir(root), split)
    if not seqs:
        raise HMError(f"no '{split}' sequences found under {root}")
    return seqs


def _lr_lambda(cfg: TrainConfig) -> Callable[[int], float]:
    def f(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / max(1, cfg.warmup)
        t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return f


def _step_batch(cfg: TrainConfig, seqs: list[Sequence], step: int, rank: int) -> tuple[dict, float, bool]:
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 7, step]))
    clip = int(rng.integers(cfg.clip_min, cfg.clip_max + 1))
    rates = [cfg.fps] + list(cfg.fps_aug)
    fps = float(rates[int(rng.integers(len(rates)))])
    flip = bool(rng.random() < cfg.flip_prob)
    ds = PoseWindows(
        seqs, fps=fps, clip_len=clip, samples_per_epoch=cfg.batch_size * (rank + 1), seed=cfg.seed * 1_000_003 + step,
        camera_kind=cfg.camera_kind,
    )
    items = [ds[rank * cfg.batch_size + i] for i in range(cfg.batch_size)]
    return collate_windows(items), cfg.fps / fps, flip


@torch.no_grad()
def validate(model: nn.Module, items: list[dict], codec: PoseCodec, device: torch.device, dt_scale: float = 1.0) -> float:
    """Mean per-joint position error (mm) over fixed validation windows."""
    model.eval()
    errs = []
    for i in range(0, len(items), 8):
        batch = collate_windows(items[i : i + 8])
        x, y = encode_batch(batch, codec)
        pred = call_model(model, x.to(device), dt_scale).cpu()
        p = codec.decode_3d(pred)
        g = codec.decode_3d(y)
        errs.append((p - g).norm(dim=-1).mean(dim=(1, 2)))  # (B,)
    model.train()
    return float(torch.cat(errs).mean()) * 1000.0


def train(cfg: TrainConfig, resume: bool = False, on_step: Callable[[StepInfo], None] | None = None) -> dict:
    """Train per ``cfg``; returns a summary dict. Files go to ``cfg.out`` (rank 0 only)."""
    env = _Dist()
    try:
        return _train(cfg, env, resume, on_step)
    finally:
        env.close()


def _train(cfg: TrainConfig, env: _Dist, resume: bool, on_step) -> dict:
    torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // env.world))
    out = Path(cfg.out)
    last_path, best_path = out / "last.pt", out / "best.pt"
    if env.main:
        out.mkdir(parents=True, exist_ok=True)
        if not resume and last_path.exists():
            raise HMError(f"{out} already holds a run; use --resume to continue it or another --out")
    arch, model_cfg = make_config(cfg.model, **cfg.model_overrides)
    if hasattr(model_cfg, "fps"):
        model_cfg.fps = cfg.fps
    torch.manual_seed(cfg.seed)
    from hmcli.nn.registry import build_from_config
    from dataclasses import asdict

    model = build_from_config(arch, asdict(model_cfg)).to(env.device)
    codec = PoseCodec()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    start, best = 0, float("inf")
    if resume:
        obj = read_checkpoint(last_path)
        ts = obj.get("train_state")
        if ts is None:
            raise HMError(f"{last_path} holds no training state to resume from")
        model.load_state_dict(obj["state_dict"])
        opt.load_state_dict(ts["optimizer"])
        sched.load_state_dict(ts["scheduler"])
        torch.set_rng_state(ts["torch_rng"])
        start, best = int(ts["step"]), float(ts["best"])
    ddp_model: nn.Module = model
    if env.enabled:
        ddp_model = nn.parallel.DistributedDataParallel(model, device_ids=[env.local_rank] if env.device.type == "cuda" else None)

    seqs = load_split(cfg.data, "train")
    val_seqs = load_split(cfg.data, "val")
    val_items = make_eval_set(val_seqs, cfg.fps, seed=cfg.seed, clip_len=cfg.val_clip)
    if not val_items:
        val_items = make_eval_set(val_seqs, cfg.fps, seed=cfg.seed, clip_len=None)
    loss_fn = PoseLoss(lambda_vel=cfg.lambda_vel, lambda_reproj=cfg.lambda_reproj)
    data_desc = {
        "source": str(cfg.data),
        "format": "CMU ASF/AMC",
        "train_subjects": sorted({s.subject for s in seqs}),
        "val_subjects": list(VAL_SUBJECTS),
        "test_subjects": list(TEST_SUBJECTS),
        "train_sequences": len(seqs),
        "fps": cfg.fps,
        "fps_aug": list(cfg.fps_aug),
        "acknowledgement": CMU_ACK,
    }
    meta_base = {"model_id": out.name, "data": data_desc, "train": cfg.to_dict(), "params": count_parameters(model)}
    if env.main:
        dump_config(cfg, out / "config.yaml")
    log = open(out / "metrics.jsonl", "a") if env.main else None
    t0 = time.time()
    model.train()
    val = None
    try:
        for step in range(start, cfg.steps):
            batch, dt_scale, flip = _step_batch(cfg, seqs, step, env.rank)
            x, y = encode_batch(batch, codec)
            if flip:
                x, y = flip_pose(x, codec.joint_set), flip_pose(y, codec.joint_set)
            x, y = x.to(env.device), y.to(env.device)
            pred = call_model(ddp_model, x, dt_scale)
            loss, parts = loss_fn(pred, y, x if cfg.lambda_reproj else None)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            done = step + 1
            val = None
            if done % cfg.eval_every == 0 or done == cfg.steps:
                val = validate(model, val_items, codec, env.device)
            info = StepInfo(done, cfg.steps, float(loss.detach()), {k: float(v) for k, v in parts.items()}, sched.get_last_lr()[0], val)
            if env.main:
                rec = {"step": done, "loss": info.loss, **{f"loss_{k}": v for k, v in info.parts.items()}, "lr": info.lr,
                       "clip": int(x.shape[1]), "dt_scale": dt_scale, "time_s": round(time.time() - t0, 2)}
                if val is not None:
                    rec["val_mpjpe_mm"] = val
                log.write(json.dumps(rec) + "\n")
                log.flush()
                if val is not None and val < best:
                    best = val
                    save_checkpoint(best_path, model, arch, codec, {**meta_base, "step": done, "val_mpjpe_mm": val}, half=cfg.half_export)
                if done % cfg.save_every == 0 or done == cfg.steps:
                    ts = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "torch_rng": torch.get_rng_state(),
                          "step": done, "best": best}
                    save_checkpoint(last_path, model, arch, codec, {**meta_base, "step": done}, train_state=ts)
            if on_step is not None and env.main:
                on_step(info)
    finally:
        if log is not None:
            log.close()
    return {"out": str(out), "steps": cfg.steps, "best_val_mpjpe_mm": best, "last_val_mpjpe_mm": val,
            "time_s": time.time() - t0, "params": count_parameters(model), "world_size": env.world}
