"""The report page's logic, synchronous (FastAPI runs plain `def` endpoints in its thread pool):
one session per request, every question put to the core (duban), pages rendered by portal.pages.

Every wrong, expired or forged link, and every CSRF failure, gets the same page and status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse, Response

from duban.calendar.clock import local_day
from duban.chase.items import ItemFacts, item_facts, open_items
from duban.ledger.models import Department
from duban.plan.config import OfficeSpec
from duban.reports import tokens
from duban.reports.errors import ReportError, ReportInputError, ReportRefused
from duban.reports.evidence import EVIDENCE_LIMIT, EvidenceFile
from duban.reports.extensions import ask
from duban.reports.queries import find_report
from duban.reports.submission import Submission, Submitter, submit
from duban.service import Context
from duban.settings import trusted_networks
from portal import pages
from portal.security import (
    FailureLimiter,
    Networks,
    client_address,
    csrf_ok,
    csrf_token,
    load_secret,
    new_nonce,
    nonce_ok,
    web_key,
)

MAX_REQUEST_BYTES = EVIDENCE_LIMIT + 1024 * 1024  # one file at its limit plus the form's text
log = logging.getLogger("duban.portal")
Clock = Callable[[], datetime]
KINDS = ("done", "progress", "ack", "extend")


@dataclass
class Submitted:
    """A posted report form: the typed fields and at most one upload."""

    values: pages.FormValues
    upload: EvidenceFile | None


class Portal:
    """What each route does; `failure` is the one answer to any bad link."""

    def __init__(self, ctx: Context, clock: Clock, limiter: FailureLimiter) -> None:
        self.ctx, self.clock, self.limiter = ctx, clock, limiter
        self.secret = load_secret(ctx.settings.home)

    @cached_property
    def office(self) -> OfficeSpec:
        return self.ctx.config.office

    # -- shared ----------------------------------------------------------------------

    @cached_property
    def trusted(self) -> Networks:
        return trusted_networks(self.ctx.settings.portal_trusted_proxies)

    def client_of(self, scope: MutableMapping[str, Any]) -> str:
        """The client's address (X-Forwarded-For believed from trusted proxies only)."""
        peer = scope["client"][0] if scope.get("client") else None
        forwarded = [v.decode("latin-1") for k, v in scope.get("headers", [])
                     if k == b"x-forwarded-for"]
        return client_address(peer, ",".join(forwarded), self.trusted)

    def failure(self, client: str, counted: bool = True) -> HTMLResponse:
        """The one failure page. A failed token check (`counted`) feeds the limiter, and past
        its limit the address is told to wait instead; anything else (an unknown path) is just
        the page."""
        if counted:
            if self.limiter.blocked(client):
                return HTMLResponse(pages.too_many_page(self.office), status_code=429)
            self.limiter.failed(client)
        return HTMLResponse(pages.failure_page(self.office), status_code=404)

    def too_large(self) -> HTMLResponse:
        return HTMLResponse(pages.too_large_page(self.office, MAX_REQUEST_BYTES // 1048576),
                            status_code=413)

    def gate(self, kind: str, token: str, client: str) -> Response | None:
        """Before a POST's body is read: None when the token could carry it (a live or spent
        link for /r/, a live department link for /d/), else the failure page."""
        now = self.clock()
        with self.ctx.db.read() as session:
            if kind == "r":
                grant = tokens.link_grant(session, token, now, spent_ok=True)
            else:
                grant = tokens.check(session, token, now)
                grant = grant if grant is not None and grant.purpose == "department" else None
        return None if grant is not None else self.failure(client)

    def crashed(self) -> HTMLResponse:
        return HTMLResponse(pages.error_page(self.office), status_code=500)

    def item(self, session: Any, occurrence_id: int, now: datetime) -> ItemFacts:
        return item_facts(session, occurrence_id, local_day(now), self.ctx.calendar)

    @property
    def ack_days(self) -> int:
        return self.ctx.config.ladder.ladder.ack_pause

    def home(self) -> HTMLResponse:
        """The site's root: what it is, how a department gets its link, whom to call."""
        return HTMLResponse(pages.home_page(self.office))

    def database_ok(self) -> bool:
        """Whether the ledger answers a trivial query (for /healthz)."""
        try:
            self.ctx.db.ping()
        except Exception:  # any failure to reach it is "degraded", logged without secrets
            log.warning("health check: the database does not answer")
            return False
        return True

    # -- the link's form -------------------------------------------------------------

    def show_form(self, token: str, client: str) -> Response:
        now = self.clock()
        with self.ctx.db.read() as session:
            grant = tokens.link_grant(session, token, now, spent_ok=True)
            if grant is None:
                return self.failure(client)
            item = self.item(session, grant.occurrence_id, now)
        if grant.used_at is not None:  # spent: what was reported, read-only
            text = "此链接已用于报送，以下是本事项的报送记录（只读）。" + (
                pages.CORRECT_FROM_PAGE if item.awaiting_review
                else f"如需更正，请联系{self.office.contact}。")
            return HTMLResponse(pages.notice_page(item, "该事项已报送", text, self.office))
        return self._form_or_notice(item, token)

    def _form_or_notice(self, item: ItemFacts, token: str,
                        values: pages.FormValues | None = None,
                        error: ReportError | None = None) -> HTMLResponse:
        if item.closed:
            text = f"该事项已报送办结，无需再次报送。如需更正，请联系{self.office.contact}。"
            return HTMLResponse(pages.notice_page(item, "该事项已办结", text, self.office))
        if not item.active:
            text = "该事项已不在现行方案中，无需报送。"
            return HTMLResponse(pages.notice_page(item, "该事项已调整", text, self.office))
        values = values or pages.FormValues()
        values.csrf, values.nonce = csrf_token(self.secret, "r", token), new_nonce()
        page = pages.form_page(item, values, new_nonce(), new_nonce(), self.office,
                               self.ack_days, error)
        return HTMLResponse(page, status_code=422 if error else 200)

    def submit_form(self, token: str, form: Submitted, client: str) -> Response:
        now = self.clock()
        values = form.values
        if values.kind == "extend":
            return self.request_extension(token, values, now, client)
        if not self._form_ok(values):
            return self.failure(client)
        try:
            # the write transaction holds the report alone; the page is read after it commits
            with self.ctx.db.session() as session:
                grant = self._post_grant(session, token, values, now)
                if grant is None:
                    return self.failure(client)
                submission = Submission(
                    grant.occurrence_id, values.kind, web_key(tokens.hash_token(token),
                                                              values.nonce),
                    value=values.value, unit=values.unit or None, note=values.note,
                    numerator=values.numerator, denominator=values.denominator,
                    evidence=self._evidence(form), problems=values.problems,
                    support=values.support, keep_open=values.keep_open)
                by = Submitter(grant.department_id, link=grant, via="web")
                outcome = submit(session, submission, by, self.ctx.report_rules, now)
            with self.ctx.db.read() as session:
                item = self.item(session, grant.occurrence_id, now)
        except ReportInputError as error:
            return self._redisplay(token, values, error, now, client)
        except ReportRefused as refusal:
            if refusal.field in ("token", "department"):
                return self.failure(client)
            return self._redisplay(token, values, refusal, now, client)
        log.info("report %s (%s) recorded for occurrence %s", outcome.report_id, outcome.kind,
                 outcome.occurrence_id)
        return HTMLResponse(pages.success_page(item, outcome, self.office))

    def _form_ok(self, values: pages.FormValues) -> bool:
        """The checks a POST passes before any transaction: a known kind, a well-formed nonce."""
        return values.kind in KINDS and nonce_ok(values.nonce)

    def _post_grant(self, session: Any, token: str, values: pages.FormValues,
                    now: datetime) -> tokens.Grant | None:
        """The link's grant for a POST: CSRF and nonce checked; a used link still answers a
        resubmission of the very form that used it (same nonce), with the first answer."""
        if not csrf_ok(self.secret, "r", token, values.csrf) or not nonce_ok(values.nonce):
            return None
        if values.kind not in KINDS:
            return None
        grant = tokens.link_grant(session, token, now, spent_ok=True)
        if grant is None:
            return None
        if grant.used_at is None:
            return grant
        replay = find_report(session, web_key(tokens.hash_token(token), values.nonce))
        return grant if replay is not None else None

    # -- extension requests (申请延期) ---------------------------------------------------

    def request_extension(self, token: str, values: pages.FormValues, now: datetime,
                          client: str) -> Response:
        """A request for a later deadline; the office decides (duban.reports.extensions).
        It does not spend the link; the same request again (a double click) gets the same page."""
        try:
            with self.ctx.db.session() as session:
                grant = self._post_grant(session, token, values, now)
                if grant is None:
                    return self.failure(client)
                request = ask(session, grant, values.until, values.reason, now,
                              self.ctx.calendar)
                asked = (request.id, request.requested_due_on.isoformat(),
                         request.current_due_on.isoformat())
            with self.ctx.db.read() as session:
                item = self.item(session, grant.occurrence_id, now)
            html = pages.extension_page(item, *asked, self.office)
        except ReportError as error:
            return self._redisplay(token, values, error, now, client)
        return HTMLResponse(html)

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
            grant = tokens.link_grant(session, token, now)
            if grant is None:
                return self.failure(client)
            item = self.item(session, grant.occurrence_id, now)
        if item.closed or not item.active:
            return self._form_or_notice(item, token)
        return self._form_or_notice(item, token, values, error)

    # -- the department's list -------------------------------------------------------

    def show_department(self, token: str, client: str) -> Response:
        now = self.clock()
        with self.ctx.db.read() as session:
            grant = tokens.check(session, token, now)
            if grant is None or grant.purpose != "department":
                return self.failure(client)
            return self._department(session, grant, token, now)

    def _department(self, session: Any, grant: tokens.Grant, token: str, now: datetime,
                    error: ReportError | None = None, status: int = 200) -> HTMLResponse:
        name = session.get(Department, grant.department_id).name
        lines = open_items(session, grant.department_id, local_day(now), self.ctx.calendar)
        html = pages.department_page(name, lines, csrf_token(self.secret, "d", token),
                                     self.office, error)
        return HTMLResponse(html, status_code=status)

    def open_item(self, token: str, csrf: str, occurrence: str, client: str) -> Response:
        """Mint a single-use link for one of the department's open items and go to its form."""
        now = self.clock()
        with self.ctx.db.session() as session:
            grant = tokens.check(session, token, now)
            if (grant is None or grant.purpose != "department"
                    or not csrf_ok(self.secret, "d", token, csrf) or not occurrence.isdigit()):
                return self.failure(client)
            try:
                link = tokens.mint_link(session, grant, int(occurrence), now)
            except ReportRefused as refusal:
                return self._department(session, grant, token, now, refusal, 429)
            if link is None:
                return self._not_minted(session, grant, int(occurrence), token, client)
        return RedirectResponse(f"/r/{link}", status_code=303)

    def _not_minted(self, session: Any, grant: tokens.Grant, occurrence: int, token: str,
                    client: str) -> Response:
        """Back to the list for the department's own closed item; the failure page otherwise."""
        if tokens.owns(session, grant, occurrence):
            return RedirectResponse(f"/d/{token}", status_code=303)
        return self.failure(client)
