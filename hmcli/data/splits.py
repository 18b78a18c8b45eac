"""Fixed train/val/test split of the CMU mocap subset by whole subject.

The shared subset (``../shared/data/cmu-amc``) has AMC trials for 11 usable subjects
(subject 35 has no ASF; 15 and 17 have an ASF but no trials).  Its own
Training/Testing folders split by trial, so the same people appear on both sides; a
lifter must be evaluated on people it never saw, hence this split by subject.

* test = 09, 49.  Subject 49 is the only one besides 16 with jump, run *and* dance
  (plus a stretch trial), and 16 is the bulk of the walk/run/jump training data, so it
  must stay in training.  Subject 09 adds the walking (a 16 s walk, the longest walk
  trial) and another run.  Together the test set covers walk, run, jump, dance and
  stretch.
* val = 02, 55.  Small (about 6 % of frames) but covers walk, run (02) and dance (55),
  for early stopping and tuning without touching the test subjects.
* train = everything else (05 06 10 13 14 16 93 and any subject not listed here, e.g.
  when pointing the loader at the full CMU database).  Training still has every
  action: walk (10, 16), run (16), jump (13, 16), dance (05, 93), basketball (06),
  stretch (13, 14).

Counts on the shared subset (trials / frames at 120 fps; duplicates 16_08, 16_47
counted once):

* train 90/63090: walk 28/11266, run 22/3819, jump 14/5623, dance 17/15095,
  basketball 4/7151, stretch 5/20136
* val 5/4800: walk 2/641, run 1/173, dance 2/3986
* test 16/16036: walk 1/1918, run 3/580, jump 1/1504, dance 10/10932, stretch 1/1102
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

TEST_SUBJECTS: tuple[str, ...] = ("09", "49")
VAL_SUBJECTS: tuple[str, ...] = ("02", "55")
SPLITS: tuple[str, ...] = ("train", "val", "test")

T = TypeVar("T")


def normalize_subject(subject: str | int) -> str:
    """'9', 9, '09' -> '09'.  Raises ValueError for non-numeric ids."""
    try:
        return f"{int(str(subject).strip()):02d}"
    except ValueError as e:
        raise ValueError(f"subject id must be numeric, got {subject!r}") from e


def split_of(subject: str | int) -> str:
    """'train', 'val' or 'test' for a CMU subject id (unlisted subjects: 'train')."""
    s = normalize_subject(subject)
    if s in TEST_SUBJECTS:
        return "test"
    if s in VAL_SUBJECTS:
        return "val"
    return "train"


def filter_split(items: Iterable[T], split: str) -> list[T]:
    """Keep items (anything with a ``.subject``, e.g. ``Sequence``) in ``split``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return [it for it in items if split_of(it.subject) == split]  # type: ignore[attr-defined]
