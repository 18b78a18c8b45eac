"""Batch runs: many inputs, one output file each, resumable and shardable across machines.

::

    from hmcli import api, batch

    plan = batch.plan_batch(["videos/"], out_dir="out", suffix=".h5", shard=batch.parse_shard("0/4"))
    job = batch.LiftJob(api.load_lifter())                   # the model is loaded once for the batch
    summary = batch.run_batch(plan, job, log=batch.BatchLog("out/hm-lift.log.jsonl", "lift"))
    summary.failed                                           # inputs that failed (each logged with its error)

How a batch is put together:

* **Inputs** (:func:`expand_inputs`): files, directories (their files with an accepted suffix,
  not recursive; an OpenPose folder is one input where keypoint files are accepted), glob
  patterns (``"clips/**/*.mp4"``, quoted so the shell leaves them), and manifest files (one path
  per line, relative to the manifest's folder; blank lines and lines starting with ``#`` are
  skipped). Every input is one resolved path, listed once, sorted by that path, so the order
  of a directory listing, a glob or a manifest does not matter. A named file that does not
  exist (or a glob that matches nothing) stays in the batch as a failed input.
* **Outputs** (:func:`plan_batch`): ``OUT_DIR/<input stem><suffix>``. Inputs whose names would
  clash (``a/clip.mp4`` and ``b/clip.mp4``, or ``clip.mp4`` and ``clip.json``) all get
  ``<stem>-<first 8 hex digits of the SHA-256 of the resolved input path><suffix>``
  instead; the clashes are found on the whole list before sharding, so every shard names every
  output the same way.
* **Shards** (:class:`Shard`, ``i/n``, 0 <= i < n): shard ``i`` takes the inputs at positions
  ``i, i + n, i + 2n, ...`` of the sorted list. Positions rather than a hash of each path:
  the shards' sizes differ by at most one (a hash leaves some shards with far more videos
  than others, and the array waits for the slowest), and every task that sees the same list
  (one shared folder or manifest) makes the same split with no coordinator. Adding files
  between the tasks' start-ups can move inputs between shards; a fixed manifest avoids it,
  and the skip rule below makes a rerun safe either way.
* **Resume** (:func:`run_batch`): an input whose output file exists is skipped (``overwrite``
  redoes it). Outputs are written atomically (:func:`hmcli.io.atomic.atomic_write`), so an
  existing output is a finished one: a batch killed at any point, even with SIGKILL, resumes
  where it stopped, and the temporary file a killed writer left is removed by the next write.
* **Errors**: an input that fails (:class:`HMError`, or any other exception from a corrupt
  file) is recorded with its one-line message and the batch goes on; Ctrl-C stops it.
* **Log** (:class:`BatchLog`): JSON lines, appended and flushed per input: a ``start``
  record, one ``input`` record per input (``status`` done / skipped / failed, ``output``,
  ``frames``, ``seconds``, ``error``), and an ``end`` record with the counts.

The jobs (:class:`LiftJob`, :class:`DetectJob`, :class:`MeshJob`, :class:`ActionJob`) run one
input each through the per-input API (:mod:`hmcli.api`, :mod:`hmcli.mesh.api`,
:mod:`hmcli.action.api`) with their models loaded once, in two stages (:class:`Job`): video
frames are decoded ahead in a thread while the detector works
(:func:`hmcli.io.video.read_ahead`), and one input is lifted (classified) and written in a
worker thread while the next is detected, where that was measured to pay (not for meshes).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from hmcli.io.atomic import HMError
from hmcli.io.paths import KEYPOINT_SUFFIXES
from hmcli.lift import torch_threads
from hmcli.track import DEFAULT_MAX_PERSONS, DEFAULT_MIN_TRACK_LENGTH

if TYPE_CHECKING:
    from hmcli.action.checkpoint import LoadedAction
    from hmcli.api import Timings
    from hmcli.io.checkpoint import LoadedModel
    from hmcli.mesh.body import BodyModel
    from hmcli.mesh.fit import FitOptions
    from hmcli.types import MultiKeypoints2D, MultiPose3DResult

__all__ = [
    "VIDEO_SUFFIXES",
    "Shard",
    "parse_shard",
    "InputEntry",
    "is_openpose_dir",
    "expand_inputs",
    "read_manifest",
    "Task",
    "Plan",
    "plan_batch",
    "output_names",
    "Outcome",
    "Summary",
    "BatchLog",
    "default_log_path",
    "run_batch",
    "run_task",
    "Job",
    "LiftJob",
    "DetectJob",
    "MeshJob",
    "ActionJob",
    "READ_AHEAD",
    "torch_threads",
]

#: Video files a directory listing picks up.
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
#: Frames decoded ahead of the detector in a batch.
READ_AHEAD = 8
_GLOB_CHARS = frozenset("*?[")


# ------------------------------------------------------------------ shards


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0 <= index < count): the inputs at positions index,
    index + count, ... of the sorted input list."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 0 <= i < n, e.g. 0/10 ... 9/10")

    def take(self, items: Sequence[Any]) -> list[Any]:
        return list(items[self.index :: self.count])

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"i/n"`` -> :class:`Shard`; ValueError with a one-line message otherwise."""
    parts = str(text).strip().split("/")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts) or not 0 <= int(parts[0]) < int(parts[1]):
        raise ValueError(f"--shard takes i/n with 0 <= i < n (e.g. 3/10), got {text!r}")
    return Shard(int(parts[0]), int(parts[1]))


