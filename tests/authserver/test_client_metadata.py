"""ClientMetadata: the one shape a registration takes, from the command line or RFC 7591 JSON."""

from __future__ import annotations

from typing import Any

import pytest

from authserver.clients.metadata import ClientMetadata, InvalidClientMetadata, InvalidRedirectURI

WEB_APP = {
    "client_name": "Reports web",
    "grant_types": ["authorization_code", "refresh_token"],
    "redirect_uris": ["https://app.example/cb"],
    "scope": "reports:read reports:write",
    "token_endpoint_auth_method": "client_secret_post",
}


def test_from_json_reads_rfc_7591_fields_and_ignores_unknown_ones() -> None:
    metadata = ClientMetadata.from_json({**WEB_APP, "logo_uri": "https://app.example/logo.png", "x-vendor": 1})
    assert metadata.client_name == "Reports web"
    assert metadata.grant_types == ("authorization_code", "refresh_token")
    assert metadata.response_types == ("code",)  # derived (RFC 7591 §2.1)
    assert metadata.token_endpoint_auth_method == "client_secret_post"
    assert not hasattr(metadata, "logo_uri")


def test_to_json_and_back_is_the_same_value() -> None:
    metadata = ClientMetadata.from_json({**WEB_APP, "audiences": ["https://api.example"], "require_pkce": False})
    document = metadata.to_json()
    assert document["grant_types"] == ["authorization_code", "refresh_token"]
    assert document["response_types"] == ["code"] and document["audiences"] == ["https://api.example"]
    assert "access_token_format" not in document  # unset: the server's setting applies
    assert ClientMetadata.from_json(document) == metadata


def test_rfc_7591_defaults_apply_when_fields_are_absent() -> None:
    metadata = ClientMetadata.from_json({"client_name": "x", "redirect_uris": ["https://app.example/cb"]})
    assert metadata.grant_types == ("authorization_code",)
    assert metadata.token_endpoint_auth_method == "client_secret_basic"


@pytest.mark.parametrize(
    "field, value",
    [
        ("client_name", 7),
        ("grant_types", "authorization_code"),  # a string, not an array
        ("redirect_uris", [1]),
        ("scope", ["reports:read"]),
        ("introspect_any", "true"),
        ("require_pkce", 0),
        ("access_token_format", 1),
    ],
)
def test_from_json_refuses_wrong_types_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(InvalidClientMetadata) as raised:
        ClientMetadata.from_json({**WEB_APP, field: value})
    assert raised.value.field == field and raised.value.error == "invalid_client_metadata"
    assert raised.value.to_json()["error_description"]


@pytest.mark.parametrize(
    "changes, error, field",
    [
        ({"redirect_uris": []}, "invalid_redirect_uri", "redirect_uris"),
        ({"redirect_uris": ["http://evil.example/cb"]}, "invalid_redirect_uri", "redirect_uris"),
        ({"redirect_uris": ["https://app.example/cb#x"]}, "invalid_redirect_uri", "redirect_uris"),
        ({"grant_types": ["refresh_token"]}, "invalid_client_metadata", "grant_types"),
        ({"grant_types": ["password"]}, "invalid_client_metadata", "grant_types"),
        ({"response_types": ["token"]}, "invalid_client_metadata", "response_types"),
        ({"token_endpoint_auth_method": "client_secret_jwt"}, "invalid_client_metadata", "token_endpoint_auth_method"),
        ({"client_name": "  "}, "invalid_client_metadata", "client_name"),
        ({"access_token_format": "paseto"}, "invalid_client_metadata", "access_token_format"),
        ({"resource_servers": ["https://a b"]}, "invalid_client_metadata", "resource_servers"),
        ({"token_endpoint_auth_method": "none", "introspect_any": True}, "invalid_client_metadata", "introspect_any"),
        ({"token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]},
         "invalid_client_metadata", "grant_types"),
    ],
)
def test_refusals_carry_the_rfc_7591_code_and_field(changes: dict[str, Any], error: str, field: str) -> None:
    with pytest.raises(InvalidClientMetadata) as raised:
        ClientMetadata.from_json({**WEB_APP, **changes})
    assert (raised.value.error, raised.value.field) == (error, field)
    assert isinstance(raised.value, InvalidRedirectURI) == (error == "invalid_redirect_uri")


def test_values_are_normalised_and_a_public_client_always_uses_pkce() -> None:
    metadata = ClientMetadata(
        client_name=" CLI ", grant_types=("authorization_code", "authorization_code"),
        redirect_uris=("http://127.0.0.1/cb",), scope="a b a", token_endpoint_auth_method="none", require_pkce=False,
    )
    assert metadata.client_name == "CLI" and metadata.grant_types == ("authorization_code",)
    assert metadata.scope == "a b" and metadata.require_pkce is True and metadata.is_public
