"""notifications.Notifier against real local receivers (HTTP, SMTP, silent TCP).

Vendor robots (DingTalk, WeCom, Feishu, Lark) are pointed at a local HTTP receiver by
patching the plugin class URL before the Notifier loads its config; a DNS guard makes
any attempt to reach a public host fail.
"""

from __future__ import annotations

import email
import email.policy
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from apprise import Apprise
from apprise.plugins.dingtalk import NotifyDingTalk
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.lark import NotifyLark
from apprise.plugins.wecombot import NotifyWeComBot
from apprise.result import AppriseResultStatus, NotifyAttempt, NotifyResult

from notifications import Notifier, OutgoingMessage, TargetResult
from notifications.notifier import _status
from tests.support.receivers import (
    HttpReceiver,
    Reply,
    SilentServer,
    SmtpReceiver,
    local_network_only,
    refused_port,
)

TITLE = "督办提醒：3项任务临近期限"
BODY = "市民政局：\n1. 社区养老服务行动 —— 6月30日到期\n2. 适老化改造 —— 7月15日到期"


@pytest.fixture(autouse=True)
def _no_public_network() -> Iterator[None]:
    with local_network_only():
        yield


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture
def vendors(http: HttpReceiver, monkeypatch: pytest.MonkeyPatch) -> HttpReceiver:
    """Send every DingTalk/WeCom/Feishu/Lark request to the local receiver."""
    base = http.url("")
    monkeypatch.setattr(NotifyDingTalk, "notify_url", base + "/dingtalk?access_token={token}")
    monkeypatch.setattr(NotifyWeComBot, "notify_url", base + "/wecom?key={key}")
    monkeypatch.setattr(NotifyFeishu, "notify_url", base + "/feishu/{token}")
    monkeypatch.setattr(NotifyLark, "notify_url", base + "/lark/")
    return http


def write_config(tmp_path: Path, entries: list[tuple[str, str]]) -> Path:
    """An Apprise YAML file with one (url, tag) entry each."""
    lines = ["version: 1", "urls:"]
    for url, tag in entries:
        lines += [f"  - {url}:", f"      tag: {tag}"]
    path = tmp_path / "notify.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def message(key: str = "d1", tag: str = "mzj") -> OutgoingMessage:
    return OutgoingMessage(key=key, tag=tag, title=TITLE, body=BODY)


def only(results: list[TargetResult], channel: str) -> TargetResult:
    [found] = [r for r in results if r.channel == channel]
    return found


class Outbox:
    """A thread-safe OutboxSink that records calls and can fail the first `fail` calls."""

    def __init__(self, fail: int = 0) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self._fail = fail
        self._lock = threading.Lock()

    def __call__(self, tag: str, title: str, body: str) -> None:
        with self._lock:
            if self._fail > 0:
                self._fail -= 1
                raise RuntimeError("database is locked")
            self.calls.append((tag, title, body))


# -- routing -------------------------------------------------------------------------


def test_default_config_routes_every_tag_to_the_outbox() -> None:
    sink = Outbox()
    notifier = Notifier(Path(__file__).parents[2] / "config" / "notify.yaml", outbox=sink)
    tags = ["mzj", "taishan-mzj", "office", "supervisor"]

    results = notifier.send_many([message(f"k-{t}", t) for t in tags])

    assert all(notifier.routes(t) == ["outbox://"] for t in tags)
    assert [(r.key, r.channel, r.status) for r in results] == [
        (f"k-{t}", "outbox", "sent") for t in tags
    ]
    assert sorted(sink.calls) == sorted((t, TITLE, BODY) for t in tags)  # concurrent


