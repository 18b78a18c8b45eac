"""hmcli.batch: inputs (folders, globs, manifests, missing entries), output names, shards, skip and
overwrite, errors per input, the log, and the jobs against the single-input API."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import numpy as np
import pytest

from hmcli import api, batch
from hmcli.io.atomic import HMError, atomic_write
from hmcli.io.h5 import read_result
from hmcli.io.video import iter_frames, read_ahead
from tests.cli.helpers import write_video

pytestmark = pytest.mark.usefixtures("one_thread")


def touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def keys(entries) -> list[str]:
    return [Path(e.key).name for e in entries]


# ------------------------------------------------------------------ inputs


def test_directory_gives_its_video_and_keypoint_files_sorted(tmp_path):
    d = tmp_path / "in"
    for name in ("b.mp4", "a.MOV", "c.json", ".hidden.mp4", "notes.txt", "sub/deep.mp4"):
        touch(d / name)
    entries = batch.expand_inputs([str(d)])
    assert keys(entries) == ["a.MOV", "b.mp4", "c.json"]  # not hidden, not .txt, not recursive
    assert all(e.problem is None for e in entries)
    assert keys(batch.expand_inputs([str(d)], suffixes=batch.VIDEO_SUFFIXES)) == ["a.MOV", "b.mp4"]


def test_openpose_folder_is_one_input(tmp_path):
    d = tmp_path / "in"
    touch(d / "clip.mp4")
    touch(d / "op" / "f_000000000000_keypoints.json")
    assert keys(batch.expand_inputs([str(d)])) == ["clip.mp4", "op"]
    assert keys(batch.expand_inputs([str(d / "op")])) == ["op"]  # the folder itself: one input
    assert keys(batch.expand_inputs([str(d)], openpose_dirs=False)) == ["clip.mp4"]


def test_glob_patterns_including_recursive(tmp_path):
    for name in ("a/x.mp4", "a/y.mp4", "b/c/z.mp4", "b/c/z.txt"):
        touch(tmp_path / name)
    assert keys(batch.expand_inputs([str(tmp_path / "a" / "*.mp4")])) == ["x.mp4", "y.mp4"]
    assert keys(batch.expand_inputs([str(tmp_path / "**" / "*.mp4")])) == ["x.mp4", "y.mp4", "z.mp4"]
    (none,) = batch.expand_inputs([str(tmp_path / "*.avi")])
    assert none.problem == f"no file matches {tmp_path / '*.avi'}"


def test_manifest_comments_relative_paths_and_missing_entries(tmp_path):
    touch(tmp_path / "data" / "a.mp4")
    touch(tmp_path / "data" / "b.mp4")
    touch(tmp_path / "elsewhere" / "c.mp4")
    man = touch(tmp_path / "data" / "list.txt",
                "# the batch\n\na.mp4\n  b.mp4  \n# b2.mp4\n" + str(tmp_path / "elsewhere" / "c.mp4") + "\nmissing.mp4\n")
    entries = batch.expand_inputs([], man)
    assert keys(entries) == ["a.mp4", "b.mp4", "missing.mp4", "c.mp4"]  # sorted by full path: data/ < elsewhere/
    problems = {Path(e.key).name: e.problem for e in entries}
    assert problems["missing.mp4"] == f"input not found: {tmp_path / 'data' / 'missing.mp4'}"
    assert problems["a.mp4"] is None and problems["c.mp4"] is None


def test_manifest_that_is_missing_or_binary_is_an_error(tmp_path):
    with pytest.raises(HMError, match="manifest not found"):
        batch.expand_inputs([], tmp_path / "nope.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(HMError, match="not a UTF-8 text file"):
        batch.expand_inputs([], tmp_path / "bin.txt")


def test_each_file_once_and_the_order_of_the_listing_does_not_matter(tmp_path):
    names = [f"v{i:02d}.mp4" for i in range(12)]
    for n in names:
        touch(tmp_path / "in" / n)
    shuffled = names[:]
    random.Random(1).shuffle(shuffled)
    man = touch(tmp_path / "in" / "m.txt", "\n".join(shuffled))
    a = batch.expand_inputs([], man)
    b = batch.expand_inputs([str(tmp_path / "in"), str(tmp_path / "in" / "v03.mp4")])  # v03 twice
    assert [e.key for e in a] == [e.key for e in b] and len(a) == 12


# ------------------------------------------------------------------ outputs


def test_output_names_clashes_get_a_stable_hash(tmp_path):
    a, b, c = touch(tmp_path / "a" / "clip.mp4"), touch(tmp_path / "b" / "clip.mp4"), touch(tmp_path / "b" / "other.mp4")
    d = touch(tmp_path / "b" / "CLIP.json")  # clashes without case
    entries = batch.expand_inputs([str(a), str(b), str(c), str(d)])
    names = batch.output_names(entries, ".h5")
    assert names == batch.output_names(list(entries), ".h5")
    by_input = {e.path: n for e, n in zip(entries, names)}
    assert by_input[c] == "other.h5"
    gone = batch.expand_inputs([str(c), str(tmp_path / "x" / "other.mp4")])  # a missing input renames nothing
    assert batch.output_names(gone, ".h5") == ["other.h5", "other.h5"] and gone[1].problem
    clashing = [by_input[p] for p in (a, b, d)]
    assert len(set(clashing)) == 3
    for p, n in zip((a, b, d), clashing):
        stem, digest = n[: -len(".h5")].rsplit("-", 1)
        assert stem == p.stem and len(digest) == 8 and int(digest, 16) >= 0


def test_plan_skips_own_outputs_in_the_out_dir_and_never_overwrites_an_input(tmp_path):
    d = tmp_path / "work"
    touch(d / "a.mp4")
    touch(d / "a.h5")  # an earlier output in the same folder: not an input
    touch(d / "k.json")  # keypoints... but .json is an output suffix of this batch too
    plan = batch.plan_batch([str(d)], d, ".h5", output_suffixes=(".h5", ".json"))
    assert [(t.input.name, t.output.name) for t in plan.tasks] == [("a.mp4", "a.h5")]
    # Named one by one, such a file is an input; its output must not be itself.
    plan = batch.plan_batch([str(d / "a.h5")], d, ".h5", tag="3d")
    assert [t.output.name for t in plan.tasks] == ["a.3d.h5"]


def test_plan_errors(tmp_path):
    touch(tmp_path / "a.mp4")
    with pytest.raises(HMError, match="output directory does not exist"):
        batch.plan_batch([str(tmp_path / "a.mp4")], tmp_path / "nope", ".h5")
    with pytest.raises(HMError, match="not a directory"):
        batch.plan_batch([str(tmp_path / "a.mp4")], tmp_path / "a.mp4", ".h5")
    (tmp_path / "empty").mkdir()
    with pytest.raises(HMError, match="no inputs"):
        batch.plan_batch([str(tmp_path / "empty")], tmp_path, ".h5")


# ------------------------------------------------------------------ shards


@pytest.mark.parametrize("text", ["3", "a/b", "3/3", "-1/2", "1/0", "1/2/3", ""])
def test_bad_shards(text):
    with pytest.raises(ValueError, match="i/n"):
        batch.parse_shard(text)


@pytest.mark.parametrize("total,n", [(0, 3), (1, 4), (10, 10), (23, 4), (100, 7)])
def test_shards_are_disjoint_covering_balanced_and_deterministic(tmp_path, total, n):
    for i in range(total):
        touch(tmp_path / "in" / f"clip{i:03d}.mp4")
    (tmp_path / "in").mkdir(exist_ok=True)
    (tmp_path / "out").mkdir()
    if total == 0:
        with pytest.raises(HMError):
            batch.plan_batch([str(tmp_path / "in")], tmp_path / "out", ".h5")
        return
    plans = [batch.plan_batch([str(tmp_path / "in")], tmp_path / "out", ".h5", shard=batch.parse_shard(f"{i}/{n}"))
             for i in range(n)]  # fmt: skip
    shares = [[t.input for t in p.tasks] for p in plans]
    flat = [x for s in shares for x in s]
    assert len(flat) == len(set(flat)) == total  # disjoint and covering
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
    assert all(p.total == total for p in plans)
    # The same share from a listing in another order (a manifest, shuffled).
    names = sorted(str(p) for p in (tmp_path / "in").iterdir())
    random.Random(total).shuffle(names)
    man = touch(tmp_path / "m.txt", "\n".join(names))
    again = batch.plan_batch([], tmp_path / "out", ".h5", manifest=man, shard=batch.Shard(n - 1, n))
    assert [t.input.resolve() for t in again.tasks] == [p.resolve() for p in shares[n - 1]]
    assert [t.output for t in again.tasks] == [t.output for t in plans[n - 1].tasks]


# ------------------------------------------------------------------ running, skipping, errors, the log


def fake_job(calls):
    def job(inp: Path, out: Path) -> int:
        calls.append(inp.name)
        text = inp.read_text()
        if text == "bad":
            raise HMError(f"corrupt input: {inp.name}")
        if text == "boom":
            raise ValueError("cannot\nparse")
        with atomic_write(out, "w") as f:
            f.write(text)
        return len(text)

    return job


def small_batch(tmp_path):
    for name, text in (("a.mp4", "aaa"), ("b.mp4", "bad"), ("c.mp4", "boom"), ("d.mp4", "dddd")):
        touch(tmp_path / "in" / name, text)
    (tmp_path / "out").mkdir()
    return batch.plan_batch([str(tmp_path / "in"), str(tmp_path / "in" / "gone.mp4")], tmp_path / "out", ".txt")


def test_errors_are_caught_per_input_and_logged(tmp_path):
    plan = small_batch(tmp_path)
    calls, seen = [], []
    with batch.BatchLog(tmp_path / "out" / "log.jsonl", "test") as log:
        s = batch.run_batch(plan, fake_job(calls), log=log, on_outcome=lambda i, o: seen.append((i, o.status)))
    assert (s.done, s.skipped, s.failed, s.frames) == (2, 0, 3, 7)
    assert seen == [(0, "done"), (1, "failed"), (2, "failed"), (3, "done"), (4, "failed")]
    assert calls == ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]  # the missing one never reaches the job
    recs = [json.loads(line) for line in (tmp_path / "out" / "log.jsonl").read_text().splitlines()]
    assert [r["event"] for r in recs] == ["start"] + ["input"] * 5 + ["end"]
    errors = {Path(r["input"]).name: r.get("error") for r in recs if r["event"] == "input"}
    assert errors == {"a.mp4": None, "b.mp4": "corrupt input: b.mp4", "c.mp4": "ValueError: cannot parse",
                      "d.mp4": None, "gone.mp4": f"input not found: {tmp_path / 'in' / 'gone.mp4'}"}  # fmt: skip
    done = [r for r in recs if r.get("status") == "done"]
    assert {(Path(r["output"]).name, r["frames"]) for r in done} == {("a.txt", 3), ("d.txt", 4)}
    assert all(r["seconds"] >= 0 for r in done) and recs[-1]["failed"] == 3
    assert len({r["run"] for r in recs}) == 1


def test_finished_outputs_are_skipped_unless_overwrite(tmp_path):
    plan = small_batch(tmp_path)
    batch.run_batch(plan, fake_job([]))
    calls = []
    s = batch.run_batch(plan, fake_job(calls))
    assert (s.done, s.skipped, s.failed) == (0, 2, 3) and calls == ["b.mp4", "c.mp4"]
    calls = []
    s = batch.run_batch(plan, fake_job(calls), overwrite=True)
    assert (s.done, s.skipped, s.failed) == (2, 0, 3) and calls == ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]


def test_interrupt_stops_the_batch(tmp_path):
    plan = small_batch(tmp_path)

    def job(inp, out):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch.run_batch(plan, job)


def test_log_appends_after_a_line_cut_short(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"event": "start"}\n{"event": "inp')  # a killed run
    with batch.BatchLog(path, "lift") as log:
        log.write({"event": "start"})
    lines = path.read_text().splitlines()
    assert lines[1] == '{"event": "inp' and json.loads(lines[2])["command"] == "lift"
    assert batch.default_log_path("o", "lift") == Path("o/hm-lift.log.jsonl")
    assert batch.default_log_path("o", "lift", batch.Shard(3, 10)) == Path("o/hm-lift.shard-3-of-10.log.jsonl")


# ------------------------------------------------------------------ decoding ahead


def test_read_ahead_same_items_errors_and_early_close(tmp_path):
    assert list(read_ahead(iter(range(100)), 4)) == list(range(100))
    assert list(read_ahead(iter(range(5)), 0)) == list(range(5))

    def broken():
        yield 1
        raise HMError("bad frame")

    it = read_ahead(broken(), 3)
    assert next(it) == 1
    with pytest.raises(HMError, match="bad frame"):
        next(it)
    before = threading.active_count()
    v = write_video(tmp_path / "v.mp4", n=30)
    frames = read_ahead(iter_frames(v), 2)
    next(frames)
    frames.close()  # stops the thread, releases the video
    assert threading.active_count() == before
    ref = [(i, t, f.sum()) for i, t, f in iter_frames(v)]
    assert [(i, t, f.sum()) for i, t, f in read_ahead(iter_frames(v), 3)] == ref


def test_read_ahead_producer_ends_when_closed_on_a_full_queue():
    """Closed while the producer waits to hand over its last item or its error: it must not block."""
    import time

    def short():  # 2 items then the end marker: the queue of depth 1 is full when the consumer leaves
        yield from (1, 2)

    def failing():
        yield 1
        yield 2
        raise HMError("late")

    for make in (short, failing):
        it = read_ahead(make(), 1)
        assert next(it) == 1
        time.sleep(0.3)  # the producer has filled the queue and waits
        it.close()
        deadline = time.monotonic() + 3
        while any(t.name == "hm-read-ahead" for t in threading.enumerate()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(t.name == "hm-read-ahead" for t in threading.enumerate())


# ------------------------------------------------------------------ jobs against the single-input API


def test_lift_and_detect_jobs_match_the_single_input_api(tmp_path, ckpts):
    v = Path(write_video(tmp_path / "walk.mp4", n=20, dark=(5,)))
    out = tmp_path / "out"
    out.mkdir()
    lifter = api.load_lifter(ckpts["bi"])
    total = api.Timings()
    frames = batch.LiftJob(lifter, detector="fake-test", timings=total)(v, out / "walk.h5")
    ref = api.run_offline(lifter, v, detector="fake-test")
    got = read_result(out / "walk.h5")
    assert frames == 20 and total.detect > 0
    np.testing.assert_array_equal(got.joints3d, ref.joints3d)
    np.testing.assert_array_equal(got.kpts2d.detected, ref.kpts2d.detected)
    assert batch.DetectJob("fake-test")(v, out / "walk.kpts.h5") == 20
    from hmcli.io.keypoints import load_keypoints

    kp, ref_kp = load_keypoints(out / "walk.kpts.h5"), api.detect(v, "fake-test")
    np.testing.assert_array_equal(kp.xy, ref_kp.xy)
    np.testing.assert_array_equal(kp.detected, ref_kp.detected)
    assert kp.num_frames == 20 and not kp.detected[5] and kp.source_hash == ref_kp.source_hash


def test_torch_threads_is_set_inside_and_restored():
    import torch

    before = torch.get_num_threads()
    with batch.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with batch.torch_threads(None):
        assert torch.get_num_threads() == before


class StagedJob(batch.Job):
    """prepare reads the file; finish writes it. finish of 'a' waits until 'b' is being prepared:
    it only completes if the two overlap."""

    def __init__(self):
        self.b_started = threading.Event()
        self.threads = set()

    def prepare(self, inp):
        if inp.name == "b.mp4":
            self.b_started.set()
        text = inp.read_text()
        if text == "bad":
            raise HMError(f"corrupt input: {inp.name}")
        return inp.name, text

    def finish(self, prepared, out):
        name, text = prepared
        self.threads.add(threading.current_thread().name)
        if text == "boom":
            raise ValueError("fit diverged")
        if name == "a.mp4" and not self.b_started.wait(10):
            raise RuntimeError("no overlap")
        with atomic_write(out, "w") as f:
            f.write(text)
        return len(text)


def test_two_stage_jobs_overlap_and_keep_the_order(tmp_path):
    for name, text in (("a.mp4", "aaa"), ("b.mp4", "bb"), ("c.mp4", "bad"), ("d.mp4", "boom"), ("e.mp4", "e")):
        touch(tmp_path / "in" / name, text)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "e.txt").write_text("done before")
    plan = batch.plan_batch([str(tmp_path / "in")], tmp_path / "out", ".txt")
    seen = []
    job = StagedJob()
    with batch.BatchLog(tmp_path / "log.jsonl", "t") as log:
        s = batch.run_batch(plan, job, log=log, on_outcome=lambda i, o: seen.append((i, o.input.name, o.status, o.error)))
    assert seen == [(0, "a.mp4", "done", None), (1, "b.mp4", "done", None), (2, "c.mp4", "failed", "corrupt input: c.mp4"),
                    (3, "d.mp4", "failed", "ValueError: fit diverged"), (4, "e.mp4", "skipped", None)]  # fmt: skip
    assert (s.done, s.skipped, s.failed, s.frames) == (2, 1, 2, 5)
    assert job.threads and all(t.startswith("hm-batch-finish") for t in job.threads)
    recs = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [Path(r["input"]).name for r in recs if r["event"] == "input"] == ["a.mp4", "b.mp4", "c.mp4", "d.mp4", "e.mp4"]
    # Without overlap the same job runs in turn, in this thread.
    job = StagedJob()
    job.b_started.set()
    s = batch.run_batch(plan, job, overlap=False, overwrite=True)
    assert [o.status for o in s.outcomes] == ["done", "done", "failed", "failed", "done"]
    assert job.threads == {threading.current_thread().name}
