"""Clients that register themselves, and clients that authenticate with a key.

- ``clients.jwks`` / ``clients.jwks_uri``: the public keys of a private_key_jwt client
  (RFC 7523 §2.2), inline or by https URL (RFC 7591 §2).
- ``clients.registered_by``: ``admin`` (the command line; every existing client) or ``self``
  (RFC 7591 over HTTP).
- ``clients.registration_token_hash``: the keyed hash of a self-registered client's RFC 7592
  registration access token.
- ``registration_tokens``: initial access tokens (RFC 7591 §3), hashed, with expiry and uses.
- ``used_assertions``: the (client, jti) of client assertions until they expire (replays).
- ``registration_attempts``: registration requests per client address (the rate limit).

Revision ID: 0008
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(sa.Column("jwks", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("jwks_uri", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("registered_by", sa.String(length=20), nullable=False, server_default="admin"))
        batch_op.add_column(sa.Column("registration_token_hash", sa.String(length=64), nullable=True))
    # The default only filled the existing rows; new rows get theirs from the model.
    with op.batch_alter_table("clients") as batch_op:
        batch_op.alter_column("registered_by", existing_type=sa.String(length=20), server_default=None)

    op.create_table(
        "registration_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "used_assertions",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    op.create_index("ix_used_assertions_expires_at", "used_assertions", ["expires_at"])
    op.create_table(
        "registration_attempts",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    op.create_index("ix_registration_attempts_window_start", "registration_attempts", ["window_start"])


def downgrade():
    op.drop_index("ix_registration_attempts_window_start", table_name="registration_attempts")
    op.drop_table("registration_attempts")
    op.drop_index("ix_used_assertions_expires_at", table_name="used_assertions")
    op.drop_table("used_assertions")
    op.drop_table("registration_tokens")
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("registration_token_hash")
        batch_op.drop_column("registered_by")
        batch_op.drop_column("jwks_uri")
        batch_op.drop_column("jwks")