def test_message_reaches_its_tag_and_always_but_no_other(http: HttpReceiver, tmp_path: Path):
    config = write_config(
        tmp_path,
        [
            (http.url("/mzj").replace("http://", "json://"), "mzj"),
            (http.url("/office").replace("http://", "json://"), "office"),
            (http.url("/all").replace("http://", "json://"), "always"),
        ],
    )
    notifier = Notifier(config)

    results = notifier.send_many([message("d1", "MZJ")])

    assert sorted(r.path for r in http.requests) == ["/all", "/mzj"]
    assert [r.status for r in results] == ["sent", "sent"]
    assert len(notifier.routes("mzj")) == 2 and len(notifier.routes("office")) == 2


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        ("nosuch", "no URL is tagged 'nosuch'"),
        ("all", "invalid routing tag"),  # apprise's "all" would reach every URL
        ("always", "invalid routing tag"),
        ("mzj,office", "invalid routing tag"),  # a comma means OR to apprise
        ("mzj office", "invalid routing tag"),
        ("3:mzj", "invalid routing tag"),  # priority prefix
        ("mzj:2", "invalid routing tag"),  # retry suffix
        ("", "invalid routing tag"),
    ],
)
def test_unroutable_tags_are_reported_and_reach_nothing(
    http: HttpReceiver, tmp_path: Path, tag: str, reason: str
) -> None:
    json_url = http.url("/x").replace("http://", "json://")
    notifier = Notifier(write_config(tmp_path, [(json_url, "mzj"), (json_url, "office")]))

    [result] = notifier.send_many([message("d9", tag)])

    assert (result.status, result.target, result.attempts, result.permanent) == (
        "unroutable",
        "",
        0,
        True,
    )
    assert reason in (result.error or "")
    assert notifier.routes(tag) == []
    assert http.requests == []


# -- outbox --------------------------------------------------------------------------


def test_outbox_uses_each_notifiers_own_sink_across_threads(tmp_path: Path) -> None:
    config = write_config(tmp_path, [("outbox://", "always")])
    sinks = [Outbox(), Outbox()]
    notifiers = [Notifier(config, outbox=s) for s in sinks]
    batches = [[message(f"n{n}-{i}", f"dept{n}x{i}") for i in range(40)] for n in range(2)]
    results: list[list[TargetResult]] = [[], []]

    def run(n: int) -> None:
        results[n] = notifiers[n].send_many(batches[n])

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    for n in range(2):
        assert sorted(sinks[n].calls) == sorted((m.tag, m.title, m.body) for m in batches[n])
        assert {r.status for r in results[n]} == {"sent"}


@pytest.mark.parametrize(
    ("sink", "status", "attempts", "permanent", "error"),
    [
        (Outbox(fail=1), "sent", 2, False, None),
        (Outbox(fail=99), "failed", 3, False, "RuntimeError: database is locked"),
        (None, "failed", 1, True, "no outbox sink configured"),
    ],
    ids=["fails-once", "keeps-failing", "no-sink"],
)
def test_outbox_sink_failures(
    tmp_path: Path,
    sink: Outbox | None,
    status: str,
    attempts: int,
    permanent: bool,
    error: str | None,
) -> None:
    notifier = Notifier(write_config(tmp_path, [("outbox://", "always")]), outbox=sink)

    [result] = notifier.send_many([message()])

    assert (result.status, result.attempts, result.permanent) == (status, attempts, permanent)
    assert (error is None and result.error is None) or (error or "") in (result.error or "")


# -- channels ------------------------------------------------------------------------


def test_json_target_receives_title_and_body(http: HttpReceiver, tmp_path: Path) -> None:
    notifier = Notifier(write_config(tmp_path, [(f"json://127.0.0.1:{http.port}/hook", "mzj")]))

    [result] = notifier.send_many([message()])

    [request] = http.requests_to("/hook")
    assert (request.json["title"], request.json["message"]) == (TITLE, BODY)
    assert (result.status, result.channel, result.attempts, result.error) == (
        "sent",
        "json",
        1,
        None,
    )


