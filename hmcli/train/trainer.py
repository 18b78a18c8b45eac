"""The training loop for 2D->3D lifting (task ``pose3d``), single process or DDP via torchrun.

Every step's batch is a pure function of (seed, step, rank): the clip length, the frame
rate and the samples come from generators seeded by those numbers, so ``--resume``
continues exactly (model, optimizer, scheduler, torch RNG and step are restored) and
different ranks see different samples. Under ``torchrun --nproc-per-node N`` the process
group is initialised from the environment (gloo on CPU, NCCL on GPU), gradients are
averaged by DistributedDataParallel, and only rank 0 writes files.

Architectures: every registered lifter trains here. Seq2seq transformers (DSTformer,
MixSTE) need ``clip_max`` <= their ``maxlen``. P-STMO is seq2frame: it trains on windows of
exactly its ``frames`` (243) frames, with the loss on its single output frame (centre, or
last when causal) plus ``lambda_multi`` times the pose loss of its multi-frame TEM output.
:func:`hmcli.nn.call.call_model` gives every model a per-frame output for inputs of any length (sliding
windows for P-STMO, ``maxlen`` chunks for the transformers), which is what validation and
``hm eval`` use.

Task ``mpm`` (masked pose modelling, P-STMO's Stage I) for P-STMO and HumMUSS: a fraction
``mask_ratio`` of the frames and ``mask_joints`` joints of every other frame are hidden and
the clean 2D input is reconstructed (MSE on the hidden positions). P-STMO uses its own
``PSTMOPretrain``; HumMUSS gets inputs zeroed (confidence included) at the hidden positions
and a linear 2D head on ``represent`` (:class:`MaskedPoseModel`). Stage II:
``init_from=<run>/last.pt`` loads every weight whose name and shape match (strict=False) and
reports the counts.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from hmcli.data.augment import proportion_preset
from hmcli.data.corrupt import corruption_preset
from hmcli.data.cmu import Sequence, load_cmu_sources
from hmcli.data.dataset import PoseWindows, collate_windows, encode_batch, encode_clean_2d, make_eval_set
from hmcli.data.splits import SPLITS, TEST_SUBJECTS, VAL_SUBJECTS, filter_split
from hmcli.io.atomic import HMError, atomic_write
from hmcli.nn.call import call_model, model_window, unwrap
from hmcli.nn.registry import count_parameters, make_config
from hmcli.runtime import retain_freed_memory
from hmcli.skeleton.codec import PoseCodec
from hmcli.skeleton.convert import flip_pose
from hmcli.io.checkpoint import read_checkpoint, save_checkpoint
from hmcli.train.config import TrainConfig, autocast_for, dump_config
from hmcli.train.losses import PoseLoss, mpjpe_loss

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


class MaskedPoseModel(nn.Module):
    """Stage-I masked pose modelling for HumMUSS: hidden positions of the input are zeroed
    (x, y and confidence) and a linear head on ``encoder.represent`` reconstructs the clean
    2D pose (B, F, J, 2). The encoder's 3D head is dropped (not trained in Stage I); its other
    weights keep their names under ``encoder.`` for Stage II (``init_from``)."""

    def __init__(self, encoder: nn.Module, mask_ratio: float = 0.8, mask_joints: int = 2):
        super().__init__()
        if not 0.0 <= mask_ratio < 1.0:
            raise HMError("mask_ratio must be in [0, 1)")
        if not 0 <= mask_joints < encoder.cfg.num_joints:
            raise HMError("mask_joints must be in [0, num_joints)")
        encoder.head = nn.Identity()
        self.encoder, self.cfg = encoder, encoder.cfg
        self.recon = nn.Linear(encoder.cfg.rep_dim, 2)
        self.mask_ratio, self.mask_joints = mask_ratio, mask_joints

    def sample_masks(self, batch: int, frames: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """-> temporal mask (B, F), spatial mask (B, F, J); True = hidden; the same number of
        hidden frames in every sample, and at least one visible frame."""
        j = self.cfg.num_joints
        n_mask = min(int(round(self.mask_ratio * frames)), frames - 1)
        order = torch.rand(batch, frames, generator=generator).argsort(dim=1)  # (B, F)
        tmask = torch.zeros(batch, frames, dtype=torch.bool).scatter_(1, order[:, :n_mask], True)
        jorder = torch.rand(batch, frames, j, generator=generator).argsort(dim=2)  # (B, F, J)
        smask = torch.zeros(batch, frames, j, dtype=torch.bool).scatter_(2, jorder[..., : self.mask_joints], True)
        return tmask, smask & ~tmask[..., None]

    def forward(self, x: torch.Tensor, masks: tuple[torch.Tensor, torch.Tensor], dt_scale: float = 1.0) -> torch.Tensor:
        tmask, smask = (m.to(x.device) for m in masks)
        hidden = tmask[..., None] | smask  # (B, F, J)
        return self.recon(self.encoder.represent(x * ~hidden[..., None], dt_scale))  # (B, F, J, 2)

    @staticmethod
    def masked_mse(recon: torch.Tensor, target: torch.Tensor, tmask: torch.Tensor, smask: torch.Tensor) -> torch.Tensor:
        hidden = (tmask[..., None] | smask).to(recon.device)  # (B, F, J)
        return (recon - target[..., :2]).pow(2)[hidden].mean()


class _ForwardMulti(nn.Module):
    """Routes P-STMO's ``forward_multi`` through ``forward`` (so DDP sees the call)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.forward_multi(x)


