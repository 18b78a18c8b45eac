"""2D keypoint detectors: the ``Detector`` / ``MultiDetector`` protocols, the run loops and the backend registry."""

from hmcli.detect.base import (
    Detector,
    MultiDetector,
    OnFrame,
    SingleAsMulti,
    as_multi,
    available_detectors,
    count_persons,
    detect_video,
    detect_video_multi,
    get_detector,
    get_multi_detector,
    register_detector,
    run_detector,
    run_detector_multi,
)
from hmcli.detect.world import WorldRecorder, detect_video_world

__all__ = [
    "Detector",
    "MultiDetector",
    "SingleAsMulti",
    "as_multi",
    "count_persons",
    "detect_video_multi",
    "get_multi_detector",
    "run_detector_multi",
    "OnFrame",
    "available_detectors",
    "detect_video",
    "get_detector",
    "register_detector",
    "run_detector",
    "WorldRecorder",
    "detect_video_world",
]
