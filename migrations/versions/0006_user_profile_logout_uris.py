"""OpenID Connect profile claims for users, and where clients may send people after logout.

- ``users.email``, ``users.email_verified``, ``users.name``: the ``email`` and ``profile``
  claims UserInfo answers with (OpenID Connect Core §5.1). ``users.updated_at``: when those
  last changed (the ``updated_at`` claim); existing users get their creation time.
- ``clients.post_logout_redirect_uris``: RP-Initiated Logout 1.0's registered URIs; a
  logout request may only be redirected to one of them, exactly. Existing clients get none.

Revision ID: 0006
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("email_verified", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    users = sa.table("users", sa.column("created_at", sa.DateTime(timezone=True)),
                     sa.column("updated_at", sa.DateTime(timezone=True)))
    op.execute(users.update().values(updated_at=users.c.created_at))
    # The defaults only filled the existing rows; new rows get theirs from the models.
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("email_verified", existing_type=sa.Boolean(), server_default=None)
        batch_op.alter_column("updated_at", existing_type=sa.DateTime(timezone=True), nullable=False)

    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("clients") as batch_op:
        batch_op.alter_column("post_logout_redirect_uris", existing_type=sa.JSON(), server_default=None)


def downgrade():
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("post_logout_redirect_uris")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("name")
        batch_op.drop_column("email_verified")
        batch_op.drop_column("email")