def _mpm_generator(cfg: TrainConfig, step: int, rank: int) -> torch.Generator:
    seed = int(np.random.SeedSequence([cfg.seed, 11, step, rank]).generate_state(1)[0])
    return torch.Generator().manual_seed(seed)


def build_for_task(cfg: TrainConfig, arch: str, model_cfg: Any) -> nn.Module:
    """The module trained for ``cfg.task``: the lifter itself, or its Stage-I MPM model."""
    try:
        return _build_for_task(cfg, arch, model_cfg)
    except (TypeError, ValueError, RuntimeError) as e:  # model.dim=abc, model.dim=-1, ... from the user
        if isinstance(e, HMError):
            raise
        raise HMError(f"cannot build {arch} with these model options (model.*): "
                      f"{(str(e).splitlines() or [type(e).__name__])[0][:160]}") from None


def _build_for_task(cfg: TrainConfig, arch: str, model_cfg: Any) -> nn.Module:
    from hmcli.nn.registry import build_from_config

    if cfg.task != "mpm":
        return build_from_config(arch, dataclasses.asdict(model_cfg))
    if arch == "pstmo":
        from hmcli.nn.baselines import PSTMOPretrain

        return PSTMOPretrain(model_cfg, mask_ratio=cfg.mask_ratio, spatial_mask_joints=cfg.mask_joints)
    if arch == "hummuss":
        return MaskedPoseModel(build_from_config(arch, dataclasses.asdict(model_cfg)), cfg.mask_ratio, cfg.mask_joints)
    raise HMError(f"task mpm is available for hummuss and pstmo, not {arch}")


def init_from_checkpoint(model: nn.Module, path: str) -> dict:
    """Load every weight of checkpoint ``path`` whose name (``encoder.`` prefix dropped) and
    shape match ``model`` (strict=False). Returns the counts."""
    obj = read_checkpoint(path)
    target = model.encoder if isinstance(model, MaskedPoseModel) else model
    src = {k.removeprefix("encoder."): v for k, v in obj["state_dict"].items()}
    own = target.state_dict()
    match = {k: v.to(own[k].dtype) for k, v in src.items() if k in own and own[k].shape == v.shape}
    target.load_state_dict(match, strict=False)
    return {"path": str(path), "source_arch": obj.get("arch"), "source_task": obj.get("meta", {}).get("train", {}).get("task"),
            "loaded": len(match), "skipped": len(src) - len(match), "not_initialised": len(own) - len(match)}


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


def hardware_text(env: _Dist) -> str:
    """What a run trains on, for its model card: e.g. 'x86_64 CPU (2 cores), torch threads: 2'."""
    procs = f" × {env.world} processes" if env.world > 1 else ""
    if env.device.type == "cuda":
        return f"{torch.cuda.get_device_name(env.device)}{procs}"
    return f"{platform.machine()} CPU ({os.cpu_count()} cores), torch threads: {torch.get_num_threads()}{procs}"


def load_split(data: str, split: str, extra: list[str] | tuple[str, ...] = ()) -> list[Sequence]:
    """The ``split``'s sequences of ``data``; with ``extra`` directories (``data_extra``), their trials
    join the train and val splits by subject (not loaded twice: ``load_cmu_sources``). The test split
    never takes extra trials, so held-out figures stay those of ``data`` alone."""
    if split not in SPLITS:
        raise HMError(f"unknown split '{split}' (available: {', '.join(SPLITS)})")
    root = Path(data)
    if not root.is_dir():
        raise HMError(f"data directory not found: {root} (expected CMU ASF/AMC layout)")
    for more in extra:
        if not Path(more).is_dir():
            raise HMError(f"extra data directory not found: {more} (expected CMU ASF/AMC layout)")
    seqs = filter_split(load_cmu_sources(root, extra if split != "test" else ()), split)
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


