"""Mesh files for ``hm render``: every person of an ``hm.mesh`` file, with their vertices.

::

    from hmcli.render.meshfile import load_mesh_for_render, mesh_vertices_for_render
    from hmcli.render.overlay import render_mesh_overlay

    mres = load_mesh_for_render("clip.mesh.h5")              # MultiMeshResult, vertices not loaded
    with mesh_vertices_for_render("clip.mesh.h5", mres) as verts:   # one (F, V, 3) per person
        render_mesh_overlay(mres, "clip.mp4", "clip.overlay.mp4", vertices=verts)

Stored vertices are read lazily, one frame at a time; a file that stores none has each
person's mesh rebuilt from the body model (``rebuild``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    from hmcli.types import MeshResult, MultiMeshResult

__all__ = ["load_mesh_for_render", "mesh_vertices_for_render"]


def load_mesh_for_render(path: str | os.PathLike, person: int | None = None) -> MultiMeshResult:
    """Every person of a mesh file (``person``: only the one with that track id; HMError naming
    the ids when none has it), without their vertices (see :func:`mesh_vertices_for_render`)."""
    from hmcli.io.mesh_h5 import read_mesh, read_meshes
    from hmcli.types import MultiMeshResult

    if person is None:
        return read_meshes(path, load_vertices=False)
    return MultiMeshResult.from_single(read_mesh(path, load_vertices=False, person=person), int(person))


@contextlib.contextmanager
def mesh_vertices_for_render(path: str | os.PathLike, result: MultiMeshResult,
                             rebuild: Callable[[MeshResult, Any], Any]) -> Iterator[list[Any]]:  # fmt: skip
    """One (F, V, 3) vertex source per person of ``result`` (as :func:`load_mesh_for_render`
    read it from ``path``), in row order: the file's stored vertices read lazily
    (:func:`hmcli.io.mesh_h5.open_vertices`), or ``rebuild(person_result, path)`` when it stores
    none (the renderer does not know the body models: ``hm render`` passes
    :func:`hmcli.cli.render.mesh_vertices_for`). The file stays open inside the block."""
    from hmcli.io.mesh_h5 import open_vertices

    with contextlib.ExitStack() as stack:
        out = []
        for tid, m in zip(result.track_ids.tolist(), result.persons, strict=True):
            stored = stack.enter_context(open_vertices(path, person=int(tid)))
            out.append(stored if stored is not None else rebuild(m, path))
        yield out
