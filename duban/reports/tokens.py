"""Department credentials: random tokens stored only as SHA-256; scoped, expiring, single-use links.

- a *link* token is scoped to one department and one occurrence and is spent by a report; a
  spent link still shows what was reported until it expires;
- a *department* token opens the list of that department's open duties (the page's home);
  a digest carries one, the office can issue more;
- a *cli* token lets a department confirm from the command line (`duban confirm --token`).
Every failure looks the same to the caller (`None`), so a guesser learns nothing.

What a token does without being spent is capped per token: acknowledgements and extension
requests per link, item links opened from a department link (`use`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from duban.ledger.database import record_audit
from duban.ledger.models import AccessToken, Department, Occurrence
from duban.reports.errors import ReportRefused

TOKEN_BYTES = 32  # 256 random bits
LINK_DAYS = 30
DEPARTMENT_DAYS = 90  # issued by the office (`duban token issue --purpose department`)
MINTED_LINK_DAYS = 2  # an item link opened from the department page is used at once
CLI_DAYS = 365
LIMITS = {"acks": 3, "extension_requests": 3, "links_minted": 100}  # per token


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_for(
    session: Session,
    department_id: int,
    now: datetime,
    purpose: str = "link",
    occurrence_id: int | None = None,
    days: int | None = None,
) -> str:
    """Like `issue`, for a department known by id (digests issue thousands; no audit rows)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(AccessToken(
        token_hash=hash_token(token), department_id=department_id, occurrence_id=occurrence_id,
        purpose=purpose, expires_at=now + timedelta(days=lifetime(purpose, days)),
        created_at=now,
    ))
    return token


def lifetime(purpose: str, days: int | None = None) -> int:
    return days or {"link": LINK_DAYS, "department": DEPARTMENT_DAYS}.get(purpose, CLI_DAYS)


def issue(
    session: Session,
    department: Department,
    now: datetime,
    purpose: str = "link",
    occurrence_id: int | None = None,
    days: int | None = None,
    actor: str = "system",
) -> str:
    """Create a token and return it; only its hash is kept (the caller shows it once).
    Department and CLI tokens are audited; link tokens live in the digests that carry them."""
    token = issue_for(session, department.id, now, purpose, occurrence_id, days)
    if purpose != "link":
        record_audit(session, actor, "token_issued", "department", department.code, now,
                     purpose=purpose, days=lifetime(purpose, days))
    return token


@dataclass(frozen=True)
class Grant:
    """What a valid token allows: one department, and one occurrence for a link token."""

    token_id: int
    department_id: int
    department_code: str
    occurrence_id: int | None
    purpose: str
    used_at: datetime | None = None


def check(
    session: Session, token: str | None, now: datetime, *, spent_ok: bool = False
) -> Grant | None:
    """The grant for a live token, or None for a wrong, used or expired one (indistinguishably).
    With spent_ok a used link still answers (to show what was reported), until it expires."""
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(AccessToken).where(AccessToken.token_hash == hash_token(token)))
    if row is None or (row.used_at is not None and not spent_ok) or row.expires_at <= now:
        return None
    return Grant(row.id, row.department_id, row.department.code, row.occurrence_id, row.purpose,
                 row.used_at)


def link_grant(
    session: Session, token: str | None, now: datetime, *, spent_ok: bool = False
) -> Grant | None:
    """A link token's grant, only if its item belongs to the link's department."""
    grant = check(session, token, now, spent_ok=spent_ok)
    if grant is None or grant.purpose != "link" or grant.occurrence_id is None:
        return None
    owner = session.scalar(select(Occurrence.department_id).where(
        Occurrence.id == grant.occurrence_id))
    return grant if owner == grant.department_id else None


def owns(session: Session, grant: Grant, occurrence_id: int) -> bool:
    """Whether the occurrence is the grant's department's."""
    owner = session.scalar(select(Occurrence.department_id).where(
        Occurrence.id == occurrence_id))
    return owner is not None and owner == grant.department_id


def mint_link(session: Session, grant: Grant, occurrence_id: int, now: datetime) -> str | None:
    """A fresh single-use link for one of the department's open items, opened from its
    department page (audited); None if the item is not the department's or not open."""
    occ = session.get(Occurrence, occurrence_id)
    if grant.purpose != "department" or occ is None or occ.department_id != grant.department_id:
        return None
    if occ.status not in ("open", "reported"):  # reported: correctable until reviewed
        return None
    if not use(session, grant, "links_minted"):
        raise ReportRefused(
            "limit", f"此链接已打开{LIMITS['links_minted']}个填报页面，达到上限；请使用最新一次督办"
            "提醒消息中的链接，或联系督办办公室",
            f"this department link has opened {LIMITS['links_minted']} item links; use the "
            "newest reminder's link")
    link = issue_for(session, grant.department_id, now, "link", occ.id, days=MINTED_LINK_DAYS)
    record_audit(session, f"department:{grant.department_code}", "token_issued", "department",
                 grant.department_code, now, purpose="link", occurrence=occ.id,
                 via="department_page")
    return link


def use(session: Session, grant: Grant, what: str) -> bool:
    """Count one acknowledgement, extension request or minted link against the token's limit,
    atomically (racing requests cannot both take the last one); False once it is reached."""
    column = getattr(AccessToken, what)
    result = session.execute(
        update(AccessToken).where(AccessToken.id == grant.token_id, column < LIMITS[what])
        .values({column: column + 1})
    )
    return result.rowcount == 1


def spend(session: Session, grant: Grant, now: datetime) -> bool:
    """Mark a link token used, atomically: only one of two racing submissions wins."""
    if grant.purpose != "link":
        return True
    result = session.execute(
        update(AccessToken)
        .where(AccessToken.id == grant.token_id, AccessToken.used_at.is_(None))
        .values(used_at=now)
    )
    return result.rowcount == 1
