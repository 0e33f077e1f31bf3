"""A small labelled store for the viewer tests: the purify fixture's two boxes (a table, a chair) on a
floor, pooled with the geometric affinity, features kept (so the text box has purified features)."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.stages.purify.stage import PurifyStage
from geopurify.workflows.config import RunConfig

from purify_fixture import CHAIR, FLOOR, TABLE, write_fixture_store  # noqa: F401 (re-exported)

SCENE = "scene_a"


def write_view_store(path: Path) -> Path:
    write_fixture_store(path, SCENE)
    cfg = RunConfig(store=str(path))
    cfg.purify.affinity, cfg.purify.k, cfg.purify.keep_features = "geometric", 24, True
    outcome = run_scene(PurifyStage("geometric"), StageContext(str(path), cfg), SCENE)
    assert outcome.status == "done", outcome.error + outcome.detail
    return path


def tree_digest(path: Path) -> str:
    """Every file's name, size and content under ``path``: equal digests mean nothing was written."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
