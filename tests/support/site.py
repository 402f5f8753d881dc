"""The report page under test: a TestClient over one ledger, at a settable clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.ledger.models import (
    Department,
    Occurrence,
)
from duban.reports import tokens
from duban.service import Context
from portal import create_app
from tests.support.reports import (
    NOW,
)


@dataclass
class Site:
    """The report page of one ledger, at a settable clock, and the tokens it handed out."""

    ctx: Context
    client: TestClient
    now: datetime = NOW
    issued: list[str] = field(default_factory=list)

    def token(self, department: str, purpose: str = "link", occurrence: int | None = None,
              now: datetime | None = None, days: int | None = None) -> str:
        with self.ctx.db.session() as s:
            dept = s.scalar(select(Department).where(Department.code == department))
            value = tokens.issue(s, dept, now or self.now, purpose, occurrence, days=days)
        self.issued.append(value)
        return value

    def link(self, occurrence: int, **kwargs) -> str:
        with self.ctx.db.session() as s:
            code = s.get(Occurrence, occurrence).department.code
        return self.token(code, "link", occurrence, **kwargs)

    def form(self, token: str) -> tuple[str, list[str]]:
        """(csrf, [report nonce, acknowledgement nonce]) from the link's form."""
        page = self.client.get(f"/r/{token}")
        assert page.status_code == 200, page.text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)[1]
        return csrf, re.findall(r'name="nonce" value="([0-9a-f]+)"', page.text)

    def post(self, token: str, files: dict | None = None, **data: str):
        return self.client.post(f"/r/{token}", data=data, files=files)

    def report(self, token: str, files: dict | None = None, **data: str):
        csrf, nonces = self.form(token)
        return self.post(token, files=files, csrf=csrf, nonce=nonces[0], **data)


def open_site(ctx: Context, limit: int = 10_000) -> Iterator[Site]:
    """The report page of ctx in a TestClient (use with `yield from` in a fixture)."""
    holder: list[Site] = []
    app = create_app(ctx, clock=lambda: holder[0].now, failure_limit=limit)
    with TestClient(app, follow_redirects=False) as client:
        holder.append(Site(ctx, client))
        yield holder[0]
