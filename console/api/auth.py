"""Authentication and roles for the routes: a FastAPI dependency per role.

`syncdeck:read` opens every GET and the event stream, `syncdeck:operate` every
change, and operate implies read. Answers: 401 with `WWW-Authenticate: Bearer`
for a missing, malformed, expired, wrongly signed or wrong-audience token; 403
for a valid token without the role. When no key is configured at all (allowed
on a loopback address only, see `console.api.serve`) every caller has every role.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from console.api.errors import ApiError
from console.api.token import OPERATE_SCOPE, READ_SCOPE, Keys, decode, load_keys, scopes
from core.config.stores import ApiSettings

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

    def check(self, token: str | None, role: Role) -> Principal:
        """The token's principal if it has `role`. Raises ApiError 401 or 403."""
        if self._keys is None or role == Role.NONE:
            return ANYONE
        if not token:
            raise ApiError(
                401, "unauthorized", "a bearer token is required", {"WWW-Authenticate": REALM}
            )
        principal = self._principal(token)
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
        except jwt.ExpiredSignatureError:
            raise _invalid("the token has expired") from None
        except jwt.PyJWTError as exc:
            raise _invalid(f"invalid token: {exc}") from None
        subject = claims.get("sub")
        principal = Principal(subject if isinstance(subject, str) else None, scopes(claims))
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified.clear()
        self._verified[token] = (principal, float(claims["exp"]))
        return principal


def _invalid(message: str) -> ApiError:
    description = message.replace('"', "'")
    return ApiError(
        401,
        "unauthorized",
        message,
        {"WWW-Authenticate": f'{REALM}, error="invalid_token", error_description="{description}"'},
    )


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets the request through only with `role`."""

    async def dependency(request: Request, credentials: Credentials) -> Principal:
        auth: Authenticator = request.app.state.api.auth
        return auth.check(None if credentials is None else credentials.credentials, role)

    return dependency


read = require(Role.READ)
operate = require(Role.OPERATE)
