"""Who may introspect, the scope catalogue, case-insensitive usernames, shared sign-in limits.

- ``clients.resource_servers`` / ``clients.introspect_any``: a client introspects only tokens
  meant for an API it serves, unless it was given the permission to see every token.
- ``scopes``: the server's scope catalogue (descriptions for the consent page, and which
  scopes the metadata publishes).
- ``users.username_key``: the NFKC + case-folded username, unique, so ``Alice`` and ``alice``
  cannot be two accounts. Existing rows get their key here; if two existing usernames
  already share one, the upgrade stops before changing anything and names them.
- ``login_failures``: failed sign-ins counted in the database, shared by every worker.

Revision ID: 0003
Revises: 0002
"""
import unicodedata
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

KEY_LENGTH = 255
CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _username_key(username):
    # Frozen copy of authserver.models.users.username_key: a migration must not change
    # meaning when the application code does.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


def _username_keys():
    """Each user's key, after checking that no two existing usernames share one."""
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String))
    rows = op.get_bind().execute(sa.select(users.c.id, users.c.username)).all()
    by_key = defaultdict(list)
    for _, username in rows:
        by_key[_username_key(username)].append(username)
    clashes = ["; ".join(repr(n) for n in sorted(names)) for names in by_key.values() if len(names) > 1]
    if clashes:
        raise RuntimeError(
            "These usernames differ only by case or Unicode form and would become the same "
            f"account: {' | '.join(clashes)}. Rename or delete all but one of each group "
            "(e.g. UPDATE users SET username = ... WHERE id = ...), then run the upgrade again."
        )
    too_long = [username for key, (username,) in by_key.items() if len(key) > KEY_LENGTH]
    if too_long:
        raise RuntimeError(f"These usernames are longer than {KEY_LENGTH} characters once normalised: {too_long!r}")
    return {user_id: _username_key(username) for user_id, username in rows}


def _unique_name():
    return "users_username_key_key" if op.get_bind().dialect.name == "postgresql" else "uq_users_username_key"


def upgrade():
    keys = _username_keys()  # before any change, so a refusal leaves the schema as it was

    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("username_key", sa.String(length=KEY_LENGTH), nullable=True))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username_key", sa.String))
    for user_id, key in keys.items():
        op.execute(users.update().where(users.c.id == user_id).values(username_key=key))
    with op.batch_alter_table("users", naming_convention=CONVENTION) as batch_op:
        batch_op.alter_column("username_key", existing_type=sa.String(length=KEY_LENGTH), nullable=False)
        batch_op.create_unique_constraint(_unique_name(), ["username_key"])

    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(sa.Column("resource_servers", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("introspect_any", sa.Boolean(), nullable=False, server_default=sa.false()))
    # The defaults only filled the existing rows; new rows get theirs from the models.
    with op.batch_alter_table("clients") as batch_op:
        batch_op.alter_column("resource_servers", existing_type=sa.JSON(), server_default=None)
        batch_op.alter_column("introspect_any", existing_type=sa.Boolean(), server_default=None)

    op.create_table(
        "scopes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "login_failures",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    op.create_index("ix_login_failures_window_start", "login_failures", ["window_start"])


def downgrade():
    op.drop_index("ix_login_failures_window_start", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_table("scopes")
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("introspect_any")
        batch_op.drop_column("resource_servers")
    with op.batch_alter_table("users", naming_convention=CONVENTION) as batch_op:
        batch_op.drop_constraint(_unique_name(), type_="unique")
        batch_op.drop_column("username_key")
