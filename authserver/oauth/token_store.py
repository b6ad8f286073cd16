"""Writing issued tokens: one entry point, and the path follows from the grant.

Tokens of a grant family (authorization code, refresh) commit in the session's transaction
together with the claim of the code or refresh token that allowed them: both or neither.
A lone token of no family (client credentials, the hot path) has nothing to commit with,
so it is one autocommitted INSERT on a pooled connection (``database.DirectInsert``): no
session, no unit of work, no BEGIN/COMMIT round trips. Both paths compile the same Core
INSERT with the same column types, so they store identical rows, and both raise
SQLAlchemy's exceptions (an outage is an ``OperationalError``, a vanished client an
``IntegrityError``).

That lone row is an access token, and only it may commit asynchronously on PostgreSQL
(unless ``durable_access_tokens``): losing it in a database crash fails closed, since an
unknown opaque token is inactive and a JWT without its row verifies offline until ``exp``
as a revoked one does. Every other write waits for its WAL flush.
"""

from __future__ import annotations

from sqlalchemy import insert

from ..config import Settings
from ..database import DirectInsert
from ..extensions import db
from ..models import Token
from ..models.tokens import ACCESS
from .tokens import Issued

TOKENS = Token.__table__
insert_standalone = DirectInsert(TOKENS)


def is_standalone(issued: Issued) -> bool:
    """A lone token of no family: client credentials, one autocommitted INSERT."""
    return issued.context.family_id is None and len(issued.rows) == 1


def store_tokens(issued: Issued, settings: Settings) -> None:
    """Given the settings by its caller, not the app's global state: the token service's
    own (``durable_access_tokens`` chooses the commit)."""
    if is_standalone(issued):
        row = issued.rows[0]
        may_lose = row["kind"] == ACCESS and not settings.durable_access_tokens
        insert_standalone(db.engine, row, asynchronous_commit=may_lose)
        return
    db.session.execute(insert(TOKENS), issued.rows)
    db.session.commit()
