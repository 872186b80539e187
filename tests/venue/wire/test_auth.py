"""JWT login tokens: what the official client makes verifies; everything else is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
import thalex.thalex

from thalex_mm.venue.thalex.auth import (
    AuthError,
    KeyRing,
    generate_key_pair,
    load_public_key,
    make_token,
)

NOW = 1_800_000_000.25


def _b64(part: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def pairs() -> list[tuple[bytes, bytes]]:
    return [generate_key_pair() for _ in range(2)]


def ring(public_pem: bytes) -> KeyRing:
    keys = KeyRing()
    keys.add("K123456789", public_pem, "A000000001")
    return keys


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_tokens_of_every_allowed_algorithm_verify(
    pairs: list[tuple[bytes, bytes]], algorithm: str
) -> None:
    private_pem, public_pem = pairs[0]
    token = make_token("K123456789", private_pem, NOW, algorithm)
    assert ring(public_pem).verify(token, NOW + 5).account == "A000000001"


def test_the_official_clients_token_verifies(pairs: list[tuple[bytes, bytes]]) -> None:
    private_pem, public_pem = pairs[0]
    token = thalex.thalex._make_auth_token("K123456789", private_pem.decode())
    claims = jwt.decode(token, options={"verify_signature": False})
    assert ring(public_pem).verify(token, claims["iat"]).key_id == "K123456789"


def test_iat_must_be_within_30_seconds_and_strictly_increasing(
    pairs: list[tuple[bytes, bytes]],
) -> None:
    private_pem, public_pem = pairs[0]
    keys = ring(public_pem)
    for offset in (-30.5, 30.5):
        with pytest.raises(AuthError, match="30 s"):
            keys.verify(make_token("K123456789", private_pem, NOW + offset), NOW)
    first = make_token("K123456789", private_pem, NOW)
    keys.verify(first, NOW)
    with pytest.raises(AuthError, match="replayed"):
        keys.verify(first, NOW + 1)
    with pytest.raises(AuthError, match="replayed"):
        keys.verify(make_token("K123456789", private_pem, NOW - 1), NOW)
    keys.verify(make_token("K123456789", private_pem, NOW + 0.001), NOW)


def test_wrong_key_unknown_kid_and_forged_algorithms_are_refused(
    pairs: list[tuple[bytes, bytes]],
) -> None:
    (private_pem, public_pem), (other_private, _) = pairs
    keys = ring(public_pem)
    with pytest.raises(AuthError, match="signature"):
        keys.verify(make_token("K123456789", other_private, NOW), NOW)
    with pytest.raises(AuthError, match="unknown"):
        keys.verify(make_token("K000000000", private_pem, NOW), NOW)
    # the classic confusion attack: HMAC "signed" with the public key as the secret
    signing_input = _b64({"alg": "HS256", "kid": "K123456789"}) + "." + _b64({"iat": NOW})
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(AuthError, match="algorithm"):
        keys.verify(forged, NOW)
    unsigned = _b64({"alg": "none", "kid": "K123456789"}) + "." + _b64({"iat": NOW}) + "."
    with pytest.raises(AuthError, match="algorithm"):
        keys.verify(unsigned, NOW)
    no_kid = jwt.encode({"iat": NOW}, private_pem, algorithm="RS512")
    with pytest.raises(AuthError, match="kid"):
        keys.verify(no_kid, NOW)
    no_iat = jwt.encode({"x": 1}, private_pem, algorithm="RS512", headers={"kid": "K123456789"})
    with pytest.raises(AuthError, match="iat"):
        keys.verify(no_iat, NOW)
    for junk in ("", "a.b.c", 42):
        with pytest.raises(AuthError):
            keys.verify(junk, NOW)


def test_error_messages_never_contain_key_material(pairs: list[tuple[bytes, bytes]]) -> None:
    (_private_pem, public_pem), (other_private, _) = pairs
    token = make_token("K123456789", other_private, NOW)
    with pytest.raises(AuthError) as caught:
        ring(public_pem).verify(token, NOW)
    text = str(caught.value)
    assert token not in text and "BEGIN" not in text and len(text) < 100


def test_public_key_loading_explains_what_is_wrong(pairs: list[tuple[bytes, bytes]]) -> None:
    private_pem, public_pem = pairs[0]
    assert load_public_key(public_pem).key_size == 2048
    with pytest.raises(ValueError, match="private key"):
        load_public_key(private_pem)
    with pytest.raises(ValueError, match="not a PEM"):
        load_public_key(b"hello")
