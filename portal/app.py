"""The report page (FastAPI): a department answers one reminder from its phone in under a minute.

Routes:
  GET  /r/{token}  the form for the link's one occurrence (never changes anything: mail
                   scanners open links before people do)
  POST /r/{token}  a report or an acknowledgement (CSRF field + form nonce); a done or progress
                   report spends the link, an acknowledgement does not
  GET  /d/{token}  a department's open items (department token from `duban token issue`)
  POST /d/{token}  open one item: mint a fresh single-use link for it and redirect to its form
  GET  /healthz    liveness, for `duban up`
Every wrong, used, expired or forged link, and every CSRF failure, gets the same page and status.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from collections.abc import Callable, MutableMapping
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from duban.calendar.clock import local_day, utcnow
from duban.chase.occurrences import STATE_ZH, classify
from duban.ledger.database import record_audit
from duban.ledger.models import (
    AccessToken,
    Action,
    Department,
    Duty,
    ExtensionRequest,
    Occurrence,
    Plan,
)
from duban.plan.progress import Goal
from duban.reports import tokens
from duban.reports.extensions import ExtensionError, request_extension
from duban.reports.submission import (
    EVIDENCE_LIMIT,
    EvidenceFile,
    ReportError,
    ReportInputError,
    ReportRefused,
    check_text,
    find_report,
    list_reports,
    submit,
)
from duban.service import Context
from portal import pages
from portal.security import (
    FailureLimiter,
    csrf_ok,
    csrf_token,
    install_log_redaction,
    load_secret,
    new_nonce,
    nonce_ok,
    web_key,
)

log = logging.getLogger("duban.portal")

SECURITY_HEADERS = [
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy",
     b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
     b"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
]
_HEADER_NAMES = {name for name, _ in SECURITY_HEADERS}
Clock = Callable[[], datetime]


class SecurityHeaders:
    """Adds the headers above to every response, error pages included (pure ASGI, cheap)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                kept = [h for h in message.get("headers", []) if h[0].lower() not in _HEADER_NAMES]
                message = {**message, "headers": kept + SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class Submitted:
    values: pages.FormValues
    upload: EvidenceFile | None


class Portal:
    """The page logic, synchronous (run in the thread pool), one session per request."""

    def __init__(self, ctx: Context, clock: Clock, limiter: FailureLimiter) -> None:
        self.ctx, self.clock, self.limiter = ctx, clock, limiter
        self.secret = load_secret(ctx.settings.home)
        # SQLite runs one write transaction at a time anyway (BEGIN IMMEDIATE); queueing the
        # threads here instead of in SQLite's sleeping busy handler keeps waits short and fair.
        self._serial = threading.Lock() if ctx.db.dialect == "sqlite" else nullcontext()

    # -- shared ----------------------------------------------------------------------

    def failure(self, client: str) -> HTMLResponse:
        self.limiter.failed(client)
        return HTMLResponse(pages.failure_page(), status_code=404)

    def guarded(self, client: str, handler: Callable[[], Response]) -> Response:
        """Rate-limit failures, and turn any crash into a plain error page (token-free log)."""
        if self.limiter.blocked(client):
            return HTMLResponse(pages.too_many_page(), status_code=429)
        try:
            with self._serial:
                return handler()
        except Exception:
            log.exception("report page failed")
            return HTMLResponse(pages.error_page(), status_code=500)

    def item(self, session: Any, occurrence_id: int, now: datetime) -> pages.ItemView:
        occ = session.get(Occurrence, occurrence_id)
        duty, today, calendar = occ.duty, local_day(now), self.ctx.calendar
        state = classify(occ.due_on, occ.closed_on, today, duty.warn_days, calendar)
        late = max(calendar.workdays_between(occ.due_on, today), 0) if state == "overdue" else 0
        target = duty.target
        goal = Goal.of(target) if target is not None else None
        return pages.ItemView(
            occurrence_id=occ.id, action=f"行动{duty.action.no}：{duty.action.title}",
            duty=duty.title, duty_kind=duty.kind, deliverable=duty.deliverable,
            department=occ.department.name, period=occ.period, due=occ.due_on.isoformat(),
            state=state, state_zh=pages_state(state), overdue_days=late,
            closed=occ.status == "closed",
            acknowledged_until=(occ.acknowledged_until.isoformat()
                                if occ.acknowledged_until and occ.acknowledged_until >= today
                                else ""),
            goal=goal.text() if goal else "", unit=target.unit if target else "",
            measure=target.measure if target else "", is_count=bool(goal and goal.is_count),
            ack_days=self.ctx.config.ladder.ladder.ack_pause,
            extension=self._pending_extension(session, occ.id),
            reports=list_reports(session, occ.id),
        )

    # -- the link's form -------------------------------------------------------------

    @staticmethod
    def link_grant(session: Any, token: str, now: datetime) -> tokens.Grant | None:
        """A live link's grant, only if its item belongs to the link's department."""
        grant = tokens.check(session, token, now)
        if grant is None or grant.purpose != "link" or grant.occurrence_id is None:
            return None
        owner = session.scalar(select(Occurrence.department_id).where(
            Occurrence.id == grant.occurrence_id))
        return grant if owner == grant.department_id else None

    def show_form(self, token: str, client: str) -> Response:
        now = self.clock()
        with self.ctx.db.read() as session:
            grant = self.link_grant(session, token, now)
            if grant is None:
                return self.failure(client)
            item = self.item(session, grant.occurrence_id, now)
            active = self._active(session, grant.occurrence_id)
        return self._form_or_notice(item, active, token)

    def _form_or_notice(self, item: pages.ItemView, active: bool, token: str,
                        values: pages.FormValues | None = None,
                        error: ReportError | None = None) -> HTMLResponse:
        if item.closed:
            text = f"该事项已报送办结，无需再次报送。如需更正，请联系{pages.OFFICE}。"
            return HTMLResponse(pages.notice_page(item, "该事项已办结", text))
        if not active:
            text = "该事项已不在现行方案中，无需报送。"
            return HTMLResponse(pages.notice_page(item, "该事项已调整", text))
        values = values or pages.FormValues()
        values.csrf, values.nonce = csrf_token(self.secret, "r", token), new_nonce()
        status = 422 if error else 200
        page = pages.form_page(item, values, new_nonce(), new_nonce(), error)
        return HTMLResponse(page, status_code=status)

    @staticmethod
    def _active(session: Any, occurrence_id: int) -> bool:
        return bool(session.scalar(
            select(Duty.active & Plan.active).join(Occurrence, Occurrence.duty_id == Duty.id)
            .join(Plan, Duty.plan_id == Plan.id).where(Occurrence.id == occurrence_id)
        ))

    def submit_form(self, token: str, form: Submitted, client: str) -> Response:
        now = self.clock()
        values = form.values
        if values.kind == "extend":
            return self.request_extension(token, values, now, client)
        try:
            with self.ctx.db.session() as session:
                grant = self._post_grant(session, token, values, now)
                if grant is None:
                    return self.failure(client)
                outcome = submit(
                    session, occurrence_id=grant.occurrence_id, department_id=grant.department_id,
                    kind=values.kind, value=values.value, unit=values.unit or None,
                    note=values.note, evidence=self._evidence(form), problems=values.problems,
                    support=values.support, keep_open=values.keep_open,
                    idempotency_key=web_key(tokens.hash_token(token), values.nonce), now=now,
                    calendar=self.ctx.calendar, ladder=self.ctx.config.ladder.ladder,
                    link=grant, evidence_dir=self.ctx.settings.home / "evidence",
                    slow_ratio=self.ctx.config.ladder.slow_progress_ratio, via="web",
                )
                item = self.item(session, grant.occurrence_id, now)
        except ReportInputError as error:
            return self._redisplay(token, values, error, now, client)
        except ReportRefused as refusal:
            if refusal.field in ("token", "department"):
                return self.failure(client)
            return self._redisplay(token, values, refusal, now, client)
        log.info("report %s (%s) recorded for occurrence %s", outcome.report_id, outcome.kind,
                 outcome.occurrence_id)
        return HTMLResponse(pages.success_page(item, outcome))

    def _post_grant(self, session: Any, token: str, values: pages.FormValues,
                    now: datetime) -> tokens.Grant | None:
        """The link's grant for a POST: CSRF and nonce checked; a used link still answers a
        resubmission of the very form that used it (same nonce), with the first answer."""
        if not csrf_ok(self.secret, "r", token, values.csrf) or not nonce_ok(values.nonce):
            return None
        if values.kind not in ("done", "progress", "ack", "extend"):
            return None
        row = session.scalar(select(AccessToken).where(
            AccessToken.token_hash == tokens.hash_token(token)))
        if row is None or row.purpose != "link" or row.occurrence_id is None:
            return None
        if find_report(session, web_key(row.token_hash, values.nonce)) is not None:
            return tokens.Grant(row.id, row.department_id, row.department.code,
                                row.occurrence_id, row.purpose)
        return self.link_grant(session, token, now)

    # -- extension requests (申请延期) ---------------------------------------------------

    def request_extension(self, token: str, values: pages.FormValues, now: datetime,
                          client: str) -> Response:
        """A request for a later deadline; the office decides (duban.reports.extensions).
        It does not
        spend the link; the same request again (a double click) gets the same page."""
        try:
            with self.ctx.db.session() as session:
                grant = self._post_grant(session, token, values, now)
                if grant is None:
                    return self.failure(client)
                request = self._extension(session, grant, values, now)
                item = self.item(session, grant.occurrence_id, now)
                html = pages.extension_page(item, request.id,
                                            request.requested_due_on.isoformat(),
                                            request.current_due_on.isoformat())
        except ReportInputError as error:
            return self._redisplay(token, values, error, now, client)
        return HTMLResponse(html)

    def _extension(self, session: Any, grant: tokens.Grant, values: pages.FormValues,
                   now: datetime) -> ExtensionRequest:
        try:
            until = date.fromisoformat(unicodedata.normalize("NFKC", values.until).strip())
        except ValueError:
            raise ReportInputError("until", "日期格式应为 YYYY-MM-DD，例如 2023-07-14",
                                   "the date must be written YYYY-MM-DD") from None
        reason = check_text("extension", values.reason, "延期理由")
        actor = f"department:{grant.department_code}"
        pending = session.scalar(select(ExtensionRequest).where(
            ExtensionRequest.occurrence_id == grant.occurrence_id,
            ExtensionRequest.state == "pending"))
        if (pending is not None and pending.requested_by == actor
                and pending.requested_due_on == until and pending.reason == reason):
            return pending
        try:
            return request_extension(session, grant.occurrence_id, grant.department_id, until,
                                     reason, now, self.ctx.calendar, actor)
        except ExtensionError as exc:
            zh, _, en = str(exc).partition(" / ")
            raise ReportInputError("extension", zh, en or zh) from None

    @staticmethod
    def _pending_extension(session: Any, occurrence_id: int) -> str:
        pending = session.scalar(select(ExtensionRequest).where(
            ExtensionRequest.occurrence_id == occurrence_id, ExtensionRequest.state == "pending"))
        if pending is None:
            return ""
        return f"已申请延至{pending.requested_due_on.isoformat()}，待督办办公室审批"

    @staticmethod
    def _evidence(form: Submitted) -> EvidenceFile | str | None:
        url = form.values.evidence_url.strip()
        if form.upload is not None and url:
            raise ReportInputError("evidence", "佐证材料请提供链接或文件其中之一",
                                   "give either an evidence link or a file, not both")
        return form.upload or url or None

    def _redisplay(self, token: str, values: pages.FormValues, error: ReportError,
                   now: datetime, client: str) -> Response:
        with self.ctx.db.read() as session:
            grant = self.link_grant(session, token, now)
            if grant is None:
                return self.failure(client)
            item = self.item(session, grant.occurrence_id, now)
            active = self._active(session, grant.occurrence_id)
        if item.closed or not active:
            return self._form_or_notice(item, active, token)
        return self._form_or_notice(item, active, token, values, error)

    # -- the department's list -------------------------------------------------------

    def show_department(self, token: str, client: str) -> Response:
        now = self.clock()
        with self.ctx.db.read() as session:
            grant = tokens.check(session, token, now)
            if grant is None or grant.purpose != "department":
                return self.failure(client)
            name, lines = self._open_items(session, grant.department_id, now)
        html = pages.department_page(name, lines, csrf_token(self.secret, "d", token))
        return HTMLResponse(html)

    def _open_items(self, session: Any, department_id: int, now: datetime) -> tuple[str, list]:
        today, calendar = local_day(now), self.ctx.calendar
        name = session.get(Department, department_id).name
        rows = session.execute(
            select(Occurrence, Duty, Action).join(Duty, Occurrence.duty_id == Duty.id)
            .join(Action, Duty.action_id == Action.id).join(Plan, Duty.plan_id == Plan.id)
            .where(Occurrence.department_id == department_id, Occurrence.status == "open",
                   Occurrence.period_start <= today, Duty.active.is_(True),
                   Plan.active.is_(True))
            .order_by(Occurrence.due_on, Action.no, Duty.key)
        ).all()
        lines = []
        for occ, duty, action in rows:
            state = classify(occ.due_on, None, today, duty.warn_days, calendar)
            late = max(calendar.workdays_between(occ.due_on, today), 0) if today > occ.due_on \
                else 0
            ack = occ.acknowledged_until
            lines.append(pages.DutyLine(
                occ.id, f"行动{action.no}：{action.title}", duty.title, occ.period,
                occ.due_on.isoformat(), state, pages_state(state), late,
                ack.isoformat() if ack and ack >= today else "",
            ))
        return name, lines

    def open_item(self, token: str, csrf: str, occurrence: str, client: str) -> Response:
        """Mint a single-use link for one of the department's open items and go to its form."""
        now = self.clock()
        with self.ctx.db.session() as session:
            grant = tokens.check(session, token, now)
            if (grant is None or grant.purpose != "department"
                    or not csrf_ok(self.secret, "d", token, csrf) or not occurrence.isdigit()):
                return self.failure(client)
            occ = session.get(Occurrence, int(occurrence))
            if occ is None or occ.department_id != grant.department_id:
                return self.failure(client)
            if occ.status != "open":
                return RedirectResponse(f"/d/{token}", status_code=303)
            link = tokens.issue(session, occ.department, now, "link", occ.id)
            record_audit(session, f"department:{grant.department_code}", "token_issued",
                         "department", grant.department_code, now, purpose="link",
                         occurrence=occ.id, via="department_page")
        return RedirectResponse(f"/r/{link}", status_code=303)


def pages_state(state: str) -> str:
    return STATE_ZH.get(state, state)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _read_form(request: Request) -> Submitted | None:
    """The posted fields and at most one upload (read to the limit + 1 byte), or None."""
    try:
        form = await request.form(max_files=2, max_fields=30)
    except Exception:  # malformed bodies are a failure like any other
        return None
    values = pages.FormValues(
        kind=_text(form, "kind"), value=_text(form, "value"), unit=_text(form, "unit"),
        note=_text(form, "note"), evidence_url=_text(form, "evidence_url"),
        problems=_text(form, "problems"), support=_text(form, "support"),
        keep_open=_text(form, "keep_open") in ("1", "on", "true"), nonce=_text(form, "nonce"),
        csrf=_text(form, "csrf"), until=_text(form, "until"), reason=_text(form, "reason"),
    )
    upload = form.get("evidence_file")
    evidence = None
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read(EVIDENCE_LIMIT + 1)
        evidence = EvidenceFile(upload.filename, content, upload.size)
    await form.close()
    return Submitted(values, evidence)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def create_app(
    ctx: Context, clock: Clock = utcnow, failure_limit: int = 30, upgrade_schema: bool = True
) -> FastAPI:
    """The report page for one installation; the schema is brought up to date on start."""
    install_log_redaction()
    portal = Portal(ctx, clock, FailureLimiter(failure_limit))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if upgrade_schema:
            await run_in_threadpool(ctx.db.create_schema)
        yield

    app = FastAPI(title="督办报送", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.portal = portal
    app.add_middleware(SecurityHeaders)
    _routes(app, portal)
    return app


def _routes(app: FastAPI, portal: Portal) -> None:
    async def in_thread(client: str, handler: Callable[[], Response]) -> Response:
        return await run_in_threadpool(portal.guarded, client, handler)

    @app.get("/r/{token}")
    async def report_form(token: str, request: Request) -> Response:
        client = _client(request)
        return await in_thread(client, lambda: portal.show_form(token, client))

    @app.post("/r/{token}")
    async def report_post(token: str, request: Request) -> Response:
        client = _client(request)
        form = await _read_form(request)
        if form is None:
            return await in_thread(client, lambda: portal.failure(client))
        return await in_thread(client, lambda: portal.submit_form(token, form, client))

    @app.get("/d/{token}")
    async def department_list(token: str, request: Request) -> Response:
        client = _client(request)
        return await in_thread(client, lambda: portal.show_department(token, client))

    @app.post("/d/{token}")
    async def department_open(token: str, request: Request) -> Response:
        client = _client(request)
        form = await _form_fields(request)
        return await in_thread(client, lambda: portal.open_item(
            token, form.get("csrf", ""), form.get("occurrence", ""), client))

    @app.get("/healthz")
    async def healthz() -> Response:
        return PlainTextResponse("ok")

    @app.exception_handler(StarletteHTTPException)
    async def not_found(request: Request, _exc: Exception) -> Response:
        return await in_thread(_client(request), lambda: portal.failure(_client(request)))


async def _form_fields(request: Request) -> dict[str, str]:
    try:
        form = await request.form(max_files=0, max_fields=10)
    except Exception:
        return {}
    return {k: v for k, v in form.items() if isinstance(v, str)}

