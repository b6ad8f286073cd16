"""Token indexes: partial where most rows hold NULL, and on the foreign keys.

Every issued token writes one entry per index. A JWT access token has no ``token_hash``, a
refresh token no ``jti``, and a client-credentials token no ``family_id``; indexing only the
rows that have a value keeps those writes (and the indexes) smaller, and lookups by value
still use them. ``client_pk`` and ``user_id`` get the indexes that revoking by client or
user, and deleting either, need on PostgreSQL so as not to scan every token.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# SQLite leaves 0001's UNIQUE constraints unnamed; batch mode names them by this convention.
CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
PARTIAL = {
    "uq_tokens_token_hash": ("token_hash", True),
    "uq_tokens_jti": ("jti", True),
    "ix_tokens_family_id": ("family_id", False),
    "ix_tokens_user_id": ("user_id", False),
}


def _unique_constraint_names() -> tuple[str, str]:
    if op.get_bind().dialect.name == "postgresql":
        return "tokens_token_hash_key", "tokens_jti_key"
    return "uq_tokens_token_hash", "uq_tokens_jti"


def upgrade():
    with op.batch_alter_table("tokens", naming_convention=CONVENTION) as batch_op:
        for name in _unique_constraint_names():
            batch_op.drop_constraint(name, type_="unique")
        batch_op.drop_index("ix_tokens_family_id")
    with op.batch_alter_table("tokens") as batch_op:
        for name, (column, unique) in PARTIAL.items():
            where = sa.text(f"{column} IS NOT NULL")
            batch_op.create_index(name, [column], unique=unique, sqlite_where=where, postgresql_where=where)
        batch_op.create_index("ix_tokens_client_pk", ["client_pk"])


def downgrade():
    with op.batch_alter_table("tokens") as batch_op:
        for name in (*PARTIAL, "ix_tokens_client_pk"):
            batch_op.drop_index(name)
    token_hash, jti = _unique_constraint_names()
    with op.batch_alter_table("tokens", naming_convention=CONVENTION) as batch_op:
        batch_op.create_unique_constraint(token_hash, ["token_hash"])
        batch_op.create_unique_constraint(jti, ["jti"])
        batch_op.create_index("ix_tokens_family_id", ["family_id"])