def _step_batch(cfg: TrainConfig, seqs: list[Sequence], step: int, rank: int, clip_len: int | None = None,
                pairs=None) -> tuple[dict, float, bool]:
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 7, step]))
    clip = int(rng.integers(cfg.clip_min, cfg.clip_max + 1))
    if clip_len is not None:  # fixed-window models (P-STMO)
        clip = clip_len
    rates = [cfg.fps] + list(cfg.fps_aug)
    fps = float(rates[int(rng.integers(len(rates)))])
    flip = bool(rng.random() < cfg.flip_prob)
    ds = PoseWindows(
        seqs, fps=fps, clip_len=clip, samples_per_epoch=cfg.batch_size * (rank + 1), seed=cfg.seed * 1_000_003 + step,
        camera_kind=cfg.camera_kind, bone_jitter=cfg.bone_jitter, splice_prob=cfg.splice_prob, speed_aug=cfg.speed_aug,
        splice_arms=cfg.splice_arms, proportions=proportion_preset(cfg.proportions),
        corruption=corruption_preset(cfg.corrupt_model),
    )
    items = [ds[rank * cfg.batch_size + i] for i in range(cfg.batch_size)]
    if pairs is not None and cfg.rendered_p > 0 and abs(fps - pairs.fps) < 1e-6:  # rendered at their own rate only
        prng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 11, step, rank]))
        for i in range(cfg.batch_size):
            if prng.random() < cfg.rendered_p:
                items[i] = pairs.window(prng, clip)
    return collate_windows(items), cfg.fps / fps, flip


