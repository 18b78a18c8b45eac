"""Rendering a mesh file with several persons (hm render mesh.h5 and render_mesh_overlay)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from hmcli.cli.main import app
from hmcli.io.mesh_h5 import write_mesh
from hmcli.render.meshfile import load_mesh_for_render
from hmcli.render.overlay import person_colour
from hmcli.types import MultiMeshResult
from tests.cli.helpers import write_video
from tests.mesh.result_helpers import make_mesh_result
from tests.render.test_overlay import read_all

F, W, H = 5, 320, 240
IDS = (1, 4)


def two_cubes() -> MultiMeshResult:
    """Two cubes 0.6 m wide, left and right of the centre, 3 and 4 m away; the far one not valid in frame 2."""
    persons = []
    for dx, z, invalid in ((-0.8, 3.0, ()), (0.8, 4.0, (2,))):
        m = make_mesh_result(f=F, width=W, height=H, size=0.6, z=z, invalid=invalid)
        m.vertices = m.vertices + np.array([dx, 0, 0], np.float32)        # (F, 8, 3)
        m.joints3d = m.joints3d + np.array([dx, 0, 0], np.float32)        # (F, 17, 3)
        persons.append(m)
    persons[1] = replace(persons[1], lift=persons[0].lift)  # one lift per file's frames
    return MultiMeshResult(persons, list(IDS))


def centre_px(m, i):
    return np.round(m.camera.project(m.vertices[i].mean(axis=0).astype(np.float64))).astype(int)


@pytest.mark.parametrize("stored", [True, False])
def test_render_two_persons_in_their_colours(tmp_path, stored, monkeypatch):
    res = two_cubes()
    path = tmp_path / "two.mesh.h5"
    if not stored:
        import hmcli.cli.render as render_cli

        verts = [m.vertices for m in res.persons]
        for m in res.persons:
            m.vertices = None
        monkeypatch.setattr(render_cli, "mesh_vertices_for", lambda r, p: verts[int(r.quality["row"])])
        for k, m in enumerate(res.persons):
            m.quality = {**m.quality, "row": k}
    write_mesh(path, res)
    if not stored:
        for m, v in zip(res.persons, verts):
            m.vertices = v
    video = write_video(tmp_path / "v.mp4", n=F, size=(W, H))
    out = tmp_path / "o.mp4"
    r = CliRunner().invoke(app, ["render", str(path), "--video", video, "-o", str(out), "--mesh-style", "filled",
                                 "--mesh-alpha", "1"])  # fmt: skip
    assert r.exit_code == 0, r.stderr
    frames = read_all(out)
    assert len(frames) == F and frames[0].shape == (H, W + H, 3)
    for i in range(F):
        for m, tid in zip(res.persons, IDS):
            x, y = centre_px(m, i)
            px = frames[i][y, x].astype(int)
            if tid == 4 and i == 2:  # not valid: the video shows
                assert np.abs(px - 160).max() < 15, (i, tid, px)
            else:
                assert np.abs(px - np.array(person_colour(tid))).max() < 30, (i, tid, px)
        # the 3D panel shows both persons in their colours
        panel = frames[i][:, W:].astype(int)
        for tid in IDS:
            if tid == 4 and i == 2:
                continue
            near = np.abs(panel - np.array(person_colour(tid))).max(-1) < 30
            assert near.sum() > 20, (i, tid)


def test_id_tags_and_order(tmp_path):
    """Each person's id tag (its colour) sits above its mesh; the near mesh covers the far one."""
    from hmcli.render.overlay import OverlayRenderer

    res = two_cubes()
    r = OverlayRenderer(W, H, "h36m17")
    frame = np.full((H, W, 3), 160, np.uint8)
    people = [(tid, m.vertices[0], m.camera, m.joints3d[0]) for tid, m in zip(IDS, res.persons)]
    img = r.compose_mesh_persons(frame, people, res.persons[0].faces, "filled", 1.0, labels={4: "walk 80 %"})
    tags = r.compose_mesh_persons(frame, people, res.persons[0].faces, "filled", 1.0)
    assert not np.array_equal(img, tags)  # the label is drawn in person 4's tag
    left = img[:, :W].astype(int)
    for tid, m in zip(IDS, res.persons):
        col = np.array(person_colour(tid))
        assert (np.abs(left - col).max(-1) == 0).any(), tid
    # far first: a near cube listed first still covers a far one straight behind it
    near = [(1, res.persons[1].vertices[0] - np.array([0, 0, 1.0], np.float32), res.persons[1].camera, None),
            (4, res.persons[1].vertices[0], res.persons[1].camera, None)]  # fmt: skip
    img = r.compose_mesh_persons(frame, near, res.persons[0].faces, "filled", 1.0)
    x, y = centre_px(res.persons[1], 0)
    assert np.abs(img[y, x].astype(int) - np.array(person_colour(1))).max() == 0


def test_load_mesh_for_render_person(tmp_path):
    res = two_cubes()
    write_mesh(tmp_path / "m.h5", res)
    assert load_mesh_for_render(tmp_path / "m.h5").track_ids.tolist() == list(IDS)
    one = load_mesh_for_render(tmp_path / "m.h5", person=4)
    assert one.track_ids.tolist() == [4] and one.persons[0].vertices is None
    from hmcli.io.atomic import HMError

    with pytest.raises(HMError, match="1, 4"):
        load_mesh_for_render(tmp_path / "m.h5", person=2)
