"""`duban plan new YEAR --from PLAN`: next year's plan file for the office to review, not invented.

Same structure; the plan's dates move to YEAR; the document number and issue date are left 待填写
(`plan check` and `plan activate` refuse the draft until they are filled in); clause and target
text is kept as written, and every mention of another year in it is listed for review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from duban.plan.config import TODO, PlanFile

HEADER = (
    "# 草稿 / draft: written by `duban plan new {year} --from {source}` on {today}.\n"
    "# Same structure as {source}; the plan's dates moved to {year}.\n"
    "# Before `duban plan activate`: fill in every 待填写 (document number, issue date),\n"
    "# review each clause and target (`duban plan check` lists text naming another year).\n"
    "# Items already overdue on activation are urged from the activation day unless you set\n"
    "# plan.ladder_from (the day their urging counts from) or activate with --from-deadlines.\n\n"
)
YEAR_RE = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")


def _move(day: date | str, old_year: int, year: int) -> date:
    value = day if isinstance(day, date) else date.fromisoformat(str(day))
    shifted = value.year - old_year + year
    try:
        return value.replace(year=shifted)
    except ValueError:  # 29 February into a common year
        return value.replace(year=shifted, day=28)


def _replace_year(text: str, old_year: int, year: int) -> str:
    return re.sub(rf"(?<!\d){old_year}(?!\d)", str(year), text)


def draft(source: Path, year: int, today: date) -> str:
    """The text of a draft plan file for `year`, derived from the plan file `source`."""
    data: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    plan = data["plan"]
    old_year = int(plan["year"])
    if year == old_year:
        raise ValueError(f"{source}: the plan is already for {year}")
    old_key = str(plan["key"])
    for name in ("key", "title"):
        plan[name] = _replace_year(str(plan[name]), old_year, year)
    if plan["key"] == old_key:  # the key did not name its year: keep plans apart anyway
        plan["key"] = f"{old_key}-{year}"
    plan["doc_no"] = TODO
    plan["issued"] = TODO
    for name in ("starts", "ends"):
        plan[name] = _move(plan[name], old_year, year)
    plan["year"] = year
    plan["draft"] = True
    plan.pop("ladder_from", None)  # late-start protection counts from the activation day
    for action in data["actions"]:
        for milestone in action.get("milestones") or []:
            if milestone.get("due") not in (None, "year_end"):
                milestone["due"] = _move(milestone["due"], old_year, year)
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    return HEADER.format(year=year, source=source.name, today=today) + body


@dataclass(frozen=True)
class Wording:
    where: str  # e.g. "行动2 条款" or "行动2 指标 elderly-home-adaptation 原文"
    text: str  # the words around the year


def year_wording(plan: PlanFile) -> list[Wording]:
    """Every mention of a year other than the plan's own in its actions' text (to review)."""
    found: list[Wording] = []
    for action in plan.actions:
        texts = [(f"行动{action.no} 名称", action.title), (f"行动{action.no} 条款", action.clause)]
        for t in action.targets:
            for label, value in (("名称", t.title), ("计量", t.measure), ("原文", t.source)):
                texts.append((f"行动{action.no} 指标 {t.key} {label}", value))
        for m in action.milestones:
            for label, value in (("任务", m.title), ("成果", m.deliverable)):
                texts.append((f"行动{action.no} 任务 {m.key} {label}", value))
        for where, text in texts:
            found += [Wording(where, f"“{_around(text, m.start(), m.end())}”含 {m.group()} 年")
                      for m in YEAR_RE.finditer(text) if int(m.group()) != plan.plan.year]
    return found


def _around(text: str, start: int, end: int, width: int = 12) -> str:
    left, right = max(0, start - width), min(len(text), end + width)
    return ("…" if left else "") + text[left:right] + ("…" if right < len(text) else "")
