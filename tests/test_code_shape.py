"""The shape rules of the developers' guide that a machine can check: short functions, and
dependencies that point one way (the CLI composes; lower layers never import it)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "alignaudit"
MAX_FUNCTION_LINES = 60


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in SRC.rglob("*.py")]


def _imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_function_is_longer_than_sixty_lines() -> None:
    long = [
        f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})"
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, long


def test_dependencies_point_one_way() -> None:
    forbidden = {  # package -> what it must not import
        "models": ("alignaudit.attacks", "alignaudit.cli", "alignaudit.runs"),
        "metrics": ("alignaudit.judges", "alignaudit.cli", "alignaudit.runs"),
        "judges": ("alignaudit.cli", "alignaudit.runs"),
        "generation": ("alignaudit.cli", "alignaudit.runs", "alignaudit.attacks"),
        "data": ("alignaudit.cli", "alignaudit.runs"),
        "attacks": ("alignaudit.cli", "alignaudit.runs"),
        "report": ("alignaudit.cli",),
        "runs": ("alignaudit.cli",),
    }
    wrong = [
        f"{path.relative_to(SRC)} imports {name}"
        for path, tree in _modules()
        for package, banned in forbidden.items()
        if path.relative_to(SRC).parts[0] == package
        for name in _imported(tree)
        if name.startswith(banned)
    ]
    wrong += [
        f"{path.relative_to(SRC)} imports {name}"
        for path, tree in _modules()
        if path.relative_to(SRC).parts[0] not in ("cli", "__main__.py")
        for name in _imported(tree)
        if name.startswith("alignaudit.cli")
    ]
    assert not wrong, wrong
