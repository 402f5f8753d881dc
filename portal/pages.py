"""HTML for the report page: plain, Chinese, phone-sized, no scripts and no external assets.

Every value is escaped. Forms post to their own address (action=""), so no page body ever
carries a link token: the token is only in the address bar of the link itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from duban.plan.progress import num
from duban.reports.submission import KIND_ZH, TEXT_LIMIT, ReportError, ReportOutcome, ReportView

OFFICE = "泰安市民政局督办办公室"
ACCEPT = ".pdf,.jpg,.jpeg,.png,.docx,.xlsx,.doc,.xls,.zip,.txt"
FIELD_ZH = {
    "value": "指标数值", "unit": "单位", "note": "说明", "evidence": "佐证材料",
    "problems": "存在问题", "support": "需要支持", "kind": "报送类型", "reason": "更正原因",
    "idempotency_key": "提交编号", "occurrence_id": "事项", "correction_of": "更正",
    "until": "新截止日期", "extension": "延期申请",
}
STATE_CLASS = {"overdue": "late", "due_soon": "soon", "upcoming": "ok", "done": "ok",
               "done_late": "ok"}

CSS = """
*{box-sizing:border-box}
body{margin:0;font:17px/1.6 -apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",
sans-serif;background:#f4f5f7;color:#1d2129}
main{max-width:640px;margin:0 auto;padding:12px}
h1{font-size:22px;margin:8px 0 12px}
h2{font-size:18px;margin:16px 0 8px}
.card{background:#fff;border-radius:10px;padding:14px;margin:0 0 12px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
dl{margin:0}dt{color:#6b7280;font-size:15px}dd{margin:0 0 8px}
label{display:block;font-weight:600;margin:12px 0 4px}
.hint{color:#6b7280;font-size:14px;font-weight:400}
input[type=text],textarea{width:100%;font-size:17px;padding:12px;border:1px solid #c9cdd4;
border-radius:8px;background:#fff}
textarea{min-height:96px}
input[type=file]{font-size:16px;width:100%;padding:8px 0}
.choice{display:flex;align-items:center;gap:10px;min-height:48px;padding:6px 12px;
border:1px solid #c9cdd4;border-radius:8px;margin:6px 0;font-weight:400}
.choice input{width:22px;height:22px}
button{width:100%;min-height:52px;font-size:18px;border:0;border-radius:10px;
background:#1664ff;color:#fff;margin:14px 0 4px;cursor:pointer}
button.secondary{background:#fff;color:#1664ff;border:2px solid #1664ff}
.error{background:#fdecec;border:1px solid #f5a3a3;color:#a1151b;border-radius:8px;
padding:10px 12px;margin:0 0 12px}
.ok{color:#0b7a3e}.soon{color:#b25e00}.late{color:#c9252d;font-weight:600}
.tag{display:inline-block;font-size:14px;padding:0 8px;border-radius:10px;background:#eef2ff}
.old{color:#9ca3af;text-decoration:line-through}
.report{border-top:1px solid #eef0f3;padding:8px 0}
summary{font-weight:600;min-height:44px;line-height:44px;cursor:pointer}
footer{color:#9ca3af;font-size:13px;text-align:center;padding:16px}
"""

FAILURE_BODY = f"""<div class="card"><h1>链接无效或已失效</h1>
<p>这个报送链接无法使用：可能已经用过、已经过期，或者链接不完整。</p>
<p>请这样获取新的链接：</p>
<ul><li>联系{OFFICE}，请工作人员重新发送报送链接；</li>
<li>或等待下一次督办提醒消息，消息中会附有新的报送链接。</li></ul>
<p class="hint">如已报送成功，无需再次操作。</p></div>"""


def layout(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main><footer>泰安市民政局 督办系统</footer></body></html>"
    )


def failure_page() -> str:
    """The one page for every wrong, used, expired or forged link (same bytes every time)."""
    return layout("链接无效", FAILURE_BODY)


def too_many_page() -> str:
    return layout("请稍后再试", '<div class="card"><h1>尝试次数过多</h1>'
                  "<p>请稍后再试，或联系" + OFFICE + "。</p></div>")


def error_page() -> str:
    return layout("系统繁忙", '<div class="card"><h1>系统暂时无法处理</h1>'
                  "<p>请稍后重试；如多次失败，请联系" + OFFICE + "。</p></div>")


@dataclass(frozen=True)
class ItemView:
    """What a department sees about one occurrence."""

    occurrence_id: int
    action: str
    duty: str
    duty_kind: str
    deliverable: str
    department: str
    period: str
    due: str
    state: str
    state_zh: str
    overdue_days: int
    closed: bool
    acknowledged_until: str
    goal: str = ""
    unit: str = ""
    measure: str = ""
    is_count: bool = False
    ack_days: int = 5
    extension: str = ""  # a pending extension request, in words
    reports: list[ReportView] = field(default_factory=list)


@dataclass
class FormValues:
    """What the department typed, kept when the form comes back with an error."""

    kind: str = ""
    value: str = ""
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


def _facts(item: ItemView) -> str:
    late = f"，已逾期{item.overdue_days}个工作日" if item.overdue_days else ""
    cls = STATE_CLASS.get(item.state, "ok")
    rows = [
        ("所属行动", item.action), ("事项", item.duty), ("应交材料", item.deliverable),
        ("责任单位", item.department), ("报送周期", item.period),
    ]
    html = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows if v)
    html += (f'<dt>截止日期</dt><dd>{escape(item.due)} '
             f'<span class="{cls}">{escape(item.state_zh)}{escape(late)}</span></dd>')
    if item.goal:
        html += f"<dt>目标</dt><dd>{escape(item.goal)}</dd>"
    if item.extension and not item.closed:
        html += f"<dt>延期申请</dt><dd>{escape(item.extension)}</dd>"
    if item.acknowledged_until and not item.closed:
        html += (f"<dt>签收</dt><dd>已签收，{escape(item.acknowledged_until)}前暂停催办"
                 "（截止日期不变）</dd>")
    return f'<div class="card"><dl>{html}</dl></div>'


def reports_section(reports: list[ReportView]) -> str:
    if not reports:
        return ""
    rows = []
    for r in reports:
        old = ' class="old"' if r.superseded_by else ""
        value = f"：{num(r.value)}{escape(r.unit or '')}" if r.value is not None else ""
        extra = f"（已被报告{r.superseded_by}更正）" if r.superseded_by else ""
        reason = f"<br>更正原因：{escape(r.reason)}" if r.reason else ""
        note = f"<br>{escape(r.note)}" if r.note else ""
        rows.append(
            f'<div class="report"><span{old}>#{r.id} {escape(r.at)} '
            f'<span class="tag">{escape(r.kind_zh)}</span>{value}</span>{escape(extra)}'
            f"{note}{reason}</div>"
        )
    return '<div class="card"><h2>已报送记录</h2>' + "".join(rows) + "</div>"


def _error(error: ReportError | None) -> str:
    if error is None:
        return ""
    label = FIELD_ZH.get(error.field, error.field)
    return f'<div class="error" role="alert">{escape(label)}：{escape(error.zh)}</div>'


def _choice(name: str, value: str, label: str, checked: bool) -> str:
    mark = " checked" if checked else ""
    return (f'<label class="choice"><input type="radio" name="{name}" value="{value}"{mark}>'
            f"{escape(label)}</label>")


def _kind_choices(item: ItemView, chosen: str) -> str:
    default = "progress" if item.duty_kind in ("target_progress", "milestone_progress") else "done"
    chosen = chosen if chosen in ("done", "progress") else default
    progress = {
        "target_progress": "报送本期进展（本期数据）",
        "milestone_progress": "报送本季度进展",
    }.get(item.duty_kind, "报送阶段进展（尚未完成）")
    return (_choice("kind", "progress", progress, chosen == "progress")
            + _choice("kind", "done", "已完成（办结）", chosen == "done"))


def _value_field(item: ItemView, values: FormValues) -> str:
    if not item.unit:
        return ""
    hint = "填写截至目前的累计数" if item.is_count else "填写当前数值"
    return (
        f'<label for="value">{escape(item.measure)}（{escape(item.unit)}）'
        f' <span class="hint">{hint}</span></label>'
        f'<input type="text" id="value" name="value" inputmode="decimal" autocomplete="off"'
        f' value="{escape(values.value)}" required>'
    )


def _textarea(name: str, label: str, text: str, hint: str = "") -> str:
    hint_html = f' <span class="hint">{escape(hint)}</span>' if hint else ""
    return (f'<label for="{name}">{escape(label)}{hint_html}</label>'
            f'<textarea id="{name}" name="{name}" maxlength="{TEXT_LIMIT}">{escape(text)}'
            "</textarea>")


def form_page(item: ItemView, values: FormValues, ack_nonce: str, extend_nonce: str,
              error: ReportError | None = None) -> str:
    """The report form for one occurrence, plus a separate one-tap acknowledgement."""
    keep_open = ""
    if item.duty_kind == "milestone_progress":
        mark = " checked" if values.keep_open else ""
        keep_open = (f'<label class="choice"><input type="checkbox" name="keep_open" value="1"'
                     f"{mark}>本季度工作尚未完成，保持待办（继续提醒）</label>")
    hidden = (f'<input type="hidden" name="csrf" value="{escape(values.csrf)}">'
              f'<input type="hidden" name="nonce" value="{escape(values.nonce)}">')
    report_form = (
        '<form class="card" method="post" action="" enctype="multipart/form-data">'
        f"<h2>填报</h2>{hidden}{_kind_choices(item, values.kind)}{keep_open}"
        f"{_value_field(item, values)}"
        f"{_textarea('note', '说明', values.note, f'最多{TEXT_LIMIT}字')}"
        '<label for="evidence_url">佐证材料链接 <span class="hint">可选</span></label>'
        f'<input type="text" id="evidence_url" name="evidence_url" inputmode="url"'
        f' value="{escape(values.evidence_url)}" placeholder="https://">'
        '<label for="evidence_file">或上传佐证文件 <span class="hint">pdf、jpg、png、docx、xlsx、'
        'doc、xls、zip、txt，不超过10MB</span></label>'
        f'<input type="file" id="evidence_file" name="evidence_file" accept="{ACCEPT}">'
        f"{_textarea('problems', '存在问题', values.problems, '可选')}"
        f"{_textarea('support', '需要支持', values.support, '可选')}"
        '<button type="submit">提交报送</button></form>'
    )
    ack_form = (
        '<form class="card" method="post" action="">'
        f'<input type="hidden" name="csrf" value="{escape(values.csrf)}">'
        f'<input type="hidden" name="nonce" value="{escape(ack_nonce)}">'
        '<input type="hidden" name="kind" value="ack">'
        "<h2>暂未办结？先签收</h2><p class=\"hint\">签收表示已收到、正在办理："
        f"暂停催办{item.ack_days}个工作日，截止日期不变。签收后此链接仍可用于报送。</p>"
        '<button type="submit" class="secondary">签收（已收到，正在办理）</button></form>'
    )
    body = (f"<h1>督办事项报送</h1>{_error(error)}{_facts(item)}{report_form}"
            f"{ack_form}{_extension_form(item, values, extend_nonce)}"
            f"{reports_section(item.reports)}")
    return layout("督办事项报送", body)


def _extension_form(item: ItemView, values: FormValues, nonce: str) -> str:
    """申请延期: a later working day and a reason; the office decides, the deadline stands until
    then."""
    if item.extension:
        return ""
    opened = " open" if values.until or values.reason else ""
    return (
        f'<details class="card"{opened}><summary>需要延期？申请延期</summary>'
        '<form method="post" action="">'
        f'<input type="hidden" name="csrf" value="{escape(values.csrf)}">'
        f'<input type="hidden" name="nonce" value="{escape(nonce)}">'
        '<input type="hidden" name="kind" value="extend">'
        '<label for="until">申请延至 <span class="hint">须为晚于当前截止日期的工作日，'
        "格式 2023-07-14</span></label>"
        f'<input type="text" id="until" name="until" inputmode="numeric" placeholder="YYYY-MM-DD"'
        f' value="{escape(values.until)}">'
        f"{_textarea('reason', '延期理由', values.reason, '必填，不超过500字')}"
        '<p class="hint">审批前截止日期不变，提醒照常发送。</p>'
        '<button type="submit" class="secondary">提交延期申请</button></form></details>'
    )


def extension_page(item: ItemView, request_id: int, until: str, current: str) -> str:
    body = (
        '<h1 class="ok">✓ 延期申请已提交</h1><div class="card" role="status">'
        f"<p>已提交延期申请（编号 {request_id}）：申请将截止日期由{escape(current)}延至"
        f"{escape(until)}，等待{OFFICE}审批。</p>"
        '<p class="hint">审批前截止日期不变，提醒照常发送；此链接仍可用于报送。</p></div>'
        f"{_facts(item)}"
    )
    return layout("延期申请已提交", body)


def notice_page(item: ItemView, title: str, text: str) -> str:
    """A valid link whose item cannot take a report (already closed, no longer in the plan)."""
    body = (f'<h1>{escape(title)}</h1><div class="card"><p>{escape(text)}</p></div>'
            f"{_facts(item)}{reports_section(item.reports)}")
    return layout(title, body)


def success_page(item: ItemView, outcome: ReportOutcome) -> str:
    title = "签收成功" if outcome.kind == "ack" else "报送成功"
    after = ("如需报送办结情况，请再次打开提醒消息中的链接。" if outcome.kind == "ack"
             else "此链接已使用，不能再次提交。如需更正，请联系" + OFFICE + "。")
    value = (f"<dt>报送数值</dt><dd>{num(outcome.value)}{escape(outcome.unit or '')}</dd>"
             if outcome.value is not None else "")
    verdict = (f"<dt>指标对照</dt><dd>{escape(outcome.verdict_text)}</dd>"
               if outcome.verdict_text else "")
    body = (
        f'<h1 class="ok">✓ {title}</h1><div class="card" role="status">'
        f"<p>{escape(_summary(outcome))}</p><dl>"
        f"<dt>报告编号</dt><dd>{outcome.report_id}</dd>"
        f"<dt>类型</dt><dd>{escape(KIND_ZH.get(outcome.kind, outcome.kind))}</dd>"
        f"{value}{verdict}</dl><p class=\"hint\">{escape(after)}</p></div>{_facts(item)}"
    )
    return layout(title, body)


def _summary(outcome: ReportOutcome) -> str:
    """The outcome in one or two sentences; the verdict is shown on its own line below."""
    if outcome.kind == "ack":
        return outcome.message
    what = "更正" if outcome.supersedes_id else KIND_ZH.get(outcome.kind, outcome.kind)
    head = f"已记录{what}报送（报告编号 {outcome.report_id}）。"
    if outcome.closed:
        day = outcome.closed_on.isoformat() if outcome.closed_on else ""
        return f"{head}该事项已完成报送（{day}），不再提醒。"
    return f"{head}该事项仍为待办，将继续跟踪。"


@dataclass(frozen=True)
class DutyLine:
    occurrence_id: int
    action: str
    duty: str
    period: str
    due: str
    state: str
    state_zh: str
    overdue_days: int
    acknowledged_until: str


def department_page(name: str, lines: list[DutyLine], csrf: str) -> str:
    """All open items of one department, each with a button that opens its own report form."""
    if not lines:
        cards = '<div class="card"><p>目前没有待办事项。</p></div>'
    else:
        cards = "".join(_duty_card(line, csrf) for line in lines)
    late = sum(1 for line in lines if line.state == "overdue")
    summary = f"共{len(lines)}项待办" + (f"，其中逾期{late}项" if late else "")
    body = f"<h1>{escape(name)}</h1><p>{summary}。</p>{cards}"
    return layout(f"{name} 待办事项", body)


def _duty_card(line: DutyLine, csrf: str) -> str:
    cls = STATE_CLASS.get(line.state, "ok")
    late = f"，逾期{line.overdue_days}个工作日" if line.overdue_days else ""
    until = escape(line.acknowledged_until)
    ack = f"<br>已签收，{until}前暂停催办" if until else ""
    return (
        '<form class="card" method="post" action="">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<input type="hidden" name="occurrence" value="{line.occurrence_id}">'
        f'<div class="hint">{escape(line.action)}</div><div><b>{escape(line.duty)}</b></div>'
        f'<div>周期 {escape(line.period)}，截止 {escape(line.due)} '
        f'<span class="{cls}">{escape(line.state_zh)}{escape(late)}</span>{ack}</div>'
        '<button type="submit">填报</button></form>'
    )
