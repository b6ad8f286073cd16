"""Back-Channel Logout 1.0.

- ``clients.backchannel_logout_uri`` and ``clients.backchannel_logout_session_required``
  (the OpenID registration names).
- ``session_clients``: which clients each session signed the person in to.
- ``backchannel_logouts``: the outbox of logout tokens owed to clients for ended sessions,
  with their delivery attempts; the partial index covers only undelivered rows.

Revision ID: 0007
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("backchannel_logout_uri", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("backchannel_logout_session_required", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("clients") as batch:
        batch.alter_column("backchannel_logout_session_required", server_default=None)
    op.create_table(
        "session_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["client_pk"], ["clients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "client_pk", name="uq_session_clients_session_client"),
    )
    op.create_table(
        "backchannel_logouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jti", sa.String(length=36), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("sid", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(["client_pk"], ["clients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("jti"),
    )
    due = sa.text("finished_at IS NULL")
    op.create_index("ix_backchannel_logouts_due", "backchannel_logouts", ["next_attempt_at"],
                    sqlite_where=due, postgresql_where=due)


def downgrade():
    op.drop_index("ix_backchannel_logouts_due", table_name="backchannel_logouts")
    op.drop_table("backchannel_logouts")
    op.drop_table("session_clients")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("backchannel_logout_session_required")
        batch.drop_column("backchannel_logout_uri")
