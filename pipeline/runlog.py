"""The run log: one JSON line per scene and stage outcome, in ``<store>/logs/runs.jsonl``.

Only the driver process appends (workers return outcomes), so lines never interleave.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from .stage import Outcome


def log_path(store_path: str) -> Path:
    return Path(store_path) / "logs" / "runs.jsonl"


def append(store_path: str, outcomes: list[Outcome], run: str) -> None:
    if "://" in store_path:
        return  # remote stores: the terminal output is the log
    path = log_path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(path, "a") as fh:
        for o in outcomes:
            fh.write(json.dumps({"time": stamp, "run": run, **asdict(o)}) + "\n")


def last_outcomes(store_path: str) -> dict[tuple[str, str], dict]:
    """The latest logged outcome of each (scene, stage)."""
    path = log_path(store_path)
    latest: dict[tuple[str, str], dict] = {}
    if not path.exists():
        return latest
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if row.get("status") != "skipped":
            latest[(row["scene"], row["stage"])] = row
    return latest
