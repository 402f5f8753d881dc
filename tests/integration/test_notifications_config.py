"""Loading the Apprise YAML routing file: clear errors that name the file, never a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifications import Notifier, NotifyConfigError

SECRET = "topsecret4711"

BAD_CONFIGS = {
    "invalid-yaml": (
        f"urls:\n  - dingtalk://{SECRET}: [\n      tag: mzj\n",
        "invalid YAML at line",
    ),
    "not-a-mapping": ("- outbox://\n", "expected a mapping with a 'urls:' list"),
    "no-urls": ("version: 1\n", "'urls:' must be a non-empty list"),
    "empty-urls": ("urls: []\n", "'urls:' must be a non-empty list"),
    "version-2": ("version: 2\nurls:\n  - outbox://\n", "only 'version: 1'"),
    "include": ("include:\n  - other.yaml\nurls:\n  - outbox://\n", "'include:' is not supported"),
    "template": ("template:\n  t: {}\nurls:\n  - outbox://\n", "'template:' is not supported"),
    "entry-without-url": ("urls:\n  - tag: mzj\n", "entry #1 under 'urls:' has no URL"),
    "unknown-scheme": (
        f"urls:\n  - outbox://\n  - dingtalkk://{SECRET}:\n      tag: mzj\n",
        "entry #2: unknown scheme 'dingtalkk://'",
    ),
    "plain-https-webhook": (
        f"urls:\n  - https://example.org/hook/{SECRET}:\n      tag: mzj\n",
        "entry #1: unknown scheme 'https://' (a plain web hook is written json://host/path)",
    ),
    "bad-dingtalk-token": (
        f"urls:\n  - outbox://\n  - dingtalk://{SECRET}$x:\n      tag: mzj\n",
        "entry #2 (dingtalk://) could not be loaded: An invalid DingTalk API Token",
    ),
    "bad-wecom-key": (
        f"urls:\n  - wecombot://{SECRET}!!:\n      tag: mzj\n",
        "entry #1 (wecombot://) could not be loaded: An invalid WeCom Bot Webhook Key",
    ),
    "bad-dingtalk-secret-option": (
        f"urls:\n  - dingtalk://goodtoken123:\n      tag: mzj\n      secret: '{SECRET}$'\n",
        "entry #1 (dingtalk://) could not be loaded",
    ),
}


@pytest.mark.parametrize(("text", "expected"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_config_names_file_and_problem_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, expected: str
) -> None:
    caplog.set_level(1)
    path = tmp_path / "notify.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(NotifyConfigError) as raised:
        Notifier(path)

    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert SECRET not in message
    assert [r.getMessage() for r in caplog.records if SECRET in r.getMessage()] == []


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(NotifyConfigError, match="cannot read the notify config") as raised:
        Notifier(path)

    assert isinstance(raised.value, ValueError)
    assert str(path) in str(raised.value)


def test_groups_and_several_tags_route_like_apprise(tmp_path: Path) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text(
        "groups:\n"
        "  leaders: office, supervisor\n"
        "urls:\n"
        "  - json://127.0.0.1:9/a:\n"
        "      tag: mzj, taishan-mzj\n"
        "  - json://127.0.0.1:9/b:\n"
        "      - tag: office\n"
        "      - tag: supervisor\n"
        "  - json://127.0.0.1:9/c:\n"
        "      tag: 民政局\n",
        encoding="utf-8",
    )

    notifier = Notifier(path)

    def paths(tag: str) -> list[str]:
        return [u.split("/")[3].split("?")[0] for u in notifier.routes(tag)]

    assert paths("mzj") == ["a"] and paths("taishan-mzj") == ["a"]
    assert paths("office") == ["b"] and paths("supervisor") == ["b"]
    assert paths("leaders") == ["b", "b"]
    assert paths("民政局") == ["c"]
    assert paths("nosuch") == []


def test_timeouts_and_throttle_are_overridden_unless_the_url_sets_them(tmp_path: Path) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text(
        "urls:\n  - json://127.0.0.1:9/plain:\n      tag: a\n"
        "  - json://127.0.0.1:9/own?cto=7&rto=8:\n      tag: b\n",
        encoding="utf-8",
    )

    notifier = Notifier(path, timeout=3.0)

    plain, own = (r.service for r in notifier._routes)
    assert (plain.socket_connect_timeout, plain.socket_read_timeout) == (3.0, 3.0)
    assert (own.socket_connect_timeout, own.socket_read_timeout) == (7.0, 8.0)
    assert plain.request_rate_per_sec == own.request_rate_per_sec == 0
    assert "cto" not in notifier.routes("a")[0]  # targets show the URL as configured


@pytest.mark.parametrize(
    "kwargs",
    [{"timeout": 0}, {"max_workers": 0}, {"retries": -1}, {"retry_budget": -1.0}],
)
def test_invalid_arguments_are_rejected(tmp_path: Path, kwargs: dict) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text("urls:\n  - outbox://\n", encoding="utf-8")

    with pytest.raises(ValueError, match="need timeout > 0"):
        Notifier(path, **kwargs)
