"""Following persons across frames: :class:`KeypointTracker` gives each detection a track id
that survives short occlusions and crossings; :func:`assemble_tracks` turns per-frame
detections with ids into a :class:`~hmcli.types.MultiKeypoints2D` (person axis)."""

from hmcli.track.keypoint_tracker import KeypointTracker, TrackerConfig, assemble_tracks, track_detections

__all__ = ["KeypointTracker", "TrackerConfig", "assemble_tracks", "track_detections"]
