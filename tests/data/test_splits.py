from __future__ import annotations

from dataclasses import dataclass

import pytest

from hmcli.data.splits import TEST_SUBJECTS, VAL_SUBJECTS, filter_split, split_of


def test_fixed_assignment() -> None:
    assert split_of("09") == "test" and split_of("49") == "test"
    assert split_of("02") == "val" and split_of("55") == "val"
    for s in ("05", "06", "10", "13", "14", "16", "93"):
        assert split_of(s) == "train"
    assert split_of(9) == "test" and split_of("9") == "test"
    assert split_of("143") == "train"  # subjects not in the subset train
    assert not set(TEST_SUBJECTS) & set(VAL_SUBJECTS)
    with pytest.raises(ValueError):
        split_of("abc")


@dataclass
class _Item:
    subject: str


def test_filter_split_partitions() -> None:
    items = [_Item(s) for s in ("02", "05", "09", "16", "49", "55")]
    parts = {sp: [i.subject for i in filter_split(items, sp)] for sp in ("train", "val", "test")}
    assert parts == {"train": ["05", "16"], "val": ["02", "55"], "test": ["09", "49"]}
    with pytest.raises(ValueError):
        filter_split(items, "dev")
