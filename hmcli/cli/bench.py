"""``hm bench``: benchmarks that print comparable figures measured in one run.

Every subcommand prints a table (or ``--json``) and, with ``--out DIR``, writes
``DIR/<name>.json``, ``DIR/<name>.md`` and ``DIR/<name>.png``. Methods are timed
round-robin in the same run, so their ratios hold even on a busy machine.
"""

from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path

import typer

from hmcli.cli.common import EXIT_USAGE, cli_errors, echo_json, fail, parse_list, require

bench_app = typer.Typer(help="Benchmarks (ratios measured side by side in one run).", no_args_is_help=True)

_SET_HELP = "Model config override MODEL.field=value (repeatable), e.g. dstformer-lite-causal.dim=64."


def _timing_rules(repeats: int, budget: float, threads: int) -> tuple[tuple[bool, str], ...]:
    return ((repeats >= 1, f"--repeats must be at least 1, got {repeats}"),
            (budget >= 0, f"--budget must be >= 0 seconds, got {budget}"),
            (threads >= 0, f"--threads must be >= 0 (0: all cores), got {threads}"))


def _counts(text: str, option: str) -> list[int]:
    """A comma-separated list of positive integers (batch sizes, frame counts, factors)."""
    values = parse_list(text, int)
    require((bool(values) and min(values) >= 1, f"{option} must be positive integers, got '{text}'"))
    return values


def _threads(threads: int, retain_memory: bool = False) -> None:
    """Torch threads; with ``retain_memory``, freed blocks stay in the heap for reuse (see
    :mod:`hmcli.runtime`): the training step and offline throughput, which allocate the same
    large activations again and again. Not for streaming, whose many differently sized
    caches and windows fragment a heap that is never trimmed."""
    import os

    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)
    if retain_memory:
        from hmcli.runtime import retain_freed_memory

        retain_freed_memory()


def _finish(result: dict, json_out: bool, out: Path | None, name: str, md: bool = False) -> None:
    from hmcli.bench.report import print_result, to_markdown, write_outputs

    argv0 = Path(sys.argv[0]).name if sys.argv else ""
    if argv0 in ("hm", "main.py", "__main__.py"):  # the command line that made the result
        result.setdefault("command", shlex.join(["hm", *sys.argv[1:]]))
    if out is not None:
        paths = write_outputs(result, out, name)
        result.setdefault("files", paths)
    if json_out:
        echo_json(result)
        return
    if md:
        typer.echo(to_markdown(result))
    else:
        print_result(result)
    if out is not None:
        typer.echo("wrote " + ", ".join(result["files"]))


