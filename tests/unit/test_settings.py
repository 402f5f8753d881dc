"""Every DUBAN_* setting is a typed, described field of duban.settings.Settings, and the README's
configuration table lists exactly those fields with their defaults and meanings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import duban.settings
from duban.settings import Settings, SettingsError, documented_default, env_name
from tests.support.paths import CONFIG_DIR, README

CLEAN = [env_name(f) for f in Settings.model_fields]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in CLEAN:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _readme_table() -> list[tuple[str, str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(DUBAN_\w+)` \| `([^`]*)` \| (.+) \|$", section, re.M)


def test_readme_configuration_table_is_the_settings() -> None:
    rows = _readme_table()
    assert [name for name, _, _ in rows] == CLEAN
    for field, (name, default, meaning) in zip(Settings.model_fields, rows, strict=True):
        assert default == documented_default(field), name
        assert meaning == Settings.model_fields[field].description, name


def test_every_field_is_described() -> None:
    for field, info in Settings.model_fields.items():
        assert info.description and len(info.description) > 10, field


def test_defaults_in_a_source_checkout(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.chdir(tmp_path)
    settings = Settings.from_env()
    assert settings.home == tmp_path / ".duban"
    assert settings.database_url == f"sqlite:///{tmp_path / '.duban' / 'duban.db'}"
    assert settings.config_dir == CONFIG_DIR
    assert settings.notify_config == CONFIG_DIR / "notify.yaml"
    assert settings.portal_url == "http://127.0.0.1:8000"
    assert settings.dispatch_lease_seconds == 600


def test_values_come_from_the_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("DUBAN_HOME", str(tmp_path))
    clean_env.setenv("DUBAN_CONFIG_DIR", str(tmp_path / "cfg"))
    clean_env.setenv("DUBAN_PORTAL_URL", "https://duban.example/")
    clean_env.setenv("DUBAN_DISPATCH_LEASE_SECONDS", "45")
    clean_env.setenv("DUBAN_DATABASE_URL", "")  # empty means unset
    settings = Settings.from_env()
    assert settings.database_url == f"sqlite:///{tmp_path / 'duban.db'}"
    assert settings.notify_config == tmp_path / "cfg" / "notify.yaml"
    assert settings.portal_url == "https://duban.example"
    assert settings.dispatch_lease_seconds == 45
    assert hash(settings) == hash(Settings.from_env())  # one Context per settings per process


@pytest.mark.parametrize("raw", ["0", "-5", "1.5", "ten", "１０", "²"])
def test_a_bad_value_names_the_variable(clean_env: pytest.MonkeyPatch, raw: str) -> None:
    clean_env.setenv("DUBAN_DISPATCH_LEASE_SECONDS", raw)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env()
    assert f"DUBAN_DISPATCH_LEASE_SECONDS={raw!r}" in str(caught.value)
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)


def test_installed_without_config_is_a_clear_error(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An installed wheel has no config/ beside it: the error says which variable to set."""
    clean_env.setattr(duban.settings, "CHECKOUT_ROOT", tmp_path / "site-packages")
    with pytest.raises(SettingsError, match="DUBAN_CONFIG_DIR") as caught:
        Settings.from_env()
    assert "未找到计划配置目录" in str(caught.value)
    clean_env.setenv("DUBAN_CONFIG_DIR", str(tmp_path))
    assert Settings.from_env().config_dir == tmp_path


def test_the_console_script_reports_a_bad_setting_without_a_traceback(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli import main

    clean_env.setenv("DUBAN_DISPATCH_LEASE_SECONDS", "ten")
    clean_env.setattr("sys.argv", ["duban", "status"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: DUBAN_DISPATCH_LEASE_SECONDS='ten'") and "Traceback" not in err


# Names read outside Settings, each for a reason the README states below its table.
NOT_SETTINGS = {
    "DUBAN_TOKEN": "a department's credential for one command (--token), not configuration",
    "DUBAN_DEBUG": "the error handler's switch, read when the settings themselves may be broken",
    "DUBAN_LEDGER_PREPARED": "internal: set by `duban` for the flows it runs in its own process",
    "DUBAN_FAULT_KILL_AT": "fault injection for the crash tests, never set in operation",
}


def test_every_duban_variable_in_the_product_is_a_setting_or_explained() -> None:
    found: set[str] = set()
    for package in ("duban", "cli", "portal", "flows", "tasks", "notifications"):
        for path in (README.parent / package).rglob("*.py"):
            found |= set(re.findall(r"\bDUBAN_[A-Z_]+\b", path.read_text(encoding="utf-8")))
    assert found - set(CLEAN) - set(NOT_SETTINGS) == set()
    readme = README.read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in NOT_SETTINGS)
