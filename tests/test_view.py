"""The viewer without a browser: it reads the store and never writes it, switches scenes, answers
prompts like ``query``, draws a mesh as a surface when the scan has faces, and the CLI prints where
to reach it; ``export --format html`` writes one self-contained file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from geopurify.pipeline import vocabulary as V
from geopurify.pipeline.errors import ConfigError
from geopurify.pipeline.store import Store
from geopurify.stages.purify.query import query_scene

from view_fixture import CHAIR, SCENE, TABLE, free_port, tree_digest, write_view_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = write_view_store(tmp_path_factory.mktemp("view") / "s.zarr")
    # a second scene: a copy of the first, shifted, and a third without labels or results
    shutil.copytree(path / "scenes" / SCENE, path / "scenes" / "scene_b")
    s = Store(path, create=False)
    xyz = s.read(V.scene_group(SCENE, V.POINTS), V.XYZ)
    s.write_group(V.scene_group("bare", V.POINTS), {V.XYZ: xyz[:300], V.RGB: np.full((300, 3), 90, np.uint8),
                                                   V.FACES: np.array([[0, 1, 2], [2, 3, 0]], np.int32)},
                  {"fingerprint": "bare"})
    return path


@pytest.fixture(scope="module")
def viewer(store):
    from geopurify.workflows.view_server import Viewer

    v = Viewer(str(store), SCENE, port=free_port())
    yield v
    v.stop()


def test_layers_legend_and_provenance(viewer):
    data = viewer.data
    assert list(data.layers) == ["colour", "ground truth", "lift-only", "geometric pooling",
                                 "errors: lift-only", "errors: geometric pooling"]
    assert viewer.layer_pick.value == "geometric pooling"
    errors = data.layers["errors: geometric pooling"].colours
    wrong = data.layers["geometric pooling"].labels != data.layers["ground truth"].labels
    assert np.all(errors[wrong] == (214, 39, 40)) and np.all(errors[~wrong] == (190, 190, 190))
    assert [e.name for e in data.legend[:3]] == ["floor", "chair", "table"]  # most ground-truth points first
    assert "geometric pooling (`purified_geometric`" in viewer.provenance.content
    viewer.layer_pick.value = "colour"
    viewer._layer_changed()
    assert "the scan's own colour" in viewer.provenance.content
    viewer.layer_pick.value = data.default_layer()
    viewer._layer_changed()


def test_prompts_score_like_query_and_say_what_the_encoder_knows(viewer, store, tmp_path):
    assert "knows only the class names" in viewer.query_note.content
    viewer.ask("chair")
    answer = viewer.answer
    summary = query_scene(store, SCENE, ["chair"], tmp_path / "q.ply", of="purified_geometric")
    from plyfile import PlyData

    expected = np.asarray(PlyData.read(str(tmp_path / "q.ply"))["vertex"]["score_0"])
    np.testing.assert_allclose(answer.scores, expected, atol=1e-5)
    assert [n for _, _, n in answer.boxes] == [r["points"] for r in summary["prompts"][0]["regions"]]
    assert viewer.layer_pick.value == "query heat map" and len(viewer.nodes) == 2  # points + outlines
    gt = viewer.data.layers["ground truth"].labels
    assert answer.scores[gt == CHAIR].mean() > answer.scores[gt != CHAIR].mean() + 0.2
    viewer.ask("")
    assert viewer.answer is None and viewer.layer_pick.value == "geometric pooling"


def test_one_class_alone(viewer):
    viewer.isolate(TABLE)
    shown = viewer.data.layers[viewer.layer_pick.value].labels == TABLE
    assert len(viewer.nodes[0].points) == shown.sum()
    viewer.isolate(None)
    assert len(viewer.nodes[0].points) == len(viewer.data.xyz)


def test_scene_picker_and_a_mesh_without_features(viewer):
    assert viewer.scene_pick.options == ("bare", SCENE, "scene_b")
    viewer.show("bare")
    assert list(viewer.data.layers) == ["colour"] and viewer.surface.value
    assert type(viewer.nodes[0]).__name__ == "GlbHandle"  # the faces drawn as a surface
    assert viewer.prompt.disabled and "No query on this scene" in viewer.query_note.content
    viewer.surface.value = False
    viewer.draw()
    assert type(viewer.nodes[0]).__name__ == "PointCloudHandle"
    viewer.show("scene_b")
    assert viewer.data.scene == "scene_b" and not viewer.prompt.disabled


def test_the_viewer_never_writes_the_store(store):
    from geopurify.workflows.view_server import Viewer

    before = tree_digest(store)
    v = Viewer(str(store), "scene_b", port=free_port())
    v.ask("table")
    v.isolate(TABLE)
    v.show(SCENE)
    v.stop()
    assert tree_digest(store) == before


def test_an_unknown_scene_is_refused_in_one_line(store):
    from geopurify.workflows.view_server import Viewer

    with pytest.raises(ConfigError, match="--scene 'nope': not an ingested scene"):
        Viewer(str(store), "nope", port=free_port())


@pytest.mark.slow
def test_cli_view_prints_the_address_and_the_ssh_line(store):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "geopurify.cli", "view", "--store", str(store), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "300"})
    try:
        lines = []
        while not any("ssh -L" in line for line in lines) and len(lines) < 30:
            lines.append(proc.stdout.readline())  # viser's own banner comes first
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert any(f"viewer: http://127.0.0.1:{port}" in line for line in lines), lines
    assert any(f"ssh -L {port}:localhost:{port} " in line for line in lines), lines


def test_cli_export_html_is_one_file_with_every_layer(store, tmp_path):
    out = tmp_path / "scene.html"
    done = subprocess.run([sys.executable, "-m", "geopurify.cli", "export", "--store", str(store), "--scene", SCENE,
                           "--format", "html", "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    for name in ("ground truth", "lift-only", "geometric pooling", "errors: geometric pooling"):
        assert f'"name":"{name}"' in html
    assert "http://" not in html.split("<script>", 1)[1] and "src=" not in html  # nothing fetched
