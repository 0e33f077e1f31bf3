"""What a per-scene stage is, and how one scene's run is checked, computed and recorded."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import fingerprinted_dict, to_dict
from .errors import GeopurifyError
from .fingerprint import stage_fingerprint
from .store import Store
from .vocabulary import DONE, FAILED, GROUP_COMMAND, SKIPPED, scene_group


@dataclass
class StageContext:
    """Everything a stage reads besides the scene id; picklable so that any Dask worker can run it."""

    store_path: str
    """Path or URL of the run store."""
    cfg: Any
    """The whole run config (a dataclass tree); a stage reads only its ``sections``."""

    def __post_init__(self):
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.store_path)
        return self._store

    def __getstate__(self):
        return {"store_path": self.store_path, "cfg": self.cfg}

    def __setstate__(self, state):
        self.store_path, self.cfg = state["store_path"], state["cfg"]
        self._store = None


@dataclass
class StageOutput:
    arrays: dict[str, np.ndarray]
    """Arrays of the group, first axis along points."""
    attrs: dict = field(default_factory=dict)
    """Stage-specific attrs (counts, warnings), plain JSON."""


class SceneStage:
    """A stage that turns input groups of one scene into ``scenes/<id>/<name>/``.

    ``reads`` is the stage graph: the registry, ``all`` and ``status`` derive each command's
    upstream from it, and ``input_fingerprints`` records the fingerprints of exactly those groups
    (``upstream_fingerprints``) besides whatever else the stage reads (files, text, a model)."""

    name: str = ""
    """The group it writes (a ``vocabulary`` group name)."""
    version: int = 1
    sections: tuple[str, ...] = ()
    """Config sections (attributes of the run config) the stage depends on."""
    reads: tuple[str, ...] = ()
    """The groups of the same scene it reads (``vocabulary`` group names), in order."""

    @classmethod
    def from_config(cls, cfg: Any) -> "SceneStage":
        """The stage a run config asks for (most stages take no argument; purify its affinity)."""
        return cls()

    def input_fingerprints(self, ctx: StageContext, scene_id: str) -> dict[str, str]:
        """Fingerprints of everything the stage reads; raises if an input is missing."""
        raise NotImplementedError

    def upstream_fingerprints(self, ctx: StageContext, scene_id: str) -> dict[str, str]:
        """The fingerprint of each group in ``reads``; a StoreError naming the group and the command
        that makes it when one is missing or incomplete."""
        out = {}
        for group in self.reads:
            attrs = ctx.store.require_done(scene_group(scene_id, group),
                                           f"{GROUP_COMMAND.get(group, group)} ({group})")
            out[group] = str(attrs.get("fingerprint"))
        return out

    def compute(self, ctx: StageContext, scene_id: str) -> StageOutput:
        raise NotImplementedError

    def prepare(self, ctx: StageContext, scene_ids: list[str]) -> None:
        """Once per run, before the per-scene tasks (shared inputs such as text embeddings)."""

    # ---- provided -----------------------------------------------------------------------
    def group_path(self, scene_id: str) -> str:
        return scene_group(scene_id, self.name)

    def config_of(self, cfg: Any) -> dict:
        return {s: to_dict(getattr(cfg, s)) for s in self.sections}

    def fingerprint(self, ctx: StageContext, scene_id: str) -> str:
        config = {s: fingerprinted_dict(getattr(ctx.cfg, s)) for s in self.sections}
        return stage_fingerprint(self.name, self.version, config,
                                 self.input_fingerprints(ctx, scene_id))


@dataclass
class Outcome:
    scene: str
    stage: str
    status: str
    """``done`` (computed and written), ``skipped`` (already done) or ``failed``."""
    seconds: float = 0.0
    error: str = ""
    detail: str = ""
    """Traceback of an unexpected failure, for the run log."""


def run_scene(stage: SceneStage, ctx: StageContext, scene_id: str, force: bool = False) -> Outcome:
    """Run one stage on one scene unless its group is already done."""
    started = time.perf_counter()
    try:
        inputs = stage.input_fingerprints(ctx, scene_id)
        config = {s: fingerprinted_dict(getattr(ctx.cfg, s)) for s in stage.sections}
        fp = stage_fingerprint(stage.name, stage.version, config, inputs)
        path = stage.group_path(scene_id)
        if not force and ctx.store.is_done(path, fp):
            return Outcome(scene_id, stage.name, SKIPPED)
        out = stage.compute(ctx, scene_id)
        compute_s = time.perf_counter() - started
        attrs = {
            "stage": stage.name,
            "stage_version": stage.version,
            "config": stage.config_of(ctx.cfg),
            "inputs": inputs,
            "fingerprint": fp,
            **out.attrs,
            "timings": {**out.attrs.get("timings", {}), "compute_s": round(compute_s, 3)},
        }
        ctx.store.write_group(path, out.arrays, attrs)
        return Outcome(scene_id, stage.name, DONE, time.perf_counter() - started)
    except GeopurifyError as exc:
        return Outcome(scene_id, stage.name, FAILED, time.perf_counter() - started, str(exc))
    except OSError as exc:  # a read-only folder, a full disk: the file and the reason, no traceback
        where = f"{exc.filename}: " if exc.filename is not None else ""
        return Outcome(scene_id, stage.name, FAILED, time.perf_counter() - started,
                       f"{where}{exc.strerror or exc}")
    except Exception as exc:  # a bug or an unforeseen input: recorded, the other scenes go on
        return Outcome(scene_id, stage.name, FAILED, time.perf_counter() - started,
                       f"{type(exc).__name__}: {exc}", traceback.format_exc())
