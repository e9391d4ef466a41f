"""The package layout keeps its promises: no import circles, pure models, a light root.

Imports are read from the source (every `import` and `from ... import`,
also those inside functions), so a circle that only bites at run time, or in
another order of imports, still fails here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "retention"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the retention modules it imports (a name imported from a package
    counts as its submodule when one exists)."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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


def test_no_module_imports_one_that_imports_it_back():
    assert _cycles(_imports()) == []


def test_the_cycle_check_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_models_are_pure_statistics():
    """retention/models/ imports no DuckDB and nothing of the pipeline."""
    for path in (PACKAGE / "models").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("duckdb"), f"{path.name} imports {name}"
                if name.startswith("retention"):
                    assert name.startswith("retention.models"), f"{path.name} imports {name}"


def test_the_warehouse_does_not_reach_into_the_stages():
    graph = _imports()
    for module, targets in graph.items():
        if module.startswith("retention.warehouse"):
            outside = {
                t
                for t in targets
                if not t.startswith(("retention.warehouse", "retention.models"))
                and t not in ("retention.errors", "retention.version", "retention.output_files")
            }
            assert outside == set(), f"{module} imports {sorted(outside)}"


def test_modules_stay_small():
    too_long = {
        _module_name(path): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert too_long == {}


def test_import_retention_is_light():
    """Importing the API does not load DuckDB, pandas or lifelines (the CLI starts fast)."""
    probe = (
        "import sys, retention; "
        "print(sorted(m for m in ('duckdb', 'pandas', 'lifelines', 'lifetimes') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
