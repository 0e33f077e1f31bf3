"""The store's names are spelled only in ``pipeline/vocabulary.py`` (as ``test_imports`` keeps the layers).

Every string literal in ``pipeline/``, ``stages/``, ``workflows/`` and ``cli.py`` that equals one of the
vocabulary's names (a group, array, folder, run-log outcome or group state) is a violation, and so is
an f-string or literal that builds a store path by hand (``f"scenes/{s}/..."``, ``"models/..."``,
``f"purified_{a}"``, ``f"label_{space}"``). A few words are also plain English or another format's
names; such a literal is allowed only where ``NOT_STORE_NAMES`` lists it, by file, enclosing function
and value, with the reason. An entry that no longer matches anything fails too, so the list stays short.
"""

from __future__ import annotations

import ast
from pathlib import Path

from geopurify.pipeline import vocabulary

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("pipeline", "stages", "workflows")
HOME = ROOT / "pipeline" / "vocabulary.py"
PATH_PREFIXES = tuple(f"{folder}/" for folder in (vocabulary.SCENES, vocabulary.TEXT, vocabulary.MODELS))
NAME_PREFIXES = (vocabulary.PURIFIED_PREFIX, vocabulary.LABEL_PREFIX)

COMMAND = "the name of a command (what the user types; COMMAND_GROUP maps it to its group)"
SECTION = "a config section or key ([teacher], [score], purify.student), not a group"
RECORD = "a key of a JSON record (metrics, query summary, attrs): a count or a list, not a group or array"
FOREIGN = "a name in another file format, not the store's"

NOT_STORE_NAMES: dict[tuple[str, str, str], str] = {
    ("pipeline/choices.py", "<module>", "normal"): SECTION + ": a value of teacher.ptv3_missing (a ptv3 input)",
    ("cli.py", "teacher", "teacher"): COMMAND,
    ("cli.py", "score", "score"): COMMAND,
    ("workflows/registry.py", "<module>", "teacher"): COMMAND,
    ("workflows/run_all.py", "build_run_graph", "teacher"): COMMAND,
    ("workflows/validate.py", "<module>", "teacher"): SECTION,
    ("stages/teacher/stage.py", "TeacherStage", "teacher"): SECTION + ": the stage's settings",
    ("workflows/validate.py", "<module>", "score"): SECTION,
    ("workflows/validate.py", "validate", "teacher"): SECTION,
    ("workflows/validate.py", "validate", "score"): SECTION,
    ("workflows/config.py", "<module>", "teacher"): SECTION + ": path-valued keys",
    ("workflows/config.py", "<module>", "student"): SECTION + ": path-valued keys",
    ("workflows/provenance.py", "student_of", "student"): SECTION + ": the recorded purify.student",
    ("workflows/provenance.py", "teacher_of", "teacher"): SECTION + ": the recorded teacher.checkpoint",
    ("workflows/provenance.py", "student_of", "scenes"): RECORD + ": the student's training scenes",
    ("workflows/provenance.py", "student_of", "teacher"): RECORD + ": the teacher the student learnt from",
    ("workflows/provenance.py", "store_provenance", "teacher"): RECORD + ": what made a result",
    ("workflows/provenance.py", "store_provenance", "student"): RECORD + ": what made a result",
    ("workflows/provenance.py", "run_provenance", "scenes"): RECORD + ": the report's scenes",
    ("workflows/provenance.py", "describe", "teacher"): RECORD + ": what made a result",
    ("workflows/provenance.py", "describe", "student"): RECORD + ": what made a result",
    ("workflows/provenance.py", "describe", "scenes"): RECORD + ": the report's scenes",
    ("workflows/report.py", "collect", "scenes"): RECORD + ": the report's scenes",
    ("workflows/report.py", "markdown", "scenes"): RECORD + ": the report's scenes",
    ("workflows/plots.py", "write_all", "scenes"): RECORD + ": the report's scenes",
    ("workflows/report.py", "markdown", "student"): RECORD + ": what made a result",
    ("workflows/report_tables.py", "per_scene_rows", "scenes"): RECORD + ": score_scenes's per-scene metrics",
    ("workflows/report_tables.py", "per_scene_rows", "points"): RECORD + ": the number of points of a scene",
    ("workflows/view_layers.py", "load_scene", "scenes"): RECORD + ": the scene a provenance record covers",
    ("stages/distill/train.py", "_record", "scenes"): RECORD + ": the student's training scenes",
    ("stages/distill/train.py", "distill", "scenes"): RECORD + ": the student's training scenes",
    ("stages/fuse/stage.py", "fuse_scene", "points"): RECORD + ": the number of points",
    ("stages/fuse/stage.py", "_point_source_output", "points"): RECORD + ": the number of points",
    ("stages/purify/query.py", "query_scene", "points"): RECORD + ": the number of points of a region",
    ("stages/purify/query.py", "query_scene", "label"): RECORD + ": the class most of a region's points carry",
    ("workflows/tables.py", "print_query_summary", "points"): RECORD + ": query_scene's, printed",
    ("workflows/tables.py", "print_query_summary", "label"): RECORD + ": query_scene's, printed",
    ("stages/score.py", "metrics", "points"): RECORD + ": the number of points of a class",
    ("stages/score.py", "score_scenes", "scenes"): RECORD + ": per-scene metrics",
    ("stages/score.py", "score_scenes", "points"): RECORD + ": the number of points of a scene",
    ("workflows/tables.py", "print_score_table", "scenes"): RECORD + ": score_scenes's, printed",
    ("pipeline/ply.py", "read_ply", "label"): FOREIGN + ": the PLY vertex property",
    ("pipeline/ply.py", "write_ply", "label"): FOREIGN + ": the PLY vertex property",
    ("stages/fuse/sources/openscene.py", "OpenSceneSource._read", "feat"): FOREIGN + ": OpenScene's files",
    ("stages/teacher/ptv3/features.py", "run_batch", "feat"): FOREIGN + ": Pointcept's batch dict",
    ("stages/teacher/ptv3/features.py", "point_features", "feat"): FOREIGN + ": Pointcept's batch dict",
    ("stages/teacher/ptv3/checkpoint.py", "load_weights", "missing"): "English: tensors a checkpoint lacks",
}


