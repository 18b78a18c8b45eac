"""``hm info``: version, architectures and presets with parameter counts, shipped checkpoints,
optional backends (gathered by :func:`hmcli.info.gather_info`), as tables or JSON."""

from __future__ import annotations

import typer

from hmcli.cli.common import cli_errors, echo_json
from hmcli.info import OPTIONAL_BACKENDS, gather_info

def register(app: typer.Typer) -> None:
    @app.command()
    @cli_errors
    def info(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """Version, architectures and presets (parameter counts), shipped checkpoints, backends."""
        data = gather_info()
        if json_out:
            echo_json(data)
            return
        from rich.console import Console
        from rich.table import Table

        con = Console()
        con.print(f"[bold]hm[/bold] {data['version']}  (torch {data['torch']}; streaming linears: {data['streaming_linears']})")
        t = Table(title="Model configurations (hm train --model NAME)")
        for col in ("preset", "arch", "params", "causal"):
            t.add_column(col)
        for r in data["presets"]:
            t.add_row(r["name"], r["arch"], f"{r['params'] / 1e6:.2f} M", str(r["config"].get("causal", False)))
        con.print(t)
        t = Table(title="Checkpoints (hm lift --model NAME)")
        for col in ("name", "arch", "causal", "size", "held-out metrics"):
            t.add_column(col)
        for c in data["checkpoints"]:
            if "error" in c:
                t.add_row(c["name"], "-", "-", "-", f"[red]{c['error']}[/red]")
                continue
            m = c["metrics"]
            metr = ", ".join(f"{k} {v:.1f}" for k, v in m.items() if isinstance(v, (int, float)))
            t.add_row(c["name"], c["arch"], str(c["causal"]), f"{c['size_mb']} MB", metr or "-")
        if not data["checkpoints"]:
            t.add_row("(none found)", "", "", "", "")
        con.print(t)
        if data["action_models"]:
            t = Table(title="Action models (hm action --model NAME)")
            for col in ("name", "classes", "causal", "size", "held-out"):
                t.add_column(col)
            for c in data["action_models"]:
                m = c["metrics"]
                held = (f"balanced accuracy {100 * m['balanced_accuracy']:.1f} %, top-1 {100 * m['top1']:.1f} %"
                        if "balanced_accuracy" in m and "top1" in m else "-")
                t.add_row(c["name"], ", ".join(c["classes"]), str(c["causal"]), f"{c['size_mb']} MB", held)
            con.print(t)
        if data["refiners"]:
            t = Table(title="2D refiners (hm lift --refine-model NAME)")
            for col in ("name", "params", "size", "window", "held-out"):
                t.add_column(col)
            for c in data["refiners"]:
                m = c["metrics"]
                held = ", ".join(f"{k} {v:.2f}" for k, v in m.items()) or "-"
                t.add_row(c["name"], f"{c['params'] / 1e6:.2f} M", f"{c['size_mb']} MB", f"{c['clip_frames']} frames", held)
            con.print(t)
        t = Table(title="Optional backends")
        t.add_column("module")
        t.add_column("available")
        t.add_column("for")
        for name, ok in data["backends"].items():
            t.add_row(name, "[green]yes[/green]" if ok else "no", OPTIONAL_BACKENDS[name])
        con.print(t)
