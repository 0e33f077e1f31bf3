"""Errors the CLI turns into one line: what file, what is wrong."""

from __future__ import annotations

from pathlib import Path


class GeopurifyError(Exception):
    """A failure the user can act on; printed as one line, never as a traceback."""


class InputError(GeopurifyError):
    """Bad input data: names the file (or folder) and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class StoreError(GeopurifyError):
    """A store that cannot be used: wrong version, missing or stale upstream group."""


class ConfigError(GeopurifyError):
    """A configuration key or value that does not exist or does not parse."""