def test_email_arrives_as_utf8_plain_text_with_line_breaks(tmp_path: Path) -> None:
    with SmtpReceiver() as smtp:
        url = f"mailto://127.0.0.1:{smtp.port}?from=duban@example.org&to=mzj@example.org"
        notifier = Notifier(write_config(tmp_path, [(url, "mzj")]))

        [result] = notifier.send_many([message()])
        [mail] = smtp.wait_for(1)

    parsed = email.message_from_bytes(mail.raw, policy=email.policy.default)
    assert (result.status, result.channel) == ("sent", "email")
    assert mail.rcpt_tos == ["mzj@example.org"]
    assert parsed["Subject"] == TITLE
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"
    assert parsed.get_content().replace("\r\n", "\n").strip() == BODY
    assert mail.message.get_content().strip() == BODY  # the receiver's LF view


def test_unreachable_smtp_server_is_a_transient_failure(tmp_path: Path) -> None:
    url = f"mailto://127.0.0.1:{refused_port()}?from=duban@example.org&to=mzj@example.org"
    notifier = Notifier(write_config(tmp_path, [(url, "mzj")]), timeout=1.0)

    [result] = notifier.send_many([message()])

    assert (result.status, result.channel, result.permanent) == ("failed", "email", False)
    assert result.attempts == 3
    assert "Connection error" in (result.error or "")


@dataclass(frozen=True)
class VendorCase:
    url: str
    path: str  # where the patched plugin posts
    replies: tuple[Reply, ...]
    status: str
    attempts: int
    permanent: bool
    error: str | None = None


DING = ("dingtalk://dingtoken0123", "/dingtalk")
WECOM = ("wecombot://wecom-key-0123", "/wecom")
FEISHU = ("feishu://feishu-token-0123", "/feishu/feishu-token-0123")
LARK = ("lark://lark-token-0123", "/lark/lark-token-0123")

VENDOR_CASES = {
    "dingtalk-ok": VendorCase(
        *DING, (Reply(json={"errcode": 0, "errmsg": "ok"}),), "sent", 1, False
    ),
    "dingtalk-keyword": VendorCase(
        *DING,
        (Reply(json={"errcode": 310000, "errmsg": "keywords not in content"}),),
        "failed",
        1,
        True,
        "DingTalk errcode 310000: keywords not in content",
    ),
    "dingtalk-too-fast": VendorCase(
        *DING,
        (Reply(json={"errcode": 130101, "errmsg": "send too fast"}),),
        "failed",
        3,
        False,
        "send too fast",
    ),
    "dingtalk-http-500": VendorCase(
        *DING, (Reply(status=500, body=b"oops"),), "failed", 3, False, "HTTP 500"
    ),
    "dingtalk-500-then-ok": VendorCase(
        *DING, (Reply(status=500, body=b"oops"), Reply(json={"errcode": 0})), "sent", 2, False
    ),
    "dingtalk-not-json": VendorCase(
        *DING, (Reply(body=b"<html>proxy</html>"),), "failed", 3, False, "not the vendor's JSON"
    ),
    "wecom-ok": VendorCase(*WECOM, (Reply(json={"errcode": 0, "errmsg": "ok"}),), "sent", 1, False),
    "wecom-bad-key": VendorCase(
        *WECOM,
        (Reply(json={"errcode": 93000, "errmsg": "invalid webhook url"}),),
        "failed",
        1,
        True,
        "WeCom errcode 93000: invalid webhook url",
    ),
    "feishu-ok-code": VendorCase(
        *FEISHU, (Reply(json={"code": 0, "msg": "success", "data": {}}),), "sent", 1, False
    ),
    "feishu-ok-statuscode": VendorCase(
        *FEISHU, (Reply(json={"StatusCode": 0, "StatusMessage": "success"}),), "sent", 1, False
    ),
    "feishu-sign": VendorCase(
        *FEISHU,
        (Reply(json={"code": 19021, "msg": "sign match fail"}),),
        "failed",
        1,
        True,
        "Feishu errcode 19021: sign match fail",
    ),
    "feishu-rate-limit-400": VendorCase(
        *FEISHU,
        (Reply(status=400, json={"code": 11232, "msg": "frequency limited"}),),
        "failed",
        3,
        False,
        "frequency limited",
    ),
    "lark-ok": VendorCase(*LARK, (Reply(json={"code": 0, "msg": "success"}),), "sent", 1, False),
    "lark-bad-request": VendorCase(
        *LARK,
        (Reply(json={"code": 9499, "msg": "Bad Request"}),),
        "failed",
        1,
        True,
        "errcode 9499: Bad Request",
    ),
}


