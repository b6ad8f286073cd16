"""The audit trail.

- ``audit_events``: one row per security-relevant event, by time, user name and client id.
- ``tokens.remote_addr`` and ``tokens.request_id``: where a token request came from, so a
  client-credentials token's row is its own ``token.issued`` event. NULL for tokens issued
  before; both are nullable columns without a default, which PostgreSQL adds without
  rewriting the table.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=20), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=True),
        sa.Column("client_id", sa.String(length=2048), nullable=True),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_events_occurred_at", "audit_events", ["occurred_at"])
    op.create_index("ix_audit_events_username", "audit_events", ["username", "occurred_at"])
    op.create_index("ix_audit_events_client_id", "audit_events", ["client_id", "occurred_at"])
    op.add_column("tokens", sa.Column("remote_addr", sa.String(length=64), nullable=True))
    op.add_column("tokens", sa.Column("request_id", sa.String(length=128), nullable=True))


def downgrade():
    with op.batch_alter_table("tokens") as batch_op:
        batch_op.drop_column("request_id")
        batch_op.drop_column("remote_addr")
    op.drop_table("audit_events")
