"""Turn ``--scenes`` arguments (names, globs, ``@file``) into scene ids."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from .errors import ConfigError, InputError


def expand_patterns(patterns: list[str]) -> list[str]:
    """Split commas and read ``@file`` lists (one name or glob a line, ``#`` comments)."""
    out: list[str] = []
    for item in patterns:
        for part in (p.strip() for p in item.split(",")):
            if not part:
                continue
            if part.startswith("@"):
                path = Path(part[1:])
                if not path.is_file():
                    raise InputError(path, "scene list file not found")
                for line in path.read_text().splitlines():
                    line = line.split("#", 1)[0].strip()
                    if line:
                        out.append(line)
            else:
                out.append(part)
    return out


def match_scenes(patterns: list[str], available: list[str], where: str) -> list[str]:
    """Scene ids matching the patterns, in sorted order; an unmatched pattern is an error."""
    if not patterns:
        raise ConfigError("no scenes given: pass --scenes or set dataset.scenes in the config")
    chosen: set[str] = set()
    for pat in expand_patterns(patterns):
        hits = fnmatch.filter(available, pat)
        if not hits:
            kind = "no scene matches" if any(c in pat for c in "*?[") else "unknown scene"
            raise InputError(where, f"{kind} {pat!r}")
        chosen.update(hits)
    return sorted(chosen)
