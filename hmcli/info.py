"""What this install has (``hm info``): version, architectures and presets with parameter counts,
the checkpoints in the models directories (lifters, action models and 2D refiners), optional backends."""

from __future__ import annotations

import importlib.util

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


def _refiner_entry(p) -> dict | None:
    """A 2D refiner's row (name, parameters, size, training frames, validation 2D error), or None
    when the file is not a refiner."""
    from hmcli.io.checkpoint import CheckpointError
    from hmcli.refine.checkpoint import read_refiner

    try:
        obj = read_refiner(p)
    except CheckpointError:
        return None
    meta = obj.get("meta") or {}
    params = sum(int(v.numel()) for v in obj["state_dict"].values() if hasattr(v, "numel"))
    m = meta.get("metrics") or {}
    return {"name": p.stem, "path": str(p), "params": params, "size_mb": round(p.stat().st_size / 1e6, 2),
            "clip_frames": int(meta.get("clip_frames", 0)),
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
    ckpts, actions, refiners = [], [], []
    for p in find_checkpoints():
        action = _action_entry(p)
        if action is not None:
            actions.append(action)
            continue
        refiner = _refiner_entry(p)
        if refiner is not None:
            refiners.append(refiner)
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
        "refiners": refiners,
        "backends": backends,
    }
