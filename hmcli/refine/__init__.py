"""Temporal 2D refinement: a small bidirectional DSSM model that repairs a person's 2D keypoint
track (jitter, left/right swaps, outliers, missed joints and frames) before lifting.

Pieces, as for the lifters: :mod:`.codec` (pixels <-> the model's clip-normalised units),
:mod:`.model` (the network, no files), :mod:`.checkpoint` (save / load, ``weights_only``),
:mod:`.api` (refine a clip of H36M-17 keypoints in pixels), :mod:`.train` (``hm train --task
refine2d``) and :mod:`.evaluate` (2D error and the lift's MPJPE with and without it).
"""

#: Whether ``hm lift`` refines the 2D by default (offline lifts with a bidirectional lifter; a causal
#: lift stays causal unless ``--refine`` is given). Off: the shipped refiner lowers the 2D error of
#: held-out clips (found joints 3.4 -> 2.1 % of the height with the plain corruption) but the shipped
#: lifters, trained on unrefined 2D, lift it worse (64.0 -> 73.8 mm) and real BlazePose on rendered
#: bodies no better (87.6 -> 87.7 mm); docs/real-video.md §10.
REFINE_BY_DEFAULT = False
