"""The package's import graph (every import, at any level of a module): no cycles, and the layers
point one way: ``pipeline`` imports none of ``stages``, ``workflows``, ``cli``; ``stages`` none of
``workflows``, ``cli``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("pipeline", "stages", "workflows")


def module_name(path: Path) -> str:
    parts = ["geopurify", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    files = [ROOT / "cli.py", ROOT / "__init__.py"]
    for layer in LAYERS:
        files += sorted((ROOT / layer).rglob("*.py"))
    return {module_name(f): f for f in files}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules ``name`` imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        out |= {t for t in targets if t in known and t != name}
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read():
    edges = graph()
    assert "geopurify.pipeline.store" in edges["geopurify.pipeline.stage"]
    assert len(edges) > 50


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_layers_point_one_way():
    forbidden = {"geopurify.pipeline": ("geopurify.stages", "geopurify.workflows", "geopurify.cli"),
                 "geopurify.stages": ("geopurify.workflows", "geopurify.cli")}
    bad = [(a, b) for a, targets in graph().items() for layer, banned in forbidden.items()
           if a.startswith(layer + ".") or a == layer
           for b in targets if b.startswith(banned)]
    assert bad == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