# ------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class InputEntry:
    """One input of a batch: its path, and ``problem`` (a one-line message) when it cannot be
    read at all (a named file that is not there, a glob that matches nothing)."""

    path: Path
    problem: str | None = None

    @property
    def key(self) -> str:
        """What the batch sorts, de-duplicates and hashes: the resolved path."""
        return _resolved(self.path)


def _resolved(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path.absolute())


def is_openpose_dir(path: Path) -> bool:
    """A folder of per-frame OpenPose ``*_keypoints.json`` files (one keypoint input)."""
    return path.is_dir() and next(path.glob("*_keypoints.json"), None) is not None


def _hidden(path: Path) -> bool:
    return path.name.startswith(".")


def read_manifest(path: str | os.PathLike) -> list[str]:
    """The entries of a manifest: one path per line, blank lines and ``#`` comment lines skipped,
    relative paths taken relative to the manifest's folder."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HMError(f"manifest not found: {p}") from None
    except IsADirectoryError:
        raise HMError(f"manifest is a directory, not a file: {p}") from None
    except UnicodeDecodeError:
        raise HMError(f"manifest is not a UTF-8 text file: {p}") from None
    except OSError as e:
        raise HMError(f"cannot read manifest {p}: {e.strerror or e}") from None
    entries = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        q = Path(os.path.expanduser(entry))
        entries.append(str(q if q.is_absolute() else p.parent / q))
    return entries


def expand_inputs(args: Iterable[str], manifest: str | os.PathLike | None = None, *,
                  suffixes: Sequence[str] = VIDEO_SUFFIXES + KEYPOINT_SUFFIXES, openpose_dirs: bool = True,
                  exclude: Callable[[Path], bool] | None = None) -> list[InputEntry]:  # fmt: skip
    """The inputs named by ``args`` (files, directories, glob patterns) and the lines of
    ``manifest``, each once, sorted by resolved path (see the module docstring).

    A directory gives its files whose suffix is in ``suffixes`` (hidden files are left out), or
    is itself one input if ``openpose_dirs`` and it holds ``*_keypoints.json`` files. A glob
    gives every file it matches. ``exclude(path)``: files a directory or glob is not to pick up
    (e.g. this batch's own outputs); files named one by one are always taken."""
    exclude = exclude or (lambda p: False)
    wanted = tuple(s.lower() for s in suffixes)
    found: list[InputEntry] = []
    names = list(args)
    if manifest is not None:
        names += read_manifest(manifest)
    for name in names:
        p = Path(name)
        if p.is_dir() and not (openpose_dirs and is_openpose_dir(p)):
            kids = sorted(q for q in p.iterdir() if q.is_file() and not _hidden(q) and q.suffix.lower() in wanted
                          or (openpose_dirs and is_openpose_dir(q)))  # fmt: skip
            found += [InputEntry(q) for q in kids if not exclude(q)]
        elif p.exists():
            found.append(InputEntry(p))
        elif _GLOB_CHARS & set(name):
            hits = [Path(h) for h in sorted(glob.glob(os.path.expanduser(name), recursive=True))]
            hits = [q for q in hits if (q.is_file() and not _hidden(q)) or (openpose_dirs and is_openpose_dir(q))]
            hits = [q for q in hits if not exclude(q)]
            found += [InputEntry(q) for q in hits] or [InputEntry(p, f"no file matches {name}")]
        else:
            found.append(InputEntry(p, f"input not found: {name}"))
    unique: dict[str, InputEntry] = {}
    for entry in found:
        unique.setdefault(entry.key, entry)
    return [unique[k] for k in sorted(unique)]


# ------------------------------------------------------------------ outputs and the plan


@dataclass(frozen=True)
class Task:
    """One input of this shard and the output it is to make."""

    input: Path
    output: Path
    problem: str | None = None  # why the input cannot be run (it is then logged as failed)


@dataclass(frozen=True)
class Plan:
    """The tasks of one run: this shard's share of all ``total`` inputs, in sorted order."""

    tasks: tuple[Task, ...]
    total: int
    out_dir: Path
    shard: Shard | None = None


def _stem(path: Path) -> str:
    return path.name if path.is_dir() else (path.stem or path.name)


def output_names(entries: Sequence[InputEntry], suffix: str, tag: str = "out") -> list[str]:
    """The output file name of each input: ``<stem><suffix>``; names that clash (compared without
    case, for case-insensitive file systems) get ``<stem>-<8 hex digits of the SHA-256 of the
    resolved input path><suffix>`` (inputs that are not there count for no clash). An input that is itself in the output folder under that
    very name gets ``<stem>.<tag><suffix>``. The same list always gives the same names."""
    base = [_stem(e.path) + suffix for e in entries]
    counts: dict[str, int] = {}
    for e, name in zip(entries, base):
        if e.problem is None:  # an input that is not there makes no file: it renames nothing
            counts[name.casefold()] = counts.get(name.casefold(), 0) + 1
    names = []
    for e, name in zip(entries, base):
        if counts.get(name.casefold(), 0) > 1:
            digest = hashlib.sha256(e.key.encode("utf-8")).hexdigest()[:8]
            name = f"{_stem(e.path)}-{digest}{suffix}"
        if name == e.path.name:
            name = f"{_stem(e.path)}.{tag}{suffix}"
        names.append(name)
    return names


def plan_batch(args: Iterable[str], out_dir: str | os.PathLike, suffix: str, *, manifest: str | os.PathLike | None = None,
               shard: Shard | None = None, tag: str = "out", suffixes: Sequence[str] = VIDEO_SUFFIXES + KEYPOINT_SUFFIXES,
               openpose_dirs: bool = True, output_suffixes: Sequence[str] = ()) -> Plan:  # fmt: skip
    """Expand the inputs (:func:`expand_inputs`), name their outputs in ``out_dir``
    (:func:`output_names`) and take ``shard``'s share. Files in ``out_dir`` ending in one of
    ``output_suffixes`` (or ``suffix``) are outputs, not inputs, when a directory or glob lists
    them. HMError if ``out_dir`` is not a directory or nothing is named."""
    out = Path(out_dir)
    if not out.is_dir():
        raise HMError(f"output directory does not exist: {out}" if not out.exists() else f"--out-dir is not a directory: {out}")
    out_key = _resolved(out)
    ends = tuple(s.lower() for s in (suffix, *output_suffixes))

    def is_output(p: Path) -> bool:
        return _resolved(p.parent) == out_key and p.name.lower().endswith(ends)

    entries = expand_inputs(args, manifest, suffixes=suffixes, openpose_dirs=openpose_dirs, exclude=is_output)
    if not entries:
        raise HMError("no inputs: the directories, globs and manifest named hold no file to run")
    names = output_names(entries, suffix, tag)
    tasks = [Task(e.path, out / n, e.problem) for e, n in zip(entries, names)]
    return Plan(tuple(shard.take(tasks) if shard else tasks), len(tasks), out, shard)


# ------------------------------------------------------------------ the log


def default_log_path(out_dir: str | os.PathLike, command: str, shard: Shard | None = None) -> Path:
    """``OUT_DIR/hm-<command>.log.jsonl``, ``hm-<command>.shard-<i>-of-<n>.log.jsonl`` for a shard
    (so shards sharing a folder never write the same file)."""
    tail = f".shard-{shard.index}-of-{shard.count}" if shard else ""
    return Path(out_dir) / f"hm-{command}{tail}.log.jsonl"


class BatchLog:
    """A JSON-lines log, appended to: each record is written, flushed and fsync'ed at once, so a
    killed run loses at most the line it was writing (the next run starts on a new line)."""

    def __init__(self, path: str | os.PathLike, command: str) -> None:
        self.path = Path(path)
        self.command = command
        self.run_id = f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}"
        if not self.path.parent.is_dir():
            raise HMError(f"log directory does not exist: {self.path.parent}")
        if self.path.is_dir():
            raise HMError(f"--log is a directory: {self.path}")
        try:
            self._f = open(self.path, "a+b")
        except OSError as e:
            raise HMError(f"cannot write the log {self.path}: {e.strerror or e}") from None
        end = self._f.seek(0, os.SEEK_END)
        if end:
            self._f.seek(end - 1)
            if self._f.read(1) != b"\n":  # a line cut short by a killed run
                self._f.write(b"\n")

    def write(self, record: dict) -> None:
        rec = {"run": self.run_id, "command": self.command, **record}
        self._f.write((json.dumps(rec, default=str) + "\n").encode("utf-8"))
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> BatchLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ------------------------------------------------------------------ running


