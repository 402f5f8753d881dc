"""rate parts and baselines: a rate or an average is reported as its numerator and denominator
(report.numerator / report.denominator, both null on a single-value report) and the target says
what they count (target.numerator_label / target.denominator_label); a target's progress may be
expected from a configured baseline (target.baseline_on / target.baseline_value)

Plain ALTER TABLE ADD COLUMN (nullable), no batch rebuild: other tables point at both.

Revision ID: 0011_rate_parts
Revises: 0005_plan_lifecycle
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_rate_parts"
down_revision = "0005_plan_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("target", sa.Column("numerator_label", sa.String(length=100), nullable=True))
    op.add_column("target", sa.Column("denominator_label", sa.String(length=100), nullable=True))
    op.add_column("target", sa.Column("baseline_on", sa.Date(), nullable=True))
    op.add_column("target", sa.Column("baseline_value", sa.Float(), nullable=True))
    op.add_column("report", sa.Column("numerator", sa.Float(), nullable=True))
    op.add_column("report", sa.Column("denominator", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("report", "denominator")
    op.drop_column("report", "numerator")
    op.drop_column("target", "baseline_value")
    op.drop_column("target", "baseline_on")
    op.drop_column("target", "denominator_label")
    op.drop_column("target", "numerator_label")
