"""``hm train``: train a lifter (single process, or multi-GPU/multi-node under torchrun)."""

from __future__ import annotations

from pathlib import Path

import typer

from hmcli.cli.common import EXIT_USAGE, cli_errors, echo_json, fail


def register(app: typer.Typer) -> None:
    @app.command(context_settings={"allow_extra_args": False})
    @cli_errors
    def train(
        overrides: list[str] = typer.Argument(None, help="key=value overrides, e.g. steps=500 lr=3e-4 model.dim=64"),
        config: Path = typer.Option(None, "--config", "-c", help="YAML or TOML config file."),
        model: str = typer.Option(None, "--model", "--arch", help="Preset or architecture (hm info lists them)."),
        task: str = typer.Option(None, help="Training task: pose3d, mpm (masked pose pre-training; hummuss, pstmo), action (an action classifier on a lifter backbone; --data: CMU mocap, an NTU .skeleton folder, a pyskl .pkl or a labels.csv), or refine2d (the temporal 2D refiner of hm lift --refine)."),
        init_from: str = typer.Option(None, "--init-from", help="Initialise from this checkpoint's matching weights "
                                                                   "(e.g. an mpm run's last.pt)."),
        data: str = typer.Option(None, help="Motion capture directory (CMU ASF/AMC layout)."),
        out: str = typer.Option(None, "--out", "-o", help="Run directory (config, metrics.jsonl, checkpoints)."),
        steps: int = typer.Option(None, help="Optimisation steps."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out exactly where it stopped, "
                                                               "with the run's own config.yaml."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
        json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """Train a 2D->3D lifter. Defaults < --config file < options < key=value overrides.

        Multi-GPU / multi-node: torchrun --nproc-per-node 4 -m hmcli.cli.main train ..."""
        if task == "action":
            _train_action(overrides, config, model, data, out, steps, init_from, resume, quiet, json_out)
            return
        if task == "refine2d" or (task is None and config is not None and _config_task(config) == "refine2d"):
            _train_refine(overrides, config, model, data, out, steps, init_from, resume, quiet, json_out)
            return
        from hmcli.train.config import resolve_config, resume_config
        from hmcli.train.trainer import train as run

        opts = dict(model=model, task=task, data=data, out=out, steps=steps, init_from=init_from)
        if resume and config is not None:
            fail("--resume continues with the run's own config.yaml; drop --config (key=value still applies)", EXIT_USAGE)
        cfg = resume_config(overrides, **opts) if resume else resolve_config(config, overrides, **opts)
        if quiet:
            summary = run(cfg, resume=resume)
        else:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            cols = (TextColumn("[bold]train"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("val {task.fields[val]}"),
                    TimeElapsedColumn(), TimeRemainingColumn())
            with Progress(*cols, transient=False) as prog:
                tid = prog.add_task("train", total=cfg.steps, loss=float("nan"), val="-")
                state = {"val": "-", "first": True}

                def on_step(info):
                    if state.pop("first", False):  # a resumed run: elapsed time and ETA from here
                        prog.reset(tid, completed=info.step - 1)
                    if info.val_mpjpe is not None:
                        state["val"] = f"{info.val_mpjpe:.4f} mse" if cfg.task == "mpm" else f"{info.val_mpjpe:.1f} mm"
                    prog.update(tid, completed=info.step, loss=info.loss, val=state["val"])

                summary = run(cfg, resume=resume, on_step=on_step)
        if json_out:
            echo_json(summary)
            return
        if summary.get("init_from"):
            r = summary["init_from"]
            typer.echo(f"initialised from {r['path']}: {r['loaded']} tensors loaded, {r['skipped']} skipped, "
                       f"{r['not_initialised']} of the model's left at their initial values")
        mpm = summary.get("task") == "mpm"
        if summary.get("best_val_mpm_mse" if mpm else "best_val_mpjpe_mm") is None:
            best = "no validation (train_on=train+val: a final fit; its checkpoint is last.pt)"
        elif mpm:
            best = f"best val masked-2D MSE {summary['best_val_mpm_mse']:.4f}"
        else:
            best = f"best val MPJPE {summary['best_val_mpjpe_mm']:.1f} mm"
        typer.echo(f"done: {summary['steps']} steps in {summary['time_s']:.0f} s; {best}; checkpoints in {summary['out']}")


def _train_action(overrides, config, model, data, out, steps, init_from, resume, quiet, json_out) -> None:
    from hmcli.action.train import OptionError, action_config, data_kind, train_action

    if resume:
        fail("--resume is for lifter runs; action runs are short and restart from their init", EXIT_USAGE)
    try:
        cfg = action_config(overrides, config, backbone=model, data=data, out=out, steps=steps, init_from=init_from,
                            kind=data_kind(data))
    except OptionError as e:
        fail(str(e), EXIT_USAGE)
    state = {"last": ""}

    def on_step(step: int, loss: float, _):
        if quiet:
            return
        msg = f"features {-step}/{cfg.feature_windows}" if step < 0 else f"fine-tune step {step}/{cfg.steps} loss {loss:.3f}"
        if msg != state["last"]:
            typer.echo(f"\r{msg}   ", err=True, nl=False)
            state["last"] = msg

    summary = train_action(cfg, on_step=on_step)
    if not quiet:
        typer.echo("", err=True)
    if json_out:
        echo_json(summary)
        return
    t = summary.get("test")
    res = (f"held-out top-1 {100 * t['top1']:.1f} %, balanced accuracy {100 * t['balanced_accuracy']:.1f} % over "
           f"{t['windows']} windows" if t else "no test split")
    typer.echo(f"done: action classifier ({len(summary['classes'])} classes) in {summary['time_s']:.0f} s; {res}; "
               f"checkpoint {summary['out']}/last.pt")


def _config_task(config: Path) -> str | None:
    """The ``task:`` a YAML config names (None when it cannot be read: the lifter path reports that)."""
    import yaml

    try:
        loaded = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, RecursionError, yaml.YAMLError):
        return None
    return loaded.get("task") if isinstance(loaded, dict) else None


def _train_refine(overrides, config, model, data, out, steps, init_from, resume, quiet, json_out) -> None:
    from hmcli.refine.train import RefineOptionError, refine_config, train_refiner

    if resume or model is not None or init_from is not None:
        fail("--task refine2d trains the 2D refiner from scratch; --resume, --model and --init-from are for lifters "
             "(model.dim=... sets its size)", EXIT_USAGE)
    try:
        cfg = refine_config(overrides, config, data=data, out=out, steps=steps)
    except RefineOptionError as e:
        fail(str(e), EXIT_USAGE)

    def on_step(step: int, loss: float, val) -> None:
        if not quiet and (step % 50 == 0 or val is not None or step == cfg.steps):
            extra = f", validation {val:.2f}" if val is not None else ""
            typer.echo(f"\rrefine2d step {step}/{cfg.steps} loss {loss:.4f}{extra}   ", err=True, nl=val is not None)

    summary = train_refiner(cfg, on_step=on_step)
    if not quiet:
        typer.echo("", err=True)
    if json_out:
        echo_json(summary)
        return
    what, unit = (("lift MPJPE", " mm") if summary["metric"] == "val_lift_mpjpe_mm" else ("2D error", " % of height"))
    typer.echo(f"done: 2D refiner ({summary['parameters']:,} parameters), {summary['steps']} steps in "
               f"{summary['time_s']:.0f} s; validation {what} {summary['val_input']:.2f}{unit} at the start, "
               f"{summary['best_val']:.2f}{unit} refined (step {summary['best_step']}); checkpoints in {summary['out']}")
