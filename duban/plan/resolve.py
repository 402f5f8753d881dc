"""Naming a department or a county as an office writes it: a code, the full name, the short
form or any alias (泰山区民政局, taishan-mzj, 市民政局, mzj). An unknown name is an error that says
what was meant, never an empty result."""

from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.ledger.models import Department, Jurisdiction


class UnknownName(LookupError):
    """Nothing answers to the name; the message (Chinese / English) suggests close matches."""

    def __init__(self, zh: str, en: str) -> None:
        self.zh, self.en = zh, en
        super().__init__(f"{zh} / {en}")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().lower()


def _forms(dept: Department) -> set[str]:
    return {_norm(f) for f in (dept.code, dept.name, dept.short, *(dept.aliases or []))}


def resolve_department(session: Session, written: str) -> Department:
    """The department named by a code, full name, short form or alias."""
    want = _norm(written)
    departments = session.scalars(select(Department).order_by(Department.code)).all()
    hits = [d for d in departments if want in _forms(d)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        names = "、".join(f"{d.name}（{d.code}）" for d in hits[:5])
        raise UnknownName(f"“{written}”可指多个单位：{names}，请写全称或代码",
                          f"{written!r} names several departments: use a code")
    county = session.scalar(select(Jurisdiction).where(
        (Jurisdiction.code == want) | (Jurisdiction.name == written.strip())))
    if county is not None:
        raise UnknownName(f"“{written}”是区县，不是单位；按区县筛选请用 --county {county.code}",
                          f"{written!r} is a county: use --county {county.code}")
    close = [d for d in departments if want and any(want in f for f in _forms(d))][:5]
    hint = ("；您是否要找：" + "、".join(f"{d.name}（{d.code}）" for d in close)) if close else ""
    raise UnknownName(f"没有名为“{written}”的单位{hint}",
                      f"no department {written!r}" + (" (close: " + ", ".join(
                          d.code for d in close) + ")" if close else ""))


def resolve_county(session: Session, written: str) -> Jurisdiction:
    """The city, a county or a zone, by code (taishan) or name (泰山区)."""
    want = _norm(written)
    for county in session.scalars(select(Jurisdiction).order_by(Jurisdiction.code)):
        if want in (_norm(county.code), _norm(county.name)):
            return county
    known = "、".join(f"{j.name}（{j.code}）" for j in session.scalars(
        select(Jurisdiction).order_by(Jurisdiction.id)))
    raise UnknownName(f"没有名为“{written}”的区县；可选：{known}", f"no county {written!r}")
