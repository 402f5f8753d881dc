"""The office's pages on the portal (/office/…), behind HTTP basic auth: each item's reports and
the evidence departments uploaded, so the office can check before it signs off (审核销号).

The credential is `user:password`: DUBAN_OFFICE_CREDENTIAL if set, else the Prefect UI's in
$DUBAN_HOME/prefect-auth (written by `duban up`). With neither, the pages answer 503: they are
never open. Evidence is served only by its stored name (<sha256><ext>, nothing else), as an
attachment unless it is a PDF or an image.

Routes:
  GET /office/items/{id}          an item's facts, the office's reviews and every report
  GET /office/evidence/{name}     one stored evidence file
  GET /office/bulletins/{plan}/{no}  督办通报 第N期, as stored by the weekly flow or the CLI
"""

from __future__ import annotations

import base64
import re
import secrets
from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import select

from duban.calendar.clock import local_day, shanghai
from duban.chase.items import item_facts
from duban.ledger.models import Bulletin, Occurrence, Review
from duban.plan.progress import num
from duban.reports.review import VERDICT_ZH
from duban.service import Context

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
REALM = 'Basic realm="duban office", charset="UTF-8"'
STORED = re.compile(r"[0-9a-f]{64}\.(pdf|jpg|jpeg|png|docx|xlsx|doc|xls|zip|txt)")
INLINE = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg",
          "jpeg": "image/jpeg"}
STYLE = ("body{font:16px/1.6 'Noto Sans CJK SC','Microsoft YaHei',sans-serif;max-width:960px;"
         "margin:0 auto;padding:12px}table{border-collapse:collapse;width:100%}"
         "td,th{border:1px solid #ccd;padding:4px 6px;text-align:left;vertical-align:top}"
         ".old{color:#999;text-decoration:line-through}")


def office_credential(ctx: Context) -> str | None:
    """`user:password`, or None when the office's pages are not configured."""
    if ctx.settings.office_credential:
        return ctx.settings.office_credential
    path = Path(ctx.settings.home) / "prefect-auth"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def authorised(request: Request, credential: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return secrets.compare_digest(given.encode(), credential.encode())


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
                        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
                        f"<body><h1>{escape(title)}</h1>{body}</body></html>")


def _evidence_cell(evidence: str) -> str:
    if evidence.startswith("file:"):
        stored, _, name = evidence.removeprefix("file:").partition("|")
        if STORED.fullmatch(stored):
            return f'<a href="/office/evidence/{stored}">{escape(name or stored)}</a>'
        return escape(name)
    if evidence.startswith(("http://", "https://")):
        return f'<a href="{escape(evidence)}" rel="noreferrer">{escape(evidence)}</a>'
    return escape(evidence)


def item_page(ctx: Context, occurrence_id: int, now) -> HTMLResponse | None:
    with ctx.db.read() as session:
        if session.get(Occurrence, occurrence_id) is None:
            return None
        item = item_facts(session, occurrence_id, local_day(now), ctx.calendar)
        reviews = session.scalars(select(Review).where(Review.occurrence_id == occurrence_id)
                                  .order_by(Review.at, Review.id)).all()
        review_rows = "".join(
            f"<tr><td>{escape(shanghai(r.at))}</td><td>{VERDICT_ZH[r.verdict]}</td>"
            f"<td>{escape(r.reviewer)}</td><td>{escape(r.reason)}</td>"
            f"<td>{r.due_after.isoformat()}</td></tr>" for r in reviews)
    facts = "".join(f"<tr><th>{k}</th><td>{escape(str(v))}</td></tr>" for k, v in (
        ("编号", item.occurrence_id), ("行动", item.action), ("事项", item.duty),
        ("责任单位", item.department), ("周期", item.period), ("截止日期", item.due),
        ("状态", item.state_zh), ("目标", item.goal or "—")))
    rows = "".join(
        f'<tr{" class=old" if r.superseded_by else ""}><td>#{r.id}</td><td>{escape(r.at)}</td>'
        f"<td>{escape(r.kind_zh)}</td>"
        f"<td>{'' if r.value is None else escape(num(r.value) + (r.unit or ''))}</td>"
        f"<td>{escape(r.note)}</td><td>{_evidence_cell(r.evidence)}</td>"
        f"<td>{escape(r.entered_by)}</td><td>{escape(r.reason)}</td></tr>" for r in item.reports)
    body = (f"<table>{facts}</table><h2>报送记录</h2><table><tr><th>报告</th><th>时间</th>"
            "<th>类型</th><th>数值</th><th>说明</th><th>佐证材料</th><th>报送人</th>"
            f"<th>更正原因</th></tr>{rows or '<tr><td colspan=8>尚无报送</td></tr>'}</table>"
            "<h2>审核记录</h2><table><tr><th>时间</th><th>结论</th><th>审核人</th><th>原因</th>"
            f"<th>截止日期</th></tr>{review_rows or '<tr><td colspan=5>尚未审核</td></tr>'}"
            f"</table><p>审核：<code>duban review {occurrence_id} --accept</code> 或 "
            f"<code>duban review {occurrence_id} --return 原因</code>，"
            "或 Prefect 的“审核销号”。</p>")
    return _page(f"督办事项 {occurrence_id}：报送与佐证材料", body)


def add_office_routes(app: FastAPI, ctx: Context, clock) -> None:
    def gate(request: Request) -> Response | None:
        credential = office_credential(ctx)
        if credential is None:
            return Response("督办办公室页面未启用：未配置口令 / office pages are not configured",
                            status_code=503, media_type="text/plain; charset=utf-8")
        if not authorised(request, credential):
            return Response("需要督办办公室口令 / authentication required", status_code=401,
                            headers={"WWW-Authenticate": REALM},
                            media_type="text/plain; charset=utf-8")
        return None

    @app.get("/office/items/{occurrence_id}")
    def office_item(occurrence_id: int, request: Request) -> Response:
        refused = gate(request)
        if refused is not None:
            return refused
        page = item_page(ctx, occurrence_id, clock())
        return page or _page("没有这个事项", f"<p>没有编号为 {occurrence_id} 的事项。</p>")

    @app.get("/office/evidence/{name}")
    def office_evidence(name: str, request: Request) -> Response:
        refused = gate(request)
        if refused is not None:
            return refused
        path = Path(ctx.settings.home) / "evidence" / name
        if not STORED.fullmatch(name) or not path.is_file():
            return Response("没有这个文件 / no such file", status_code=404)
        ext = name.rsplit(".", 1)[1]
        media = INLINE.get(ext, "application/octet-stream")
        disposition = "inline" if ext in INLINE else "attachment"
        return FileResponse(path, media_type=media, content_disposition_type=disposition,
                            filename=name)

    @app.get("/office/bulletins/{plan_key}/{no}")
    def office_bulletin(plan_key: str, no: int, request: Request) -> Response:
        refused = gate(request)
        if refused is not None:
            return refused
        with ctx.db.read() as session:
            stored = session.scalar(select(Bulletin.path).where(Bulletin.plan_key == plan_key,
                                                                Bulletin.no == no))
        path = Path(stored) if stored else None
        if path is None or not path.is_file():
            return Response("没有这一期通报 / no such bulletin", status_code=404)
        return FileResponse(path, filename=f"督办通报-第{no}期.docx", media_type=DOCX)
