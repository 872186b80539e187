"""Thalex API-key authentication: JWT login tokens (protocol.md §6).

A token is a JWT signed with the API key's RSA private key (RS256/384/512), with the key id in
the header (``kid``) and the issue time in the payload (``iat``, Unix seconds, fractional). The
server checks the signature against the key's public key, that ``iat`` is within ±30 s of its
clock and strictly later than any earlier token of the same key (so a token cannot be replayed).

Keys are secrets: nothing here logs them or puts them (or the token) in an error message.
The current time is a parameter, so verification is deterministic and testable.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHMS = ("RS256", "RS384", "RS512")
IAT_WINDOW_S = 30.0
_MAX_TOKEN_LEN = 16_384


class AuthError(Exception):
    """Login refused. ``str(exc)`` is a short reason that is safe to show the client."""


def make_token(
    key_id: str, private_key_pem: str | bytes, now_s: float, algorithm: str = "RS512"
) -> str:
    """A login token as the official client makes it (RS512, ``kid`` header, ``iat`` = now)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
    return jwt.encode({"iat": now_s}, private_key_pem, algorithm=algorithm, headers={"kid": key_id})


def generate_key_pair(bits: int = 2048) -> tuple[bytes, bytes]:
    """A fresh RSA key pair as PEM: (private key in PKCS#1 like Thalex hands out, public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def new_key_id(rng: random.Random) -> str:
    """A key id in the Thalex style: "K" and nine digits."""
    return f"K{rng.randrange(10**9):09d}"


def load_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    """Parse an RSA public key (SubjectPublicKeyInfo or PKCS#1 PEM); ValueError if it is not."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise ValueError("not a PEM-encoded RSA public key") from None
        raise ValueError("this is a private key; the exchange needs the public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    account: str
    public_key: rsa.RSAPublicKey


class KeyRing:
    """The API keys an exchange accepts, and the last ``iat`` seen per key."""

    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}
        self._last_iat: dict[str, float] = {}

    def add(self, key_id: str, public_key_pem: str | bytes, account: str) -> ApiKey:
        if not key_id or len(key_id) > 64:
            raise ValueError("key id must be 1-64 characters")
        api_key = ApiKey(key_id, account, load_public_key(public_key_pem))
        self._keys[key_id] = api_key
        return api_key

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def key_ids(self) -> list[str]:
        return list(self._keys)

    def account_of(self, key_id: str) -> str:
        return self._keys[key_id].account

    def verify(self, token: object, now_s: float) -> ApiKey:
        """Check a login token; the key it was signed with, or AuthError."""
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LEN:
            raise AuthError("token must be a JWT string")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("token is not a valid JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise AuthError("token algorithm must be RS256, RS384 or RS512")
        key_id = header.get("kid")
        if not isinstance(key_id, str):
            raise AuthError("token header has no key id (kid)")
        api_key = self._keys.get(key_id)
        if api_key is None:
            raise AuthError("unknown API key id")
        try:
            claims = jwt.decode(
                token,
                api_key.public_key,
                algorithms=[algorithm],
                options={"verify_iat": False, "verify_exp": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            raise AuthError("token signature does not verify") from None
        iat = claims.get("iat")
        if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
            raise AuthError("token has no numeric iat")
        if abs(now_s - iat) > IAT_WINDOW_S:
            raise AuthError("token iat is more than 30 s away from the exchange clock")
        last = self._last_iat.get(key_id)
        if last is not None and iat <= last:
            raise AuthError("token iat is not later than the previous login (replayed token?)")
        self._last_iat[key_id] = float(iat)
        return api_key
