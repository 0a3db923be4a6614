"""The package's shape: imports run downwards only, there is no import loop, every
module imports on its own, and the database dialect is named only in ``models.db``.

Layers, from the bottom: ``domain`` (rules) and ``models`` (data, configuration,
database plumbing); ``connectors`` (I/O) and ``letters`` (rendering); ``services``
(the application layer); the entry points ``flows`` (CLI, stages, Prefect) and ``web``
(the portal). A module may import its own layer and the layers below it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("domain", "models", "connectors", "letters", "services", "flows", "web")

#: What each package may import from the project (besides itself).
ALLOWED: dict[str, set[str]] = {
    "domain": {"models"},  # one-line errors and the configuration's value types
    "models": {"domain"},
    "connectors": {"domain", "models"},
    "letters": {"domain", "models", "connectors"},
    "services": {"domain", "models", "connectors", "letters"},
    # `kvarboende web` starts the portal: the command line may launch the other entry point.
    "flows": {"domain", "models", "connectors", "letters", "services", "web"},
    "web": {"domain", "models", "connectors", "letters", "services"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules this module imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in MODULES}


def _module_level_imports(name: str, path: Path) -> set[str]:
    """Project modules imported when the module itself is imported (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks never run
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in MODULES and t != name}


def test_imports_run_downwards_only() -> None:
    wrong = []
    for name, path in MODULES.items():
        layer = name.split(".")[0]
        for target in _imports(name, path):
            other = target.split(".")[0]
            if other != layer and other not in ALLOWED[layer]:
                wrong.append(f"{name} imports {target}")
    assert sorted(set(wrong)) == []


def test_no_import_loop() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        # A package's __init__ importing its own submodules is not a loop.
        graph[name] = {t for t in _module_level_imports(name, path) if not name.startswith(t)}
    loops: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                loops.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert loops == []


def test_only_models_db_names_the_dialect() -> None:
    naming = [
        name
        for name, path in MODULES.items()
        if name != "models.db" and "dialect.name" in path.read_text(encoding="utf-8")
    ]
    assert naming == []


def test_no_sql_in_entry_points() -> None:
    """Stages, commands and routes call services; none builds a query of its own."""
    with_sql = []
    for name, path in MODULES.items():
        if not name.startswith(("flows.stages", "flows.commands", "web")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                query = {"select", "insert", "update", "delete", "text", "func"}
                used = query & {alias.name for alias in node.names}
                if used:
                    with_sql.append(f"{name}: {sorted(used)}")
    assert with_sql == []


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_imports_on_its_own(package: str) -> None:
    """Each module imports with none of the project's modules loaded before it (no hidden
    dependency on import order). Third-party modules stay cached, so this stays fast."""
    names = [n for n in MODULES if n.split(".")[0] == package]
    code = (
        "import importlib, sys, traceback\n"
        f"project = {PACKAGES!r}\n"
        "for n in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] in project]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(n)\n"
        "    except Exception as exc:\n"
        "        print(f'{n}: {type(exc).__name__}: {exc}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *names], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""
