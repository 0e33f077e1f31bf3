"""The run log: one JSON line per scene and stage outcome, in ``<store>/logs/runs.jsonl``.

Only the driver process appends (workers return outcomes), so lines never interleave. An
unexpected failure's traceback is saved beside it (``logs/tracebacks/``) and the line names the file.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path

from .stage import Outcome
from .store import logs_dir
from .vocabulary import FAILED, RUN_LOG_FILE, SKIPPED, TRACEBACKS


def log_path(store_path: str) -> Path:
    return logs_dir(store_path) / RUN_LOG_FILE


def append(store_path: str, outcomes: list[Outcome], run: str) -> None:
    """Append one line per outcome in one write; a line cut short earlier (a full disk, a kill)
    is closed first, so it can never swallow this record."""
    if "://" in store_path:
        return  # remote stores: the terminal output is the log
    path = log_path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines = []
    for o in outcomes:
        row = {"time": stamp, "run": run, **asdict(o)}
        detail = row.pop("detail", "")
        if detail and o.status == FAILED:
            row["traceback"] = str(_save_traceback(store_path, run, o, detail))
        elif detail:
            row["detail"] = detail
        lines.append(json.dumps(row) + "\n")
    with open(path, "a+b") as fh:
        fh.seek(0, 2)
        if fh.tell() > 0:
            fh.seek(-1, 2)
            if fh.read(1) != b"\n":
                lines.insert(0, "\n")
        fh.write("".join(lines).encode())


def try_append(store_path: str, outcomes: list[Outcome], run: str) -> str:
    """``append``, but a log that cannot be written (a read-only or full store) is returned as one
    line instead of raised, so each outcome keeps its own reason and a run with nothing to do
    still succeeds; the caller prints the line."""
    try:
        append(store_path, outcomes, run)
    except OSError as exc:
        return f"run log not written: {exc.filename or log_path(store_path)}: {exc.strerror or exc}"
    return ""


def _save_traceback(store_path: str, run: str, o: Outcome, text: str) -> Path:
    folder = logs_dir(store_path) / TRACEBACKS
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{run}-{o.stage}-{o.scene}") + ".txt"
    path = folder / name
    path.write_text(text)
    return path


def last_outcomes(store_path: str) -> dict[tuple[str, str], dict]:
    """The latest logged outcome of each (scene, stage); never writes."""
    path = log_path(store_path)
    latest: dict[tuple[str, str], dict] = {}
    if "://" in store_path or not path.exists():
        return latest
    for line in path.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if isinstance(row, dict) and row.get("status") != SKIPPED and "scene" in row and "stage" in row:
            latest[(row["scene"], row["stage"])] = row
    return latest
