"""2D keypoint detectors: the ``Detector`` protocol, the run loop and the backend registry."""

from hmcli.detect.base import (
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
    "OnFrame",
    "available_detectors",
    "detect_video",
    "get_detector",
    "register_detector",
    "run_detector",
]
