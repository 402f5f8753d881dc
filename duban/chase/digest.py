"""Compose one Chinese digest per recipient per day from the reminders owed to it (pure text).

A department's digest names its most urgent items in text and carries ONE link: its department
page, which lists every open item (report, acknowledge, ask for an extension there). The stored
copy of a digest never holds a live link (`redact_links`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

LEVEL_ZH = {
    "advance": "提前提醒",
    "due": "今日到期",
    "urge": "催办",
    "escalate": "督办升级",
    "repeat": "再次催办",
    "manual": "人工催办",
    "start": "启动通知",
}
FIRST_LEVEL_ZH = {"repeat": "催办"}  # a recipient's first message about an item never says 再次
OFFICE_NAMES = {"office": "督办办公室", "supervisor": "督查人员"}
CN_NUMERALS = "一二三四五六七八九十"
SIGNATURE = "督办系统（duban）"  # the office's name (config/office.yaml) goes before it
REDACTED = "（链接已隐去）"
_LINK = re.compile(r"/([rd])/[A-Za-z0-9_-]{16,}")


def redact_links(text: str) -> str:
    """The stored form of a message: every report/department link token replaced."""
    return _LINK.sub(lambda m: f"/{m.group(1)}/{REDACTED}", text)


@dataclass(frozen=True)
class DigestItem:
    action_no: int
    action_title: str
    duty_title: str
    deliverable: str
    department_name: str
    period: str
    due_on: date
    overdue_days: int  # working days; 0 when not yet late
    level: str
    how_to_report: str  # "" when the digest's one department link covers it
    provisional: bool = False
    note: str = ""
    first: bool = False  # no earlier message about this item reached this recipient
    plan: str = ""  # the plan the item belongs to, as headed in the digest (plan_heading)


@dataclass(frozen=True)
class DepartmentLink:
    """The one link of a department's digest, and until when it works."""

    url: str
    until: date


def plan_heading(title: str, doc_no: str = "") -> str:
    """How a digest names a plan: 《title》（doc no）; action sections are numbered within it."""
    return f"《{title}》" + (f"（{doc_no}）" if doc_no else "")


def signature(office_name: str) -> str:
    """The last line of every digest: the coordinating office (config/office.yaml), then duban."""
    return f"{office_name} {SIGNATURE}" if office_name else SIGNATURE


def section_no(n: int) -> str:
    if n <= 10:
        return CN_NUMERALS[n - 1]
    return "十" + CN_NUMERALS[n - 11] if n < 20 else str(n)


def compose(
    recipient_name: str,
    day: date,
    items: list[DigestItem],
    for_office: bool,
    notices: list[str] | None = None,
    more: tuple[int, int] | None = None,
    link: DepartmentLink | None = None,
    sign: str = SIGNATURE,
) -> tuple[str, str]:
    """(title, body) grouped by plan, then by action; each item says what, by when, how late.
    Every plan is headed by name, so two plans' actions numbered alike are never confused.
    `more`: (items not listed, how many of them are overdue); `link`: the department page;
    `sign`: the last line (signature(office name))."""
    hidden, hidden_late = more or (0, 0)
    total = len(items) + hidden
    late = sum(1 for i in items if i.overdue_days > 0) + hidden_late
    title = f"【督办】{recipient_name}：{total}项待办" + (f"（逾期{late}项）" if late else "")
    if notices and not items:
        title = f"【督办】{recipient_name}：系统提示"
    title += f" {day.isoformat()}"
    lines = [f"{recipient_name}："]
    for notice in notices or []:
        lines += [f"【系统提示】{notice}", ""]
    if not items:
        return title, "\n".join([*lines, sign])
    lines += [_intro(day, total, late, for_office), ""]
    lines += _postscript(items)
    by_plan: dict[str, dict[tuple[int, str], list[DigestItem]]] = defaultdict(
        lambda: defaultdict(list))
    for item in items:  # plans in the order of their most urgent item
        by_plan[item.plan][(item.action_no, item.action_title)].append(item)
    for plan, by_action in by_plan.items():
        if plan:
            lines.append(plan)
        for (no, action_title), group in sorted(by_action.items()):
            lines.append(f"{section_no(no)}、{action_title}")
            for n, item in enumerate(group, 1):
                lines.extend(_item_lines(n, item, for_office))
            lines.append("")
    if hidden:
        where = "全部待办见下方链接" if link else "请登录督办系统查看全部待办"
        lines += [f"另有{hidden}项未列出（以上按紧急程度排列），{where}。", ""]
    lines += _footer(total, link, sign)
    return title, "\n".join(lines)


def _intro(day: date, total: int, late: int, for_office: bool) -> str:
    what = "以下事项已逾期，请督促相关单位办理" if for_office else "您单位有以下事项需要办理"
    return (f"截至{day.year}年{day.month}月{day.day}日，{what}，共{total}项"
            + (f"，其中逾期{late}项" if late else "") + "。")


def _postscript(items: list[DigestItem]) -> list[str]:
    """The office's note (附言) once per digest, however many items it was attached to."""
    notes = list(dict.fromkeys(i.note.strip() for i in items if i.note.strip()))
    return [f"附言：{note}" for note in notes] + ([""] if notes else [])


def _footer(total: int, link: DepartmentLink | None, sign: str) -> list[str]:
    if link is None:
        return ["如已办结，请通过报送链接填报完成情况；如需延期，请在报送页面提出申请。", sign]
    return [
        f"报送完成情况、签收或申请延期，请打开本单位督办页面（列出全部{total}项待办，"
        f"{link.until.year}年{link.until.month}月{link.until.day}日前有效）：",
        link.url,
        "",
        sign,
    ]


def level_label(item: DigestItem) -> str:
    if item.first and item.level in FIRST_LEVEL_ZH:
        return FIRST_LEVEL_ZH[item.level]
    return LEVEL_ZH.get(item.level, item.level)


def _item_lines(n: int, item: DigestItem, for_office: bool) -> list[str]:
    who = f"【{item.department_name}】" if for_office else ""
    lateness = f"（逾期 {item.overdue_days} 个工作日）" if item.overdue_days > 0 else ""
    provisional = "（暂定，节假日数据未发布）" if item.provisional else ""
    out = [
        f"{n}. {who}{item.duty_title}（{item.period}）[{level_label(item)}]",
        f"   应交：{item.deliverable}",
        f"   截止：{item.due_on.isoformat()}{provisional}{lateness}",
    ]
    if item.how_to_report:
        out.append(f"   报送：{item.how_to_report}")
    return out