Status = Literal["done", "skipped", "failed"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one input."""

    input: Path
    output: Path
    status: Status
    frames: int | None = None
    seconds: float = 0.0
    error: str | None = None

    def record(self) -> dict:
        rec: dict = {"event": "input", "input": str(self.input), "status": self.status, "output": str(self.output)}
        if self.status == "done":
            rec.update(frames=self.frames, seconds=round(self.seconds, 3))
        elif self.status == "failed":
            rec.update(error=self.error, seconds=round(self.seconds, 3))
        return rec


@dataclass
class Summary:
    """The counts of a run (``frames`` and ``seconds``: of the inputs done) and every outcome."""

    outcomes: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0

    def _count(self, status: Status) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def done(self) -> int:
        return self._count("done")

    @property
    def skipped(self) -> int:
        return self._count("skipped")

    @property
    def failed(self) -> int:
        return self._count("failed")

    @property
    def frames(self) -> int:
        return sum(o.frames or 0 for o in self.outcomes if o.status == "done")

    def record(self) -> dict:
        return {"event": "end", "done": self.done, "skipped": self.skipped, "failed": self.failed,
                "frames": self.frames, "seconds": round(self.wall_seconds, 3)}  # fmt: skip


class Job(ABC):
    """One input -> one output file, in two stages so that a batch can overlap them:
    :meth:`prepare` reads the input (decoding and detecting a video), :meth:`finish` makes and
    writes the output (lifting, fitting, classifying). ``job(input, output)`` runs both.
    ``overlap``: whether :func:`run_batch` should run one input's finish while the next is
    prepared (where that was measured to pay)."""

    overlap: ClassVar[bool] = True

    @abstractmethod
    def prepare(self, input: Path) -> Any: ...

    @abstractmethod
    def finish(self, prepared: Any, output: Path) -> int:
        """Write ``output`` (atomically) from what :meth:`prepare` gave; returns the frames."""

    def __call__(self, input: Path, output: Path) -> int:
        return self.finish(self.prepare(input), output)


#: A plain job: makes ``output`` from ``input`` (atomically) and returns the number of frames.
PlainJob = Callable[[Path, Path], int]


def _one_line(e: BaseException) -> str:
    if isinstance(e, HMError):
        return str(e)
    text = " ".join(str(e).split()) or "no message"
    return f"{type(e).__name__}: {text}"


def _settled(task: Task, overwrite: bool) -> Outcome | None:
    """The outcome of a task that needs no work: a problem input, or a finished output."""
    if task.problem is not None:
        return Outcome(task.input, task.output, "failed", error=task.problem)
    if not overwrite and task.output.is_file():
        return Outcome(task.input, task.output, "skipped")
    return None


def run_task(task: Task, job: Job | PlainJob, overwrite: bool = False) -> Outcome:
    """One task: skipped when its output exists (unless ``overwrite``), else run, any error
    caught as a one-line message (KeyboardInterrupt and SystemExit go through)."""
    settled = _settled(task, overwrite)
    if settled is not None:
        return settled
    t0 = time.perf_counter()
    try:
        frames = job(task.input, task.output)
    except Exception as e:  # one bad input does not stop the batch
        return Outcome(task.input, task.output, "failed", seconds=time.perf_counter() - t0, error=_one_line(e))
    return Outcome(task.input, task.output, "done", frames=int(frames), seconds=time.perf_counter() - t0)


def run_batch(plan: Plan, job: Job | PlainJob, *, overwrite: bool = False, log: BatchLog | None = None,
              on_outcome: Callable[[int, Outcome], None] | None = None, overlap: bool = True) -> Summary:  # fmt: skip
    """Run every task of ``plan`` (:func:`run_task`), each outcome logged and handed to
    ``on_outcome(position, outcome)`` in the plan's order. With a two-stage :class:`Job` whose
    ``overlap`` is set, and ``overlap``, one input's :meth:`Job.finish` runs in a worker thread
    while the next input is prepared (at most one finish in flight). Returns the :class:`Summary`."""
    summary = Summary()
    t_run = time.perf_counter()
    if log is not None:
        log.write({"event": "start", "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "inputs": plan.total, "shard": str(plan.shard) if plan.shard else None,
                   "tasks": len(plan.tasks), "out_dir": str(plan.out_dir), "overwrite": overwrite})  # fmt: skip

    def emit(i: int, outcome: Outcome) -> None:
        summary.outcomes.append(outcome)
        if log is not None:
            log.write(outcome.record())
        if on_outcome is not None:
            on_outcome(i, outcome)

    if not (overlap and isinstance(job, Job) and job.overlap):
        for i, task in enumerate(plan.tasks):
            emit(i, run_task(task, job, overwrite))
    else:
        pending: list = []  # the finish in flight (a future), at most one

        def finish(i: int, task: Task, prepared: Any, t0: float) -> None:
            """In the worker: write the output, then log it at once (a kill between the two
            leaves a finished output with no record, never a record with no output)."""
            try:
                frames = job.finish(prepared, task.output)
            except Exception as e:
                outcome = Outcome(task.input, task.output, "failed", seconds=time.perf_counter() - t0,
                                  error=_one_line(e))  # fmt: skip
            else:
                outcome = Outcome(task.input, task.output, "done", frames=int(frames), seconds=time.perf_counter() - t0)
            emit(i, outcome)

        def settle() -> None:
            while pending:
                pending.pop().result()

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hm-batch-finish") as pool:
            for i, task in enumerate(plan.tasks):
                settled = _settled(task, overwrite)
                if settled is not None:
                    settle()
                    emit(i, settled)
                    continue
                t0 = time.perf_counter()
                try:
                    prepared = job.prepare(task.input)
                except Exception as e:
                    settle()
                    emit(i, Outcome(task.input, task.output, "failed", seconds=time.perf_counter() - t0,
                                    error=_one_line(e)))  # fmt: skip
                    continue
                settle()
                pending.append(pool.submit(finish, i, task, prepared, t0))
            settle()
    summary.wall_seconds = time.perf_counter() - t_run
    if log is not None:
        log.write(summary.record())
    return summary


# ------------------------------------------------------------------ jobs: one input each, models loaded once


@dataclass
class LiftJob(Job):
    """``hm lift`` for one input: a video (frames decoded ahead while the detector works) or a
    keypoint file -> a result file (.h5, .json, .bvh, .csv by the output's suffix).

    In a batch, one video is lifted and written while the next is detected (BlazePose keeps
    about one core busy). Measured with ``hm bench batch`` at 720p on the shared 2-core machine:
    39.1 frames/s against 35.9 without (+9 %) when the batch had the cores (nice -20), and
    33-35 against 38 when other jobs took them (nice 0)."""

    lifter: LoadedModel
    detector: Any = "mediapipe"  # a registry name or a detector object
    fps: float | None = None
    max_frames: int | None = None
    width: int | None = None
    height: int | None = None
    one_pass: bool = False
    flip: bool = True
    max_persons: int = DEFAULT_MAX_PERSONS  # 1: the one-person path
    min_track_length: int = DEFAULT_MIN_TRACK_LENGTH
    probe: bool = True  # hmcli.api.detect_persons: one-person clips take the one-person path
    read_ahead: int = READ_AHEAD
    lift_threads: int | None = 1  # torch threads while lifting (None: as set); see torch_threads
    refiner: Any = None  # a LoadedRefiner: each person's 2D refined over time before lifting
    timings: Timings | None = None  # adds up every input's stage seconds, if given

    def prepare(self, input: Path) -> tuple[MultiKeypoints2D, Timings]:
        from hmcli import api
        from hmcli.io.paths import input_kind

        t = api.Timings()
        if input_kind(input) == "keypoints":
            t0 = time.perf_counter()
            mk = api.read_keypoints_persons(input, self.fps, self.width, self.height, self.max_frames)
            t.decode = time.perf_counter() - t0
        else:
            mk = api.detect_persons(input, self.detector, max_persons=self.max_persons,
                                    min_track_length=self.min_track_length, max_frames=self.max_frames, timings=t,
                                    read_ahead=self.read_ahead, probe=self.probe)  # fmt: skip
        return mk, t

    def finish(self, prepared: tuple[MultiKeypoints2D, Timings], output: Path) -> int:
        from hmcli import api
        from hmcli.io.export import export

        mk, t = prepared
        with torch_threads(self.lift_threads):
            lift_t = api.Timings()
            result = api.run_offline_persons(self.lifter, mk, fps=self.fps, timings=lift_t, one_pass=self.one_pass,
                                             flip=self.flip, refiner=self.refiner)  # fmt: skip
        t.lift = lift_t.lift
        t0 = time.perf_counter()
        export(result, output)
        t.write = time.perf_counter() - t0
        _add_timings(self.timings, t)
        return mk.num_frames


@dataclass
class DetectJob(Job):
    """``hm detect`` for one video -> a keypoint file (.h5, .json, .npz by the output's suffix)."""

    detector: Any = "mediapipe"
    max_frames: int | None = None
    max_persons: int = DEFAULT_MAX_PERSONS  # 1: the one-person path
    min_track_length: int = DEFAULT_MIN_TRACK_LENGTH
    probe: bool = True  # hmcli.api.detect_persons: one-person clips take the one-person path
    read_ahead: int = READ_AHEAD
    timings: Timings | None = None
    refiner: Any = None  # a LoadedRefiner: each person's 2D refined over time (H36M-17 out)

    def prepare(self, input: Path) -> tuple[MultiKeypoints2D, Timings]:
        from hmcli import api

        t = api.Timings()
        return api.detect_persons(input, self.detector, max_persons=self.max_persons,
                                  min_track_length=self.min_track_length, max_frames=self.max_frames, timings=t,
                                  read_ahead=self.read_ahead, probe=self.probe), t  # fmt: skip

    def finish(self, prepared: tuple[MultiKeypoints2D, Timings], output: Path) -> int:
        from hmcli import api

        mk, t = prepared
        if self.refiner is not None:
            mk = api.refine_persons(mk, self.refiner)
        t0 = time.perf_counter()
        api.save_keypoints(mk, output)
        t.write = time.perf_counter() - t0
        _add_timings(self.timings, t)
        return mk.num_frames


@dataclass
class MeshJob(Job):
    """``hm mesh`` for one input (video, keypoint file or ``hm lift`` .h5) -> a mesh .h5: the
    lift is prepared, the body fitted and written in :meth:`finish`.

    Measured on the shared 2-core machine (3 videos at 720p, Anny): fitting a clip that came
    from a video on one torch thread (``fit_threads_after_video``) instead of two took the batch
    from 5.3-6.6 to 22-24 frames/s (5.6 to 23.9 at nice -20), so the job does that; a clip read
    from a file is fitted with every thread. Fitting one clip while the next was detected was
    a little slower than in turn (22.4 vs 23.9, 17.0 vs 19.1 frames/s; the fit's Python and
    the detector's share the interpreter), so mesh batches run in turn (``overlap`` False).
    The lift runs on ``lift_threads`` (one, as :class:`LiftJob`'s)."""

    overlap: ClassVar[bool] = False

    lifter: LoadedModel  # used for videos and keypoint files
    body: BodyModel
    options: FitOptions
    prior: str | None = "default"
    focal: float | None = None
    vertices: bool = False
    detector: Any = "mediapipe"
    fps: float | None = None
    max_frames: int | None = None
    width: int | None = None
    height: int | None = None
    lift_threads: int | None = 1
    fit_threads_after_video: int | None = 1
    max_persons: int = DEFAULT_MAX_PERSONS  # persons followed in a video (1: the one-person path)
    min_track_length: int = DEFAULT_MIN_TRACK_LENGTH
    probe: bool = True  # hmcli.api.detect_persons: one-person clips take the one-person path
    person: int | None = None   # only this track id (an input without it fails)

    def prepare(self, input: Path) -> tuple[MultiPose3DResult, bool]:
        from hmcli import api
        from hmcli.io.paths import input_kind

        kind = input_kind(input, lifted=True)
        with torch_threads(self.lift_threads):
            lifted, _ = api.lift_input_persons(input, self.lifter, kind=kind, detector=self.detector, fps=self.fps,
                                               max_frames=self.max_frames, width=self.width, height=self.height,
                                               max_persons=self.max_persons, min_track_length=self.min_track_length,
                                               probe=self.probe,
                                               person=self.person)  # fmt: skip
        return lifted, kind == "video"

    def finish(self, prepared: tuple[MultiPose3DResult, bool], output: Path) -> int:
        from hmcli.mesh import api as mesh_api

        lifted, from_video = prepared
        with torch_threads(self.fit_threads_after_video if from_video else None):
            result = mesh_api.fit_lifted(lifted, self.body, self.options, self.prior, self.focal, None,
                                         vertices=self.vertices)  # fmt: skip
        mesh_api.save_mesh(result, output, keep_vertices=self.vertices)
        return result.num_frames


@dataclass
class ActionJob(Job):
    """``hm action`` for one input -> its report (.json), or with ``causal`` its online labels
    (JSON lines)."""

    classifier: LoadedAction
    causal: bool = False
    window_s: float | None = None
    stride_s: float = 0.5
    topk: int = 3
    detector: Any = "mediapipe"
    fps: float | None = None
    max_frames: int | None = None
    width: int | None = None
    height: int | None = None
    threads: int | None = 1  # torch threads of the classifier (as LiftJob's lift_threads)
    max_persons: int = DEFAULT_MAX_PERSONS  # persons followed in a video (1: the one-person path)
    min_track_length: int = DEFAULT_MIN_TRACK_LENGTH
    probe: bool = True  # hmcli.api.detect_persons: one-person clips take the one-person path
    person: int | None = None   # only this track id (an input without it fails)
    group: bool = False         # all persons pooled into one label

    def prepare(self, input: Path) -> tuple[Path, MultiKeypoints2D]:
        from hmcli import api

        return input, api.input_keypoints_persons(input, fps=self.fps, width=self.width, height=self.height,
                                                  max_frames=self.max_frames, detector=self.detector,
                                                  max_persons=self.max_persons, min_track_length=self.min_track_length,
                                                  person=self.person, probe=self.probe)  # fmt: skip

    def finish(self, prepared: tuple[Path, MultiKeypoints2D], output: Path) -> int:
        from hmcli.action import api as action_api

        input, mk = prepared
        k = min(self.topk, len(self.classifier.classes))
        with torch_threads(self.threads):
            if self.causal:
                records = list(action_api.online_labels(mk, self.classifier, k, self.fps, self.window_s,
                                                        group=self.group))  # fmt: skip
            else:
                doc, _ = action_api.actions_doc(mk, self.classifier, self.window_s, self.stride_s, k, self.fps,
                                                group=self.group, source=str(input))  # fmt: skip
        if self.causal:
            action_api.write_label_lines(output, records)
        else:
            action_api.write_report(output, doc)
        return mk.num_frames


def _add_timings(total: Timings | None, t: Timings) -> None:
    if total is None:
        return
    for name in ("load", "decode", "detect", "lift", "write"):
        setattr(total, name, getattr(total, name) + getattr(t, name))