def sources() -> list[Path]:
    files = [ROOT / "cli.py"]
    for layer in LAYERS:
        files += sorted((ROOT / layer).rglob("*.py"))
    return [f for f in files if f != HOME]


def _builds_a_path(text: str, whole: bool) -> bool:
    """A literal path into the store, or a hand-made prefixed name (``purified_x``, ``label_x``)."""
    return text.startswith(PATH_PREFIXES + NAME_PREFIXES) and not (whole and text in NAME_PREFIXES)


def spellings(tree: ast.AST) -> list[tuple[str, int, str]]:
    """(enclosing function, line, literal) of every store name spelled in ``tree``."""
    found: list[tuple[str, int, str]] = []

    def visit(node: ast.AST, scope: tuple[str, ...]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scope = (*scope, node.name)
        elif isinstance(node, ast.Lambda):
            scope = (*scope, "<lambda>")
        where = ".".join(scope) or "<module>"
        if isinstance(node, ast.JoinedStr):
            head = node.values[0] if node.values else None
            if isinstance(head, ast.Constant) and _builds_a_path(str(head.value), whole=False):
                found.append((where, node.lineno, f"f{head.value!r}..."))
            for value in node.values:  # the literal parts are not names; the expressions may hold some
                if isinstance(value, ast.FormattedValue):
                    visit(value, scope)
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in vocabulary.NAMES or _builds_a_path(node.value, whole=True):
                found.append((where, node.lineno, node.value))
        for child in ast.iter_child_nodes(node):
            visit(child, scope)

    visit(tree, ())
    return found


def violations() -> tuple[list[str], set[tuple[str, str, str]]]:
    bad, used = [], set()
    for path in sources():
        rel = path.relative_to(ROOT).as_posix()
        for where, line, text in spellings(ast.parse(path.read_text())):
            key = (rel, where, text)
            if key in NOT_STORE_NAMES:
                used.add(key)
            else:
                bad.append(f"{rel}:{line} ({where}): {text!r}")
    return bad, used


def test_no_store_name_is_spelled_outside_the_vocabulary():
    bad, _ = violations()
    assert bad == [], "use geopurify.pipeline.vocabulary's names:\n" + "\n".join(bad)


def test_every_allowed_spelling_is_still_there():
    _, used = violations()
    assert sorted(set(NOT_STORE_NAMES) - used) == []


def test_the_rule_catches_what_it_should():
    tree = ast.parse(
        "def f(store, s, a):\n"
        "    store.read('scenes/x/points', 'xyz')\n"
        "    g = f'scenes/{s}/fused'\n"
        "    h = f'purified_{a}'\n"
        "    return {'fused': g, 'status': 'done', 'note': 'fused twice'}\n")
    texts = [text for _, _, text in spellings(tree)]
    assert texts == ["scenes/x/points", "xyz", "f'scenes/'...", "f'purified_'...", "fused", "done"]


def test_the_vocabulary_names_are_distinct_where_they_must_be():
    groups = set(vocabulary.GROUPS)
    assert not groups & set(vocabulary.ARRAYS)
    assert len(set(vocabulary.OUTCOMES)) == len(vocabulary.OUTCOMES)
    assert vocabulary.scene_group("s0", vocabulary.FUSED) == "scenes/s0/fused"
    assert vocabulary.purified_group(vocabulary.AFFINITY_STUDENT) == vocabulary.PURIFIED
    assert vocabulary.purified_group("geometric") == "purified_geometric"
    assert vocabulary.model_group() == "models/student"
    assert vocabulary.text_group("scannet20") == "text/scannet20"
    assert {vocabulary.COMMAND_GROUP[c]: c for c in vocabulary.COMMAND_GROUP} == vocabulary.GROUP_COMMAND
