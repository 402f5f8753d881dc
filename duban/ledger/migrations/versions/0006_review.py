"""review: the office's 审核 (accept 销号 / return 退回) of closing reports, the plan's
review_required setting, an occurrence's latest return, and the 督办通报 numbering

Revision ID: 0006_review
Revises: 0010_never_reused_ids
"""
import sqlalchemy as sa
from alembic import op

import duban.ledger.models

revision = "0006_review"
down_revision = "0010_never_reused_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 adds and drops columns in place): a batch copy of these
    # tables would trip the foreign keys pointing at them.
    op.add_column("plan", sa.Column("review_required", sa.Boolean(), nullable=False,
                                    server_default=sa.true()))
    op.add_column("occurrence", sa.Column("returned_on", sa.Date(), nullable=True))
    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.String(length=100), nullable=False),
        sa.Column("via", sa.String(length=100), nullable=False),
        sa.Column("due_before", sa.Date(), nullable=False),
        sa.Column("due_after", sa.Date(), nullable=False),
        sa.Column("at", duban.ledger.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["occurrence_id"], ["occurrence.id"]),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_occurrence_id"), ["occurrence_id"],
                              unique=False)
    op.create_table(
        "bulletin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_key", sa.String(length=64), nullable=False),
        sa.Column("no", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("created_at", duban.ledger.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_key", "no"),
        sa.UniqueConstraint("plan_key", "period_end"),
    )


def downgrade() -> None:
    op.drop_table("bulletin")
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_occurrence_id"))
    op.drop_table("review")
    op.drop_column("occurrence", "returned_on")
    op.drop_column("plan", "review_required")
