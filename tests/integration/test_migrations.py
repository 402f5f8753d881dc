"""Alembic: the models match the migrations, and downgrade/upgrade keeps a populated ledger."""

from __future__ import annotations

from alembic import command
from sqlalchemy import func, select

from duban.ledger.database import Database
from duban.ledger.migrate import alembic_config, downgrade, upgrade
from duban.ledger.models import AuditEntry, Occurrence
from duban.service import setup
from tests.support.ledger import LOADED_AT


def test_models_and_migrations_agree(db_url) -> None:
    """The same check as `alembic check`: autogenerate finds nothing to add."""
    db = Database(db_url)
    db.create_schema()
    command.check(alembic_config(db))
    db.dispose()


def test_upgrade_downgrade_upgrade_on_a_populated_ledger(make_context, db_url) -> None:
    ctx = make_context(db_url)
    setup(ctx, LOADED_AT)
    with ctx.db.session() as s:
        before = s.scalar(select(func.count()).select_from(Occurrence))
    assert before > 0
    # Step back one revision and forward again: data in tables the step keeps must survive.
    if _revisions() > 1:
        downgrade(ctx.db, "-1")
    upgrade(ctx.db, "head")
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Occurrence)) == before
        assert s.scalar(select(func.count()).select_from(AuditEntry)) > 0


def _revisions() -> int:
    from alembic.script import ScriptDirectory

    from duban.ledger.migrate import MIGRATIONS_DIR

    return len(list(ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()))
