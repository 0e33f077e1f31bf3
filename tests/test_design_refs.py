"""Every "design.md" reference in the code names a section that docs/design.md has.

References read ``design.md section 3.1``, ``design.md section 3.3-3.4`` (a range: both ends must
exist) or ``design.md`` alone (the whole document). A bare number without the word ``section``
(``design.md 5``) is refused too, so that one spelling stays greppable.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "design.md"
HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", re.MULTILINE)
REFERENCE = re.compile(r"design\.md(?P<rest>[^\n]{0,40})")
SECTION = re.compile(r"^,? section (\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?\b")
BARE_NUMBER = re.compile(r"^,?\s*(?:section\s*|§\s*)?\d")
SEARCHED = ("*.py", "*.md", "*.toml")


def sections() -> set[str]:
    return set(HEADING.findall(DESIGN.read_text()))


def references() -> list[tuple[str, int, str]]:
    """(file, line, text after "design.md") for every reference outside design.md itself."""
    found = []
    for pattern in SEARCHED:
        for path in sorted(ROOT.rglob(pattern)):
            if path in (DESIGN, Path(__file__).resolve()) or any(part.startswith(".") for part in path.relative_to(ROOT).parts):
                continue
            for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                for match in REFERENCE.finditer(line):
                    found.append((str(path.relative_to(ROOT)), lineno, match["rest"]))
    return found


def cited(rest: str) -> list[str] | None:
    """The section numbers a reference cites; [] for the whole document; None when malformed."""
    match = SECTION.match(rest)
    if match:
        return [n for n in match.groups() if n]
    return None if BARE_NUMBER.match(rest) else []


def test_design_md_numbers_its_sections():
    numbers = sections()
    for top in range(1, 10):
        assert str(top) in numbers, f"docs/design.md has no section {top}"


def test_every_reference_names_an_existing_section():
    numbers = sections()
    refs = references()
    assert len(refs) >= 20  # the code cites the design throughout; an empty scan would prove nothing
    bad = []
    for path, lineno, rest in refs:
        wanted = cited(rest)
        if wanted is None:
            bad.append(f"{path}:{lineno}: write 'design.md section N' (got 'design.md{rest}')")
        else:
            bad += [f"{path}:{lineno}: docs/design.md has no section {n}" for n in wanted if n not in numbers]
    assert not bad, "\n".join(bad)


def test_the_parser_tells_good_references_from_bad():
    assert cited(" section 3.1-3.2).") == ["3.1", "3.2"]
    assert cited(" section 4; README") == ["4"]
    assert cited(" are the settings") == []
    assert cited(" 5).") is None and cited(" §5") is None
    assert "42" not in sections()


def test_every_setting_design_md_names_exists():
    """A `section.key` in design.md is a field of the run config (file names and the placeholder aside)."""
    from geopurify.workflows.config import RunConfig

    cfg, unknown = RunConfig(), []
    names = set(re.findall(r"`([a-z_]+\.[a-z_.]+)`", DESIGN.read_text())) - {"section.key"}
    settings = [n for n in names if not re.search(r"\.(txt|jsonl|json|csv|py|md|toml|ply|npy|pth|pt|sens|png|jpg)$", n)]
    assert len(settings) >= 30
    for name in settings:
        obj = cfg
        for part in name.split("."):
            if not hasattr(obj, part):
                unknown.append(name)
                break
            obj = getattr(obj, part)
    assert not unknown, f"docs/design.md names settings the config lacks: {sorted(unknown)}"
