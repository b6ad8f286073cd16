"""The scope catalogue: descriptions people read on the consent page, and the scopes the
server publishes in its metadata. Clients may still be registered with any scope; the
catalogue only says what a scope means and whether strangers may learn that it exists."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Scope

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,200}")


class CatalogueError(ValueError):
    """A catalogue change that cannot be made as asked."""


def check_scope_name(name: str) -> str:
    if not SCOPE_TOKEN.fullmatch(name):
        raise CatalogueError(
            f"scope {name!r} is not a scope token (RFC 6749 §3.3): 1 to 200 printable ASCII characters, "
            'no spaces, no " and no \\'
        )
    return name


def find_scope(name: str) -> Scope | None:
    return db.session.scalar(select(Scope).where(Scope.name == name))


def create_scope(name: str, description: str = "", public: bool = False) -> Scope:
    scope = Scope(name=check_scope_name(name), description=description.strip(), public=public)
    db.session.add(scope)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise CatalogueError(f"scope {name!r} is already in the catalogue") from None
    return scope


def update_scope(scope: Scope, description: str | None = None, public: bool | None = None) -> None:
    """Change what is given; ``None`` leaves that part as it is."""
    if description is not None:
        scope.description = description.strip()
    if public is not None:
        scope.public = public
    db.session.commit()


def published_scopes() -> list[str]:
    """What ``scopes_supported`` lists (RFC 8414 §2): only the scopes published on purpose."""
    return list(db.session.scalars(select(Scope.name).where(Scope.public.is_(True)).order_by(Scope.name)))


def descriptions(names: list[str]) -> dict[str, str]:
    """The catalogued descriptions of ``names``; a scope without one is left out."""
    if not names:
        return {}
    query = select(Scope.name, Scope.description).where(Scope.name.in_(names), Scope.description != "")
    return {name: description for name, description in db.session.execute(query)}


def scope_record(scope: Scope) -> dict[str, Any]:
    return {"name": scope.name, "description": scope.description, "public": scope.public,
            "created_at": scope.created_at, "updated_at": scope.updated_at}
