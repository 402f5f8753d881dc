"""Ids people see are never reused: AUTOINCREMENT on SQLite for occurrence, report, digest and
extension_request (PostgreSQL's sequences already never go back).

Revision ID: 0010_never_reused_ids
Revises: 0003
"""

from alembic import op

revision = "0010_never_reused_ids"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("occurrence", "report", "digest", "extension_request")


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)
