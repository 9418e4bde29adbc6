"""The provider's import graph: read from the source (ast), checked for cycles, drawn with Graphviz.

``python scripts/architecture.py`` writes ``docs/architecture.dot`` and, where Graphviz's
``dot`` is installed (``apt-get install graphviz``), ``docs/architecture.svg`` and ``.png``.
``tests/clients/test_package_structure.py`` uses the same reading to refuse import cycles.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "airflow_provider_mlpipelines"
NAME = PACKAGE.name

#: The layers drawn, top to bottom, and their colours. The emulator is a product of its own and
#: is left out; ``api`` (the shared models and routes) is drawn as one node per API.
LAYERS = {
    "operators": "#dbe9f6",
    "sensors": "#dbe9f6",
    "triggers": "#dbe9f6",
    "links": "#dbe9f6",
    "hooks": "#fde9c9",
    "clients": "#fff7d6",
    "clients.v1": "#d8ecd0",
    "clients.core": "#eeeeee",
    "clients.v2": "#d0e4ec",
}
COLLAPSED = {
    "api.v2": "api/v2/: ARM routes, bodies, models",
    "api": "api/: v1 routes, shared models, status (every layer reads it; edges not drawn)",
}


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported_modules(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module of ``known`` that ``name`` imports: lazily and under TYPE_CHECKING too."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def add(target: str) -> None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                add(full if full in known else base)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    known = modules(package)
    return {name: imported_modules(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_of(name: str) -> str | None:
    short = name[len(NAME) + 1 :]
    matching = [layer for layer in LAYERS if short == layer or short.startswith(layer + ".")]
    return max(matching, key=len, default=None)


def node_of(name: str) -> str | None:
    """The drawn node a module belongs to: itself, its collapsed ``api`` node, or none."""
    short = name[len(NAME) + 1 :]
    for collapsed in COLLAPSED:
        if short == collapsed or short.startswith(collapsed + "."):
            return collapsed
    packages = {f"{NAME}.{layer}" for layer in LAYERS}
    if layer_of(name) is None or name in packages or short == "clients.conformance":
        return None
    return name


def dot(graph: dict[str, set[str]]) -> str:
    """The provider's layers as DOT: one box per module, the ``api`` packages collapsed."""
    lines = [
        "digraph provider {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=12, nodesep=0.2, ranksep=0.6,'
        " newrank=true];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [color="#00000055", arrowsize=0.5];',
    ]
    nodes = {node_of(name) for name in graph} - {None}
    for layer, colour in LAYERS.items():
        members = sorted(n for n in nodes if n and n.startswith(NAME) and layer_of(n) == layer)
        if members:
            lines.append(f'  subgraph "cluster_{layer}" {{')
            lines.append(
                f'    label="{layer.replace(".", "/")}/"; style="rounded"; color="#888888";'
            )
            for member in members:
                label = member.rpartition(".")[2]
                lines.append(f'    "{member}" [label="{label}", fillcolor="{colour}"];')
            lines.append("  }")
    for collapsed, label in COLLAPSED.items():
        lines.append(f'  "{collapsed}" [label="{label}", fillcolor="#f3e0ef"];')
    edges = set()
    for source, targets in graph.items():
        start = node_of(source)
        if start is None or start in COLLAPSED:
            continue
        for target in targets:
            end = node_of(target)
            if end is not None and end != start and end not in COLLAPSED:
                edges.add((start, end))
    for start, end in sorted(edges):
        lines.append(f'  "{start}" -> "{end}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    graph = import_graph()
    found = cycles(graph)
    if found:
        print("import cycles:", found, file=sys.stderr)
        return 1
    docs = ROOT / "docs"
    (docs / "architecture.dot").write_text(dot(graph), encoding="utf-8")
    print("wrote docs/architecture.dot")
    if shutil.which("dot"):
        for fmt in ("svg", "png"):
            out = docs / f"architecture.{fmt}"
            subprocess.run(
                ["dot", f"-T{fmt}", "-Gdpi=110", "-o", str(out), str(docs / "architecture.dot")],
                check=True,
            )
            print(f"wrote docs/architecture.{fmt}")
    else:
        print("Graphviz's dot is not installed: apt-get install graphviz, then run again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