@torch.no_grad()
def validate(model: nn.Module, items: list[dict], codec: PoseCodec, device: torch.device, dt_scale: float = 1.0) -> float:
    """Mean per-joint position error (mm) over fixed validation windows."""
    model.eval()
    errs = []
    seq2frame = model_window(model)[1] is not None
    for i in range(0, len(items), 8):
        batch = collate_windows(items[i : i + 8])
        x, y = encode_batch(batch, codec)
        targets = None
        if seq2frame:  # one window per output frame: score ~27 evenly spaced frames of each window
            f = x.shape[1]
            targets = torch.arange(0, f, max(1, f // 27))
            y = y[:, targets]
        pred = call_model(model, x.to(device), dt_scale, targets).cpu()
        p = codec.decode_3d(pred)
        g = codec.decode_3d(y)
        errs.append((p - g).norm(dim=-1).mean(dim=(1, 2)))  # (B,)
    model.train()
    return float(torch.cat(errs).mean()) * 1000.0


def refine_batch(refiner, batch: dict, dt_scale: float = 1.0) -> dict:
    """Collated windows with their 2D (``xy``, ``conf``) replaced by ``refiner``'s, as ``hm lift --refine``
    would give it to the lifter: the whole batch in one pass when its windows are unpadded and fit the
    refiner's trained length (training batches: one clip length per step), else clip by clip over its
    valid frames (:func:`hmcli.refine.api.refine_track`; a bidirectional refiner must not see padding)."""
    from hmcli.refine.api import refine_clips, refine_track

    if bool(batch["valid"].all()) and batch["xy"].shape[1] <= refiner.clip_frames:
        with torch.no_grad():
            xy, conf = refine_clips(refiner.model, refiner.codec, batch["xy"], batch["conf"], refiner.fill_conf,
                                    dt_scale)  # (B, F, J, 2), (B, F, J)
        return {**batch, "xy": xy, "conf": conf}
    xy, conf = batch["xy"].clone(), batch["conf"].clone()
    for i in range(xy.shape[0]):
        f = int(batch["valid"][i].sum())
        rxy, rconf = refine_track(refiner, xy[i, :f].numpy(), conf[i, :f].numpy(), dt_scale=dt_scale)
        xy[i, :f], conf[i, :f] = torch.from_numpy(rxy), torch.from_numpy(rconf)
    return {**batch, "xy": xy, "conf": conf}


def validate_lift(model: nn.Module, arch: str, items: list[dict], codec: PoseCodec, cfg: TrainConfig,
                  refiner=None) -> float:
    """MPJPE (mm) over whole validation trials (:func:`hmcli.train.evaluate.eval_items`),
    lifted the way ``hm lift`` runs the finished checkpoint: windows of the trained clip
    length and test-time flip (the figure ``hm eval --split val`` reports for it)."""
    from hmcli.io.checkpoint import LoadedModel, config_dict
    from hmcli.train.evaluate import EvalSetting, score_items

    net = unwrap(model)
    on_cpu = next(net.parameters()).device.type == "cpu"
    lifter = net if on_cpu else copy.deepcopy(net).cpu()  # hm lift's path runs on the CPU
    lm = LoadedModel(lifter, arch, config_dict(net), codec, meta={"train": cfg.to_dict()})
    try:
        return score_items(lm, items, EvalSetting(fps=cfg.fps, cameras=cfg.val_cameras), refiner).mpjpe
    finally:
        net.train()


@torch.no_grad()
def validate_mpm(model: nn.Module, items: list[dict], codec: PoseCodec, device: torch.device, seed: int) -> float:
    """Masked-reconstruction MSE (model units) over fixed validation windows and fixed masks."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for i in range(0, len(items), 8):
        batch = collate_windows(items[i : i + 8])
        x, _ = encode_batch(batch, codec)
        target = encode_clean_2d(batch, codec).to(device)
        masks = model.sample_masks(x.shape[0], x.shape[1], gen)
        if isinstance(model, MaskedPoseModel):
            recon = model(x.to(device), masks)
            tm, sm = masks
        else:  # PSTMOPretrain
            recon, tm, sm = model(x.to(device), masks=masks)
        losses.append(float(model.masked_mse(recon, target, tm.to(device), sm.to(device))))
    model.train()
    return float(np.mean(losses)) if losses else float("nan")


def _truncate_log(path: Path, step: int) -> float:
    """Make the metrics log the history of the run up to ``step``, where it is about to resume.

    Records logged after the last checkpoint are dropped (they are logged again), and so are those a
    restart superseded in older logs, and a line cut short by a kill. Returns the ``time_s`` logged at ``step`` (0 if none)."""
    if not path.exists():
        return 0.0
    keep: list[dict] = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # empty, or cut short when the process was killed mid-write
        while keep and keep[-1]["step"] >= rec["step"]:
            keep.pop()  # the run restarted from an earlier checkpoint here
        keep.append(rec)
    keep = [r for r in keep if r["step"] <= step]
    with atomic_write(path, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in keep)
    return float(keep[-1].get("time_s", 0.0)) if keep and keep[-1]["step"] == step else 0.0


def train(cfg: TrainConfig, resume: bool = False, on_step: Callable[[StepInfo], None] | None = None) -> dict:
    """Train per ``cfg``; returns a summary dict. Files go to ``cfg.out`` (rank 0 only)."""
    env = _Dist()
    try:
        return _train(cfg, env, resume, on_step)
    finally:
        env.close()


def _train(cfg: TrainConfig, env: _Dist, resume: bool, on_step) -> dict:
    amp = autocast_for(cfg.precision, env.device)
    torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // env.world))
    retain_freed_memory()  # long clips: reuse freed activation blocks instead of re-mapping them
    out = Path(cfg.out)
    last_path, best_path = out / "last.pt", out / "best.pt"
    if env.main:
        if not resume and last_path.exists():
            raise HMError(f"{out} already holds a run; use --resume to continue it or another --out")
    arch, model_cfg = make_config(cfg.model, **cfg.model_overrides)
    if hasattr(model_cfg, "fps"):
        model_cfg = dataclasses.replace(model_cfg, fps=cfg.fps)  # some configs are frozen
    codec = PoseCodec(input_norm=cfg.input_norm, location=cfg.input_location)
    if codec.location:
        if arch != "hummuss":
            raise HMError(f"input_location is supported for HumMUSS models, not '{arch}'")
        model_cfg = dataclasses.replace(model_cfg, in_dim=codec.in_channels)
    torch.manual_seed(cfg.seed)
    model = build_for_task(cfg, arch, model_cfg).to(env.device)
    window, _ = model_window(model)
    fixed_clip = int(model_cfg.frames) if arch == "pstmo" else None  # seq2frame: exactly one window
    if fixed_clip is None and window is not None and cfg.clip_max > window:
        raise HMError(f"{cfg.model}: clip_max={cfg.clip_max} exceeds the model's maxlen={window} "
                      f"(learned temporal positions); set clip_max<={window}")
    if cfg.recompute_layers:
        targets = [m for m in model.modules() if hasattr(m, "checkpoint_layers")]
        if not targets:
            raise HMError(f"recompute_layers is supported for HumMUSS models, not '{arch}'")
        for m in targets:
            m.checkpoint_layers = True
    mpm = cfg.task == "mpm"
    init_report = None
    if cfg.init_from and not resume:
        init_report = init_from_checkpoint(model, cfg.init_from)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    start, best = 0, float("inf")
    elapsed: float | None = 0.0  # training time before this process, for time_s
    if resume:
        obj = read_checkpoint(last_path)
        ts = obj.get("train_state")
        if ts is None:
            raise HMError(f"{last_path} holds no training state to resume from")
        try:
            model.load_state_dict(obj["state_dict"])
        except RuntimeError:
            raise HMError(f"{last_path} does not fit the model this config builds ({cfg.model}); "
                          f"resume with the run's own config.yaml") from None
        opt.load_state_dict(ts["optimizer"])
        sched.load_state_dict(ts["scheduler"])
        torch.set_rng_state(ts["torch_rng"])
        start, best = int(ts["step"]), float(ts["best"])
        elapsed = ts.get("time_s")  # None in checkpoints from before it was stored: taken from the log
    multi = arch == "pstmo" and not mpm  # P-STMO Stage II: single-frame + multi-frame outputs
    ddp_model: nn.Module = _ForwardMulti(model) if multi else model
    if env.enabled:
        ddp_model = nn.parallel.DistributedDataParallel(ddp_model, device_ids=[env.local_rank] if env.device.type == "cuda" else None)

    pairs = None  # read first: a missing file fails before the motion capture is loaded
    if cfg.data_rendered:
        from hmcli.data.rendered import load_rendered_pairs

        pairs = load_rendered_pairs(list(cfg.data_rendered), cfg.fps)
    val_seqs = load_split(cfg.data, "val", cfg.data_extra)
    final_fit = cfg.train_on == "train+val"  # the validation subjects join training; nothing is left to validate on
    seqs = load_split(cfg.data, "train", cfg.data_extra) + (val_seqs if final_fit else [])
    if final_fit:
        val_items: list[dict] = []
    elif cfg.val_mode == "lift":  # the trials, cameras and corruption of hm eval --split val
        from hmcli.train.evaluate import EvalSetting, eval_items

        val_items = eval_items(val_seqs, EvalSetting(fps=cfg.fps, cameras=cfg.val_cameras))
    else:
        val_items = make_eval_set(val_seqs, cfg.fps, seed=cfg.seed, clip_len=fixed_clip if mpm and fixed_clip else cfg.val_clip)
        if not val_items:
            val_items = make_eval_set(val_seqs, cfg.fps, seed=cfg.seed, clip_len=None)
    refiner = None
    if cfg.refine_model:
        from hmcli.refine.checkpoint import load_refiner

        refiner = load_refiner(cfg.refine_model)
    loss_fn = PoseLoss(lambda_vel=cfg.lambda_vel, lambda_reproj=cfg.lambda_reproj)
    data_desc = {
        "source": str(cfg.data),
        "format": "CMU ASF/AMC",
        "train_subjects": sorted({s.subject for s in seqs}),
        "val_subjects": [] if final_fit else list(VAL_SUBJECTS),
        "train_on": cfg.train_on,
        "test_subjects": list(TEST_SUBJECTS),
        "train_sequences": len(seqs),
        "fps": cfg.fps,
        "fps_aug": list(cfg.fps_aug),
        "acknowledgement": CMU_ACK,
    }
    if cfg.data_extra:  # only then: metadata of runs without extra data as before
        data_desc["extra_sources"] = [str(d) for d in cfg.data_extra]
    if pairs is not None:
        data_desc["rendered_pairs"] = {"files": [str(p) for p in cfg.data_rendered], "clips": len(pairs),
                                       "frames": pairs.frames, "share": cfg.rendered_p}
    meta_base = {"model_id": out.name, "data": data_desc, "train": cfg.to_dict(), "params": count_parameters(model),
                 "hardware": hardware_text(env)}
    if init_report is not None:
        meta_base["init_from"] = init_report
    if env.main:
        try:
            out.mkdir(parents=True, exist_ok=True)  # only now: a run that cannot start leaves nothing behind
        except OSError as e:
            raise HMError(f"cannot create the run folder {out}: {e.strerror or e}") from None
        dump_config(cfg, out / "config.yaml")
    logged = _truncate_log(out / "metrics.jsonl", start) if resume and env.main else 0.0
    log = open(out / "metrics.jsonl", "a") if env.main else None
    t0 = time.time() - float(logged if elapsed is None else elapsed)  # time_s counts the whole run, across resumes
    model.train()
    val = None
    try:
        for step in range(start, cfg.steps):
            batch, dt_scale, flip = _step_batch(cfg, seqs, step, env.rank, fixed_clip, pairs)
            if refiner is not None:
                batch = refine_batch(refiner, batch, float(refiner.model.cfg.fps) * dt_scale / cfg.fps)
            x, y = encode_batch(batch, codec)
            if mpm:
                y = encode_clean_2d(batch, codec)  # (B, F, J, 2)
            if flip:
                x, y = codec.flip_2d(x), flip_pose(y, codec.joint_set)
            x, y = x.to(env.device), y.to(env.device)
            # Forward passes under the run's precision; outputs back to float32 for the losses.
            if mpm:
                masks = model.sample_masks(x.shape[0], x.shape[1], _mpm_generator(cfg, step, env.rank))
                with amp:
                    if isinstance(model, MaskedPoseModel):
                        recon = ddp_model(x, masks, dt_scale)
                        tm, sm = masks
                    else:  # PSTMOPretrain
                        recon, tm, sm = ddp_model(x, masks=masks)
                loss = model.masked_mse(recon.float(), y, tm, sm)
                parts = {"mpm_mse": loss.detach()}
            elif multi:
                with amp:
                    one, many = ddp_model(x)  # (B, 1, J, 3), (B, F, J, 3)
                one, many = one.float(), many.float()
                k = model.cfg.output_frame
                l_one = mpjpe_loss(one, y[:, k : k + 1])
                l_many, many_parts = loss_fn(many, y, x[..., :3] if cfg.lambda_reproj else None)
                loss = l_one + cfg.lambda_multi * l_many
                parts = {"mpjpe": l_one.detach(), **{f"multi_{k2}": v for k2, v in many_parts.items()}, "total": loss.detach()}
            else:
                with amp:
                    pred = call_model(ddp_model, x, dt_scale)  # (B, F, J, 3)
                loss, parts = loss_fn(pred.float(), y, x[..., :3] if cfg.lambda_reproj else None)  # (u, v, conf)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            done = step + 1
            val = None
            if val_items and (done % cfg.eval_every == 0 or done == cfg.steps):
                if mpm:
                    val = validate_mpm(model, val_items, codec, env.device, cfg.seed)
                elif cfg.val_mode == "lift":
                    val = validate_lift(model, arch, val_items, codec, cfg, refiner)
                else:
                    val = validate(model, val_items, codec, env.device)
            info = StepInfo(done, cfg.steps, float(loss.detach()), {k: float(v) for k, v in parts.items()}, sched.get_last_lr()[0], val)
            if env.main:
                now = round(time.time() - t0, 2)  # training time so far, across resumes
                rec = {"step": done, "loss": info.loss, **{f"loss_{k}": v for k, v in info.parts.items()}, "lr": info.lr,
                       "clip": int(x.shape[1]), "dt_scale": dt_scale, "time_s": now}
                if val is not None:
                    rec["val_mpm_mse" if mpm else "val_mpjpe_mm"] = val
                log.write(json.dumps(rec) + "\n")
                log.flush()
                if val is not None and val < best:
                    best = val
                    save_checkpoint(best_path, model, arch, codec, {**meta_base, "step": done, ("val_mpm_mse" if mpm else "val_mpjpe_mm"): val},
                                    half=cfg.half_export)
                if done % cfg.save_every == 0 or done == cfg.steps:
                    ts = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "torch_rng": torch.get_rng_state(),
                          "step": done, "best": best, "time_s": now}
                    save_checkpoint(last_path, model, arch, codec, {**meta_base, "step": done}, train_state=ts)
            if on_step is not None and env.main:
                on_step(info)
    finally:
        if log is not None:
            log.close()
    summary = {"out": str(out), "steps": cfg.steps, "best_val_mpjpe_mm": best if val_items else None, "last_val_mpjpe_mm": val,
               "time_s": time.time() - t0, "params": count_parameters(model), "world_size": env.world}
    if mpm:
        summary = {**summary, "task": "mpm", "best_val_mpjpe_mm": None, "last_val_mpjpe_mm": None,
                   "best_val_mpm_mse": best if val_items else None, "last_val_mpm_mse": val}
    if init_report is not None:
        summary["init_from"] = init_report
    return summary
