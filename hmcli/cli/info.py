"""``hm info``: version, architectures and presets with parameter counts, shipped checkpoints,
optional backends."""

from __future__ import annotations

import importlib.util

import typer

from hmcli.cli.common import cli_errors, echo_json

OPTIONAL_BACKENDS = {
    "mediapipe": "2D detector (BlazePose), extra [mediapipe]",
    "mmpose": "2D detector (user config + checkpoint), see README",
    "smplx": "SMPL body model",
    "anny": "open body model (Anny)",
}


def _action_entry(p) -> dict | None:
    """An ``hm action`` model's row (name, classes, causal, size, held-out figures), or None
    when the file is not an action model."""
    from hmcli.action.checkpoint import ACTION_FORMAT, read_action
    from hmcli.io.checkpoint import CheckpointError

    try:
        obj = read_action(p)
    except CheckpointError:
        return None
    if obj.get("format") != ACTION_FORMAT:
        return None
    m = (obj.get("meta") or {}).get("metrics") or {}
    return {"name": p.stem, "path": str(p), "classes": list(obj.get("classes", [])),
            "causal": bool(obj["backbone"]["config"].get("causal", False)), "size_mb": round(p.stat().st_size / 1e6, 2),
            "metrics": {k: float(v) for k, v in m.items() if isinstance(v, (int, float))}}


def gather_info() -> dict:
    import torch

    from hmcli import __version__
    from hmcli.nn.packed import packing_available
    from hmcli.nn.registry import archs, build, count_parameters, presets
    from hmcli.io.checkpoint import CheckpointError, find_checkpoints, read_checkpoint

    preset_rows = []
    with torch.device("meta"):  # count parameters without allocating or initialising
        for name, (arch, fields) in sorted(presets().items()):
            preset_rows.append({"name": name, "arch": arch, "params": count_parameters(build(name)), "config": fields})
    ckpts, actions = [], []
    for p in find_checkpoints():
        action = _action_entry(p)
        if action is not None:
            actions.append(action)
            continue
        try:
            obj = read_checkpoint(p)
            meta = obj.get("meta", {})
            ckpts.append(
                {
                    "name": p.stem,
                    "path": str(p),
                    "arch": obj["arch"],
                    "causal": bool(obj["config"].get("causal", False)),
                    "size_mb": round(p.stat().st_size / 1e6, 2),
                    "metrics": meta.get("metrics", {}),
                }
            )
        except CheckpointError as e:
            ckpts.append({"name": p.stem, "path": str(p), "error": str(e)})
    backends = {name: importlib.util.find_spec(name) is not None for name in OPTIONAL_BACKENDS}
    return {
        "version": __version__,
        "torch": torch.__version__,
        # Linears of the incremental streamers (hm lift --causal, hm bench streaming).
        "streaming_linears": "oneDNN pre-packed" if packing_available() else "plain (oneDNN packing unavailable)",
        "architectures": {n: s.description for n, s in sorted(archs().items())},
        "presets": preset_rows,
        "checkpoints": ckpts,
        "action_models": actions,
        "backends": backends,
    }


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
        t = Table(title="Optional backends")
        t.add_column("module")
        t.add_column("available")
        t.add_column("for")
        for name, ok in data["backends"].items():
            t.add_row(name, "[green]yes[/green]" if ok else "no", OPTIONAL_BACKENDS[name])
        con.print(t)