@bench_app.command("streaming")
@cli_errors
def streaming(
    models: str = typer.Option("hummuss-causal,dstformer-lite-causal,mixste-causal,pstmo-causal",
                               help="Causal presets, comma separated (HumMUSS: recurrent step; DSTformer: window "
                                    "recompute and KV cache; MixSTE: recompute; P-STMO: one window per frame). "
                                    "The recurrent step and the KV cache run with pre-packed (oneDNN) linears "
                                    "and again with plain ones."),
    batch: str = typer.Option("1,32", help="Batch sizes."),
    contexts: str = typer.Option("243,2430", help="Context lengths (frames streamed before the timed steps)."),
    repeats: int = typer.Option(20, help="Most timed steps per measurement (median)."),
    budget: float = typer.Option(10.0, help="Seconds of timed steps per method and batch size; slow methods get "
                                            "fewer steps (at least 1)."),
    no_probe: bool = typer.Option(False, "--no-probe", help="Skip the untimed first step that measures memory and FLOPs."),
    set_: list[str] = typer.Option(None, "--set", help=_SET_HELP),
    threads: int = typer.Option(0, help="torch threads (0: all cores)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    out: Path = typer.Option(None, "--out", "-o", help="Write streaming.json/.md/.png into this directory."),
) -> None:
    """Per-frame streaming latency of causal models at several contexts, with state / cache /
    activation memory and ratios against HumMUSS. Transformers beyond their max window are
    reported as n/a. With the defaults this takes several minutes on 2 cores: the B=32 window
    recompute of DSTformer-Lite / MixSTE (~1 min a step) gets one warm-up and one timed step
    (the row says so); use --batch 1 or --models to make it quicker."""
    import torch
    from rich.console import Console

    from hmcli.bench.presets import check_causal, parse_overrides
    from hmcli.bench.streaming_compare import streaming_compare
    from hmcli.bench.streaming import offline_causal_ms
    from hmcli.nn.registry import make_config

    require(*_timing_rules(repeats, budget, threads))
    batches, ctxs = _counts(batch, "--batch"), _counts(contexts, "--contexts")
    _threads(threads)
    names = parse_list(models)
    ov = parse_overrides(set_)
    check_causal(names, ov)
    con = Console(stderr=True)
    with con.status("streaming benchmark") as st:
        result = streaming_compare(names, batches, ctxs, repeats, budget,
                                   probe=not no_probe, overrides=ov, on_progress=st.update)
        offline = {}
        for m in names:
            if make_config(m)[0] == "hummuss" and not ov.get(m):
                st.update(f"{m}: offline causal forward, 243 frames")
                offline[m] = offline_causal_ms(m, 243, 1)
    result["offline_causal_243_ms"] = offline
    result["machine"]["torch_threads"] = torch.get_num_threads()
    _finish(result, json_out, out, "streaming")
    if not json_out:
        for m, ms in offline.items():
            typer.echo(f"offline causal forward, 243 frames, B=1: {m}: {ms:.1f} ms ({ms / 243:.2f} ms/frame)")


@bench_app.command("train")
@cli_errors
def train_cmd(
    models: str = typer.Option("hummuss,dstformer-lite", help="Presets, comma separated (16 M HumMUSS vs 16 M DSTformer-Lite)."),
    frames: str = typer.Option("27,81,243,1024", help="Clip lengths F."),
    batch: int = typer.Option(1, help="Batch size."),
    repeats: int = typer.Option(3, help="Most timed steps per measurement (median)."),
    budget: float = typer.Option(20.0, help="Seconds of timed steps per (model, F); slow ones get fewer (at least 1)."),
    no_probe: bool = typer.Option(False, "--no-probe", help="Skip the untimed warm-up step that counts FLOPs."),
    set_: list[str] = typer.Option(None, "--set", help=_SET_HELP),
    threads: int = typer.Option(0, help="torch threads (0: all cores)."),
    precision: str = typer.Option("fp32", help="Training precisions, comma separated: fp32, bf16 (as hm train precision=)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    out: Path = typer.Option(None, "--out", "-o", help="Write train.json/.md/.png into this directory."),
) -> None:
    """Forward + backward time of a training step per model, clip length and precision.
    Transformers get their positional table extended for F beyond 243 (said in the note)."""
    from rich.console import Console

    from hmcli.bench.presets import parse_overrides
    from hmcli.bench.train_compare import train_compare

    require((batch >= 1, f"--batch must be at least 1, got {batch}"), *_timing_rules(repeats, budget, threads))
    clip_lengths = _counts(frames, "--frames")
    precisions = tuple(dict.fromkeys(parse_list(precision)))
    require((bool(precisions), "--precision needs at least one of fp32, bf16"))
    _threads(threads, retain_memory=True)
    with Console(stderr=True).status("training-step benchmark") as st:
        result = train_compare(parse_list(models), clip_lengths, batch, repeats, budget, not no_probe,
                               overrides=parse_overrides(set_), on_progress=st.update,
                               precisions=precisions)
    _finish(result, json_out, out, "train")


@bench_app.command("throughput")
@cli_errors
def throughput_cmd(
    models: str = typer.Option("hummuss,dstformer-lite,mixste,pstmo", help="Presets, comma separated (offline, bidirectional)."),
    minutes: float = typer.Option(2.0, help="Length of the 2D sequence in minutes (HumMUSS runs it in one forward "
                                            "pass, twice: ~30 s per pass at 2 min on a quiet 2-core CPU; 10 takes ~5x)."),
    fps: float = typer.Option(30.0, help="Its frame rate."),
    repeats: int = typer.Option(3, help="Most timed units per model (median)."),
    budget: float = typer.Option(20.0, help="Seconds of timed units per model; slow ones get fewer (at least 1)."),
    set_: list[str] = typer.Option(None, "--set", help=_SET_HELP),
    threads: int = typer.Option(0, help="torch threads (0: all cores)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    out: Path = typer.Option(None, "--out", "-o", help="Write throughput.json/.md/.png into this directory."),
) -> None:
    """Offline frames/s over one long sequence, FLOPs per frame and this CPU's GFLOP/s."""
    from rich.console import Console

    from hmcli.bench.presets import parse_overrides
    from hmcli.bench.throughput_compare import throughput_compare

    require((0 < minutes < math.inf, f"--minutes must be a positive number, got {minutes}"),
            (0 < fps < math.inf, f"--fps must be a positive number, got {fps}"), *_timing_rules(repeats, budget, threads))
    _threads(threads, retain_memory=True)
    with Console(stderr=True).status("throughput benchmark") as st:
        result = throughput_compare(parse_list(models), minutes, fps, repeats, budget,
                                    overrides=parse_overrides(set_), on_progress=st.update)
    _finish(result, json_out, out, "throughput")


@bench_app.command("accuracy")
@cli_errors
def accuracy_cmd(
    data: str = typer.Option("../shared/data/cmu-amc", help="Motion capture directory (CMU ASF/AMC layout)."),
    archs: str = typer.Option("hummuss,dstformer,mixste,pstmo", help="Architectures, comma separated."),
    variants: str = typer.Option("bidirectional,causal", help="bidirectional and/or causal."),
    steps: int = typer.Option(300, help="Training steps per run (same for every architecture)."),
    batch_size: int = typer.Option(8, help="Training batch size."),
    clip_min: int = typer.Option(27, help="Shortest training clip (seq2seq models)."),
    clip_max: int = typer.Option(81, help="Longest training clip (seq2seq models)."),
    lr: float = typer.Option(1e-3, help="Peak learning rate."),
    eval_every: int = typer.Option(50, help="Validate every N steps (convergence curve)."),
    seed: int = typer.Option(0, help="Seed of every run and of the test cameras."),
    subsample: str = typer.Option("1,2,4,8", help="Test at training fps / k for these k."),
    cameras: int = typer.Option(2, help="Virtual cameras per test sequence."),
    split: str = typer.Option("test", help="Held-out split: test or val."),
    skip: str = typer.Option("", help="Runs to leave out, comma separated ARCH-VARIANT, e.g. mixste-causal."),
    set_: list[str] = typer.Option(None, "--set", help="Model override ARCH.field=value (repeatable), e.g. dstformer.dim=64."),
    runs: Path = typer.Option(None, help="Where the training runs go (default OUT/runs); an existing run is reused."),
    threads: int = typer.Option(0, help="torch threads (0: all cores)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    out: Path = typer.Option(Path("bench_results"), "--out", "-o", help="Writes accuracy.json/.md/.png here."),
) -> None:
    """Train every architecture with the same budget, then held-out MPJPE / P-MPJPE at several
    frame rates plus each run's validation curve."""
    from rich.console import Console

    from hmcli.bench.accuracy import AccuracyBudget, accuracy_compare
    from hmcli.bench.presets import parse_overrides

    require((steps >= 1, f"--steps must be at least 1, got {steps}"),
            (batch_size >= 1, f"--batch-size must be at least 1, got {batch_size}"),
            (1 <= clip_min <= clip_max, f"need 1 <= --clip-min <= --clip-max, got {clip_min} and {clip_max}"),
            (lr > 0, f"--lr must be a positive number, got {lr}"),
            (eval_every >= 1, f"--eval-every must be at least 1, got {eval_every}"),
            (seed >= 0, f"--seed must be >= 0, got {seed}"),
            (cameras >= 1, f"--cameras must be at least 1, got {cameras}"),
            (split in ("test", "val"), f"--split must be test or val, got '{split}'"),
            (threads >= 0, f"--threads must be >= 0 (0: all cores), got {threads}"))
    factors = _counts(subsample, "--subsample")
    _threads(threads)
    budget = AccuracyBudget(steps=steps, batch_size=batch_size, clip_min=clip_min, clip_max=clip_max, lr=lr,
                            eval_every=eval_every, seed=seed, threads=threads)
    with Console(stderr=True).status("accuracy benchmark") as st:
        result = accuracy_compare(data, parse_list(archs), parse_list(variants), budget,
                                  subsample=factors, cameras=cameras, split=split,
                                  overrides=parse_overrides(set_), runs_dir=runs or out / "runs",
                                  on_progress=st.update, skip=parse_list(skip) if skip else None)
    _finish(result, json_out, out, "accuracy")


@bench_app.command("mesh")
@cli_errors
def mesh_cmd(
    body_models: str = typer.Option("synthetic,smpl,anny", "--body-models",
                                    help="Body models, comma separated: synthetic (SMPL layout, no files needed), smpl, smplx, anny."),
    frames: int = typer.Option(300, help="Frames of the synthetic clip (300 = 10 s at 30 fps)."),
    repeats: int = typer.Option(3, help="Timed repeats per stage (median)."),
    video: str = typer.Option(None, help="Also time detection + lifting + mesh end to end on this video."),
    loop_sample: bool = typer.Option(False, "--e2e", help="End to end on a 10 s, 30 fps clip made by looping the bundled sample video."),
    threads: int = typer.Option(0, help="torch threads (0: all cores)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    out: Path = typer.Option(None, "--out", "-o", help="Write mesh.json/.md/.png into this directory."),
) -> None:
    """Frames/s of hm mesh per body model: IK alone, IK + default refinement, full mesh; optionally end to end."""
    import tempfile

    from rich.console import Console

    from hmcli.bench.mesh import loop_video, mesh_speed

    require((frames >= 3, f"--frames must be at least 3, got {frames}"), *_timing_rules(repeats, 0, threads),
            (video is None or Path(video).is_file(), f"--video {video}: no such file"))
    _threads(threads)
    with tempfile.TemporaryDirectory() as tmp, Console(stderr=True).status("mesh benchmark") as st:
        if loop_sample and video is None:
            video = loop_video(Path(tmp) / "sample_10s.mp4", frames=300)
        result = mesh_speed(parse_list(body_models), frames, repeats, video, on_progress=st.update)
    _finish(result, json_out, out, "mesh")



@bench_app.command("mesh-quality")
@cli_errors
def mesh_quality_cmd(
    body_models: str = typer.Option("synthetic,smpl,anny", "--body-models",
                                    help="Round-trip body models, comma separated: synthetic, smpl, smplx, anny "
                                         "(missing ones get a 'not available' row)."),
    frames: int = typer.Option(300, help="Round trip: frames per case (CMU: split over --cmu-clips clips)."),
    cmu_clips: int = typer.Option(3, "--cmu-clips", help="Round trip: CMU test clips (different actions)."),
    chain_frames: int = typer.Option(1500, "--chain-frames", help="Full chain: whole CMU test sequences until about "
                                                                  "this many frames at --fps (0: no chain)."),
    chain_body: str = typer.Option("auto", "--chain-body", help="Body model of the chain and the videos (auto: SMPL "
                                                                "if found, else anny)."),
    videos: str = typer.Option("../shared/data/videos/pose_1.mp4,../shared/data/videos/pose_squats.mp4,"
                               "sample_videos/jumping_jacks.mp4",
                               help="Real videos, comma separated ('' or none: skip)."),
    fps: float = typer.Option(30.0, help="CMU is resampled to this rate."),
    iters: int = typer.Option(None, help="Refinement iterations (default: FitOptions' default)."),
    shape_std: float = typer.Option(0.7, "--shape-std", help="Round trip: known shapes betas ~ N(0, std^2)."),
    seed: int = typer.Option(0, help="Seed of shapes, prior draws and cameras."),
    data: str = typer.Option("../shared/data/cmu-amc", help="CMU mocap directory ('' : prior draws only, no chain)."),
    split: str = typer.Option("test", help="CMU subjects of the round trip and the chain: test (09, 49) or val "
                                           "(02, 55: tune fitting options on these, never on test)."),
    lifter: str = typer.Option(None, help="Lifter checkpoint (default: the shipped model)."),
    threads: int = typer.Option(0, help="torch threads (0: all cores)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    out: Path = typer.Option(None, "--out", "-o", help="Write mesh-quality.json/.md/.png into this directory."),
) -> None:
    """Mesh quality on truths hm can make: round trip of known poses and shapes (MPJPE, rotation
    error, PVE; shape known / estimated; IK alone / refined), the full chain noisy 2D -> lifter ->
    fit on held-out CMU subjects against a fit to the clean ground truth, and reprojection and
    jitter on real videos. About 5 minutes on 2 cores with the defaults."""
    from rich.console import Console

    from hmcli.bench.mesh_quality import QualitySettings, mesh_quality

    require((frames >= 3, f"--frames must be at least 3, got {frames}"),
            (cmu_clips >= 1, f"--cmu-clips must be at least 1, got {cmu_clips}"),
            (chain_frames >= 0, f"--chain-frames must be >= 0, got {chain_frames}"),
            (0 < fps < math.inf, f"--fps must be a positive number, got {fps}"),
            (iters is None or iters >= 0, f"--iters must be >= 0, got {iters}"),
            (shape_std >= 0, f"--shape-std must be >= 0, got {shape_std}"),
            (seed >= 0, f"--seed must be >= 0, got {seed}"),
            (split in ("test", "val"), f"--split must be test or val, got {split!r}"),
            (threads >= 0, f"--threads must be >= 0 (0: all cores), got {threads}"))
    _threads(threads)
    settings = QualitySettings(frames=frames, cmu_clips=cmu_clips, chain_frames=chain_frames, fps=fps, iters=iters,
                               shape_std=shape_std, seed=seed, data=data, split=split)
    vids = [] if videos.strip().lower() in ("", "none") else parse_list(videos)
    with Console(stderr=True).status("mesh quality benchmark") as st:
        result = mesh_quality(parse_list(body_models), settings, chain_body if chain_frames > 0 else None, vids,
                              lifter, on_progress=st.update)
    _finish(result, json_out, out, "mesh-quality")

@bench_app.command("action")
@cli_errors
def action_cmd(
    model: str = typer.Option(None, help="Action model (default: the shipped bidirectional one)."),
    causal_model: str = typer.Option(None, "--causal-model", help="Causal action model (default: the shipped one)."),
    repeats: int = typer.Option(20, help="Timed repeats (median)."),
    threads: int = typer.Option(1, help="torch threads (0: all cores)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    out: Path = typer.Option(None, "--out", "-o", help="Write action.json/.md/.png into this directory."),
) -> None:
    """The action classifier's cost per 2 s window and per streamed frame (vs the lifter's step)."""
    from hmcli.bench.action import action_speed

    require(*_timing_rules(repeats, 0, threads))
    _threads(threads)
    _finish(action_speed(model, causal_model, repeats), json_out, out, "action")


@bench_app.command("refine")
@cli_errors
def refine_cmd(
    refiner: str = typer.Option(None, "--refiner", show_default=False, help="2D refiner (default: the shipped refine2d-cmu)."),
    model: list[str] = typer.Option(None, "--model", "-m", show_default=False,
                                    help="Lifters to score (repeat; 'causal': the shipped causal one). Default: both shipped ones."),
    data: str = typer.Option("../shared/data/cmu-amc", help="Motion capture directory (CMU ASF/AMC layout)."),
    camera_kind: str = typer.Option("standard", "--camera-kind", help="Camera kinds, comma-separated, or all."),
    corrupt_model: str = typer.Option("plain,blazepose", "--corrupt-model", help="2D error models, comma-separated."),
    cameras: int = typer.Option(2, help="Virtual cameras per test sequence."),
    threads: int = typer.Option(1, help="torch threads (0: all cores)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    out: Path = typer.Option(None, "--out", "-o", help="Write refine.json/.md/.png into this directory."),
) -> None:
    """The temporal 2D refiner on held-out subjects: 2D error and the lifters' MPJPE without and with it,
    per 2D error model and camera kind, and its cost per frame next to the lifter's."""
    from rich.console import Console

    from hmcli.bench.refine import refine_bench
    from hmcli.data.camera import KIND_NAMES, check_camera_kind
    from hmcli.data.corrupt import CORRUPT_MODELS

    kinds = list(KIND_NAMES) if camera_kind == "all" else [k.strip() for k in camera_kind.split(",") if k.strip()]
    corrupts = [c.strip() for c in corrupt_model.split(",") if c.strip()]
    try:
        for k in kinds:
            check_camera_kind(k)
    except ValueError as e:
        fail(f"--camera-kind: {e}; or all", EXIT_USAGE)
    bad = [c for c in corrupts if c not in CORRUPT_MODELS]
    require((bool(kinds) and bool(corrupts), "give at least one camera kind and 2D error model"),
            (not bad, f"--corrupt-model must be among {', '.join(CORRUPT_MODELS)}, got '{bad[0] if bad else ''}'"),
            (cameras >= 1, f"--cameras must be at least 1, got {cameras}"),
            (threads >= 0, f"--threads must be >= 0 (0: all cores), got {threads}"))
    _threads(threads)
    with Console(stderr=True).status("refine benchmark") as st:
        result = refine_bench(refiner, tuple(model) if model else (None, "causal"), data, tuple(kinds), tuple(corrupts),
                              cameras, say=lambda m: st.console.log(m))
    _finish(result, json_out, out, "refine", md=True)


@bench_app.command("batch")
@cli_errors
def batch_cmd(
    videos: list[str] = typer.Argument(None, metavar="[VIDEO...]", show_default=False,
                                       help="Clips (default: the bundled sample and ../shared/data/videos/pose_1.mp4, pose_squats.mp4)."),
    size: str = typer.Option("1280x720", help="Make every clip WxH first (scaled to the height, padded); 'original' keeps them."),
    copies: int = typer.Option(2, help="Copies of each clip in the batch."),
    repeats: int = typer.Option(1, help="Runs of each method, alternating (the fastest counts)."),
    model: str = typer.Option(None, "--model", "-m", show_default=False, help="Lifter (default: hm lift's)."),
    detector: str = typer.Option("mediapipe", "--detector", help="2D detector."),
    threads: int = typer.Option(1, help="torch threads while lifting (0: all cores; 1, the batch's default)."),
    max_persons: int = typer.Option(None, "--max-persons", show_default=False,
                                    help="As hm lift's (default: its default; 1: the one-person path)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Videos/hour and frames/s of a batch (hm lift DIR --out-dir OUT) end to end: overlapped as hm lift
    runs it (decode ahead of the detector; lift and write one video while the next is detected),
    decoding ahead only, and in turn."""
    from rich.console import Console

    from hmcli.bench.batch import DEFAULT_VIDEOS, batch_throughput

    dims = None
    if size != "original":
        parts = size.lower().split("x")
        require((len(parts) == 2 and all(p.isdigit() and 16 <= int(p) <= 8192 for p in parts),
                 f"--size takes WxH (e.g. 1280x720) or 'original', got {size!r}"))
        dims = (int(parts[0]), int(parts[1]))
    require((copies >= 1, f"--copies must be at least 1, got {copies}"), *_timing_rules(repeats, 0, threads),
            (max_persons is None or max_persons >= 1, f"--max-persons must be at least 1, got {max_persons}"))
    _threads(threads)
    with Console(stderr=True).status("batch benchmark") as st:
        result = batch_throughput(videos or list(DEFAULT_VIDEOS), dims, copies, repeats, model, detector,
                                  lift_threads=threads or None, on_progress=st.update, max_persons=max_persons)  # fmt: skip
    _finish(result, json_out, None, "batch")


@bench_app.command("multi-person")
@cli_errors
def multi_person_cmd(
    scenes: str = typer.Option("all", help="Scenes, comma separated: cross-2, cross-2-hide, cross-3-leave, "
                                           "gone-long (all: every one)."),
    frames: int = typer.Option(240, help="Frames per scene at 30 fps (240 = 8 s; clips must be this long)."),
    seed: int = typer.Option(0, help="Seed of the clip choice, the corruption and the detection order."),
    data: str = typer.Option("../shared/data/cmu-amc", help="CMU mocap directory (held-out subjects 09, 49)."),
    causal: bool = typer.Option(True, "--causal/--no-causal", help="Also lift with the shipped causal model."),
    threads: int = typer.Option(0, help="torch threads (0: all cores)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    out: Path = typer.Option(None, "--out", "-o", help="Write multi-person.json/.md/.png into this directory."),
) -> None:
    """Synthetic multi-person scenes from held-out CMU motion (crossing paths, one leaving and
    returning, one gone longer than the tracker keeps it): id switches, fragments, coverage and
    false tracks of hm's tracker, and per-person MPJPE of the tracks lifted vs each person
    lifted alone."""
    from rich.console import Console

    from hmcli.bench.multi_person import SCENES, multi_person_bench

    require((frames >= 60, f"--frames must be at least 60, got {frames}"),
            (seed >= 0, f"--seed must be >= 0, got {seed}"),
            (threads >= 0, f"--threads must be >= 0 (0: all cores), got {threads}"))
    names = list(SCENES) if scenes.strip().lower() == "all" else parse_list(scenes)
    require((bool(names), "--scenes needs at least one scene"))
    _threads(threads)
    with Console(stderr=True).status("multi-person benchmark") as st:
        result = multi_person_bench(data, names, frames, seed, causal, on_progress=st.update)
    _finish(result, json_out, out, "multi-person")


@bench_app.command("truth-free")
@cli_errors
def truth_free_cmd(
    videos: list[str] = typer.Argument(None, metavar="[VIDEO...]", show_default=False,
                                       help="Clips (default: sample_videos/* and ../shared/data/videos/* where present)."),
    model: str = typer.Option(None, "--model", "-m", show_default=False,
                              help="Bidirectional lifter (default: the shipped one); 'none' leaves it out."),
    causal_model: str = typer.Option(None, "--causal-model", show_default=False,
                                     help="Causal lifter (default: the shipped one); 'none' leaves it out."),
    detector: str = typer.Option("mediapipe", "--detector", help="2D detector; it must give 3D world landmarks."),
    blazepose_map: str = typer.Option("cmu", "--blazepose-map",
                                      help="BlazePose -> H36M-17 map for MediaPipe's 3D: cmu (the lifter's input map) or midpoints."),
    up: str = typer.Option("camera", help="Up axis for foot skating: camera (-y) or spine (mean pelvis -> thorax)."),
    margin: float = typer.Option(0.03, help="Foot contact / level margin, metres."),
    max_frames: int = typer.Option(None, "--max-frames", show_default=False, help="Only the first N frames of each clip."),
    threads: int = typer.Option(1, help="torch threads (0: all cores)."),
    refine: str = typer.Option(None, "--refine", show_default=False,
                               help="Also run each hm lifter after this 2D refiner (path or shipped name, e.g. refine2d-cmu)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    md_out: bool = typer.Option(False, "--md", help="Print the markdown table instead of the rich one."),
    out: Path = typer.Option(None, "--out", "-o", help="Write truth-free.json/.md/.png into this directory."),
) -> None:
    """Truth-free quality on real clips: bone-length stability, left/right symmetry, jitter, foot
    skating of hm's bidirectional and causal lifters and of MediaPipe's own 3D (BlazePose world
    landmarks, mapped to H36M-17), and their agreement. Detection runs once per clip."""
    from rich.console import Console

    from hmcli.bench.truth_free_bench import default_videos, truth_free_bench

    require((blazepose_map in ("cmu", "midpoints"), f"--blazepose-map must be cmu or midpoints, got {blazepose_map!r}"),
            (up in ("camera", "spine"), f"--up must be camera or spine, got {up!r}"),
            (0 <= margin < math.inf, f"--margin must be >= 0 metres, got {margin}"),
            (max_frames is None or max_frames >= 3, f"--max-frames must be at least 3, got {max_frames}"),
            (threads >= 0, f"--threads must be >= 0 (0: all cores), got {threads}"),
            (not (json_out and md_out), "--json and --md are exclusive"))
    models = [(label, None if m is None else m, causal)
              for label, m, causal in (("hm bidirectional", model, False), ("hm causal", causal_model, True))
              if m is None or m.lower() != "none"]  # fmt: skip
    clips = list(videos) if videos else default_videos()
    require((bool(clips), "no videos given and none found in sample_videos/ or ../shared/data/videos/"))
    _threads(threads)
    with Console(stderr=True).status("truth-free benchmark") as st:
        result = truth_free_bench(clips, models, detector, blazepose_map, up, margin, max_frames, on_progress=st.update,
                                  refiner=refine)
    _finish(result, json_out, out, "truth-free", md=md_out)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


#: Options the rendered benchmarks share (typer reads an Option default wherever it is declared).
_HELD_OUT_DATA = typer.Option("../shared/data/cmu-amc", help="CMU mocap directory (held-out subjects 09, 49).")
_RENDER_KINDS = typer.Option("framed", "--camera-kind",
                             help="Camera kinds, comma-separated, or all: framed (whole body in a 1280x720 frame), "
                                  "standard, ceiling, phone, webcam, sports, handheld.")


def _rendered_options(camera_kind: str, threads: int, json_out: bool, md_out: bool, renders: str | None) -> list[str]:
    """The camera kinds of the rendered benchmarks' ``--camera-kind`` (or all), after checking their common
    options (one-line usage errors); sets the torch threads."""
    from hmcli.bench.rendered import camera_kinds

    kinds = list(camera_kinds()) if camera_kind.strip() == "all" else parse_list(camera_kind)
    bad = [k for k in kinds if k not in camera_kinds()]
    require((bool(kinds), "--camera-kind needs at least one kind"),
            (not bad, f"--camera-kind: unknown kind '{bad[0] if bad else ''}' (known: {', '.join(camera_kinds())}; or all)"),
            (threads >= 0, f"--threads must be >= 0 (0: all cores), got {threads}"),
            (not (json_out and md_out), "--json and --md are exclusive"),
            (renders is None or renders.endswith(".npz"), f"--renders must name a .npz file, got {renders!r}"))
    _threads(threads)
    return kinds


@bench_app.command("action-rendered")
@cli_errors
def action_rendered_cmd(
    model: list[str] = typer.Option(None, "--model", "-m", show_default=False,
                                    help="Action classifiers to score (repeat; 'causal': the shipped causal one). "
                                         "Default: both shipped ones."),
    renders: str = typer.Option(None, "--renders", show_default=False,
                                help="Keep the rendered windows in this .npz (reused when it exists; kinds it lacks are rendered and added)."),
    data: str = _HELD_OUT_DATA,
    camera_kind: str = _RENDER_KINDS,
    threads: int = typer.Option(1, help="torch threads (0: all cores)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    md_out: bool = typer.Option(False, "--md", help="Print the markdown tables instead of the rich one."),
    out: Path = typer.Option(None, "--out", "-o", help="Write action-rendered.json/.md/.png into this directory."),
) -> None:
    """The action classifiers on real BlazePose 2D of rendered held-out CMU motion (known labels): balanced
    accuracy, top-1 and confusion next to the synthetic-2D figures of their cards. Needs the mesh extra
    (the Anny body) and MediaPipe; rendering the 111 windows takes about 6 min per camera kind."""
    from rich.console import Console

    from hmcli.bench.action_rendered import action_rendered_bench

    kinds = _rendered_options(camera_kind, threads, json_out, md_out, renders)
    with Console(stderr=True).status("action-rendered benchmark") as st:
        result = action_rendered_bench(tuple(model) if model else (None, "causal"), renders, data, tuple(kinds),
                                       say=lambda m: st.console.log(m))
    _finish(result, json_out, out, "action-rendered", md=md_out)


@bench_app.command("rendered")
@cli_errors
def rendered_cmd(
    model: list[str] = typer.Option(None, "--model", "-m", show_default=False,
                                    help="Lifters to score (repeat; 'causal': the shipped causal one). Default: both shipped ones."),
    renders: str = typer.Option(None, "--renders", show_default=False,
                                help="Keep the rendered clips in this .npz (reused when it exists; kinds it lacks are rendered and added)."),
    data: str = _HELD_OUT_DATA,
    camera_kind: str = _RENDER_KINDS,
    threads: int = typer.Option(1, help="torch threads (0: all cores)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    md_out: bool = typer.Option(False, "--md", help="Print the markdown tables instead of the rich one."),
    out: Path = typer.Option(None, "--out", "-o", help="Write rendered.json/.md/.png into this directory."),
) -> None:
    """hm's 3D against the detector's own 3D (MediaPipe's world landmarks) on rendered held-out CMU
    motion, where the truth is known: MPJPE and P-MPJPE per camera kind, model, joint and clip. Needs the
    mesh extra (the Anny body) and MediaPipe; rendering takes about 1.5-3 min per camera kind."""
    from rich.console import Console

    from hmcli.bench.rendered import rendered_bench

    kinds = _rendered_options(camera_kind, threads, json_out, md_out, renders)
    with Console(stderr=True).status("rendered benchmark") as st:
        result = rendered_bench(tuple(model) if model else (None, "causal"), renders, data, tuple(kinds),
                                say=lambda m: st.console.log(m))
    _finish(result, json_out, out, "rendered", md=md_out)
