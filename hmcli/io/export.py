"""A lifted result in any of our formats: :func:`export` writes BVH, CSV, JSON or HDF5 (``hm
export``, ``hm lift -o``); :func:`read_any_result` (one person) and :func:`read_any_results`
(every person) read our .h5 or .json back. JSON and HDF5 hold every person of a
:class:`~hmcli.types.MultiPose3DResult`; BVH and CSV hold one person.

CSV layout (long format, one row per frame and joint, with a header line)::

    frame,t,joint,x,y,z
    0,0.000000,pelvis,0.0000,0.0000,0.0000
    0,0.000000,right_hip,-0.1301,0.0123,0.0210
    ...

``frame`` is the frame index, ``t`` seconds from the start of the video, ``joint`` the
H36M joint name; x, y, z are metres, root-relative (pelvis at 0) in camera axes (x right,
y down, z forward), rounded to 0.1 mm. Missing values are empty fields.

BVH: see :mod:`hmcli.io.bvh` (Y-up, centimetres). JSON: :mod:`hmcli.io.jsonio`.
HDF5: :mod:`hmcli.io.h5`.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from hmcli.io.atomic import HMError, atomic_write
from hmcli.skeleton import H36M17
from hmcli.types import MultiPose3DResult, Pose3DResult

__all__ = ["FORMATS", "SUFFIXES", "export", "export_persons", "per_person_paths", "export_csv", "format_from_path", "read_any_result", "read_any_results"]

FORMATS = ("bvh", "csv", "json", "h5")
SUFFIXES = {".bvh": "bvh", ".csv": "csv", ".json": "json", ".h5": "h5", ".hdf5": "h5"}
CSV_COLUMNS = ("frame", "t", "joint", "x", "y", "z")


def _cell(v: float, decimals: int) -> str:
    return f"{v:.{decimals}f}" if math.isfinite(v) else ""


def export_csv(path: str | os.PathLike, result: Pose3DResult) -> None:
    """Write the 3D joints as long-format CSV (see the module docstring), atomically."""
    j3 = np.asarray(result.joints3d, np.float64)
    ts = np.asarray(result.kpts2d.timestamps, np.float64)
    names = H36M17.joints
    if j3.ndim != 3 or j3.shape[1:] != (len(names), 3) or j3.shape[0] != ts.shape[0]:
        raise ValueError(f"joints3d must be ({ts.shape[0]}, {len(names)}, 3), got {j3.shape}")
    with atomic_write(path, "w") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for i in range(j3.shape[0]):
            t = _cell(float(ts[i]), 6)
            for k, name in enumerate(names):
                x, y, z = j3[i, k]
                w.writerow((i, t, name, _cell(x, 4), _cell(y, 4), _cell(z, 4)))


def format_from_path(path: str | os.PathLike) -> str:
    """Export format implied by the file suffix; HMError if there is none."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise HMError(
            f"cannot tell the export format from {Path(path).name!r}; use a .bvh, .csv, .json or .h5 "
            f"name or give the format explicitly ({', '.join(FORMATS)})"
        )
    return SUFFIXES[suffix]


def export(result: Pose3DResult | MultiPose3DResult, path: str | os.PathLike, fmt: str | None = None) -> str:
    """Write ``result`` to ``path`` as ``fmt`` (bvh, csv, json or h5; None: from the suffix).

    JSON and HDF5 take one person or several (:class:`MultiPose3DResult`); BVH and CSV hold
    one person, so a multi-person result must have exactly one there (HMError otherwise;
    pass ``result.person(p)``). Returns the format used. Unknown formats raise HMError.
    """
    fmt = format_from_path(path) if fmt is None else str(fmt).lower().lstrip(".")
    if fmt == "hdf5":
        fmt = "h5"
    if fmt in ("bvh", "csv") and isinstance(result, MultiPose3DResult):
        if result.num_persons != 1:
            ids = ", ".join(str(int(t)) for t in result.track_ids)
            raise HMError(f"a {fmt.upper()} file holds one person; the result has {result.num_persons} "
                          f"(track ids {ids or 'none'}): choose one with --person ID")  # fmt: skip
        result = result.person(0)
    if fmt == "bvh":
        from hmcli.io.bvh import write_bvh

        fps = result.kpts2d.fps
        write_bvh(path, result.joints3d, fps if math.isfinite(fps) and fps > 0 else 30.0)
    elif fmt == "csv":
        export_csv(path, result)
    elif fmt == "json":
        from hmcli.io.jsonio import write_result_json

        write_result_json(path, result)
    elif fmt == "h5":
        from hmcli.io.h5 import write_result

        write_result(path, result)
    else:
        raise HMError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return fmt


def per_person_paths(path: str | os.PathLike, track_ids) -> list[Path]:
    """``clip.bvh`` -> ``[clip.p1.bvh, clip.p3.bvh, ...]``: one file per person for the formats
    that hold one person (BVH, CSV)."""
    path = Path(path)
    return [path.with_name(f"{path.stem}.p{int(t)}{path.suffix}") for t in track_ids]


def export_persons(result: Pose3DResult | MultiPose3DResult, path: str | os.PathLike,
                   fmt: str | None = None) -> list[Path]:  # fmt: skip
    """Write every person of ``result``: JSON / HDF5 as one file at ``path``; BVH / CSV one file
    per person (:func:`per_person_paths`; ``path`` itself when there is one person). Written
    together: if one file fails, those written before it are removed. HMError for BVH / CSV of a
    result without persons. Returns the paths written."""
    fmt = format_from_path(path) if fmt is None else str(fmt).lower().lstrip(".")
    fmt = "h5" if fmt == "hdf5" else fmt
    if fmt not in ("bvh", "csv") or not isinstance(result, MultiPose3DResult) or result.num_persons == 1:
        export(result, path, fmt)
        return [Path(path)]
    if result.num_persons == 0:
        raise HMError(f"no person was found: nothing to write as {fmt.upper()} (use .h5 or .json)")
    paths = per_person_paths(path, result.track_ids)
    done: list[Path] = []
    try:
        for p, out in enumerate(paths):
            export(result.persons[p], out, fmt)
            done.append(out)
    except BaseException:
        for out in done:
            out.unlink(missing_ok=True)
        raise
    return paths


def read_any_result(path: str | os.PathLike, person: int | None = None) -> Pose3DResult:
    """One person of our .h5 or .json output (HMError otherwise). ``person``: a track id;
    None takes the only person and refuses files with several (HMError naming the ids)."""
    p = Path(path)
    if not p.exists():
        raise HMError(f"file not found: {p}")
    if p.suffix.lower() == ".json":
        from hmcli.io.jsonio import read_result_json

        return read_result_json(p, person)
    from hmcli.io.h5 import read_result

    return read_result(p, person)


def read_any_results(path: str | os.PathLike) -> MultiPose3DResult:
    """Every person of our .h5 or .json output, with their track ids (HMError otherwise)."""
    p = Path(path)
    if not p.exists():
        raise HMError(f"file not found: {p}")
    if p.suffix.lower() == ".json":
        from hmcli.io.jsonio import read_results_json

        return read_results_json(p)
    from hmcli.io.h5 import read_results

    return read_results(p)
