"""Choosing one person of a multi-person file, shared by every reader in :mod:`hmcli.io`.

Writers take one person or several: :func:`as_multi_keypoints` and :func:`as_multi_result`
give a one-person value the person axis (P = 1, track id 0).

The rule (``--person ID`` on the commands): ``person`` is a *track id*, not a row. With
``person=None`` a file holding exactly one person gives that person; a file with none or with
several is refused with a one-line :class:`~hmcli.io.atomic.HMError` that lists the ids.
"""

from __future__ import annotations

import os

import numpy as np

from hmcli.io.atomic import HMError
from hmcli.types import Keypoints2D, MultiKeypoints2D, MultiPose3DResult, Pose3DResult

__all__ = ["select_row", "ids_text", "as_multi_keypoints", "as_multi_result"]


def ids_text(track_ids: np.ndarray) -> str:
    """``"1, 2, 5"`` for track ids (1, 2, 5)."""
    return ", ".join(str(int(t)) for t in np.asarray(track_ids).reshape(-1))


def select_row(track_ids: np.ndarray, person: int | None, path: str | os.PathLike) -> int:
    """Row of the person chosen by ``person`` (a track id, or None: the only person).

    ``track_ids``: (P,) the file's track ids in row order. Raises HMError when ``person`` is
    None and P != 1, or when no person has the track id ``person``."""
    ids = np.asarray(track_ids, np.int64).reshape(-1)  # (P,)
    if person is None:
        if ids.size == 1:
            return 0
        if ids.size == 0:
            raise HMError(f"{path} has no persons")
        raise HMError(f"{path} has {ids.size} persons (track ids {ids_text(ids)}): choose one with --person ID")
    if isinstance(person, bool) or not isinstance(person, (int, np.integer)):
        raise HMError(f"person must be a track id (an integer), got {person!r}")
    hits = np.flatnonzero(ids == int(person))
    if not hits.size:
        if ids.size == 0:
            raise HMError(f"{path} has no persons (asked for track id {int(person)})")
        raise HMError(f"{path} has no person with track id {int(person)} (track ids {ids_text(ids)})")
    return int(hits[0])


def as_multi_keypoints(kp: Keypoints2D | MultiKeypoints2D) -> MultiKeypoints2D:
    """``kp`` with a person axis (a one-person ``Keypoints2D`` is P = 1, track id 0)."""
    if isinstance(kp, MultiKeypoints2D):
        return kp
    if isinstance(kp, Keypoints2D):
        return MultiKeypoints2D.from_single(kp)
    raise TypeError(f"expected Keypoints2D or MultiKeypoints2D, got {type(kp).__name__}")


def as_multi_result(result: Pose3DResult | MultiPose3DResult) -> MultiPose3DResult:
    """``result`` with a person axis (a one-person ``Pose3DResult`` is P = 1, track id 0)."""
    if isinstance(result, MultiPose3DResult):
        return result
    if isinstance(result, Pose3DResult):
        return MultiPose3DResult.from_single(result)
    raise TypeError(f"expected Pose3DResult or MultiPose3DResult, got {type(result).__name__}")


def only_person(multi, person: int | None, path: str | os.PathLike):  # noqa: ANN001, ANN201
    """A :class:`MultiPose3DResult` / :class:`MultiMeshResult` with only the person whose track id
    is ``person`` (``multi`` itself for None); HMError naming the ids when none has it."""
    if person is None:
        return multi
    return type(multi)([multi.persons[select_row(multi.track_ids, person, path)]], [int(person)])
