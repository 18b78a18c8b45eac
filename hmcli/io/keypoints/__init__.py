"""2D keypoint files: importers for other tools' formats, and our own NPZ and JSON.

``load_keypoints(path)`` (:mod:`.load`) looks at the extension and the content and returns
one person's ``Keypoints2D``; ``load_keypoints_multi(path)`` returns every person as a
``MultiKeypoints2D`` with track ids. One module per format:

* :mod:`.npz`: our NPZ (``save_keypoints_npz``): arrays xy (P, F, J, 2), conf (P, F, J),
  detected (P, F), track_ids (P,), timestamps (F,), and scalars width, height, joint_set
  (+ detector, source, source_hash); older NPZ without track_ids are one person;
* our HDF5 output (``.h5``/``.hdf5``, read by ``hmcli.io.h5.read_keypoints``);
* :mod:`.hm_json`: our JSON (``hm detect -o x.json`` or ``--json -o -`` JSON lines, schema
  ``hm.keypoints2d``; also the 2D input stored in ``hm lift --json`` output), read by
  ``read_hm_json`` and written by ``write_keypoints_json``;
* :mod:`.coco`: COCO-style JSON: a list of annotations (or a dataset dict with "annotations"
  and "images") with flat ``keypoints`` [x, y, v] * J and ``image_id`` as frame;
* :mod:`.tfjs`: tfjs-models pose-detection JSON: a list per frame of ``{name: {x, y[, score]}}``,
  of ``[[x, y(, z)], ...]``, or of tfjs pose objects ``{"keypoints": [{x, y, score, name}]}``;
* :mod:`.openpose`: OpenPose output: a folder of per-frame ``*_keypoints.json`` (or one such
  file), BODY_25 or COCO-18, mapped to coco17 by joint name;
* :mod:`.mmpose`: mmpose predictions: ``{"meta_info": ..., "instance_info": [{"frame_id",
  "instances"}]}`` or a list per frame of instances with ``keypoints`` [[x, y], ...] and
  ``keypoint_scores``.

:mod:`.base` holds what the readers share. Where another tool's file holds several people
in a frame, ``load_keypoints`` keeps the one with the highest mean confidence and
``load_keypoints_multi`` keeps them all, followed across frames by :mod:`hmcli.track`. Files without timestamps get ``index / fps``
(``fps`` argument, default 30); files without an image size need ``width`` and ``height``.
Nothing here unpickles or executes file content.
"""

from hmcli.io.keypoints.base import BLAZEPOSE33_NAMES, COCO17_NAMES, DEFAULT_FPS
from hmcli.io.keypoints.coco import read_coco_json, read_coco_json_multi
from hmcli.io.keypoints.hm_json import (keypoints_frame_records, keypoints_header_record, read_hm_json,
                                        read_hm_json_multi, write_keypoints_json)
from hmcli.io.keypoints.load import (load_keypoints, load_keypoints_multi, read_keypoints_bytes,
                                     read_keypoints_bytes_multi, save_keypoints)
from hmcli.io.keypoints.mmpose import read_mmpose_predictions, read_mmpose_predictions_multi
from hmcli.io.keypoints.npz import read_keypoints_npz, read_keypoints_npz_multi, save_keypoints_npz
from hmcli.io.keypoints.openpose import read_openpose, read_openpose_multi
from hmcli.io.keypoints.tfjs import read_tfjs_json

__all__ = [
    "load_keypoints",
    "load_keypoints_multi",
    "read_keypoints_bytes",
    "read_keypoints_bytes_multi",
    "save_keypoints",
    "read_coco_json",
    "read_coco_json_multi",
    "read_tfjs_json",
    "read_openpose",
    "read_openpose_multi",
    "read_mmpose_predictions",
    "read_mmpose_predictions_multi",
    "read_keypoints_npz",
    "read_keypoints_npz_multi",
    "save_keypoints_npz",
    "read_hm_json",
    "read_hm_json_multi",
    "keypoints_header_record",
    "keypoints_frame_records",
    "write_keypoints_json",
    "COCO17_NAMES",
    "BLAZEPOSE33_NAMES",
    "DEFAULT_FPS",
]
