"""Records as the command line prints them (and tests read them)."""

from __future__ import annotations

from typing import Any


def record(identity: dict[str, Any], secret_name: str, secret: str | None, fields: dict[str, Any]) -> dict[str, Any]:
    """Identity first, then the secret when it was just made (it is shown once), then the rest."""
    shown = {secret_name: secret} if secret is not None else {}
    return {**identity, **shown, **fields}
