"""Authentication and roles for the routes: a FastAPI dependency per role.

`syncdeck:read` opens every GET and the event stream, `syncdeck:operate` every
change, and operate implies read. Answers: 401 with `WWW-Authenticate: Bearer`
for a missing, malformed, expired, wrongly signed or wrong-audience token; 403
for a valid token without the role. A refusal says why in a fixed sentence per
kind of failure, never in the JWT library's words (which repeat the token's
contents). So nothing a client sends comes back in a header or a body, nor goes
to the log; the challenge stays within RFC 6750's characters. Any failure while
checking a token, expected or not, is a 401. When no key is configured at all
(allowed on a loopback address only, see `console.api.serve`) every caller has
every role.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from console.api.errors import ApiError
from console.api.limits import MAX_TOKEN_TTL_S
from console.api.token import (
    OPERATE_SCOPE,
    READ_SCOPE,
    Keys,
    TokenLifetimeError,
    decode,
    load_keys,
    scopes,
)
from core.config.stores import ApiSettings

log = logging.getLogger(__name__)

REALM = 'Bearer realm="syncdeck"'
VERIFIED_CACHE = 1024

bearer = HTTPBearer(auto_error=False, description="A JWT, e.g. from `syncdeck token`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


class Role(StrEnum):
    NONE = "none"
    READ = "read"
    OPERATE = "operate"


@dataclass(frozen=True)
class Principal:
    subject: str | None
    scopes: frozenset[str]
    valid_until: float | None = None
    """When the token stops being accepted (`exp` plus the leeway), in `time.time()`
    seconds; None: never (no authentication configured)."""

    def has(self, role: Role) -> bool:
        if role == Role.NONE or OPERATE_SCOPE in self.scopes:
            return True
        return role == Role.READ and READ_SCOPE in self.scopes


ANYONE = Principal(None, frozenset({OPERATE_SCOPE}))


class Authenticator:
    """Checks bearer tokens against the configured keys. Raises ConfigError on bad keys."""

    def __init__(self, api: ApiSettings) -> None:
        self._api = api
        self._keys: Keys | None = load_keys(api)
        self._verified: dict[str, tuple[Principal, float]] = {}
        """Tokens that verified, with their `exp`: a client sends the same token again and
        again, and checking a signature costs more than the rest of a small request."""

    @property
    def enabled(self) -> bool:
        return self._keys is not None

    def authenticate(self, token: str | None) -> Principal:
        """The principal of a valid token, whatever its roles. Raises ApiError 401."""
        if self._keys is None:
            return ANYONE
        if not token:
            raise ApiError(
                401, "unauthorized", "a bearer token is required", {"WWW-Authenticate": REALM}
            )
        return self._principal(token)

    def check(self, token: str | None, role: Role) -> Principal:
        """The token's principal if it has `role`. Raises ApiError 401 or 403."""
        if self._keys is None or role == Role.NONE:
            return ANYONE
        principal = self.authenticate(token)
        if not principal.has(role):
            needed = OPERATE_SCOPE if role == Role.OPERATE else READ_SCOPE
            raise ApiError(
                403,
                "forbidden",
                f"this needs the {needed} scope",
                {"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{needed}"'},
            )
        return principal

    def _principal(self, token: str) -> Principal:
        assert self._keys is not None
        cached = self._verified.get(token)
        if cached is not None:
            if time.time() <= cached[1] + self._api.leeway_s:
                return cached[0]
            del self._verified[token]
        try:
            claims = decode(self._api, self._keys, token)
            exp = float(claims["exp"])
        except jwt.PyJWTError as exc:
            raise _invalid(_why(exc)) from None
        except Exception as exc:  # a token must never cost a 500: refused, named by class only
            log.warning("a token could not be checked (%s); answered 401", type(exc).__name__)
            raise _invalid(INVALID) from None
        subject = claims.get("sub")
        until = exp + self._api.leeway_s
        principal = Principal(subject if isinstance(subject, str) else None, scopes(claims), until)
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified.clear()
        self._verified[token] = (principal, exp)
        return principal


INVALID = "the token is invalid"
WHY: list[tuple[type[jwt.PyJWTError], str]] = [
    (jwt.ExpiredSignatureError, "the token has expired"),
    (
        TokenLifetimeError,
        f"the token's exp must be a number at most {MAX_TOKEN_TTL_S // 86400} days ahead",
    ),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is not for this audience"),
    (jwt.InvalidIssuerError, "the token is not from the configured issuer"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not the configured one"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.DecodeError, "the token is malformed"),
]
"""Fixed descriptions, most specific first (a bad signature is a DecodeError too): the
library's own messages repeat parts of the token."""


def _why(exc: jwt.PyJWTError) -> str:
    return next((text for kind, text in WHY if isinstance(exc, kind)), INVALID)


def _invalid(description: str) -> ApiError:
    """A 401 for a token that does not verify; `description` is one of ours (RFC 6750:
    no quote, no backslash, printable ASCII)."""
    return ApiError(
        401,
        "unauthorized",
        description,
        {"WWW-Authenticate": f'{REALM}, error="invalid_token", error_description="{description}"'},
    )


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of an `Authorization: Bearer ...` header, as FastAPI's HTTPBearer
    reads them; None for no header, another scheme or no credentials."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets the request through only with `role`."""

    async def dependency(request: Request, credentials: Credentials) -> Principal:
        auth: Authenticator = request.app.state.api.auth
        return auth.check(None if credentials is None else credentials.credentials, role)

    return dependency


read = require(Role.READ)
operate = require(Role.OPERATE)
