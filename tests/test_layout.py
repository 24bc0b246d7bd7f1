"""The package's shape: folders by concern, data flowing one way, rooms small enough to read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "edgedeblur_cli"
MODULES = sorted(PACKAGE.rglob("*.py"))

# What each part may not import: restoring never needs training; models need nothing around them.
FORBIDDEN = {
    "models": ("cli", "files", "restoring", "training", "deconvolution", "degradations"),
    "restoring": ("cli", "training"),
    "deconvolution": ("cli", "training"),
    "files": ("cli", "training"),
    "degradations": ("cli", "training", "restoring"),
    "training": ("cli",),
}


def _imports(path: Path) -> set[str]:
    """The package parts (first name under edgedeblur_cli) a module imports, at any depth of the file."""
    here = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: len(here) - node.level]) + (node.module.split(".") if node.module else [])
                names = [base] if node.module else [base + [alias.name] for alias in node.names]
            elif node.module and node.module.startswith("edgedeblur_cli"):
                names = [node.module.split(".")]
            else:
                continue
            found.update(name[1] for name in names if len(name) > 1)
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_data_flows_one_way(path):
    part = path.relative_to(PACKAGE).parts[0]
    imported = _imports(path) & set(FORBIDDEN.get(part, ()))
    assert not imported, f"{part}/ must not import {sorted(imported)}"


def test_the_forbidden_imports_are_seen():
    """The check above can fail: restore.py really imports models and weights."""
    assert {"models", "weights", "device"} <= _imports(PACKAGE / "restoring" / "restore.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_fit_a_screen_or_few(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 400, "split the module by concern"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 80]
    assert not long, f"functions over 80 lines: {long}"
