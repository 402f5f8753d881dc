"""No live secret at rest (issue 14, item 2): after a full chase -> dispatch -> report cycle, no
token that was issued appears anywhere in the database (every column of every table) nor in a
backup; the ledger, its backup and the evidence are readable by duban's account only."""

from __future__ import annotations

import re
import stat
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select, text

from duban.calendar.clock import at_local
from duban.ledger.backup import backup
from duban.ledger.models import Base, Department, Occurrence
from duban.reports import tokens
from duban.reports.evidence import EvidenceFile
from duban.reports.submission import Submission, Submitter, derive_key, submit
from duban.service import chase, dispatch, setup
from notifications import notifier_for
from tests.support.receivers import HttpReceiver

DAY = at_local(date(2023, 10, 16), 9)
TOKEN = re.compile(r"/[rd]/([A-Za-z0-9_-]{20,})")


def _everything(ctx) -> str:
    """Every value of every row of every table, as text."""
    out = []
    with ctx.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(text(f"SELECT * FROM {table.name}")):
                out.append(" ".join(map(str, row)))
    return "\n".join(out)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_no_token_in_the_database_or_a_backup_after_a_full_cycle(
    make_context, db_url, tmp_path
) -> None:
    with HttpReceiver() as http:
        notify = tmp_path / "notify.yaml"
        notify.write_text("version: 1\nurls:\n  - outbox://:\n      tag: always\n"
                          f"  - json://127.0.0.1:{http.port}/p:\n      tag: always\n",
                          encoding="utf-8")
        ctx = make_context(db_url, notify=notify)
        setup(ctx, DAY)
        chase(ctx, DAY)
        dispatch(ctx, DAY, notifier_for(ctx, DAY))
        sent = "\n".join(r.json["message"] for r in http.requests)
        issued = set(TOKEN.findall(sent))
        assert len(issued) > 10  # every department digest carried its live link
        issued |= _report_with_fresh_tokens(ctx, tmp_path)
        later = DAY + timedelta(days=1)
        chase(ctx, later)
        dispatch(ctx, later, notifier_for(ctx, later))
        issued |= set(TOKEN.findall("\n".join(r.json["message"] for r in http.requests)))
    stored = _everything(ctx)
    assert "/d/（链接已隐去）" in stored  # the records keep the link's place, not its token
    leaked = [t for t in issued if t in stored]
    assert leaked == []
    with ctx.db.session() as s:
        hashes = set(s.scalars(text("SELECT token_hash FROM access_token")))
    assert {tokens.hash_token(t) for t in issued} <= hashes  # they are there, as hashes
    if ctx.db.dialect == "sqlite":
        database = Path(ctx.settings.database_url.removeprefix("sqlite:///"))
        copy = backup(ctx.settings.database_url, tmp_path / "backups" / "copy.db")
        raw = copy.read_bytes()
        assert [t for t in issued if t.encode() in raw] == []
        assert _mode(database) == 0o600 and _mode(copy) == 0o600
        assert _mode(copy.parent) == 0o700
        evidence = ctx.settings.home / "evidence"
        assert _mode(evidence) == 0o700
        assert {_mode(f) for f in evidence.iterdir()} == {0o600}


def _report_with_fresh_tokens(ctx, tmp_path: Path) -> set[str]:
    """A department reports with evidence through a link token; a CLI token is issued too."""
    with ctx.db.session() as s:
        dept = s.scalar(select(Department).where(Department.code == "mzj"))
        occ = s.scalar(select(Occurrence.id).where(Occurrence.department_id == dept.id,
                                                   Occurrence.status == "open"))
        cli = tokens.issue(s, dept, DAY, "cli")
        link = tokens.issue(s, dept, DAY, "link", occurrence_id=occ)
    with ctx.db.session() as s:
        grant = tokens.check(s, link, DAY)
        assert grant is not None
        sub = Submission(occurrence_id=occ, kind="progress",
                         idempotency_key=derive_key("test", tokens.hash_token(link), occ),
                         note=f"见附件（令牌不应出现：{link[:6]}）", keep_open=True,
                         evidence=EvidenceFile("proof.pdf", b"%PDF-1.4\n%%EOF\n"))
        submit(s, sub, Submitter(grant.department_id, link=grant, via="web"),
               ctx.report_rules, DAY)
    return {cli, link}
