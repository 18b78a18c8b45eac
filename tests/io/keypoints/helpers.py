"""JSON fixtures shared by the keypoint reader tests."""

import json


def dump(path, obj):
    path.write_text(json.dumps(obj))
    return path


def pose17(offset):
    """17 distinct points: joint j at (10*j + offset, 100 + j)."""
    return [[10.0 * j + offset, 100.0 + j] for j in range(17)]
