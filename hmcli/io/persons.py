"""Choosing one person of a multi-person file, shared by every reader in :mod:`hmcli.io`.

The rule (``--person ID`` on the commands): ``person`` is a *track id*, not a row. With
``person=None`` a file holding exactly one person gives that person; a file with none or with
several is refused with a one-line :class:`~hmcli.io.atomic.HMError` that lists the ids.
"""

from __future__ import annotations

import os

import numpy as np

from hmcli.io.atomic import HMError

__all__ = ["select_row", "ids_text"]


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
