"""Review Board API-token policies and method-derived scopes, as tables of cases."""

from __future__ import annotations

from typing import Any

import pytest

from resource_guard.policy import policy_allows, scope_for, validate_policy

READ_ONLY = {"resources": {"*": {"allow": ["GET", "HEAD", "OPTIONS"], "block": ["*"]}}}
REPORTS_ONLY = {"resources": {"*": {"block": ["*"]}, "reports": {"*": {"allow": ["*"]}}}}
ITEM_RULES = {"resources": {
    "*": {"allow": ["*"]},
    "reports": {"*": {"block": ["DELETE"]}, "42": {"allow": ["DELETE"], "block": ["PUT"]}},
}}
NO_OPINION: dict[str, Any] = {"resources": {"reports": {"*": {"allow": [], "block": []}}}}
METHOD_BEATS_WILDCARD = {"resources": {"*": {"allow": ["*"], "block": ["POST"]},
                                       "files": {"*": {"allow": ["GET"], "block": ["*"]}}}}


@pytest.mark.parametrize(("policy", "method", "resource", "item", "allowed"), [
    (None, "DELETE", "reports", None, True),
    ({}, "DELETE", "reports", None, True),
    ({"resources": {}}, "POST", "reports", None, True),
    (READ_ONLY, "GET", "reports", None, True),
    (READ_ONLY, "get", "reports", None, True),
    (READ_ONLY, "POST", "reports", None, False),
    (READ_ONLY, "DELETE", None, None, False),
    (REPORTS_ONLY, "DELETE", "reports", "7", True),
    (REPORTS_ONLY, "GET", "users", None, False),
    (REPORTS_ONLY, "GET", None, None, False),
    (ITEM_RULES, "DELETE", "reports", "42", True),     # item section wins
    (ITEM_RULES, "PUT", "reports", "42", False),
    (ITEM_RULES, "DELETE", "reports", "41", False),    # resource "*" section
    (ITEM_RULES, "PUT", "reports", "41", True),        # falls to global "*"
    (ITEM_RULES, "DELETE", "users", None, True),
    (NO_OPINION, "DELETE", "reports", None, True),     # nothing matched: allowed
    (METHOD_BEATS_WILDCARD, "POST", "reports", None, False),  # method in block first
    (METHOD_BEATS_WILDCARD, "GET", "files", None, True),      # method in allow before * block
    (METHOD_BEATS_WILDCARD, "PUT", "files", None, False),     # * in block
    ({"resources": {"*": {"allow": ["GET"], "block": ["GET"]}}}, "GET", None, None, False),
])
def test_policy_table(policy: dict[str, Any] | None, method: str, resource: str | None,
                      item: str | None, allowed: bool) -> None:
    assert policy_allows(policy, method, resource, item) is allowed


@pytest.mark.parametrize("policy", [
    [], "GET", {"resources": []}, {"resources": {"*": ["GET"]}},
    {"resources": {"reports": {"*": {"allow": "GET"}}}},
    {"resources": {"reports": {"*": {"permit": ["GET"]}}}},
    {"resources": {"reports": ["GET"]}},
])
def test_malformed_policies_deny_everything_and_fail_validation(policy: Any) -> None:
    assert policy_allows(policy, "GET", "reports") is False
    with pytest.raises(ValueError):
        validate_policy(policy)


def test_well_formed_policies_validate() -> None:
    for policy in (READ_ONLY, REPORTS_ONLY, ITEM_RULES, NO_OPINION, {}):
        validate_policy(policy)


@pytest.mark.parametrize(("method", "scope"), [
    ("GET", "reports:read"), ("HEAD", "reports:read"), ("OPTIONS", "reports:read"),
    ("POST", "reports:write"), ("PUT", "reports:write"), ("PATCH", "reports:write"),
    ("DELETE", "reports:destroy"), ("delete", "reports:destroy"), ("PURGE", "reports:write"),
])
def test_method_derived_scopes(method: str, scope: str) -> None:
    assert scope_for("reports", method) == scope
