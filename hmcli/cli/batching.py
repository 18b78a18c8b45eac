"""Batch mode of ``hm lift | detect | mesh | action`` (several inputs, a directory, a glob or
``--manifest``; see :mod:`hmcli.batch`): when a command line is a batch, the usage checks of its
options, and the run with one line per input and a summary on stderr.

The work itself (inputs, shards, output names, skipping, errors, the log) is :mod:`hmcli.batch`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from hmcli.cli.common import EXIT_INPUT, EXIT_USAGE, fail, note

MANIFEST_HELP = "Batch: a file listing inputs, one path per line (relative to its folder; '#' comments)."


def out_dir_help(names: str) -> str:
    """``--out-dir``'s help; ``names``: the output names, e.g. '<stem>.h5 (<stem>.json with --json)'."""
    return f"Batch: folder for the outputs, one per input: {names}; with a short hash of the input's path on a name clash."
OVERWRITE_HELP = "Batch: redo inputs whose output exists (default: skip them, so a stopped batch resumes)."
SHARD_HELP = "Batch: take share i of n (0 <= i < n) of the sorted inputs, e.g. --shard $SLURM_ARRAY_TASK_ID/10."
LOG_HELP = "Batch: JSON-lines log of every input's result or error (default OUT_DIR/hm-<command>[.shard-i-of-n].log.jsonl)."


def _globby(name: str) -> bool:
    return any(c in name for c in "*?[") and not Path(name).exists()


def is_batch(inputs: list[str] | None, *, manifest: str | None, out_dir: str | None, shard: str | None,
             log: str | None, openpose_dirs: bool = True) -> bool:  # fmt: skip
    """Whether the command line asks for a batch: several inputs, a glob, a folder of inputs (not an
    OpenPose folder, where keypoint folders are inputs), or any of the batch options."""
    from hmcli.batch import is_openpose_dir

    inputs = inputs or []
    if len(inputs) > 1 or any(v is not None for v in (manifest, out_dir, shard, log)):
        return True
    if len(inputs) == 1:
        p = Path(inputs[0])
        return _globby(inputs[0]) or (p.is_dir() and not (openpose_dirs and is_openpose_dir(p)))
    return False


def refuse(*single_only: tuple[str, bool]) -> None:
    """Usage error for options that name one input's output (``-o``, ``--obj``, ...) in a batch."""
    for option, given in single_only:
        if given:
            fail(f"{option} is for one input; a batch writes one file per input into --out-dir", EXIT_USAGE)


def shard_option(text: str | None) -> Any:
    """The parsed ``--shard`` (a usage error if malformed), or None."""
    from hmcli.batch import parse_shard

    if text is None:
        return None
    try:
        return parse_shard(text)
    except ValueError as e:
        fail(str(e), EXIT_USAGE)


def require_out_dir(out_dir: str | None) -> Path:
    """``--out-dir`` as a folder, made (with its parents) when missing, as every shard of a batch
    may be the first to start."""
    from hmcli.io.atomic import HMError

    if out_dir is None:
        fail("a batch (several inputs, a folder, a glob or --manifest) needs --out-dir DIR for its outputs", EXIT_USAGE)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise HMError(f"--out-dir is not a directory: {out}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise HMError(f"cannot make the output directory {out}: {e.strerror or e}") from None
    return out


def run(command: str, plan: Any, job: Any, *, overwrite: bool, log: str | None, quiet: bool) -> None:
    """Run the batch ``plan`` with ``job``: one line per input on stderr (failures always, as
    ``hm: error: INPUT: message``), a summary, exit status 3 if any input failed."""
    from hmcli.batch import BatchLog, default_log_path, run_batch

    log_path = Path(log) if log is not None else default_log_path(plan.out_dir, command, plan.shard)
    n = len(plan.tasks)
    width = len(str(n))
    where = f" (shard {plan.shard} of {plan.total} inputs)" if plan.shard else ""
    note(f"hm {command}: {n} inputs{where} -> {plan.out_dir}; log {log_path}", quiet)

    def report(i: int, o: Any) -> None:
        head = f"hm {command}: [{i + 1:>{width}}/{n}] {o.input}"
        if o.status == "failed":  # the input named once in the line
            typer.echo(f"hm: error: {o.error if str(o.input) in o.error else f'{o.input}: {o.error}'}", err=True)
        elif o.status == "skipped":
            note(f"{head}: skipped, {o.output} exists", quiet)
        else:
            note(f"{head} -> {o.output}: {o.frames} frames in {o.seconds:.2f} s", quiet)

    with BatchLog(log_path, command) as blog:
        summary = run_batch(plan, job, overwrite=overwrite, log=blog, on_outcome=report)
    rate = summary.frames / summary.wall_seconds if summary.wall_seconds > 0 else 0.0
    note(f"hm {command}: {summary.done} done, {summary.skipped} skipped, {summary.failed} failed of {n} inputs; "
         f"{summary.frames} frames in {summary.wall_seconds:.2f} s ({rate:.1f} frames/s)", quiet)  # fmt: skip
    if summary.failed:
        fail(f"{summary.failed} of {n} inputs failed (see {log_path})", EXIT_INPUT)
