import json

import numpy as np

from hmcli.io.keypoints import keypoints_frame_records, keypoints_header_record, load_keypoints, write_keypoints_json
from tests.cli.helpers import make_keypoints


def test_keypoints_json_roundtrip_document_and_lines(tmp_path):
    det = np.ones(15, bool)
    det[5] = False
    kp = make_keypoints(15, detected=det)
    write_keypoints_json(tmp_path / "k.json", kp)
    lines = [json.dumps(keypoints_header_record(kp))] + [json.dumps(r) for r in keypoints_frame_records(kp)]
    (tmp_path / "k.jsonl").write_text("\n".join(lines) + "\n")
    for name in ("k.json", "k.jsonl"):
        back = load_keypoints(tmp_path / name)
        assert (back.joint_set, back.width, back.height, back.detector) == ("coco17", 320, 240, "synthetic")
        np.testing.assert_allclose(back.xy, kp.xy, atol=0.006)
        np.testing.assert_allclose(back.conf, kp.conf, atol=1e-4)
        np.testing.assert_allclose(back.timestamps, kp.timestamps, atol=1e-6)
        np.testing.assert_array_equal(back.detected, det)
