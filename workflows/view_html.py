"""``export --format html``: one scene as a single self-contained HTML file that opens from a
``file://`` address or any static host, with no server: the viewer's layers, legend ("show one class
alone"), point size and the provenance of the shown result; no text box (no encoder in a file).

Why not viser's own static output (``scene.as_html()``, its client with the recording embedded):
it carries the 3D scene only, not the panel, so the layers and the legend could not be switched.
The page here draws the points with a small WebGL renderer of its own (no library, nothing fetched).
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from geopurify.pipeline.errors import ConfigError
from geopurify.pipeline.store import Store

from .view_layers import load_scene

TEMPLATE = "view_page.html"
MARKER = "/*GEOPURIFY_SCENE*/"


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def scene_payload(store: Store, scene: str) -> dict:
    """The scene as the page reads it: centred float32 positions, uint8 colours per layer, uint16
    class ids per labelling, the legend and each result's provenance (little-endian, base64)."""
    data = load_scene(store, scene)
    centre = (data.xyz.min(axis=0) + data.xyz.max(axis=0)) / 2
    labels: list[str] = []
    layers = []
    for name, layer in data.layers.items():
        ids = data.isolation_labels(name)
        entry = {"name": name, "colours": _b64(layer.colours.astype(np.uint8)),
                 "provenance": data.provenance.get(layer.group, []) if layer.group else
                 [f"{scene}: " + ("the scan's own colour" if layer.labels is None and name == "colour"
                                  else "the ground-truth labels") + ", as ingested."]}
        if ids is not None:
            key = _b64(np.clip(ids, 0, 65535).astype("<u2"))
            if key not in labels:
                labels.append(key)
            entry["labels"] = labels.index(key)
        layers.append(entry)
    return {"scene": scene, "count": int(len(data.xyz)), "positions": _b64((data.xyz - centre).astype("<f4")),
            "layers": layers, "labels": labels, "default": data.default_layer(),
            "legend": [{"id": e.id, "name": e.name, "colour": list(e.colour), "in_gt": e.in_ground_truth}
                       for e in data.legend]}


def export_html(store_path: str, scene: str, out: str | Path) -> Path:
    """Write ``out`` whole (a temporary file, then renamed); the store is only read."""
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a folder; give the HTML file's path")
    store = Store(store_path, create=False)
    payload = json.dumps(scene_payload(store, scene), separators=(",", ":"))
    page = (resources.files("geopurify.workflows") / TEMPLATE).read_text()
    if MARKER not in page:
        raise RuntimeError(f"{TEMPLATE}: the scene marker is missing")
    html = page.replace(MARKER, "window.GEOPURIFY_SCENE=" + payload.replace("</", "<\\/") + ";")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(html)
    os.replace(tmp, out)
    return out
