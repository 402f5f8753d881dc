"""The report page (FastAPI): a department answers one reminder from its phone in under a minute.

Routes (plain `def`: FastAPI runs them in its thread pool):
  GET  /           what this site is and how a department gets a link
  GET  /r/{token}  the form for the link's one occurrence (never changes anything: mail
                   scanners open links before people do)
  POST /r/{token}  a report or an acknowledgement (CSRF field + form nonce); a done or progress
                   report spends the link, an acknowledgement does not
  GET  /d/{token}  a department's open items (department token from `duban token issue`)
  POST /d/{token}  open one item: mint a fresh single-use link for it and redirect to its form
  GET  /healthz    liveness and the database, for `duban up`
Every wrong, used, expired or forged link, and every CSRF failure, gets the same page and status.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from anyio import to_thread
from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from duban.calendar.clock import utcnow
from duban.reports.evidence import EVIDENCE_LIMIT, EvidenceFile
from duban.service import Context
from portal import pages
from portal.limits import RequestGate
from portal.office import add_office_routes
from portal.security import FailureLimiter, install_log_redaction
from portal.views import Clock, Portal, Submitted

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


# -- dependencies ------------------------------------------------------------------------------


def get_portal(request: Request) -> Portal:
    return request.app.state.portal


def client_address(request: Request) -> str:
    return get_portal(request).client_of(request.scope)


PortalDep = Annotated[Portal, Depends(get_portal)]
ClientDep = Annotated[str, Depends(client_address)]
Text = Annotated[str, Form()]


def report_form(
    kind: Text = "", value: Text = "", numerator: Text = "", denominator: Text = "",
    unit: Text = "", note: Text = "", evidence_url: Text = "",
    problems: Text = "", support: Text = "", keep_open: Text = "", nonce: Text = "",
    csrf: Text = "", until: Text = "", reason: Text = "",
    evidence_file: Annotated[UploadFile | None, File()] = None,
) -> Submitted:
    """The posted fields and at most one upload (read to the limit + 1 byte)."""
    values = pages.FormValues(
        kind=kind, value=value, numerator=numerator, denominator=denominator, unit=unit,
        note=note, evidence_url=evidence_url,
        problems=problems, support=support, keep_open=keep_open in ("1", "on", "true"),
        nonce=nonce, csrf=csrf, until=until, reason=reason)
    upload = None
    if evidence_file is not None and evidence_file.filename:
        content = evidence_file.file.read(EVIDENCE_LIMIT + 1)
        upload = EvidenceFile(evidence_file.filename, content, evidence_file.size)
    return Submitted(values, upload)


# -- the application -----------------------------------------------------------------------------


def create_app(
    ctx: Context, clock: Clock = utcnow, failure_limit: int = 30, upgrade_schema: bool = True
) -> FastAPI:
    """The report page for one installation; the schema is brought up to date on start."""
    install_log_redaction()
    portal = Portal(ctx, clock, FailureLimiter(failure_limit))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # plain `def` routes run in anyio's default thread pool: as many threads as the ledger's
        # pool keeps connections (Context.db), both DUBAN_PORTAL_THREADS
        to_thread.current_default_thread_limiter().total_tokens = ctx.settings.portal_threads
        if upgrade_schema:
            await run_in_threadpool(ctx.db.create_schema)
        yield

    app = FastAPI(title="督办报送", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.portal = portal
    app.add_middleware(RequestGate, portal=portal)  # size and token before the body is read
    app.add_middleware(SecurityHeaders)  # outermost: every answer carries the headers
    _routes(app)
    add_office_routes(app, ctx, clock)  # /office/…: the office's view of reports and evidence
    _errors(app)
    return app


def _routes(app: FastAPI) -> None:
    @app.get("/")
    def home(portal: PortalDep) -> Response:
        return portal.home()

    @app.get("/r/{token}")
    def report_page(token: str, portal: PortalDep, client: ClientDep) -> Response:
        return portal.show_form(token, client)

    @app.post("/r/{token}")
    def report_post(token: str, form: Annotated[Submitted, Depends(report_form)],
                    portal: PortalDep, client: ClientDep) -> Response:
        return portal.submit_form(token, form, client)

    @app.get("/d/{token}")
    def department_page(token: str, portal: PortalDep, client: ClientDep) -> Response:
        return portal.show_department(token, client)

    @app.post("/d/{token}")
    def department_open(token: str, portal: PortalDep, client: ClientDep,
                        csrf: Text = "", occurrence: Text = "") -> Response:
        return portal.open_item(token, csrf, occurrence, client)

    @app.get("/healthz")
    def healthz(portal: PortalDep) -> Response:
        """ok (200) when the ledger answers; degraded (503) when it does not."""
        healthy = portal.database_ok()
        return PlainTextResponse("ok" if healthy else "degraded",
                                 status_code=200 if healthy else 503)


def _errors(app: FastAPI) -> None:
    """Unknown paths, wrong methods, malformed bodies: the failure page; a crash: a plain error
    page (logged without tokens)."""

    @app.exception_handler(StarletteHTTPException)
    def not_found(request: Request, exc: StarletteHTTPException) -> Response:
        portal = get_portal(request)
        if exc.status_code == 413:
            return portal.too_large()
        return portal.failure(client_address(request), counted=False)

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, _exc: Exception) -> Response:
        portal = get_portal(request)
        return portal.failure(client_address(request), counted=False)

    @app.exception_handler(Exception)
    def crashed(request: Request, _exc: Exception) -> Response:
        log.exception("report page failed")
        return get_portal(request).crashed()
