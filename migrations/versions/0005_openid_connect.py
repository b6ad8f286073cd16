"""OpenID Connect: ID tokens carry the sign-in they come from, signed as the client registered.

- ``authorization_codes.sid`` / ``amr`` / ``nonce``: the session the code was made in (its
  public id and how the person authenticated; ``auth_time`` already exists and now holds the
  session's sign-in time) and the request's ``nonce``, echoed in the ID token.
- ``tokens.auth_time`` / ``sid`` / ``amr``: the same sign-in kept by every token of a grant
  family, so an ID token from a refresh states the original ``auth_time`` (OIDC Core §12.2).
  NULL for client credentials and for grants made before this revision (their refreshes get
  no ID token).
- ``clients.id_token_signed_response_alg``: RS256 (OIDC's default) for existing clients.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _sign_in_columns():
    return [
        sa.Column("sid", sa.String(length=32), nullable=True),
        sa.Column("amr", sa.JSON(none_as_null=True), nullable=True),
    ]


def upgrade():
    with op.batch_alter_table("authorization_codes") as batch_op:
        for column in _sign_in_columns():
            batch_op.add_column(column)
        batch_op.add_column(sa.Column("nonce", sa.Text(), nullable=True))
    with op.batch_alter_table("tokens") as batch_op:
        batch_op.add_column(sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True))
        for column in _sign_in_columns():
            batch_op.add_column(column)
    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(
            sa.Column("id_token_signed_response_alg", sa.String(length=10), nullable=False, server_default="RS256")
        )
    # The default only filled the existing rows; new rows get theirs from the models.
    with op.batch_alter_table("clients") as batch_op:
        batch_op.alter_column("id_token_signed_response_alg", existing_type=sa.String(length=10), server_default=None)


def downgrade():
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("id_token_signed_response_alg")
    with op.batch_alter_table("tokens") as batch_op:
        batch_op.drop_column("amr")
        batch_op.drop_column("sid")
        batch_op.drop_column("auth_time")
    with op.batch_alter_table("authorization_codes") as batch_op:
        batch_op.drop_column("nonce")
        batch_op.drop_column("amr")
        batch_op.drop_column("sid")
