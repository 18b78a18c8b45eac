"""2D keypoint detectors: the ``Detector`` / ``MultiDetector`` protocols, the run loops and the backend registry."""

from hmcli.detect.base import (
    MultiDetector,
    SingleAsMulti,
    as_multi,
    detect_video_multi,
    get_multi_detector,
    run_detector_multi,
    Detector,
    OnFrame,
    available_detectors,
    detect_video,
    get_detector,
    register_detector,
    run_detector,
)

__all__ = [
    "Detector",
    "MultiDetector",
    "SingleAsMulti",
    "as_multi",
    "detect_video_multi",
    "get_multi_detector",
    "run_detector_multi",
    "OnFrame",
    "available_detectors",
    "detect_video",
    "get_detector",
    "register_detector",
    "run_detector",
]
