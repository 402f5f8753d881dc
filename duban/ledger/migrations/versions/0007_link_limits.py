"""link limits: how many acknowledgements and extension requests a link has made, and how many
item links a department link has opened (per-link limits of the report page)

Revision ID: 0007_link_limits
Revises: 0004_delivery_messages
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_link_limits"
down_revision = "0004_delivery_messages"
branch_labels = None
depends_on = None

COLUMNS = ("acks", "extension_requests", "links_minted")


def upgrade() -> None:
    # Plain ALTER TABLE: a batch copy would trip the foreign keys pointing at access_token.
    for name in COLUMNS:
        op.add_column("access_token", sa.Column(name, sa.Integer(), nullable=False,
                                                server_default="0"))


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_column("access_token", name)
