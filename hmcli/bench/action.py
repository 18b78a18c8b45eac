"""``hm bench action``: the action classifier's cost per 2 s window (offline) and per streamed
frame (online, causal), next to the lifter's own streaming step, measured in one run."""

from __future__ import annotations

import statistics
import time

import torch

from hmcli.bench.common import machine

__all__ = ["action_speed", "action_table"]


def _median_ms(fn, repeats: int) -> float:
    fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - t0))
    return statistics.median(out)


@torch.no_grad()
def action_speed(model: str | None = None, causal_model: str | None = None, repeats: int = 20) -> dict:
    from hmcli.action.checkpoint import load_action
    from hmcli.action.model import ActionStreamer
    from hmcli.nn.hummuss import Streamer

    rows = []
    la = load_action(model)
    F = la.window_frames
    x = torch.zeros(1, 1, F, 17, la.codec.in_channels)
    w = torch.ones(1, 1, F)
    ms = _median_ms(lambda: la.model(x, w), repeats)
    rows.append({"model": la.model_id, "unit": f"window ({la.window_s:g} s, {F} frames)", "ms": ms,
                 "per_frame_ms": ms / F, "note": "offline, bidirectional"})
    lc = load_action(causal_model, causal=True)
    st = ActionStreamer(lc.model, lc.window_frames)
    frame = torch.zeros(1, 1, 17, lc.codec.in_channels)
    for _ in range(lc.window_frames):  # a full window in the buffer
        st.step(frame)
    step_ms = _median_ms(lambda: st.step(frame), repeats * 5)
    lift = Streamer(lc.model.backbone)
    lift_ms = _median_ms(lambda: lift.step(frame[:, 0]), repeats * 5)
    rows.append({"model": lc.model_id, "unit": "streamed frame (label)", "ms": step_ms, "per_frame_ms": step_ms,
                 "note": f"lifter step alone {lift_ms:.2f} ms: the label costs {step_ms / lift_ms:.2f}x"})
    return {"benchmark": "action", "rows": rows, "ratios": {"online label / lifter step": step_ms / lift_ms},
            "machine": machine()}


def action_table(result: dict) -> tuple[str, list[str], list[list[str]]]:
    cols = ["model", "unit", "ms", "ms per frame", "note"]
    return ("hm action cost", cols, [[r["model"], r["unit"], f"{r['ms']:.2f}", f"{r['per_frame_ms']:.3f}", r["note"]]
                                     for r in result["rows"]])
