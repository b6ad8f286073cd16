"""Metadata-document clients no longer store a copy of the resource registry.

Before, such a client's ``clients.audiences`` held the protected resources registered when
its document was last read: derived state, stale as soon as a resource changed. Which
resources a self-registered client may ask for is now read from the registry at token time,
so the copies are emptied. Downgrading leaves them empty: the next fetch of each document
(at most ``MAX_CACHE_SECONDS`` later) is all an older version needed to fill them again.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

clients = sa.table("clients", sa.column("audiences", sa.JSON), sa.column("registered_by", sa.String))


def upgrade():
    op.execute(clients.update().where(clients.c.registered_by == "document").values(audiences=[]))


def downgrade():
    pass
