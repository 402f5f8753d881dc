"""plan lifecycle: plan.state (draft | active | closed) replaces plan.active; plan.ladder_from
(urging of items already overdue counts from this day); plan.started_on (the first chased working
day, for the one start notice per department)

Plain ALTER TABLE ADD / DROP COLUMN, no batch rebuild: other tables point at plan, and SQLite
(foreign keys on) cannot drop and rebuild a referenced table inside the migration's transaction.

Revision ID: 0005_plan_lifecycle
Revises: 0007_link_limits
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_plan_lifecycle"
down_revision = "0007_link_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("plan", sa.Column("state", sa.String(length=16), nullable=False,
                                     server_default="active"))
    op.add_column("plan", sa.Column("ladder_from", sa.Date(), nullable=True))
    op.add_column("plan", sa.Column("started_on", sa.Date(), nullable=True))
    op.execute("UPDATE plan SET state = CASE WHEN active THEN 'active' ELSE 'closed' END")
    op.drop_column("plan", "active")


def downgrade() -> None:
    op.add_column("plan", sa.Column("active", sa.Boolean(), nullable=False,
                                     server_default=sa.true()))
    op.execute("UPDATE plan SET active = (state = 'active')")
    op.drop_column("plan", "started_on")
    op.drop_column("plan", "ladder_from")
    op.drop_column("plan", "state")
