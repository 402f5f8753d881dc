"""Every third-party import is declared in pyproject.toml, and every declared package is used:
the product's imports by `dependencies`, the tests', tools' and benchmarks' by the `test` extra."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
import tomllib

from tests.support.paths import REPO

PRODUCT = ["duban", "cli", "portal", "flows", "tasks", "notifications"]
DEVELOPMENT = ["tests", "tools", "benchmarks"]
LOCAL = set(PRODUCT + DEVELOPMENT)
# Declared and needed, but never imported by name: why each one is there.
USED_WITHOUT_IMPORT = {
    "psycopg": "SQLAlchemy's driver for postgresql+psycopg:// URLs",
    "python-multipart": "FastAPI parses the report page's forms and uploads with it",
    "ruff": "run by ./run test",
    "import-linter": "`lint-imports`, run by ./run test",
}


def _name(text: str) -> str:
    """The normalised distribution name of a requirement such as `psycopg[binary]>=3.1`."""
    match = re.match(r"[A-Za-z0-9._-]+", text)
    assert match, text
    return re.sub(r"[._-]+", "-", match.group()).lower()


def _imported(folders: list[str]) -> dict[str, str]:
    """Distribution name -> one file importing it, for every third-party import in folders."""
    owners = metadata.packages_distributions()
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top in LOCAL or top == "__future__":
                        continue
                    for dist in owners.get(top, [f"<no distribution for {top}>"]):
                        found.setdefault(_name(dist), str(path.relative_to(REPO)))
    return found


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    test = {_name(r) for r in project["optional-dependencies"]["test"]}
    return runtime, test


def test_every_product_import_is_a_runtime_dependency() -> None:
    runtime, _ = _declared()
    missing = {d: f for d, f in _imported(PRODUCT).items() if d not in runtime}
    assert not missing, f"imported but not in [project] dependencies: {missing}"


def test_every_test_import_is_declared() -> None:
    runtime, test = _declared()
    missing = {d: f for d, f in _imported(DEVELOPMENT).items() if d not in runtime | test}
    assert not missing, f"imported but not in the test extra: {missing}"


def test_every_declared_package_is_used() -> None:
    runtime, test = _declared()
    product, development = set(_imported(PRODUCT)), set(_imported(DEVELOPMENT))
    assert runtime - product - set(USED_WITHOUT_IMPORT) == set()
    assert test - development - set(USED_WITHOUT_IMPORT) == set()
