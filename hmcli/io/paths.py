"""Input kinds and paths of the commands: what an input file is (video, keypoint file or an
``hm lift`` / ``hm mesh`` result), the default output name beside it, the check that an output
folder exists, and the source video a result was made from."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hmcli.io.atomic import HMError

#: Keypoint files by suffix (an OpenPose folder is one too).
KEYPOINT_SUFFIXES = (".h5", ".hdf5", ".json", ".npz")
#: HDF5 schemas that hold a lift (``hm lift``, and ``hm mesh``, whose files are lifts too).
LIFTED_SCHEMAS = ("hm.pose3d", "hm.mesh")


def input_kind(path: Path, lifted: bool = False) -> str:
    """``"keypoints"`` (an OpenPose folder or a keypoint suffix) or ``"video"``; with ``lifted``,
    an HDF5 file holding a lift result is ``"lifted"`` (its schema is read)."""
    suffix = path.suffix.lower()
    if lifted and suffix in (".h5", ".hdf5"):
        from hmcli.io.h5 import read_info

        return "lifted" if read_info(path).get("schema") in LIFTED_SCHEMAS else "keypoints"
    return "keypoints" if path.is_dir() or suffix in KEYPOINT_SUFFIXES else "video"


def output_dir_check(path: Path) -> None:
    """HMError when the folder ``path`` is to be written in does not exist."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise HMError(f"output directory does not exist: {parent}")
    if path.is_dir():  # checked before the work, not when the file is written
        raise HMError(f"output path is a directory: {path}")


def default_output(input_path: Path, suffix: str, tag: str) -> Path:
    """``<stem><suffix>`` next to the input, or ``<stem>.<tag><suffix>`` if that is the input."""
    out = input_path.with_suffix(suffix) if input_path.suffix else input_path.with_name(input_path.name + suffix)
    if input_path.is_dir():  # OpenPose folder: put the file beside it
        out = input_path.parent / f"{input_path.name}{suffix}"
    with contextlib.suppress(OSError):
        if out.exists() and out.resolve() == input_path.resolve():
            out = input_path.with_name(f"{input_path.stem}.{tag}{suffix}")
    return out


def find_source_video(source: str | None, result_path: Path) -> Path | None:
    """The video a result was made from, if it can be found: the stored path as is, relative to
    the result's folder, or its file name in the result's folder. Results written since 2026-12 store
    the absolute path; older ones store it as the user typed it."""
    if not source or source.startswith("camera:"):
        return None
    p = Path(source)
    for cand in (p, result_path.parent / p, result_path.parent / p.name):
        if cand.is_file():
            return cand
    return None
