"""Property-based: no malformed plan crashes the loader; every rejection names what is wrong."""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duban.plan.config import ConfigError, load_config
from tests.support.paths import REPO

PLAN = yaml.safe_load((REPO / "config" / "plans" / "2023.yaml").read_text(encoding="utf-8"))
DEPARTMENTS = yaml.safe_load((REPO / "config" / "departments.yaml").read_text(encoding="utf-8"))

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
    | st.dates(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:3]):
            out += _paths(value, (*prefix, index))
    return out


PLAN_PATHS = [p for p in _paths(PLAN) if p]
DEPT_PATHS = [p for p in _paths(DEPARTMENTS) if p]


def _mutate(data: Any, path: tuple, value: Any, delete: bool) -> Any:
    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node[part]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


def _check(files: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "config"
        shutil.copytree(REPO / "config", root)
        for name, data in files.items():
            text = yaml.safe_dump(data, allow_unicode=True)
            (root / name).write_text(text, encoding="utf-8")
        try:
            load_config(root)
        except ConfigError as exc:
            assert exc.problems
            for problem in exc.problems:
                assert problem.file.endswith((".yaml", "plans")) and problem.message


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PLAN_PATHS), junk, st.booleans())
def test_mutated_plan_never_crashes(path, value, delete) -> None:
    _check({"plans/2023.yaml": _mutate(PLAN, path, value, delete)})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(DEPT_PATHS), junk, st.booleans())
def test_mutated_departments_never_crash(path, value, delete) -> None:
    _check({"departments.yaml": _mutate(DEPARTMENTS, path, value, delete)})


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_as_a_plan_never_crashes(text) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "config"
        shutil.copytree(REPO / "config", root)
        (root / "plans" / "2023.yaml").write_text(text, encoding="utf-8")
        try:
            load_config(root)
        except ConfigError as exc:
            assert all("2023.yaml" in str(p) for p in exc.problems)
