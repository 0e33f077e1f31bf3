"""What the viewer (and its static share) shows of one scene, read from the store without writing:
the scan's colour, the ground truth, lift-only, every purified group, and an error layer per result,
each as per-point colours in the report's palette; the legend of the label set; the provenance of
each result in sentences.

Pure numpy: the live viewer (``view_server``) and the static page (``view_html``) draw the same
``SceneLayers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from geopurify.pipeline import vocabulary as V
from geopurify.pipeline.errors import StoreError
from geopurify.pipeline.store import Store
from geopurify.stages.labelsets import class_colours, label_set, to_protocol_index
from geopurify.stages.score import ground_truth, predictions, recorded_vocab

from .plots import NOT_EVALUATED, RIGHT, WRONG
from .provenance import describe, method_names, result_groups, store_provenance

COLOUR = "colour"
GROUND_TRUTH = "ground truth"
ERROR_PREFIX = "errors: "


@dataclass
class Layer:
    name: str
    colours: np.ndarray
    """(N, 3) uint8."""
    labels: np.ndarray | None = None
    """(N,) class ids of the label set when the layer is a labelling (for "show one class alone")."""
    group: str | None = None
    """The store group the layer shows (its provenance), ``None`` for colour and ground truth."""


@dataclass
class LegendEntry:
    id: int
    name: str
    colour: tuple[int, int, int]
    in_ground_truth: bool


@dataclass
class SceneLayers:
    scene: str
    xyz: np.ndarray
    """(N, 3) float32."""
    faces: np.ndarray | None
    """(F, 3) int32 triangles when the scan is a mesh."""
    layers: dict[str, Layer]
    legend: list[LegendEntry]
    vocab: str
    provenance: dict[str, list[str]] = field(default_factory=dict)
    """Group -> the record of what made it, in sentences (Markdown)."""

    def default_layer(self) -> str:
        """The method's own result when present, else another pooling, else lift-only, else the
        ground truth, else the colour."""
        labelled = {lay.group: n for n, lay in self.layers.items() if lay.labels is not None}
        for group in [V.PURIFIED] + [g for g in labelled if g and g.startswith(V.PURIFIED_PREFIX)] + [V.FUSED, None]:
            if group in labelled:
                return labelled[group]
        return COLOUR

    def isolation_labels(self, layer: str) -> np.ndarray | None:
        """The ids "show one class alone" filters on: the layer's own, else the ground truth's (for
        the colour and error layers), else none."""
        own = self.layers[layer].labels
        if own is not None:
            return own
        gt = self.layers.get(GROUND_TRUTH)
        return gt.labels if gt is not None else None


def viewable_scenes(store: Store) -> list[str]:
    """Scenes whose points group is complete."""
    return [s for s in store.scene_ids() if store.attrs(V.scene_group(s, V.POINTS)).get("complete")]


def error_colours(gt: np.ndarray, pred: np.ndarray, vocab: str) -> np.ndarray:
    """Wrong red, right grey, not evaluated (no ground truth in the label set) faint: the report's."""
    evaluated = to_protocol_index(gt, vocab) >= 0
    wrong = evaluated & (pred != gt)
    out = np.where(wrong[:, None], WRONG, np.where(evaluated[:, None], RIGHT, NOT_EVALUATED))
    return out.astype(np.uint8)


def _ground_truth(store: Store, scene: str, vocab: str) -> np.ndarray | None:
    try:
        return ground_truth(store, scene, vocab)
    except StoreError:  # an unlabelled scan: no ground truth layer, no error layers
        return None


def load_scene(store: Store, scene: str) -> SceneLayers:
    """Every layer of ``scene`` (reads only)."""
    points = V.scene_group(scene, V.POINTS)
    store.require_done(points, f"ingest of scene {scene}")
    group = store.group(points)
    xyz = store.read(points, V.XYZ).astype(np.float32)
    rgb = store.read(points, V.RGB).astype(np.uint8) if V.RGB in group else np.full((len(xyz), 3), 160, np.uint8)
    faces = store.read(points, V.FACES).astype(np.int32) if V.FACES in group else None
    results = result_groups(store, scene)
    vocab = recorded_vocab(store, scene, V.FUSED, "scannet20") if results else "scannet20"
    space = label_set(vocab).space
    names = method_names(store, [scene], results)
    layers = {COLOUR: Layer(COLOUR, rgb)}
    gt = _ground_truth(store, scene, vocab)
    if gt is not None:
        layers[GROUND_TRUTH] = Layer(GROUND_TRUTH, class_colours(gt, space), gt)
    predicted = {}
    for g in results:
        pred = predictions(store, scene, g)
        if pred.shape != (len(xyz),):
            raise StoreError(f"{store.path}/{V.scene_group(scene, g)}: {len(pred)} labels for {len(xyz)} points")
        predicted[names[g]] = pred
        layers[names[g]] = Layer(names[g], class_colours(pred, space), pred, g)
    if gt is not None:
        for name, pred in predicted.items():
            layers[ERROR_PREFIX + name] = Layer(ERROR_PREFIX + name, error_colours(gt, pred, vocab),
                                                None, layers[name].group)
    provenance = {}
    if results:
        record = store_provenance(store, [scene], results)
        for g in results:
            one = {**record, "results": {g: record["results"][g]}, "protocol": vocab, "scenes": [scene],
                   "stores": [store.path]}
            provenance[g] = describe(one)
    return SceneLayers(scene, xyz, faces, layers, legend(gt, list(predicted.values()), vocab), vocab, provenance)


def legend(gt: np.ndarray | None, preds: list[np.ndarray], vocab: str) -> list[LegendEntry]:
    """The label set's classes that the ground truth or any result uses: ground-truth classes first,
    most points first, then the classes only predicted; colours are the report's."""
    labels = label_set(vocab)
    name_of = dict(zip(labels.ids, labels.names))
    in_gt: list[int] = []
    if gt is not None:
        ids, counts = np.unique(gt, return_counts=True)
        in_gt = [int(i) for i in ids[np.argsort(-counts, kind="stable")] if int(i) in name_of]
    predicted = sorted({int(i) for p in preds for i in np.unique(p)} & set(name_of) - set(in_gt))
    colour = lambda i: tuple(int(c) for c in class_colours(np.array([i]), labels.space)[0])  # noqa: E731
    return ([LegendEntry(i, name_of[i], colour(i), True) for i in in_gt]
            + [LegendEntry(i, name_of[i], colour(i), False) for i in predicted])

