"""The report page's HTML: Jinja2 templates (portal/templates, autoescaped) and the small view
objects they read. Rendering is pure: the Portal (portal.views) gathers the facts."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from duban.chase.items import ItemFacts, OpenItem
from duban.plan.config import OfficeSpec
from duban.plan.progress import num
from duban.reports.errors import ReportError
from duban.reports.evidence import ALLOWED_TEXT, EVIDENCE_TYPES
from duban.reports.inputs import KIND_ZH, TEXT_LIMIT
from duban.reports.verdicts import ReportOutcome

ACCEPT = ",".join(EVIDENCE_TYPES)
FIELD_ZH = {
    "value": "指标数值", "numerator": "分子", "denominator": "分母", "unit": "单位", "note": "说明",
    "evidence": "佐证材料",
    "problems": "存在问题", "support": "需要支持", "kind": "报送类型", "reason": "更正原因",
    "idempotency_key": "提交编号", "occurrence_id": "事项", "correction_of": "更正",
    "until": "新截止日期", "extension": "延期申请", "token": "链接", "limit": "次数限制",
}
STATE_CLASS = {"overdue": "late", "due_soon": "soon", "upcoming": "ok", "done": "ok",
               "done_late": "ok"}
PROGRESS_LABEL = {"target_progress": "报送本期进展（本期数据）",
                  "milestone_progress": "报送本季度进展"}


@dataclass
class FormValues:
    """What the department typed, kept when the form comes back with an error."""

    kind: str = ""
    value: str = ""
    numerator: str = ""  # a rate's or an average's two parts
    denominator: str = ""
    unit: str = ""
    note: str = ""
    evidence_url: str = ""
    problems: str = ""
    support: str = ""
    keep_open: bool = False
    nonce: str = ""
    csrf: str = ""
    until: str = ""  # an extension request's new deadline, YYYY-MM-DD
    reason: str = ""


@cache
def environment() -> Environment:
    """The template environment (built on first use, not at import)."""
    env = Environment(loader=PackageLoader("portal", "templates"),
                      autoescape=select_autoescape(["html"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = num
    env.globals.update(STATE_CLASS=STATE_CLASS, KIND_ZH=KIND_ZH, TEXT_LIMIT=TEXT_LIMIT,
                       ACCEPT=ACCEPT, ALLOWED_TEXT=ALLOWED_TEXT)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def error_text(error: ReportError | None) -> str:
    """'指标数值：…' for the page's error box."""
    if error is None:
        return ""
    return f"{FIELD_ZH.get(error.field, error.field)}：{error.zh}"


def home_page(office: OfficeSpec) -> str:
    return render("home.html", office=office)


def failure_page(office: OfficeSpec) -> str:
    """The one page for every wrong, expired or forged link (same bytes every time)."""
    return render("failure.html", office=office)


def too_many_page(office: OfficeSpec) -> str:
    return render("too_many.html", office=office)


def error_page(office: OfficeSpec) -> str:
    return render("error.html", office=office)


def too_large_page(office: OfficeSpec, limit_mb: int) -> str:
    return render("too_large.html", office=office, limit_mb=limit_mb)


def form_page(item: ItemFacts, values: FormValues, ack_nonce: str, extend_nonce: str,
              office: OfficeSpec, ack_days: int, error: ReportError | None = None) -> str:
    """The report form for one occurrence, a one-tap acknowledgement and an extension request."""
    default = "progress" if item.duty_kind in PROGRESS_LABEL else "done"
    chosen = values.kind if values.kind in ("done", "progress") else default
    return render("form.html", item=item, values=values, ack_nonce=ack_nonce,
                  extend_nonce=extend_nonce, error=error_text(error), chosen=chosen,
                  progress_label=PROGRESS_LABEL.get(item.duty_kind, "报送阶段进展（尚未完成）"),
                  office=office, ack_days=ack_days)


def notice_page(item: ItemFacts, title: str, text: str, office: OfficeSpec) -> str:
    """A valid link whose item cannot take a report (already closed, no longer in the plan)."""
    return render("notice.html", item=item, title=title, text=text, office=office)


def extension_page(item: ItemFacts, request_id: int, until: str, current: str,
                   office: OfficeSpec) -> str:
    return render("extension.html", item=item, request_id=request_id, until=until,
                  current=current, office=office)


# Until the office reviews a closing report, the department corrects it itself (issue 16.2).
CORRECT_FROM_PAGE = ("审核前如需更正，请打开督办消息中的本单位链接，在该事项下重新报送"
                     "（新报送替代原报送）。")


def success_page(item: ItemFacts, outcome: ReportOutcome, office: OfficeSpec) -> str:
    title = "签收成功" if outcome.kind == "ack" else "报送成功"
    return render("success.html", item=item, outcome=outcome, summary=_summary(outcome),
                  office=office, title=title, correct_from_page=CORRECT_FROM_PAGE)


def _summary(outcome: ReportOutcome) -> str:
    """The outcome in one or two sentences; the verdict is shown on its own line below."""
    if outcome.kind == "ack":
        return outcome.message
    what = "更正" if outcome.supersedes_id else KIND_ZH.get(outcome.kind, outcome.kind)
    head = f"已记录{what}报送（报告编号 {outcome.report_id}）。"
    day = outcome.closed_on.isoformat() if outcome.closed_on else ""
    if outcome.awaiting_review:  # the office may still return it, and then reminders resume
        return (f"{head}已报送（{day}），等待督办办公室审核销号；审核期间暂停提醒，"
                "如被退回将恢复提醒。")
    if outcome.closed:
        return f"{head}该事项已办结（{day}），不再提醒。"
    return f"{head}该事项仍为待办，将继续跟踪。"


def department_page(name: str, lines: list[OpenItem], csrf: str, office: OfficeSpec,
                    error: ReportError | None = None) -> str:
    """All open items of one department, each with a button that opens its own report form."""
    late = sum(1 for line in lines if line.state == "overdue")
    return render("department.html", name=name, lines=lines, csrf=csrf, late=late,
                  office=office, error=error_text(error))