@pytest.mark.parametrize("case", VENDOR_CASES.values(), ids=VENDOR_CASES.keys())
def test_vendor_robots_are_judged_by_errcode(
    vendors: HttpReceiver, tmp_path: Path, case: VendorCase
) -> None:
    vendors.reply(case.path, *case.replies)
    notifier = Notifier(write_config(tmp_path, [(case.url, "mzj")]), retry_budget=5.0)
    channel = case.url.split(":")[0]

    [result] = notifier.send_many([message()])

    received = vendors.requests_to(case.path)
    assert (result.channel, result.status, result.attempts, result.permanent) == (
        channel,
        case.status,
        case.attempts,
        case.permanent,
    )
    assert len(received) == case.attempts
    assert (case.error is None and result.error is None) or case.error in (result.error or "")
    text = _robot_text(received[0].json).replace("\r\n", "\n")
    assert TITLE in text and BODY in text  # Chinese and line breaks intact


def _robot_text(payload: dict) -> str:
    """DingTalk/WeCom: text.content; Feishu/Lark: content.text."""
    return payload.get("text", {}).get("content") or payload["content"]["text"]


def test_native_webhook_urls_are_checked_too(vendors: HttpReceiver, tmp_path: Path) -> None:
    vendors.reply("/wecom", Reply(json={"errcode": 93000, "errmsg": "invalid webhook url"}))
    native = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wecom-key-0123"
    notifier = Notifier(write_config(tmp_path, [(native, "mzj")]))

    [result] = notifier.send_many([message()])

    assert (result.channel, result.status, result.permanent) == ("wecombot", "failed", True)
    assert result.error == "WeCom errcode 93000: invalid webhook url"
    assert vendors.requests_to("/wecom")[0].query == {"key": "wecom-key-0123"}


# -- retries and timeouts ----------------------------------------------------------


def test_retry_resends_only_to_the_failed_target(http: HttpReceiver, tmp_path: Path) -> None:
    http.reply("/flaky", Reply(status=503), Reply(status=502), Reply(json={"ok": 1}))
    config = write_config(
        tmp_path,
        [
            (f"json://127.0.0.1:{http.port}/ok", "mzj"),
            (f"json://127.0.0.1:{http.port}/flaky", "mzj"),
        ],
    )

    results = Notifier(config).send_many([message()])

    assert [(r.target.split("/")[3].split("?")[0], r.status, r.attempts) for r in results] == [
        ("ok", "sent", 1),
        ("flaky", "sent", 3),
    ]
    assert len(http.requests_to("/ok")) == 1
    assert len(http.requests_to("/flaky")) == 3


@pytest.mark.parametrize(
    ("status", "attempts", "permanent"),
    [(400, 1, True), (404, 1, True), (429, 3, False), (500, 3, False), (503, 3, False)],
)
def test_http_status_decides_whether_to_retry(
    http: HttpReceiver, tmp_path: Path, status: int, attempts: int, permanent: bool
) -> None:
    http.reply("/hook", Reply(status=status))
    notifier = Notifier(write_config(tmp_path, [(f"json://127.0.0.1:{http.port}/hook", "mzj")]))

    [result] = notifier.send_many([message()])

    assert (result.status, result.attempts, result.permanent) == ("failed", attempts, permanent)
    assert result.error is not None and result.error.startswith(f"HTTP {status}")
    assert len(http.requests_to("/hook")) == attempts


