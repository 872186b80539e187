"""Credentials from a file or an env var never leak; production needs an explicit flag."""

from pathlib import Path
from typing import Any

import pytest

from thalex_mm.errors import UserError
from thalex_mm.venue.thalex.auth import generate_key_pair
from thalex_mm.venue.thalex.credentials import load_credentials
from thalex_mm.venue.thalex.networks import (
    DEFAULT_LOCAL_URL,
    PRODUCTION_URL,
    TESTNET_URL,
    Network,
    resolve_endpoint,
    start_banner,
)

PRIVATE_PEM, PUBLIC_PEM = generate_key_pair(1024)
KEY_ID = "K987654321"


def secret_body() -> str:
    return PRIVATE_PEM.decode().splitlines()[1]  # a line of the key material


def test_load_from_file_and_repr_hides_everything_secret(tmp_path: Path) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(PRIVATE_PEM)
    creds = load_credentials(KEY_ID, key_file=key_file)
    assert creds.private_key_pem == PRIVATE_PEM and creds.key_id == KEY_ID
    for text in (repr(creds), str(creds), f"{creds}"):
        assert secret_body() not in text and KEY_ID not in text
        assert "hidden" in text


def test_load_from_env_var_with_escaped_newlines() -> None:
    env = {"MY_KEY": PRIVATE_PEM.decode().replace("\n", "\\n")}
    creds = load_credentials(KEY_ID, key_env="MY_KEY", environ=env)
    assert creds.private_key_pem.strip() == PRIVATE_PEM.strip()
    assert "MY_KEY" in creds.source


def test_default_env_var_is_used_when_nothing_is_given() -> None:
    creds = load_credentials(KEY_ID, environ={"THALEX_MM_PRIVATE_KEY": PRIVATE_PEM.decode()})
    assert creds.private_key_pem.strip() == PRIVATE_PEM.strip()


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"key_env": "NOPE", "environ": {}}, "NOPE"),
        ({"key_file": "/nonexistent/k.pem"}, "/nonexistent/k.pem"),
        ({"key_env": "BAD", "environ": {"BAD": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"}}, "BAD"),
        ({"key_env": "PUB", "environ": {"PUB": PUBLIC_PEM.decode()}}, "PUB"),
    ],
)
def test_bad_key_errors_name_the_source_but_not_the_content(
    kwargs: dict[str, Any], named: str
) -> None:
    with pytest.raises(UserError) as info:
        load_credentials(KEY_ID, **kwargs)
    message = str(info.value)
    assert named in message
    assert "AAAA" not in message and "BEGIN" not in message
    assert info.value.__cause__ is None  # no chained exception carrying key bytes


def test_file_and_env_together_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not both"):
        load_credentials(KEY_ID, key_file=tmp_path / "k", key_env="X")


def test_networks_resolve_and_production_needs_the_flag() -> None:
    assert resolve_endpoint().url == DEFAULT_LOCAL_URL
    assert resolve_endpoint("local", local_url="ws://127.0.0.1:9/x").url == "ws://127.0.0.1:9/x"
    assert resolve_endpoint("testnet").url == TESTNET_URL
    with pytest.raises(UserError, match="real money"):
        resolve_endpoint("production")
    prod = resolve_endpoint(Network.PRODUCTION, allow_production=True)
    assert prod.url == PRODUCTION_URL and prod.is_real_money
    banner = start_banner(prod)
    assert banner is not None and "PRODUCTION" in banner
    assert start_banner(resolve_endpoint("testnet")) is None
    with pytest.raises(UserError, match="unknown network"):
        resolve_endpoint("mainnet")
    with pytest.raises(UserError, match="only allowed for the local"):
        resolve_endpoint("testnet", local_url="ws://x")
