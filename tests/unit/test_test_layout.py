"""Shared test helpers have one home, tests/support: no test module imports another test module
(nor a conftest), so moving or deleting a test never breaks a different one."""

from __future__ import annotations

import ast

from tests.support.paths import REPO

ALLOWED = ("tests.support",)


def test_no_test_module_imports_another() -> None:
    offenders = []
    for root in ("tests", "benchmarks", "tools"):
        for path in (REPO / root).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                elif isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                else:
                    continue
                offenders += [f"{path.relative_to(REPO)}: {m}" for m in modules
                              if m.split(".")[0] == "tests" and not m.startswith(ALLOWED)]
    assert offenders == []


def test_support_is_not_collected_as_tests() -> None:
    assert not list((REPO / "tests" / "support").glob("test_*.py"))
