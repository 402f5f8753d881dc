"""`duban plan new YEAR --from PLAN`: next year's plan file, same structure, dates moved to YEAR.

The office edits the result (document number, targets, dates) and reloads; several plans can be
active at once, each chased and reported on its own.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml

HEADER = (
    "# {doc}: drafted by `duban plan new {year} --from {source}` on {today}.\n"
    "# Same structure as {source}, every date moved to {year}. Review before loading:\n"
    "# the document number, the issue date, each target's value and each clause's text.\n\n"
)


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
    """The text of a new plan file for `year`, derived from the plan file `source`."""
    data: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    plan = data["plan"]
    old_year = int(plan["year"])
    if year == old_year:
        raise ValueError(f"{source}: the plan is already for {year}")
    old_key = str(plan["key"])
    for name in ("key", "title", "doc_no"):
        plan[name] = _replace_year(str(plan[name]), old_year, year)
    if plan["key"] == old_key:  # the key did not name its year: keep plans apart anyway
        plan["key"] = f"{old_key}-{year}"
    for name in ("issued", "starts", "ends"):
        plan[name] = _move(plan[name], old_year, year)
    plan["year"] = year
    for action in data["actions"]:
        for milestone in action.get("milestones") or []:
            if milestone.get("due") not in (None, "year_end"):
                milestone["due"] = _move(milestone["due"], old_year, year)
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    header = HEADER.format(doc=plan["doc_no"], year=year, source=source.name, today=today)
    return header + body
