"""The refusal every registration-like request shares: which field, and why."""

from __future__ import annotations


class InvalidField(ValueError):
    """``field`` is the field at fault as the request spells it (RFC 7591's names for client
    metadata); a front end names its own spelling of it, e.g. a command-line flag. ``error``
    is the RFC 6749-style code to answer with."""

    error = "invalid_request"

    def __init__(self, field: str, description: str) -> None:
        super().__init__(description)
        self.field = field
        self.description = description

    def to_json(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}
