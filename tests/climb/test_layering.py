"""The engines' layering (docs/architecture.md, Layout): engines never import Dagster, a stage imports only
`core` and earlier stages, `demo` only `core`, and no module imports itself back through a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CLIMB = Path(__file__).resolve().parents[2] / "climb"
ORDER = ("core", "corpus", "quality", "semantic", "climblab", "search", "climbmix")
ALLOWED = {stage: set(ORDER[:i + 1]) for i, stage in enumerate(ORDER)} | {"demo": {"core", "demo"}}
FORBIDDEN_ROOTS = ("dagster", "dagster_k8s", "dagster_webserver", "climb_assets", "resources")


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(CLIMB.parent).with_suffix("").parts).removesuffix(".__init__"): p
            for p in sorted(CLIMB.rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """Every module name an import statement of the file names (top level or inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


MODULES = _modules()


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_module_belongs_to_a_known_stage():
    """A new sub-package must be placed in the order before it is used."""
    stages = {_stage(m) for m in MODULES if _stage(m)}
    assert stages <= set(ALLOWED), f"stages without a place in the layering: {stages - set(ALLOWED)}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_engine_imports_follow_the_layering(module):
    """No Dagster, no asset graph or resources; only core and earlier stages."""
    stage = _stage(module)
    imported = _imports(MODULES[module])
    wrong_root = sorted(name for name in imported if name.split(".")[0] in FORBIDDEN_ROOTS)
    assert not wrong_root, f"{module} imports {wrong_root}: engines stay plain Python"
    if stage is None:
        return
    later = sorted(name for name in imported
                   if name.startswith("climb.") and _stage(name) not in ALLOWED[stage])
    assert not later, f"{module} (stage {stage}) imports {later}; allowed stages: {sorted(ALLOWED[stage])}"


def test_no_import_cycles_between_modules():
    """The module import graph of climb/ (package __init__ re-exports aside) has no cycle."""
    graph = {m: _imports(p) for m, p in MODULES.items() if p.name != "__init__.py"}
    graph = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(dep):] + [node, dep])
                                     if dep in path else f"import cycle through {node} -> {dep}")
            if dep not in state:
                visit(dep, path + [node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