def test_retry_budget_caps_the_retries(http: HttpReceiver, tmp_path: Path) -> None:
    http.reply("/down", Reply(status=500))
    config = write_config(tmp_path, [(f"json://127.0.0.1:{http.port}/down", "mzj")])
    notifier = Notifier(config, retries=10, retry_budget=0.5)

    started = time.monotonic()
    [result] = notifier.send_many([message()])

    assert time.monotonic() - started < 1.5
    assert result.status == "failed" and 1 < result.attempts < 4


def test_dead_and_silent_targets_do_not_stall_the_others(http: HttpReceiver, tmp_path: Path):
    with SilentServer() as silent:
        config = write_config(
            tmp_path,
            [
                (f"json://127.0.0.1:{silent.port}/silent", "mzj"),
                (f"json://127.0.0.1:{refused_port()}/dead", "mzj"),
                (f"json://127.0.0.1:{http.port}/alive", "mzj"),
                (f"json://127.0.0.1:{http.port}/office", "office"),
            ],
        )
        notifier = Notifier(config, timeout=1.0)

        started = time.monotonic()
        results = notifier.send_many([message("d1", "mzj"), message("d2", "office")])
        wall = time.monotonic() - started

    by_path = {r.target.split("/")[3].split("?")[0]: r for r in results}
    assert wall < 5.0
    # The request left and no answer came: it may have arrived, so it is not re-sent blindly.
    assert (by_path["silent"].status, by_path["silent"].permanent) == ("unknown", False)
    assert by_path["silent"].error == "no response within 1.0s"
    assert by_path["silent"].attempts == 1
    assert (by_path["dead"].status, by_path["dead"].error) == ("failed", "connection refused")
    assert (by_path["alive"].status, by_path["alive"].attempts) == ("sent", 1)
    assert by_path["office"].status == "sent"
    [office] = http.requests_to("/office")
    assert office.received_at - started < 0.5  # another worker, not queued behind the hang
    assert len(http.requests_to("/alive")) == 1


def test_url_timeout_options_override_the_notifier_timeout(tmp_path: Path) -> None:
    with SilentServer() as silent:
        url = f"json://127.0.0.1:{silent.port}/slow?rto=0.3"
        notifier = Notifier(write_config(tmp_path, [(url, "mzj")]), timeout=5.0, retries=0)
        started = time.monotonic()
        [result] = notifier.send_many([message()])

    assert time.monotonic() - started < 2.0
    assert result.error == "no response within 0.3s"


def test_results_keep_message_order_under_concurrency(http: HttpReceiver, tmp_path: Path):
    http.reply("/hook", Reply(json={"ok": 1}, delay=0.02))
    tags = [f"dept{i}" for i in range(60)]
    url = f"json://127.0.0.1:{http.port}/hook"
    notifier = Notifier(write_config(tmp_path, [(url, ", ".join(tags))]), max_workers=8)

    results = notifier.send_many([message(f"k{i}", t) for i, t in enumerate(tags)])

    assert [(r.key, r.tag, r.status) for r in results] == [
        (f"k{i}", t, "sent") for i, t in enumerate(tags)
    ]
    assert len(http.requests_to("/hook")) == 60


# -- secrets -------------------------------------------------------------------------

SECRETS = {
    "ding": "dingsecrettoken4711",
    "sign": "SECsignsecret4712",
    "wecom": "wecom-secret-key-4713",
    "feishu": "feishu-secret-token-4714",
    "lark": "lark-secret-token-4715",
    "jsonpw": "jsonsecretpass4716",
    "mailpw": "mailsecretpass4717",
}


