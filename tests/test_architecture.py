"""The layout stays what docs/design.md says: imports go one way between the apps
(config <- accounts <- targets <- workflows <- scans <- integrations), the top of scans/ holds only
its models, services, pages, API and wiring, and no module grows past 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.smoke

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["config", "accounts", "targets", "workflows", "scans", "integrations"]
RANK = {app: rank for rank, app in enumerate(LAYERS)}
SCANS_TOP = {
    "__init__.py", "admin.py", "api.py", "apps.py", "forms.py", "services.py",
    "signals.py", "tasks.py", "urls.py", "views.py",
}  # fmt: skip


def _modules() -> list[Path]:
    return [
        path
        for app in LAYERS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


def _module_level_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """Imports that run when the module is imported: top-level statements and those under
    top-level if/try blocks (not inside functions or classes' methods)."""
    found: list[tuple[int, str]] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        found += [(node.lineno, name) for name in _imported(node)]
        if isinstance(node, ast.If | ast.Try | ast.With):
            pending += [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])]
            for handler in getattr(node, "handlers", []):
                pending += handler.body
        elif isinstance(node, ast.ClassDef):
            pending += [n for n in node.body if not isinstance(n, ast.FunctionDef)]
    return found


def _upward(path: Path, imports: list[tuple[int, str]]) -> list[str]:
    app = path.relative_to(ROOT).parts[0]
    return [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for line, name in imports
        if name.split(".")[0] in RANK and RANK[name.split(".")[0]] > RANK[app]
    ]


def test_no_app_imports_an_app_above_it_at_module_level() -> None:
    problems = []
    for path in _modules():
        problems += _upward(path, _module_level_imports(ast.parse(path.read_text())))
    assert problems == []


def test_no_app_imports_an_app_above_it_inside_a_function_either() -> None:
    """Lower apps reach higher ones only by dotted paths in settings (NODE_PACKAGES,
    METRICS_COLLECTORS), never by an import hidden in a function."""
    problems = []
    for path in _modules():
        every = [
            (node.lineno, name)
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for name in _imported(node)
        ]
        problems += _upward(path, every)
    assert problems == []


def test_the_walk_finds_an_upward_import(tmp_path: Path) -> None:
    """The check above can fail: a targets module importing scans is caught."""
    tree = ast.parse(
        "from __future__ import annotations\nif True:\n    from scans.models import Scan\n"
    )
    assert _upward(ROOT / "targets" / "x.py", _module_level_imports(tree)) == [
        "targets/x.py:3 imports scans.models"
    ]


def test_the_top_of_scans_holds_only_models_services_pages_api_and_wiring() -> None:
    top = {path.name for path in (ROOT / "scans").glob("*.py")}
    assert top <= SCANS_TOP, sorted(top - SCANS_TOP)


def test_no_module_is_over_500_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in _modules()
        if (n := len(path.read_text().splitlines())) > 500
    }
    assert long == {}
