"""``verify``: read every chunk of every complete group, and mark the ones that fail as damaged.

A damaged group keeps its arrays (nothing is deleted); its attrs get ``damaged: <reason>``, so
``status`` shows it and the next run of its stage recomputes it (it is no longer done). Groups
written before stores were checksummed are read too, but a flipped bit there decodes silently:
they are counted apart.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from geopurify.pipeline.chunks import DAMAGED, WRITTEN, DamagedError, has_checksums, repair_hint
from geopurify.pipeline.selection import select_scenes
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import MODELS, TEXT, scene_folder


@dataclass
class Finding:
    group: str
    reason: str
    marked: str = ""
    """Empty when the mark was written; else why it could not be (a read-only store)."""


@dataclass
class Verified:
    store: str
    checked: list[str] = field(default_factory=list)
    damaged: list[Finding] = field(default_factory=list)
    unchecksummed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = (f"verify: {len(self.checked)} complete group(s) read, {len(self.damaged)} damaged"
                + (" (marked: the next run recomputes them)" if self.damaged
                   and not any(f.marked for f in self.damaged) else ""))
        if self.unchecksummed:
            line += f"; {len(self.unchecksummed)} written before checksums (flipped bits there go unseen)"
        return line


def candidate_groups(store: Store, scene_ids: list[str]) -> list[str]:
    """Every group of the scenes, then the text embeddings and the models."""
    paths = []
    for scene in scene_ids:
        paths += [f"{scene_folder(scene)}/{g}" for g in _children(store, scene_folder(scene))]
    paths += [f"{TEXT}/{g}" for g in _children(store, TEXT)]
    paths += [f"{MODELS}/{g}" for g in _children(store, MODELS)]
    return paths


def _children(store: Store, path: str) -> list[str]:
    try:
        g = store.group(path)
        with warnings.catch_warnings():  # plain folders beside groups (models/checkpoints) are fine
            warnings.simplefilter("ignore")
            return sorted(g.group_keys()) if g is not None else []
    except ValueError:  # the folder's own metadata does not decode: status shows it already
        return []


def verify_group(store: Store, path: str) -> str:
    """The first problem of a group ('' when every chunk of every array decodes)."""
    attrs = store.attrs(path)
    names = store.array_names(path)
    for name in attrs.get(WRITTEN, {}):
        if name not in names:
            return f"{store.path}/{path}/{name}: array is missing; {path} is damaged: {repair_hint(store.path, path)}"
    for name in names:
        try:
            store.array(path, name).verify()
        except DamagedError as exc:
            return str(exc)
    return ""


def verify_store(store_path: str, patterns: list[str] | None = None) -> Verified:
    """Read every complete group of the selected scenes (all by default), text and models; mark
    the damaged ones."""
    store = Store(store_path, create=False)
    scenes = store.scene_ids()
    if patterns:
        scenes = select_scenes(list(patterns), scenes, store_path)
    result = Verified(store_path)
    for path in candidate_groups(store, scenes):
        attrs = store.attrs(path)
        if not attrs.get("complete"):
            continue  # not done: status already says so, and the next run rewrites it
        result.checked.append(path)
        if not has_checksums(attrs):
            result.unchecksummed.append(path)
        reason = attrs.get(DAMAGED) or verify_group(store, path)
        if not reason:
            continue
        finding = Finding(path, reason)
        if not attrs.get(DAMAGED):
            try:
                store.mark_damaged(path, reason, attrs.get("finished_at"))
            except OSError as exc:
                finding.marked = f"not marked: {exc.filename or path}: {exc.strerror or exc}"
        result.damaged.append(finding)
    return result
