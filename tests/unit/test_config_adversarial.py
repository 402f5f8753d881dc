"""Config input that once slipped through (issue 14.6): each is refused by `plan check` with the
file and field named, never a traceback; and a config `plan check` accepts also loads and chases."""

from __future__ import annotations

import copy
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli import app
from duban.plan.config import ConfigError, load_config
from duban.service import Context, chase, setup
from duban.settings import Settings
from tests.support.paths import REPO

PLAN_TEXT = (REPO / "config" / "plans" / "2023.yaml").read_text(encoding="utf-8")


def _config(tmp_path: Path, plan_text: str | None = None, notify: str | None = None) -> Path:
    root = tmp_path / "config"
    if not root.exists():
        shutil.copytree(REPO / "config", root)
    if plan_text is not None:
        (root / "plans" / "2023.yaml").write_text(plan_text, encoding="utf-8")
    if notify is not None:
        (root / "notify.yaml").write_text(notify, encoding="utf-8")
    return root


def _check(root: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["plan", "check", str(root)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _first_target_value(text: str, new: str) -> str:
    return text.replace("value: 18\n", f"value: {new}\n", 1)


@pytest.mark.parametrize(("written", "expect"), [
    (".nan", "finite"), (".inf", "finite"), ("-2200", "greater than or equal to 0"),
])
def test_target_values_must_be_finite_and_not_negative(tmp_path, written, expect) -> None:
    assert "value: 18\n" in PLAN_TEXT
    code, output = _check(_config(tmp_path, _first_target_value(PLAN_TEXT, written)))
    assert code == 1 and "2023.yaml: actions[0].targets[0].value" in output and expect in output


def test_an_impossible_date_is_named_not_a_traceback(tmp_path) -> None:
    text = PLAN_TEXT.replace("starts: 2023-06-01", "starts: 2023-02-30", 1)
    assert text != PLAN_TEXT
    code, output = _check(_config(tmp_path, text))
    assert code == 1 and "2023.yaml: plan.starts" in output and "2023-02-30" in output


def test_any_action_number_is_chased(tmp_path) -> None:
    """An action numbered 18 in a plan of 17 is the plan's business: it loads and is chased
    (flows and deployments come from the plan's own actions), never silently skipped."""
    text = PLAN_TEXT.replace('- "no": 17\n', '- "no": 18\n', 1)
    assert text != PLAN_TEXT
    root = _config(tmp_path, text)
    ctx = Context(Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'l.db'}",
                           config_dir=root, notify_config=root / "notify.yaml",
                           portal_url="http://127.0.0.1:8000"))
    now = datetime(2023, 10, 16, 1, 0, tzinfo=UTC)
    setup(ctx, now)
    assert 18 in {result.action for result in chase(ctx, now, dry_run=True)}


def test_bad_yaml_is_not_called_empty(tmp_path) -> None:
    code, output = _check(_config(tmp_path, "plan: [unclosed\n"))
    assert code == 1 and "bad YAML" in output and "empty" not in output


def test_a_malformed_notify_file_fails_the_check(tmp_path) -> None:
    code, output = _check(_config(tmp_path, notify="urls: [ {oops\n"))
    assert code == 1 and "notify.yaml" in output and "Traceback" not in output


NUMBER_PATHS = [
    ("actions", 1, "targets", 0, "value"), ("actions", 1, "targets", 1, "value"),
    ("actions", 4, "targets", 0, "value"), ("actions", 9, "targets", 0, "value"),
]
figures = (st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**6, 10**12)
           | st.text(max_size=8) | st.sampled_from(["2023-02-30", "2023-13-01", "1_000", "1e308"]))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(NUMBER_PATHS), value=figures)
def test_what_check_accepts_also_loads_and_chases(tmp_path_factory, path, value) -> None:
    data = yaml.safe_load(PLAN_TEXT)
    node = copy.deepcopy(data)
    target = node
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    home = tmp_path_factory.mktemp("home")
    root = _config(home, yaml.safe_dump(node, allow_unicode=True))
    try:
        load_config(root)
    except ConfigError as exc:
        assert all(p.file.endswith("2023.yaml") and p.path for p in exc.problems)
        return
    ctx = Context(Settings(home=home, database_url=f"sqlite:///{home / 'l.db'}",
                           config_dir=root, notify_config=root / "notify.yaml",
                           portal_url="http://127.0.0.1:8000"))
    now = datetime(2023, 10, 16, 1, 0, tzinfo=UTC)
    setup(ctx, now)
    assert chase(ctx, now, dry_run=True)  # every accepted config also chases
