"""Jobs over many scenes (distill, teacher pretraining) run from their own commands are recorded in
the run log like ``all`` records them: one line per run, done or failed, with the traceback file of
an unexpected failure, so ``status`` can tell a failed retrain from the student it did not replace.

Only failures of the job itself are recorded: a config refused before the job starts writes nothing.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from typing import Callable

from geopurify.pipeline import runlog
from geopurify.pipeline.errors import GeopurifyError
from geopurify.pipeline.stage import Outcome
from geopurify.pipeline.vocabulary import DISTILL_JOB, DONE, FAILED, SKIPPED
from geopurify.pipeline.vocabulary import TEACHER_JOB as PRETRAIN_JOB

__all__ = ["DISTILL_JOB", "PRETRAIN_JOB", "JobFailed", "last_failure", "recorded_job"]


class JobFailed(GeopurifyError):
    """A recorded job failed unexpectedly: one line, naming the saved traceback."""


def recorded_job(store_path: str | None, stage: str, job: Callable[[], dict | str],
                 run_id: str | None = None):
    """Run ``job()`` and append its outcome to ``store_path``'s run log (no store: nothing to log).
    The job returns its status (``done``/``skipped``), a summary dict holding one, or anything else
    (taken as ``done``). A failure is
    re-raised after it is recorded; an unexpected one as one line naming its traceback file."""
    run_id = run_id or uuid.uuid4().hex[:8]
    started = time.perf_counter()
    try:
        result = job()
    except GeopurifyError as exc:
        _record(store_path, Outcome("*", stage, FAILED, time.perf_counter() - started, str(exc)), run_id, exc)
        raise
    except OSError as exc:  # a full disk, a read-only folder: the file and the reason
        where = f"{exc.filename}: " if exc.filename is not None else ""
        _record(store_path, Outcome("*", stage, FAILED, time.perf_counter() - started,
                                    f"{where}{exc.strerror or exc}"), run_id, exc)
        raise
    except Exception as exc:  # a bug or an unforeseen input: the traceback goes to a file
        outcome = Outcome("*", stage, FAILED, time.perf_counter() - started,
                          f"{type(exc).__name__}: {exc}", traceback.format_exc())
        rows = _record(store_path, outcome, run_id, exc)
        where = f"; traceback in {rows[0]['traceback']}" if rows and rows[0].get("traceback") else ""
        raise JobFailed(f"{stage} failed: {outcome.error}{where}") from exc
    status = result.get("status", DONE) if isinstance(result, dict) else result
    status = status if status in (DONE, SKIPPED) else DONE
    _record(store_path, Outcome("*", stage, status, time.perf_counter() - started), run_id, None)
    return result


def _record(store_path: str | None, outcome: Outcome, run_id: str, failure: BaseException | None) -> list[dict]:
    if not store_path:
        return []
    try:
        return runlog.append(store_path, [outcome], run_id)
    except OSError as exc:  # the run log itself cannot be written (a full disk): keep the job's reason
        why = f"{exc.filename or store_path}: {exc.strerror or exc}"
        if failure is not None:
            raise JobFailed(f"{outcome.error or outcome.stage + ' failed'} (not recorded in the run log: "
                            f"{why})") from failure
        # the job itself succeeded (or had nothing to do, as on a read-only store): its result
        # stands; only the record is missing, said as the per-scene commands say it
        logging.getLogger("geopurify").warning(f"{outcome.stage} {outcome.status}, but the run log "
                                               f"could not be written: {why}")
        return []


def last_failure(store_path: str, stage: str) -> dict | None:
    """The run log's row for ``stage`` (a job) when its latest run, skipped runs included, failed;
    None when it succeeded, was found already done, or never ran. Never writes."""
    import json

    path = runlog.log_path(store_path)
    if "://" in store_path or not path.exists():
        return None
    latest = None
    for line in path.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if isinstance(row, dict) and row.get("scene") == "*" and row.get("stage") == stage:
            latest = row
    return latest if latest is not None and latest.get("status") == FAILED else None
