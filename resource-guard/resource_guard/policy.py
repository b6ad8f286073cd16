"""What an authenticated principal may do: scopes and Review Board API-token policies.

Method-derived scopes follow Djblets' OAuth2 scopes (``<resource>:read|write|destroy``). The
policy format is Review Board's API-token policy::

    {"resources": {"*": {"allow": ["GET"], "block": ["*"]},
                   "reports": {"*": {...}, "<item id>": {...}}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ACTIONS = {
    "GET": "read", "HEAD": "read", "OPTIONS": "read",
    "POST": "write", "PUT": "write", "PATCH": "write",
    "DELETE": "destroy",
}


def scope_for(resource: str, method: str) -> str:
    """The scope a request needs on ``resource``: ``reports:read`` for ``GET``, and so on.

    Methods outside the table need ``<resource>:write``: an unknown method is assumed to change
    state rather than risk treating it as a read.
    """
    return f"{resource}:{_ACTIONS.get(method.upper(), 'write')}"


def _section_decision(section: object, method: str) -> bool | None:
    """Apply one ``{"allow": [...], "block": [...]}`` section; None means "no opinion"."""
    if not isinstance(section, Mapping):
        return None
    allow = {m.upper() for m in section.get("allow") or ()}
    block = {m.upper() for m in section.get("block") or ()}
    if method in block:
        return False
    if method in allow:
        return True
    if "*" in block:
        return False
    if "*" in allow:
        return True
    return None


def policy_allows(policy: Mapping[str, Any] | None, method: str, resource: str | None,
                  item_id: str | None = None) -> bool:
    """Evaluate a Review Board policy for one request.

    Sections are consulted from the most to the least specific: the item (``resources[name]
    [id]``), the resource (``resources[name]["*"]``), then the global ``resources["*"]``. The
    first section with an opinion decides; when none has one the request is allowed. A policy
    whose shape is wrong denies everything (fail closed), since it cannot be what was meant.
    An endpoint without a resource name is checked against the global section only.
    """
    if policy is None:
        return True
    if policy_problems(policy):
        return False
    resources: Mapping[str, Any] = policy.get("resources") or {}
    method = method.upper()
    sections: list[object] = []
    if resource is not None:
        per_resource = resources.get(resource)
        if isinstance(per_resource, Mapping):
            if item_id is not None:
                sections.append(per_resource.get(str(item_id)))
            sections.append(per_resource.get("*"))
    sections.append(resources.get("*"))
    for section in sections:
        decision = _section_decision(section, method)
        if decision is not None:
            return decision
    return True


def validate_policy(policy: object) -> None:
    """Raise ValueError saying what is wrong with a policy document, if anything.

    Call it when a token is created, so a bad policy is refused then rather than denying
    every request later.
    """
    problems = policy_problems(policy)
    if problems:
        raise ValueError(" ".join(problems))


def policy_problems(policy: object) -> list[str]:
    """What is wrong with a policy document (empty when it is well formed)."""
    if not isinstance(policy, Mapping):
        return ["The policy must be a JSON object."]
    resources = policy.get("resources", {})
    if not isinstance(resources, Mapping):
        return ['"resources" must be an object.']
    problems: list[str] = []
    for name, value in resources.items():
        if name == "*":
            problems += _section_problems(value, '"resources"."*"')
            continue
        if not isinstance(value, Mapping):
            problems.append(f'"resources"."{name}" must be an object.')
            continue
        for key, section in value.items():
            problems += _section_problems(section, f'"resources"."{name}"."{key}"')
    return problems


def _section_problems(section: object, where: str) -> list[str]:
    if not isinstance(section, Mapping):
        return [f"{where} must be an object."]
    problems = [f'{where} has unknown key "{key}".' for key in section if key not in
                ("allow", "block")]
    for key in ("allow", "block"):
        methods = section.get(key, [])
        if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
            problems.append(f'{where}."{key}" must be a list of HTTP methods.')
    return problems
