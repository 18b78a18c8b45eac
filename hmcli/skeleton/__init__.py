"""Skeleton layouts, joint-set conversions and the pose codec (pixels/metres <-> model units)."""

from hmcli.skeleton.codec import PoseCodec
from hmcli.skeleton.convert import (
    blazepose_to_coco,
    bone_lengths,
    coco_to_h36m,
    flip_lr,
    flip_pose,
    h36m_from_midpoints,
    halpe_to_coco,
    select_joints,
    to_h36m,
)
from hmcli.skeleton.joints import (
    BLAZEPOSE33,
    COCO17,
    H36M17,
    HALPE26,
    JOINT_SETS,
    JointSet,
    get_joint_set,
)

__all__ = [
    "BLAZEPOSE33",
    "COCO17",
    "H36M17",
    "HALPE26",
    "JOINT_SETS",
    "JointSet",
    "PoseCodec",
    "blazepose_to_coco",
    "bone_lengths",
    "coco_to_h36m",
    "flip_lr",
    "flip_pose",
    "get_joint_set",
    "h36m_from_midpoints",
    "halpe_to_coco",
    "select_joints",
    "to_h36m",
]
