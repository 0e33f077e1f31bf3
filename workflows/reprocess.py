"""``reprocess``, for cron: run only what is new or stale, under the store lock, and say so in
one line. A report is written only when something was computed and nothing failed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from geopurify.pipeline.lock import store_lock
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import DONE

from .config import RunConfig
from .report import write_report
from .run_all import AllResult, run_all
from .validate import validate


@dataclass
class Reprocessed:
    result: AllResult
    report: Path | None
    seconds: float

    @property
    def computed(self) -> list:
        return [o for o in self.result.outcomes if o.status == DONE]

    def summary(self) -> str:
        stages = sorted({o.stage for o in self.computed})
        line = (f"reprocess: {len(self.computed)} steps computed ({', '.join(stages) or 'nothing stale'}), "
                f"{len(self.result.failed)} failed, {self.seconds:.1f} s")
        return line + (f"; report {self.report}" if self.report else "")


def default_report_dir(store: str) -> Path:
    base = store[:-5] if store.endswith(".zarr") else store
    return Path(base + "-report")


def reprocess(cfg: RunConfig, wait: float = 0.0, report_dir: Path | None = None,
              on_result=None) -> Reprocessed:
    """The whole graph under the store lock (waiting up to ``wait`` s for another run's)."""
    started = time.perf_counter()
    validate(cfg, "all")  # before the store or its lock is touched
    Store(cfg.store)
    with store_lock(cfg.store, wait):
        result = run_all(cfg, False, on_result=on_result, lock_wait=None)
        report = None
        if any(o.status == DONE for o in result.outcomes) and not result.failed:
            report = write_report(result.stores, report_dir or default_report_dir(cfg.store), None,
                                  cfg.score.protocol)
    return Reprocessed(result, report, time.perf_counter() - started)
