"""``hm bench batch``: end-to-end throughput of a batch of videos (``hm lift DIR --out-dir``):
videos/hour and frames/s from the first video opened to the last file written, on this machine.

The clips (by default the bundled sample and the real clips in ``../shared/data/videos``) are
first made ``WxH`` (scaled to the height, padded left and right: one person in a 720p frame by
default) into a temporary folder, ``copies`` times each, outside the timing. The batch then runs
through :mod:`hmcli.batch` as the command does (one lifter loaded before, a fresh detector per
video, every output written) three ways: overlapped as ``hm lift`` runs a batch (frames decoded
ahead in a thread while the detector works, and one video lifted and written in a worker
thread while the next is detected), with decoding ahead only, and everything in turn. The
three alternate ``repeats`` times (the fastest run of each counts, so a busy machine hurts
them alike).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["DEFAULT_VIDEOS", "make_clip", "batch_throughput", "batch_table"]

_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VIDEOS = (str(_ROOT / "sample_videos" / "jumping_jacks.mp4"), "../shared/data/videos/pose_1.mp4",
                  "../shared/data/videos/pose_squats.mp4")  # fmt: skip


def make_clip(src: str | Path, dst: str | Path, size: tuple[int, int] | None) -> dict:
    """``src`` re-encoded (mp4v) as ``size`` (w, h): scaled to the height, centred, padded (or
    cropped) to the width; None copies the file. Returns width, height, frames, fps."""
    import cv2
    import numpy as np

    from hmcli.io.atomic import HMError
    from hmcli.io.video import iter_frames, probe_video

    info = probe_video(src)
    if size is None:
        shutil.copyfile(src, dst)
        return {"width": info.width, "height": info.height, "frames": info.num_frames, "fps": info.fps}
    w, h = size
    vw = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), info.fps, (w, h))
    if not vw.isOpened():
        raise HMError(f"cannot write a video to {dst}")
    n = 0
    try:
        for _, _, frame in iter_frames(src):
            sh, sw = frame.shape[:2]
            nw = max(1, round(sw * h / sh))
            img = cv2.resize(frame, (nw, h), interpolation=cv2.INTER_AREA if h < sh else cv2.INTER_LINEAR)
            canvas = np.zeros((h, w, 3), np.uint8)
            if nw <= w:
                x0 = (w - nw) // 2
                canvas[:, x0 : x0 + nw] = img
            else:
                x0 = (nw - w) // 2
                canvas[:] = img[:, x0 : x0 + w]
            vw.write(canvas)
            n += 1
    finally:
        vw.release()
    return {"width": w, "height": h, "frames": n, "fps": info.fps}


def batch_throughput(videos: Sequence[str], size: tuple[int, int] | None = (1280, 720), copies: int = 2,
                     repeats: int = 1, model: str | None = None, detector: str = "mediapipe", read_ahead: int = 8,
                     lift_threads: int | None = 1, on_progress: Callable[[str], None] | None = None,
                     max_persons: int | None = None) -> dict:  # fmt: skip
    """Time batches of the clips ``videos`` (see the module docstring); a result for
    :func:`hmcli.bench.report.print_result`. ``lift_threads``, ``max_persons`` (None: hm lift's
    default): as :class:`hmcli.batch.LiftJob`'s."""
    from hmcli import api, batch
    from hmcli.bench.common import machine
    from hmcli.io.atomic import HMError

    from hmcli.track import DEFAULT_MAX_PERSONS

    persons = DEFAULT_MAX_PERSONS if max_persons is None else int(max_persons)
    say = on_progress or (lambda m: None)
    found = [v for v in videos if Path(v).is_file()]
    if not found:
        raise HMError("no video to benchmark: " + ", ".join(videos))
    with tempfile.TemporaryDirectory(prefix="hm-bench-batch-") as tmp:
        src_dir = Path(tmp) / "in"
        src_dir.mkdir()
        clips = []
        for v in found:
            say(f"preparing {Path(v).name}")
            first = src_dir / f"{Path(v).stem}-0.mp4"
            meta = make_clip(v, first, size)
            clips.append({"video": str(v), **meta})
            for k in range(1, copies):
                shutil.copyfile(first, src_dir / f"{Path(v).stem}-{k}.mp4")
        t0 = time.perf_counter()
        lifter = api.load_lifter(model)
        load_s = time.perf_counter() - t0
        methods = {"overlapped": (read_ahead, True), "decode ahead only": (read_ahead, False), "in turn": (0, False)}
        best: dict[str, dict] = {}
        for r in range(repeats):
            for name, (depth, overlap) in methods.items():
                say(f"run {r + 1}/{repeats}: {name}")
                out = Path(tmp) / f"out-{name.replace(' ', '-')}-{r}"
                out.mkdir()
                plan = batch.plan_batch([str(src_dir)], out, ".h5")
                stages = api.Timings()
                job = batch.LiftJob(lifter, detector=detector, read_ahead=depth, lift_threads=lift_threads,
                                    timings=stages, max_persons=persons)  # fmt: skip
                s = batch.run_batch(plan, job, overlap=overlap)
                if s.failed:
                    bad = next(o for o in s.outcomes if o.status == "failed")
                    raise HMError(f"{bad.input}: {bad.error}")
                row = {"method": name, "read_ahead": depth, "overlap": overlap, "videos": s.done, "frames": s.frames,
                       "seconds": s.wall_seconds, "frames_per_s": s.frames / s.wall_seconds,
                       "videos_per_hour": 3600.0 * s.done / s.wall_seconds, "decode_s": stages.decode,
                       "detect_s": stages.detect, "lift_s": stages.lift, "write_s": stages.write}  # fmt: skip
                if name not in best or row["seconds"] < best[name]["seconds"]:
                    best[name] = row
    return {"benchmark": "batch", "machine": machine(), "clips": clips,
            "settings": {"size": None if size is None else f"{size[0]}x{size[1]}", "copies": copies, "repeats": repeats,
                         "model": lifter.model_id, "detector": detector, "model_load_s": load_s,
                         "lift_threads": lift_threads, "max_persons": persons},
            "rows": list(best.values())}  # fmt: skip


def batch_table(result: dict) -> tuple[str, list[str], list[list[str]]]:
    cols = ["method", "videos", "frames", "seconds", "frames/s", "videos/hour", "decode s", "detect s", "lift s",
            "write s"]  # fmt: skip
    rows = [[r["method"], str(r["videos"]), str(r["frames"]), f"{r['seconds']:.1f}", f"{r['frames_per_s']:.1f}",
             f"{r['videos_per_hour']:.0f}", f"{r['decode_s']:.1f}", f"{r['detect_s']:.1f}", f"{r['lift_s']:.1f}",
             f"{r['write_s']:.2f}"] for r in result["rows"]]  # fmt: skip
    st = result["settings"]
    clips = ", ".join(f"{Path(c['video']).name} ({c['frames']} frames)" for c in result["clips"])
    title = (f"hm lift batch, end to end ({st['size'] or 'original size'}; {clips}; x{st['copies']} each; "
             f"model {st['model']} loaded once in {st['model_load_s']:.1f} s; "
             f"lift threads {st.get('lift_threads') or 'all'}; max persons {st.get('max_persons', 1)})")  # fmt: skip
    return title, cols, rows
