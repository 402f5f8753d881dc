"""Department credentials: random tokens stored only as SHA-256; scoped, expiring, single-use links.

- a *link* token is scoped to one department and one occurrence and is spent by a report;
- a *department* token opens the list of that department's open duties (the page's home);
- a *cli* token lets a department confirm from the command line (`duban confirm --token`).
Every failure looks the same to the caller (`None`), so a guesser learns nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from duban.ledger.database import record_audit
from duban.ledger.models import AccessToken, Department

TOKEN_BYTES = 32  # 256 random bits
LINK_DAYS = 30
DEPARTMENT_DAYS = 90
CLI_DAYS = 365


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


def check(session: Session, token: str | None, now: datetime) -> Grant | None:
    """The grant for a live token, or None for a wrong, used or expired one (indistinguishably)."""
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(AccessToken).where(AccessToken.token_hash == hash_token(token)))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return Grant(row.id, row.department_id, row.department.code, row.occurrence_id, row.purpose)


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
