"""``hm bench``: benchmarks that print comparable figures measured in one run."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from hmcli.cli.common import cli_errors, echo_json, parse_list

bench_app = typer.Typer(help="Benchmarks (ratios measured side by side in one run).", no_args_is_help=True)


@bench_app.command("streaming")
@cli_errors
def streaming(
    models: str = typer.Option("hummuss-causal,hummuss-small-causal", help="Causal presets, comma separated."),
    batch: str = typer.Option("1,32", help="Batch sizes."),
    contexts: str = typer.Option("243,2430", help="Context lengths (frames streamed before the timed steps)."),
    repeats: int = typer.Option(20, help="Timed steps per measurement (median)."),
    threads: int = typer.Option(0, help="torch threads (0: all cores)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    out: Path = typer.Option(None, "--out", "-o", help="Also write the JSON here."),
) -> None:
    """Per-frame streaming latency at several contexts, state size, offline causal forward."""
    import os

    import torch

    from hmcli.bench.common import machine
    from hmcli.bench.streaming import hummuss_streaming, offline_causal_ms

    torch.set_num_threads(threads or os.cpu_count() or 1)
    rows, offline = [], {}
    from rich.console import Console

    con = Console(stderr=True)
    for m in parse_list(models):
        with torch.device("meta"):
            from hmcli.nn.registry import build

            if not build(m).cfg.causal:
                raise KeyError(f"'{m}' is not a causal model; streaming needs a causal preset")
        for b in parse_list(batch, int):
            with con.status(f"{m} B={b}") as st:
                rows += hummuss_streaming(m, b, parse_list(contexts, int), repeats, on_progress=st.update)
        offline[m] = offline_causal_ms(m, 243, 1)
    ratios = {}
    cs = parse_list(contexts, int)
    for m in parse_list(models):
        for b in parse_list(batch, int):
            base = [r for r in rows if r.model == m and r.batch == b and r.context == cs[0]]
            for r in rows:
                if r.model == m and r.batch == b and r.context != cs[0] and base:
                    ratios[f"{m} B={b}: step@{r.context} / step@{cs[0]}"] = r.step_ms / base[0].step_ms
    result = {
        "benchmark": "streaming",
        "machine": machine(),
        "rows": [r.to_dict() for r in rows],
        "offline_causal_243_ms": offline,
        "ratios": ratios,
    }
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
    if json_out:
        echo_json(result)
        return
    from rich.table import Table

    t = Table(title=f"Streaming, per-frame latency (median of {repeats} steps, {torch.get_num_threads()} threads)")
    for col in ("model", "params", "B", "context", "step ms", "state"):
        t.add_column(col)
    for r in rows:
        t.add_row(r.model, f"{r.params_m:.2f} M", str(r.batch), str(r.context), f"{r.step_ms:.2f}", f"{r.state_bytes / 1e6:.2f} MB")
    Console().print(t)
    for m, ms in offline.items():
        typer.echo(f"offline causal forward, 243 frames, B=1: {m}: {ms:.1f} ms ({ms / 243:.2f} ms/frame)")
    for k, v in ratios.items():
        typer.echo(f"{k} = {v:.3f}")


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
