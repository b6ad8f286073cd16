"""Tokens, authorization codes and audit events partitioned by day on PostgreSQL.

Each of the three tables becomes range-partitioned by the UTC day its rows end on
(``expires_at``; ``occurred_at`` for audit events), so ``tokens purge`` and ``audit purge``
drop whole days instead of deleting rows (``authserver/partitions.py``). A partitioned
table's unique indexes must hold its partition key, so ``token_hash``, ``jti`` and
``code_hash`` are now plain indexes: their values are 256-bit secrets' hashes and
UUIDv7s with 74 random bits, unique by construction. Ids become 64-bit.

The upgrade copies every live row (codes and tokens not yet expired, and every audit
event) into the new table and drops the old one, in one transaction: live tokens keep
working, expired ones are what a purge would have removed. It holds an exclusive lock on
the three tables while it copies, for a time that grows with the live rows
(docs/how-to/operate.md, "Day partitions"). SQLite keeps plain tables and only trades the unique indexes.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# SQLite leaves 0001's UNIQUE constraint on code_hash unnamed; batch mode names it so.
CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
DAYS_AHEAD = {"tokens": 16, "authorization_codes": 2, "audit_events": 2}


def _not_null(column):
    return sa.text(f"{column} IS NOT NULL")


# Per table: the partition key, rows kept by the copy, foreign keys, and the indexes (name,
# columns, partial) that the models describe.
TABLES = {
    "tokens": ("expires_at", "expires_at > now()", ["client_pk", "user_id"], [
        ("ix_tokens_token_hash", ["token_hash"], True), ("ix_tokens_jti", ["jti"], True),
        ("ix_tokens_family_id", ["family_id"], True), ("ix_tokens_user_id", ["user_id"], True),
        ("ix_tokens_client_pk", ["client_pk"], False), ("ix_tokens_expires_at", ["expires_at"], False)]),
    "authorization_codes": ("expires_at", "expires_at > now()", ["client_pk", "user_id"], [
        ("ix_authorization_codes_code_hash", ["code_hash"], False),
        ("ix_authorization_codes_expires_at", ["expires_at"], False)]),
    "audit_events": ("occurred_at", "true", [], [
        ("ix_audit_events_occurred_at", ["occurred_at"], False),
        ("ix_audit_events_username", ["username", "occurred_at"], False),
        ("ix_audit_events_client_id", ["client_id", "occurred_at"], False)]),
}
PARENT = {"client_pk": "clients", "user_id": "users"}


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table, (key, kept, foreign, indexes) in TABLES.items():
            _partition(table, key, kept, foreign, indexes)
        return
    op.drop_index("uq_tokens_token_hash", "tokens")
    op.drop_index("uq_tokens_jti", "tokens")
    for column in ("token_hash", "jti"):
        op.create_index(f"ix_tokens_{column}", "tokens", [column], sqlite_where=_not_null(column))
    with op.batch_alter_table("authorization_codes", naming_convention=CONVENTION) as batch_op:
        batch_op.drop_constraint("uq_authorization_codes_code_hash", type_="unique")
        batch_op.create_index("ix_authorization_codes_code_hash", ["code_hash"])


def _partition(table, key, kept, foreign, indexes):
    new = f"{table}_partitioned"
    op.execute(f"CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS) PARTITION BY RANGE ({key})")
    op.execute(f"ALTER TABLE {new} ALTER COLUMN id TYPE bigint")
    op.execute(f"CREATE TABLE {table}_default PARTITION OF {new} DEFAULT")
    op.execute(f"""
        DO $$
        DECLARE
          today date := (now() AT TIME ZONE 'UTC')::date;
          day date;
        BEGIN
          FOR day IN SELECT generate_series(today, today + {DAYS_AHEAD[table]}, '1 day')::date LOOP
            EXECUTE format('CREATE TABLE %I PARTITION OF {new} FOR VALUES FROM (%L) TO (%L)',
                           '{table}_p' || to_char(day, 'YYYYMMDD'),
                           day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
          END LOOP;
        END $$""")
    op.execute(f"INSERT INTO {new} SELECT * FROM {table} WHERE {kept}")
    op.execute(f"ALTER SEQUENCE {table}_id_seq AS bigint OWNED BY {new}.id")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {new} RENAME TO {table}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id, {key})")
    for column in foreign:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_fkey FOREIGN KEY ({column}) "
                   f"REFERENCES {PARENT[column]} (id) ON DELETE CASCADE")
    for name, columns, partial in indexes:
        op.create_index(name, table, columns, postgresql_where=_not_null(columns[0]) if partial else None)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table, (_key, _kept, foreign, indexes) in TABLES.items():
            _unpartition(table, foreign, indexes)
        return
    with op.batch_alter_table("authorization_codes", naming_convention=CONVENTION) as batch_op:
        batch_op.drop_index("ix_authorization_codes_code_hash")
        batch_op.create_unique_constraint("uq_authorization_codes_code_hash", ["code_hash"])
    for column in ("token_hash", "jti"):
        op.drop_index(f"ix_tokens_{column}", "tokens")
        op.create_index(f"uq_tokens_{column}", "tokens", [column], unique=True, sqlite_where=_not_null(column))


def _unpartition(table, foreign, indexes):
    """Back to one plain table holding every row, with 0011's unique indexes."""
    old = f"{table}_plain"
    op.execute(f"CREATE TABLE {old} (LIKE {table} INCLUDING DEFAULTS)")
    op.execute(f"INSERT INTO {old} SELECT * FROM {table}")
    op.execute(f"ALTER TABLE {old} ALTER COLUMN id TYPE integer")
    op.execute(f"ALTER SEQUENCE {table}_id_seq AS integer OWNED BY {old}.id")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {old} RENAME TO {table}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id)")
    for column in foreign:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_fkey FOREIGN KEY ({column}) "
                   f"REFERENCES {PARENT[column]} (id) ON DELETE CASCADE")
    unique = {"ix_tokens_token_hash": "uq_tokens_token_hash", "ix_tokens_jti": "uq_tokens_jti"}
    for name, columns, partial in indexes:
        if name == "ix_authorization_codes_code_hash":
            op.execute("ALTER TABLE authorization_codes ADD CONSTRAINT authorization_codes_code_hash_key "
                       "UNIQUE (code_hash)")
            continue
        op.create_index(unique.get(name, name), table, columns, unique=name in unique,
                        postgresql_where=_not_null(columns[0]) if partial else None)
