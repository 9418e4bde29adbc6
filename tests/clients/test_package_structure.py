"""The package's shape: no import cycle, no oversized module, every module says what it is,
and the hooks speak no wire format (they only pick a client and delegate)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import airflow_provider_mlpipelines

PACKAGE = Path(airflow_provider_mlpipelines.__file__).parent
NAME = PACKAGE.name
MAX_LINES = 450

_spec = importlib.util.spec_from_file_location(
    "architecture", PACKAGE.parent / "scripts" / "architecture.py"
)
assert _spec is not None and _spec.loader is not None
architecture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(architecture)
modules = architecture.modules
imported_modules = architecture.imported_modules
cycles = architecture.cycles


def test_no_import_cycle_anywhere_in_the_package() -> None:
    known = modules()
    graph = {name: imported_modules(name, path, known) for name, path in known.items()}
    assert graph[f"{NAME}.hooks.azure_ml_pipelines"], "the import graph was not read"
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_every_module_starts_by_saying_what_it_is() -> None:
    silent = [
        name
        for name, path in modules().items()
        if not path.read_text().lstrip("\ufeff").startswith('"""')
    ]
    assert silent == []


def test_the_hooks_speak_no_wire_format() -> None:
    """The hooks import no route, wire model or per-API call module: only the clients do."""
    known = modules()
    wire = (
        f"{NAME}.api.routes",
        f"{NAME}.api.v2",
        f"{NAME}.clients.v1.calls",
        f"{NAME}.clients.v2.calls",
    )
    spoken = {
        name: sorted(m for m in imported_modules(name, path, known) if m.startswith(wire))
        for name, path in known.items()
        if name.startswith(f"{NAME}.hooks")
    }
    assert spoken and all(imports == [] for imports in spoken.values()), spoken
