"""JWT keys, minting and checking, from `[api]` settings alone (pyjwt; no web framework).

The algorithm a token is checked with is the one configured (HS256 with a secret,
or RS256/ES256 with a public key), never the one the token names, so `alg=none`
and key-confusion tokens fail like any bad signature. `exp` is required, must be
a JSON number and may lie at most `MAX_TOKEN_TTL_S` (plus `[api] leeway_s`) ahead;
`aud` and `iss` are checked when configured. Failures: `ConfigError` naming the key
(an unreadable key file, a short secret, minting without a secret), never
showing the secret; `jwt.PyJWTError` for a token that does not verify
(`TokenLifetimeError` for its `exp`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import jwt

from console.api.limits import MAX_TOKEN_TTL_S
from core.config import ConfigError
from core.config.stores import MIN_SECRET_BYTES, ApiSettings

READ_SCOPE = "syncdeck:read"
OPERATE_SCOPE = "syncdeck:operate"
SCOPES = {"read": READ_SCOPE, "operate": OPERATE_SCOPE}
"""`syncdeck token --scope` names to claims; operate implies read when checked."""


class TokenLifetimeError(jwt.InvalidTokenError):
    """`exp` is not a number (a string of digits, say, which pyjwt would read), or lies
    further ahead than a token may live."""


@dataclass(frozen=True)
class Keys:
    """What verifies tokens, and what signs them (None: only a public key is known)."""

    algorithm: str
    verify_key: Any
    signing_key: bytes | None

    def __repr__(self) -> str:  # keeps the secret out of logs and tracebacks
        return f"Keys(algorithm={self.algorithm!r})"


def load_keys(api: ApiSettings) -> Keys | None:
    """The configured keys, or None when no authentication is configured."""
    if api.jwt_secret is not None:
        secret = api.jwt_secret.encode()
        return Keys("HS256", secret, secret)
    if api.jwt_secret_file is not None:
        secret = _read(api.jwt_secret_file, "jwt_secret_file").strip()
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"api.jwt_secret_file: {api.jwt_secret_file} holds fewer than "
                f"{MIN_SECRET_BYTES} bytes"
            )
        return Keys("HS256", secret, secret)
    if api.jwt_public_key_file is not None:
        pem = _read(api.jwt_public_key_file, "jwt_public_key_file")
        try:
            key = jwt.algorithms.get_default_algorithms()[api.jwt_public_key_algorithm].prepare_key(
                pem
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"api.jwt_public_key_file: {api.jwt_public_key_file} is not a "
                f"{api.jwt_public_key_algorithm} public key ({type(exc).__name__})"
            ) from None
        return Keys(api.jwt_public_key_algorithm, key, None)
    return None


def _read(path: Any, key: str) -> bytes:
    try:
        data: bytes = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"api.{key}: {path}: {exc.strerror}") from None
    return data


def mint(api: ApiSettings, scope: str, ttl_s: float, subject: str, now: float | None = None) -> str:
    """A token for `scope` ("read" or "operate") valid `ttl_s` seconds. Raises ConfigError
    when no secret is configured (a public key cannot sign)."""
    keys = load_keys(api)
    if keys is None or keys.signing_key is None:
        raise ConfigError(
            "api: a token can only be minted with jwt_secret, jwt_secret_file or "
            "SYNCDECK_API__JWT_SECRET"
            + (" (only jwt_public_key_file is configured)" if keys is not None else "")
        )
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": subject,
        "scope": SCOPES[scope],
        "iat": issued,
        "exp": issued + max(1, int(ttl_s)),
    }
    if api.audience is not None:
        claims["aud"] = api.audience
    if api.issuer is not None:
        claims["iss"] = api.issuer
    return jwt.encode(claims, keys.signing_key, algorithm=keys.algorithm)


def decode(api: ApiSettings, keys: Keys, token: str) -> dict[str, Any]:
    """The claims of a token that verifies. Raises jwt.PyJWTError otherwise."""
    claims: dict[str, Any] = jwt.decode(
        token,
        keys.verify_key,
        algorithms=[keys.algorithm],
        audience=api.audience,
        issuer=api.issuer,
        leeway=api.leeway_s,
        options={"require": ["exp"], "verify_aud": api.audience is not None},
    )
    exp = claims["exp"]
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise TokenLifetimeError("exp is not a number")
    if (isinstance(exp, float) and not math.isfinite(exp)) or (
        exp > time.time() + MAX_TOKEN_TTL_S + api.leeway_s  # exact for any int
    ):
        raise TokenLifetimeError("exp lies too far ahead")
    return claims


def scopes(claims: dict[str, Any]) -> frozenset[str]:
    """The `scope` claim (space-separated, as RFC 8693 has it; a list is accepted too)."""
    value = claims.get("scope", "")
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()
