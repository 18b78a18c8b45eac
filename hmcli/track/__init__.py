"""Following persons across frames: :class:`KeypointTracker` gives each detection a track id
that survives short occlusions and crossings; :func:`assemble_tracks` turns per-frame
detections with ids into a :class:`~hmcli.types.MultiKeypoints2D` (person axis)."""

from hmcli.track.keypoint_tracker import (
    DEFAULT_MAX_PERSONS,
    DEFAULT_MIN_TRACK_LENGTH,
    KeypointTracker,
    TrackerConfig,
    assemble_tracks,
    track_detections,
)

__all__ = ["DEFAULT_MAX_PERSONS", "DEFAULT_MIN_TRACK_LENGTH", "KeypointTracker", "TrackerConfig", "assemble_tracks",
           "track_detections"]  # fmt: skip
