"""hm: human motion from video (2D keypoints -> 3D joints with HumMUSS)."""

__version__ = "0.1.0"
