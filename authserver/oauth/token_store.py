"""Writing issued tokens: one entry point, and the path follows from the grant.

Tokens of a grant family (authorization code, refresh) commit in the session's transaction
together with the claim of the code or refresh token that allowed them: both or neither.
A lone token of no family (client credentials, the hot path) has nothing to commit with,
so it is one autocommitted INSERT on a pooled connection (``database.DirectInsert``): no
session, no unit of work, no BEGIN/COMMIT round trips. Both paths compile the same Core
INSERT with the same column types, so they store identical rows, and both raise
SQLAlchemy's exceptions (an outage is an ``OperationalError``, a vanished client an
``IntegrityError``).
"""

from __future__ import annotations

from sqlalchemy import insert

from ..database import DirectInsert
from ..extensions import db
from ..models import Token
from .tokens import Issued

TOKENS = Token.__table__
insert_standalone = DirectInsert(TOKENS)


def store_tokens(issued: Issued) -> None:
    if issued.context.family_id is None and len(issued.rows) == 1:
        insert_standalone(db.engine, issued.rows[0])
        return
    db.session.execute(insert(TOKENS), issued.rows)
    db.session.commit()
