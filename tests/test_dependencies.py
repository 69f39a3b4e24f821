"""Every module the code imports comes from a dependency that ``pyproject.toml`` declares.

A package installed by hand on a development machine (scikit-learn, once) makes the tests
pass there and fail on a fresh one; this compares the imports with the declarations.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCAL_PACKAGES = {"streamer", "tests", "benchmarks"}
TEST_ONLY_EXTRA = "test"


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _normalised(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1))


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    """Names of the main dependencies, and of each optional extra."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    main = {_requirement_name(r) for r in project["dependencies"]}
    extras = {
        extra: {_requirement_name(r) for r in requirements}
        for extra, requirements in project.get("optional-dependencies", {}).items()
    }
    return main, extras


def _imports(folder: str) -> dict[str, str]:
    """Top-level third-party modules imported anywhere under ``folder``, with one file each."""
    found: dict[str, str] = {}
    for path in sorted((REPO_ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in LOCAL_PACKAGES:
                    found.setdefault(top, str(path.relative_to(REPO_ROOT)))
    return found


def _undeclared(folder: str, allowed: set[str]) -> list[str]:
    providers = importlib.metadata.packages_distributions()
    problems = []
    for module, where in sorted(_imports(folder).items()):
        distributions = {_normalised(d) for d in providers.get(module, [])}
        if not distributions:
            problems.append(f"{module} ({where}): no installed distribution provides it")
        elif not distributions & allowed:
            problems.append(f"{module} ({where}): from {sorted(distributions)}, not declared")
    return problems


def test_the_package_imports_only_its_main_dependencies():
    main, extras = _declared()
    # an optional backend (openSMILE) imports its extra's package when it is chosen
    optional = set().union(*(names for extra, names in extras.items() if extra != TEST_ONLY_EXTRA))
    problems = _undeclared("streamer", main | optional)
    assert not problems, "declare in pyproject.toml [project] dependencies: " + "; ".join(problems)


@pytest.mark.parametrize("folder", ["tests", "benchmarks"])
def test_tests_and_benchmarks_import_only_declared_packages(folder):
    main, extras = _declared()
    problems = _undeclared(folder, main.union(*extras.values()))
    assert not problems, "declare in pyproject.toml (the test extra): " + "; ".join(problems)


def test_the_check_sees_an_undeclared_import():
    """The comparison fails for a module no declaration covers (here: pytest in streamer/)."""
    main, _ = _declared()
    assert "pytest" not in main
    assert any(p.startswith("pytest ") for p in _undeclared("tests", main))
