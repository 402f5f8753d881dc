"""Every DUBAN_* setting, typed and described in one place (pydantic-settings).

Read when asked (`Settings.from_env()`), never at import. The README's configuration table lists
exactly these fields with these defaults (tests/unit/test_settings.py checks it).
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "DUBAN_"
CHECKOUT_ROOT = Path(__file__).resolve().parent.parent  # a source checkout (or site-packages)


class SettingsError(ValueError):
    """An environment variable has a value duban cannot use (the message names it)."""


def checkout_config_dir() -> Path | None:
    """The repository's config/ when duban runs from a source checkout (an editable install);
    None for an installed wheel, whose site-packages holds no plan config."""
    candidate = CHECKOUT_ROOT / "config"
    if (CHECKOUT_ROOT / "pyproject.toml").is_file() and (candidate / "ladder.yaml").is_file():
        return candidate
    return None


class Settings(BaseSettings):
    """The whole configuration of a duban process. Paths are made absolute, the defaults that
    depend on other settings are filled in, so every field holds what is actually used."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_ignore_empty=True, frozen=True, extra="forbid",
    )

    home: Path = Field(
        Path(".duban"), json_schema_extra={"shown": "./.duban"},
        description="where the SQLite ledger, evidence files and the local Prefect server's "
                    "data live",
    )
    database_url: str = Field(
        "", json_schema_extra={"shown": "sqlite:///$DUBAN_HOME/duban.db"},
        description="the ledger; `postgresql://user@host:5432/db` for PostgreSQL",
    )
    config_dir: Path = Field(
        Path(), json_schema_extra={"shown": "./config"},
        description="the plan config (departments, plans, ladder); the default is the source "
                    "checkout's, so an installed wheel must set it",
    )
    notify_config: Path = Field(
        Path(), json_schema_extra={"shown": "$DUBAN_CONFIG_DIR/notify.yaml"},
        description="Apprise YAML routing: tag = department code, `office`, `supervisor`",
    )
    portal_url: str = Field(
        "http://127.0.0.1:8000",
        description="the report page's address as written into reminder links",
    )
    dispatch_lease_seconds: int = Field(
        600, ge=1,
        description="how long a claimed digest stays its claimer's before another dispatch may "
                    "send it again (whole seconds)",
    )
    delivery_max_attempts: int = Field(
        5, ge=1, description="how many times one message is tried before it is recorded failed",
    )
    delivery_retry_seconds: int = Field(
        600, ge=1,
        description="the wait before a failed message is tried again (whole seconds; doubled "
                    "per attempt, at most two hours)",
    )
    redispatch_cron: str = Field(
        "0 10-17 * * *",
        description="when `duban up` dispatches again to retry undelivered digests (cron, "
                    "Beijing time; days off are skipped; empty: only the daily run)",
    )

    portal_trusted_proxies: str = Field(
        "", json_schema_extra={"shown": "(none)"},
        description="addresses or networks (comma-separated, e.g. `10.0.0.5, 172.16.0.0/12`) of "
                    "reverse proxies in front of the report page; only from these is "
                    "X-Forwarded-For believed",
    )
    office_credential: str = Field(
        "", json_schema_extra={"shown": "$DUBAN_HOME/prefect-auth"},
        description="`user:password` for the office's pages on the portal (/office/…: reports "
                    "and evidence); by default the Prefect UI's credential in "
                    "$DUBAN_HOME/prefect-auth",
    )

    portal_threads: int = Field(
        40, ge=1,
        description="how many requests the report page serves at once (its worker threads; 40 "
                    "is anyio's default); each process's ledger connection pool keeps as many "
                    "connections (opened on demand), so no request waits for one",
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_derived(cls, data: Any) -> Any:
        """Defaults that depend on other settings; a missing config is an error naming it."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        home = Path(data.get("home") or ".duban").resolve()
        data["home"] = home
        data["database_url"] = data.get("database_url") or f"sqlite:///{home / 'duban.db'}"
        config_dir = data.get("config_dir") or checkout_config_dir()
        if config_dir is None:
            raise ValueError(
                f"未找到计划配置目录：请设置 {PREFIX}CONFIG_DIR 指向配置文件夹 / "
                f"no plan config found: set {PREFIX}CONFIG_DIR to the config folder "
                "(duban runs outside a source checkout)"
            )
        data["config_dir"] = Path(config_dir)
        data["notify_config"] = data.get("notify_config") or Path(config_dir) / "notify.yaml"
        return data

    @field_validator("redispatch_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        """Five cron fields (minute hour day month weekday), or empty."""
        value = value.strip()
        if value and len(value.split()) != 5:
            raise ValueError("expected a five-field cron, e.g. `0 10-17 * * *` / 应为五段 cron")
        return value

    @field_validator("portal_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("portal_trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        """Every entry an IP address or network, so a typo is refused rather than ignored."""
        try:
            trusted_networks(value)
        except ValueError as exc:
            raise ValueError(f"not an address or network / 不是地址或网段: {exc}") from None
        return value

    @field_validator(
        "dispatch_lease_seconds", "delivery_max_attempts", "delivery_retry_seconds",
        "portal_threads", mode="before")
    @classmethod
    def _whole_seconds(cls, value: Any) -> Any:
        """Whole ASCII digits only: "1.5", "１０" or "²" are refused, not guessed."""
        if isinstance(value, str) and not (value.strip().isascii() and value.strip().isdigit()):
            raise ValueError("expected whole seconds >= 1 / 应为不小于 1 的整秒数")
        return value

    @classmethod
    def from_env(cls) -> Settings:
        """The settings of this process, or a SettingsError naming each unusable variable."""
        try:
            return cls()
        except ValidationError as exc:
            raise SettingsError(describe(exc)) from None


def trusted_networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """'10.0.0.5, 172.16.0.0/12' -> the networks (ValueError naming a bad entry)."""
    return tuple(ip_network(part.strip(), strict=False) for part in text.split(",")
                 if part.strip())


def env_name(field: str) -> str:
    return f"{PREFIX}{field.upper()}"


def describe(error: ValidationError) -> str:
    """One line per problem: the variable, its value and what is wrong (Chinese and English)."""
    lines = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if not item["loc"]:
            lines.append(f"配置错误 / setting error: {message}")
            continue
        name = env_name(str(item["loc"][0]))
        lines.append(f"{name}={item['input']!r}: 配置值无效 / invalid value: {message}")
    return "\n".join(lines)


def documented_default(field: str) -> str:
    """A field's default as the README shows it (derived defaults spelled as their rule)."""
    info = Settings.model_fields[field]
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return str(extra.get("shown", info.default))
