"""Settings precedence: defaults < TOML file < environment < explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from authserver.config import ConfigError, load_settings
from authserver.oauth.names import DynamicRegistration, GrantType, SigningAlg, TokenFormat


def test_defaults_give_sqlite_under_the_instance_and_a_generated_secret(tmp_path: Path) -> None:
    settings = load_settings(environ={"AUTHSERVER_INSTANCE_PATH": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'authserver.sqlite3'}"
    assert settings.issuer == "http://127.0.0.1:5000" and (settings.host, settings.port) == ("127.0.0.1", 5000)
    assert settings.access_token_format == "jwt"
    secret_file = tmp_path / "secret_key"
    assert secret_file.read_text() == settings.secret_key
    assert secret_file.stat().st_mode & 0o077 == 0
    # generated once: a second load reuses it
    assert load_settings(environ={"AUTHSERVER_INSTANCE_PATH": str(tmp_path)}).secret_key == settings.secret_key


def test_file_then_environment_override_defaults(tmp_path: Path) -> None:
    conf = tmp_path / "authserver.toml"
    conf.write_text('issuer = "https://file.example/"\naccess_token_ttl = 120\naccess_token_format = "opaque"\n')
    env = {
        "AUTHSERVER_CONFIG": str(conf),
        "AUTHSERVER_INSTANCE_PATH": str(tmp_path),
        "AUTHSERVER_ACCESS_TOKEN_TTL": "60",
    }
    settings = load_settings(environ=env)
    assert settings.issuer == "https://file.example"
    assert settings.access_token_format == "opaque"
    assert settings.access_token_ttl == 60


@pytest.mark.parametrize(
    "env, message",
    [
        ({"AUTHSERVER_ACCESS_TOKEN_FORMAT": "paseto"}, "access_token_format"),
        ({"AUTHSERVER_SIGNING_ALG": "HS256"}, "signing_alg"),
        ({"AUTHSERVER_ISSUER": "https://x.example/?a=b"}, "issuer"),
        ({"AUTHSERVER_ISSUER": "http://auth.example"}, "plain http on a host other than loopback"),
        ({"AUTHSERVER_HOST": "0.0.0.0"}, "set AUTHSERVER_ISSUER to the https URL"),
        ({"AUTHSERVER_ACCESS_TOKEN_TTL": "soon"}, "access_token_ttl"),
        ({"AUTHSERVER_ACCESS_TOKEN_TTL": "0"}, "access_token_ttl"),
        ({"AUTHSERVER_CLIENT_CACHE_TTL": "-1"}, "client_cache_ttl"),
        ({"AUTHSERVER_DB_PING_AFTER_IDLE": "-5"}, "db_ping_after_idle"),
        ({"AUTHSERVER_DYNAMIC_REGISTRATION": "sometimes"}, "dynamic_registration must be one of off, initial-token"),
        ({"AUTHSERVER_CLIENT_ID_METADATA_DOCUMENTS": "maybe"}, "client_id_metadata_documents must be true or false"),
        ({"AUTHSERVER_REGISTRATION_GRANT_TYPES": "password"}, "registration_grant_types: password unknown"),
        ({"AUTHSERVER_REGISTRATION_AUTH_METHODS": "none,tls_client_auth"}, "registration_auth_methods: tls_client"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={"AUTHSERVER_INSTANCE_PATH": str(tmp_path), **env})


def test_settings_are_parsed_once_into_the_types_their_users_want(tmp_path: Path) -> None:
    """Every list setting takes spaces or commas alike (or a TOML array), and arrives as a
    frozenset; a choice arrives as its enum, a switch as a bool."""
    settings = load_settings(environ={
        "AUTHSERVER_INSTANCE_PATH": str(tmp_path), "AUTHSERVER_CLIENT_ID_METADATA_DOCUMENTS": "on",
        "AUTHSERVER_CIMD_ALLOWED_HOSTS": "LocalHost, mcp.example", "AUTHSERVER_REGISTRATION_SCOPES": "a:read,b:write c",
        "AUTHSERVER_REGISTRATION_GRANT_TYPES": "client_credentials, authorization_code",
        "AUTHSERVER_DYNAMIC_REGISTRATION": "initial-token", "AUTHSERVER_SIGNING_ALG": "EdDSA",
    })
    assert settings.client_id_metadata_documents is True
    assert settings.cimd_allowed_hosts == frozenset({"localhost", "mcp.example"})
    assert settings.registration_scopes == frozenset({"a:read", "b:write", "c"})
    assert settings.registration_grant_types == {GrantType.CLIENT_CREDENTIALS, GrantType.AUTHORIZATION_CODE}
    assert settings.dynamic_registration is DynamicRegistration.INITIAL_TOKEN
    assert settings.signing_alg is SigningAlg.EDDSA and settings.access_token_format is TokenFormat.JWT
    assert load_settings(environ={"AUTHSERVER_INSTANCE_PATH": str(tmp_path)}).client_id_metadata_documents is False


def test_zero_turns_the_client_cache_off_and_pings_every_checkout(tmp_path: Path) -> None:
    settings = load_settings(environ={"AUTHSERVER_INSTANCE_PATH": str(tmp_path), "AUTHSERVER_CLIENT_CACHE_TTL": "0",
                                      "AUTHSERVER_DB_PING_AFTER_IDLE": "0"})
    assert (settings.client_cache_ttl, settings.db_ping_after_idle) == (0, 0)


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text("isuer = 'typo'\n")
    with pytest.raises(ConfigError, match="isuer"):
        load_settings(environ={"AUTHSERVER_CONFIG": str(conf), "AUTHSERVER_INSTANCE_PATH": str(tmp_path)})


@pytest.mark.parametrize(
    "env, issuer",
    [
        ({"AUTHSERVER_PORT": "5001"}, "http://127.0.0.1:5001"),
        ({"AUTHSERVER_HOST": "::1", "AUTHSERVER_PORT": "5002"}, "http://[::1]:5002"),
        ({"AUTHSERVER_PORT": "5001", "AUTHSERVER_ISSUER": "https://login.example/"}, "https://login.example"),
    ],
)
def test_the_default_issuer_follows_host_and_port(tmp_path: Path, env: dict[str, str], issuer: str) -> None:
    assert load_settings(environ={"AUTHSERVER_INSTANCE_PATH": str(tmp_path), **env}).issuer == issuer


def test_instance_data_defaults_to_the_per_user_data_folder_whatever_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={"XDG_DATA_HOME": str(tmp_path / "data"), "AUTHSERVER_SECRET_KEY": "s"})
    assert settings.instance_path == str(tmp_path / "data" / "authserver")
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'authserver' / 'authserver.sqlite3'}"
    assert not (tmp_path / "instance").exists()


def test_a_generated_secret_is_announced_once_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load_settings(environ={"AUTHSERVER_INSTANCE_PATH": str(tmp_path)})
    load_settings(environ={"AUTHSERVER_INSTANCE_PATH": str(tmp_path)})
    assert capsys.readouterr().err == f"authserver: generated a new secret key in {tmp_path / 'secret_key'}\n"


def test_port_and_workers_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="port"):
        load_settings(environ={"AUTHSERVER_INSTANCE_PATH": str(tmp_path), "AUTHSERVER_PORT": "70000"})
    with pytest.raises(ConfigError, match="workers"):
        load_settings(environ={"AUTHSERVER_INSTANCE_PATH": str(tmp_path), "AUTHSERVER_WORKERS": "0"})


@pytest.mark.parametrize("left_behind", ["authserver.sqlite3", "secret_key"])
def test_data_an_earlier_version_kept_in_dot_instance_is_not_abandoned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, left_behind: str
) -> None:
    """The default moved from ./instance to the per-user folder: with the old data here and
    none there, starting anew would orphan every client and user, so the settings refuse."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / left_behind).write_text("earlier data")
    new = tmp_path / "data" / "authserver"
    environ = {"XDG_DATA_HOME": str(tmp_path / "data")}
    with pytest.raises(ConfigError) as refused:
        load_settings(environ=environ)
    assert str(refused.value) == (
        f"{tmp_path / 'instance' / left_behind} is from an earlier version, which kept its data in ./instance; "
        f"the default instance folder is now {new}: set AUTHSERVER_INSTANCE_PATH={tmp_path / 'instance'} "
        f"to keep using it, or move it to {new}"
    )
    assert not new.exists()  # nothing new was started
    kept = load_settings(environ={**environ, "AUTHSERVER_INSTANCE_PATH": str(tmp_path / "instance")})
    assert kept.instance_path == str(tmp_path / "instance")
    new.parent.mkdir()
    (tmp_path / "instance").rename(new)  # or moved: the new default finds it
    assert load_settings(environ=environ).instance_path == str(new)


def test_earlier_data_does_not_matter_when_the_setting_that_used_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "authserver.sqlite3").write_text("earlier data")
    environ = {"XDG_DATA_HOME": str(tmp_path / "data"), "AUTHSERVER_SECRET_KEY": "s",
               "AUTHSERVER_DATABASE_URL": "postgresql+psycopg://db.example/authserver"}
    assert load_settings(environ=environ).database_url == environ["AUTHSERVER_DATABASE_URL"]


@pytest.mark.parametrize("issuer", ["https://auth.example", "http://127.0.0.1:5000", "http://localhost:5000",
                                    "http://[::1]:5000", "https://auth.example/tenant"])
def test_an_issuer_is_https_or_loopback(tmp_path: Path, issuer: str) -> None:
    settings = load_settings(environ={"AUTHSERVER_INSTANCE_PATH": str(tmp_path), "AUTHSERVER_ISSUER": issuer})
    assert settings.issuer == issuer
