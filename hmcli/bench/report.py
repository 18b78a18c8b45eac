"""Any benchmark result as a table: rich on the terminal, markdown, and the files ``--out``
writes (``<name>.json``, ``.md``, ``.png``)."""

from __future__ import annotations

import json
import os
import sys

from hmcli.bench.common import machine_line


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, s in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= s:
            return f"{n / s:.2f} {unit}"
    return f"{int(n)} B"


def _f(v: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "-" if v is None else f"{v:{spec}}{suffix}"


def _flops(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v / 1e9:.3g} G" if v >= 1e8 else f"{v / 1e6:.3g} M"


def table(result: dict) -> tuple[str, list[str], list[list[str]]]:
    """(title, columns, rows of strings) for any benchmark result."""
    kind = result["benchmark"]
    if kind == "accuracy":
        from hmcli.bench.accuracy import accuracy_table

        return accuracy_table(result)
    if kind == "mesh":
        from hmcli.bench.mesh import mesh_table

        return mesh_table(result)
    if kind == "action":
        from hmcli.bench.action import action_table

        return action_table(result)
    if kind == "batch":
        from hmcli.bench.batch import batch_table

        return batch_table(result)
    if kind == "mesh-quality":
        from hmcli.bench.mesh_quality import mesh_quality_table

        return mesh_quality_table(result)
    if kind == "refine":
        from hmcli.bench.refine import refine_table

        return refine_table(result)
    if kind == "truth-free":
        from hmcli.bench.truth_free_bench import truth_free_table

        return truth_free_table(result)
    if kind == "multi-person":
        from hmcli.bench.multi_person import multi_person_table

        return multi_person_table(result)
    if kind == "rendered":
        from hmcli.bench.rendered import rendered_table

        return rendered_table(result)
    if kind == "action-rendered":
        from hmcli.bench.action_rendered import action_rendered_table

        return action_rendered_table(result)
    rows = result["rows"]
    if kind == "streaming":
        cols = ["model", "method", "params", "B", "context", "step ms", "HumMUSS speed-up", "n", "state", "peak alloc", "FLOPs/step", "note"]
        out = [[r["model"], r["method"], f"{r['params_m']:.2f} M", str(r["batch"]), str(r["context"]),
                _f(r["step_ms"]) if r["step_ms"] is not None else "n/a",
                _f(r["vs_hummuss"], ".1f", "×"), str(r["n_timed"]), fmt_bytes(r["state_bytes"]),
                fmt_bytes(r["peak_alloc_bytes"]), _flops(r["flops"]), r["note"]] for r in rows]
        return "Streaming: per-frame latency (median, interleaved)", cols, out
    if kind == "train":
        cols = ["model", "params", "B", "F", "precision", "fwd+bwd ms", "HumMUSS speed-up", "n", "FLOPs", "note"]
        out = [[r["model"], f"{r['params_m']:.2f} M", str(r["batch"]), str(r["frames"]), r.get("precision", "fp32"),
                _f(r["step_ms"], ".1f") if r["step_ms"] is not None else "n/a",
                _f(r["vs_hummuss"], ".2f", "×"), str(r["n_timed"]), _flops(r["flops"]), r["note"]] for r in rows]
        return "Training step: forward + backward (median, interleaved)", cols, out
    if kind == "throughput":
        cols = ["model", "params", "unit", "unit ms", "frames/s", "× real time", "sequence s", "FLOPs/frame",
                "GFLOP/s", "util.", "HumMUSS speed-up", "note"]
        out = [[r["model"], f"{r['params_m']:.2f} M", r["unit"], _f(r["unit_ms"], ".1f"), _f(r["frames_per_s"], ".1f"),
                _f(r["realtime_x"], ".1f"), _f(r["sequence_s"], ".1f"), _flops(r["flops_per_frame"]), _f(r["gflops"], ".1f"),
                _f(None if r["utilisation"] is None else 100 * r["utilisation"], ".0f", "%"), _f(r["hummuss_x"], ".1f", "×"),
                r["note"]] for r in rows]
        g = result.get("cpu_gflops", {}).get("mean")
        return f"Offline throughput, {result['settings']['frames']} frames (CPU matmul {_f(g, '.0f')} GFLOP/s)", cols, out
    raise ValueError(f"unknown benchmark kind {kind!r}")


def to_markdown(result: dict) -> str:
    title, cols, rows = table(result)
    lines = [f"## {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in r) + " |")
    lines.append("")
    for extra in result.get("tables") or []:  # further tables: {"title", "columns", "rows"}
        cols_x = [str(c).replace("|", "/") for c in extra["columns"]]
        lines += [f"### {extra['title']}", "", "| " + " | ".join(cols_x) + " |", "|" + "---|" * len(cols_x)]
        lines += ["| " + " | ".join(str(c).replace("|", "/") for c in r) + " |" for r in extra["rows"]]
        lines.append("")
    for key in ("ratios", "speedups"):
        if result.get(key):
            lines += [f"**{key}**", ""] + [f"- {k}: {v:.3g}" for k, v in result[key].items()] + [""]
    for m, ms in (result.get("offline_causal_243_ms") or {}).items():
        lines.append(f"- offline causal forward, 243 frames, B=1: {m}: {ms:.1f} ms ({ms / 243:.2f} ms/frame)")
    if result.get("offline_causal_243_ms"):
        lines.append("")
    if result.get("targets"):
        lines += ["**targets**", ""]
        lines += [f"- {'PASS' if t['ok'] else 'FAIL'}: {t['target']} = {t['value']:.3g} (need {t['need']})" for t in result["targets"]]
        lines.append("")
    for n in result.get("notes", []):
        lines.append(f"> {n}")
    if result.get("command"):
        lines += ["", f"Command: `{result['command']}`"]
    m = result.get("machine", {})
    lines += ["", f"_machine: {machine_line(m)}_", ""]
    return "\n".join(lines)


def print_result(result: dict, console=None) -> None:
    """Rich table on stdout plus ratios / targets lines."""
    from rich.console import Console
    from rich.table import Table

    con = console or Console(width=None if sys.stdout.isatty() else 220)  # pipes / files: no squeezing
    title, cols, rows = table(result)
    t = Table(title=title)
    for c in cols:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*r)
    con.print(t)
    for key in ("ratios", "speedups"):
        for k, v in (result.get(key) or {}).items():
            con.print(f"{k} = {v:.3f}", highlight=False)
    for tg in result.get("targets") or []:
        mark = "[green]PASS[/green]" if tg["ok"] else "[red]FAIL[/red]"
        con.print(f"{mark} {tg['target']} = {tg['value']:.3g} (need {tg['need']})")
    if result.get("machine"):
        con.print(f"machine: {machine_line(result['machine'])}", highlight=False)


def write_outputs(result: dict, out_dir: str | os.PathLike, name: str | None = None) -> list[str]:
    """Write ``<name>.json``, ``<name>.md`` and ``<name>.png`` into ``out_dir``."""
    from pathlib import Path

    from hmcli.bench.plot import plot_result
    from hmcli.io.atomic import atomic_write

    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    name = name or result["benchmark"]
    paths = [d / f"{name}.json", d / f"{name}.md", d / f"{name}.png"]
    with atomic_write(paths[0], "w") as f:
        f.write(json.dumps(result, indent=2, default=float) + "\n")
    with atomic_write(paths[1], "w") as f:
        f.write(to_markdown(result))
    with atomic_write(paths[2]) as tmp:
        plot_result(result, tmp)
    return [str(p) for p in paths]