def test_secrets_never_reach_results_or_logs(
    vendors: HttpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    caplog.set_level(1)  # everything, TRACE included, from every logger
    dead = refused_port()  # DingTalk fails with the token in the request URL
    monkeypatch.setattr(
        NotifyDingTalk, "notify_url", f"http://127.0.0.1:{dead}/s?access_token={{token}}"
    )
    vendors.reply("/wecom", Reply(json={"errcode": 93000, "errmsg": "invalid webhook url"}))
    vendors.reply(f"/feishu/{SECRETS['feishu']}", Reply(status=500, json={"code": 1}))
    vendors.reply(f"/lark/{SECRETS['lark']}", Reply(json={"code": 0}))
    vendors.reply("/json", Reply(status=401))
    with SmtpReceiver(login=("mailer", SECRETS["mailpw"])) as smtp:
        config = write_config(
            tmp_path,
            [
                (f"dingtalk://{SECRETS['sign']}@{SECRETS['ding']}", "mzj"),
                (f"wecombot://{SECRETS['wecom']}", "mzj"),
                (f"feishu://{SECRETS['feishu']}", "mzj"),
                (f"lark://{SECRETS['lark']}", "mzj"),
                (f"json://user:{SECRETS['jsonpw']}@127.0.0.1:{vendors.port}/json", "mzj"),
                (
                    f"mailto://mailer:{SECRETS['mailpw']}@127.0.0.1:{smtp.port}"
                    "?from=duban@example.org&to=mzj@example.org",
                    "mzj",
                ),
            ],
        )
        notifier = Notifier(config, timeout=2.0, retry_budget=2.0)
        results = notifier.send_many([message()])
        smtp.wait_for(1)

    statuses = {r.channel: r.status for r in results}
    assert statuses == {
        "dingtalk": "failed",
        "wecombot": "failed",
        "feishu": "failed",
        "lark": "sent",
        "json": "failed",
        "email": "sent",
    }
    exposed = [repr(r) for r in results] + notifier.routes("mzj")
    exposed += [_record_text(r) for r in caplog.records]
    assert len(caplog.records) > 20  # the capture really saw DEBUG traffic
    for name, secret in SECRETS.items():
        leaks = [text for text in exposed if secret in text]
        assert leaks == [], f"{name} leaked: {leaks[:3]}"


def _record_text(record: logging.LogRecord) -> str:
    return " ".join(
        [record.getMessage(), str(record.msg), record.exc_text or "", record.stack_info or ""]
    )


def test_every_apprise_call_carries_the_message_tag(
    http: HttpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[object] = []
    real = Apprise.notify

    def spy(self: Apprise, *args: object, **kwargs: object) -> object:
        seen.append(kwargs.get("tag"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Apprise, "notify", spy)
    http.reply("/flaky", Reply(status=500), Reply(json={"ok": 1}))
    config = write_config(
        tmp_path,
        [("outbox://", "always"), (f"json://127.0.0.1:{http.port}/flaky", "mzj")],
    )

    Notifier(config, outbox=Outbox()).send_many([message("a", "mzj"), message("b", "office")])

    assert sorted(map(str, seen)) == ["mzj", "mzj", "office"]  # first pass x2, one retry


@pytest.mark.parametrize(
    ("attempts", "optional", "expected"),
    [
        ([AppriseResultStatus.SUCCESS], False, "sent"),
        ([AppriseResultStatus.FAILURE, AppriseResultStatus.SUCCESS], False, "sent"),
        ([AppriseResultStatus.TIMEOUT], False, "unknown"),
        ([AppriseResultStatus.FAILURE, AppriseResultStatus.TIMEOUT], False, "failed"),
        ([AppriseResultStatus.FAILURE], True, "failed"),  # optional=yes still failed
        ([], False, "failed"),
    ],
)
def test_apprise_statuses_map_to_delivery_statuses(
    attempts: list[AppriseResultStatus], optional: bool, expected: str
) -> None:
    item = NotifyResult(
        name="JSON",
        url="json://x/",
        optional=optional,
        attempts=[NotifyAttempt(status=s) for s in attempts],
    )

    assert _status(item) == expected
