"""Protected resources, and clients that register themselves by a metadata document.

- ``protected_resources``: the APIs this server issues tokens for, by RFC 8707 resource
  indicator (``uri``), with a name for the consent page and the scopes a client that
  registered itself may ask for.
- ``clients.client_id`` grows from 64 to 2048 characters: a Client ID Metadata Document
  client is named by the URL of its document.
- ``clients.document_expires_at``: set for such a client; its document is fetched again
  once this passes. NULL for every client registered before.

Revision ID: 0009
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "protected_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uri", sa.String(length=2048), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uri"),
    )
    with op.batch_alter_table("clients") as batch_op:
        batch_op.alter_column("client_id", existing_type=sa.String(length=64), type_=sa.String(length=2048),
                              existing_nullable=False)
        batch_op.add_column(sa.Column("document_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    # Clients named by a URL cannot fit the old column: they go, with their codes and tokens.
    op.execute(sa.text("DELETE FROM clients WHERE document_expires_at IS NOT NULL"))
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("document_expires_at")
        batch_op.alter_column("client_id", existing_type=sa.String(length=2048), type_=sa.String(length=64),
                              existing_nullable=False)
    op.drop_table("protected_resources")
