"""The configuration tables of where state lives and who may reach it: `[store]`,
`[replica]` and `[api]`. Part of `core.config`, apart because they are the tables
with URLs and secrets: each refuses a malformed URL or a short secret with an error
naming its key, and none shows a secret in its repr.
"""

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from core.config.section import Section

SessionSeconds = Annotated[float, Meta(ge=0.1, le=3600)]
"""A PostgreSQL session timeout: finite, positive, at most an hour."""


class StoreSettings(Section, frozen=True, kw_only=True):
    """Where the coordination store lives: SQLite in the data directory unless `url` is set."""

    url: str | None = None
    """postgresql://user@host:port/dbname selects PostgreSQL (a password in it is never
    shown); libpq's PGPASSWORD and .pgpass work too."""
    schema: Annotated[str, Meta(pattern=r"^[a-z_][a-z0-9_]{0,47}$")] = "syncdeck"
    """PostgreSQL: the schema that holds syncdeck's tables (lower-case letters, digits, _)."""
    password_file: Path | None = None
    """PostgreSQL: a file holding the password (read when the store opens)."""
    idle_in_transaction_timeout_s: SessionSeconds = 5.0
    """PostgreSQL: the server ends a store session left idle inside a transaction this long
    (a frozen or cut-off client), so its locks fall away: a takeover after such a freeze
    takes up to the lease TTL plus this. Shorter than the longest pause between the
    statements of one of syncdeck's transactions would abort healthy work."""
    connect_timeout_s: SessionSeconds = 5.0
    """PostgreSQL: how long a connection may take to open (or a call wait for one) before
    the call fails and health says "store unreachable"."""

    def __post_init__(self) -> None:
        if self.url is not None and not self.url.startswith(("postgresql://", "postgres://")):
            raise ValueError("store.url must be a postgresql:// URL")


MIN_SECRET_BYTES = 32
"""A shorter JWT secret is refused: HS256 with less is guessable offline."""


class ApiSettings(Section, frozen=True, kw_only=True):
    """The HTTP API (`syncdeck serve`). Tokens are HS256 with a shared secret (inline, in a
    file, or `SYNCDECK_API__JWT_SECRET`), or RS256/ES256 checked with a public key; the
    accepted algorithm is fixed here, never taken from a token. Secrets never appear in a
    repr or an error message."""

    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 8787
    """0: any free port (the one taken is printed)."""
    jwt_secret: str | None = None
    jwt_secret_file: Path | None = None
    jwt_public_key_file: Path | None = None
    jwt_public_key_algorithm: Literal["RS256", "ES256"] = "RS256"
    audience: str | None = None
    """When set, a token's `aud` must name it."""
    issuer: str | None = None
    """When set, a token's `iss` must be it."""
    leeway_s: Annotated[float, Meta(ge=0, le=300)] = 30.0
    """Clock skew tolerated on `exp`, `nbf` and `iat`."""
    metrics_auth: Literal["none", "read", "operate"] = "read"
    """The role /metrics asks for; none: no token."""

    def __post_init__(self) -> None:
        sources = [self.jwt_secret, self.jwt_secret_file, self.jwt_public_key_file]
        if sum(source is not None for source in sources) > 1:
            raise ValueError("set only one of jwt_secret, jwt_secret_file and jwt_public_key_file")
        if self.jwt_secret is not None and len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"jwt_secret must be at least {MIN_SECRET_BYTES} bytes")

    def __repr__(self) -> str:  # keeps the secret out of logs and tracebacks
        shown = msgspec.structs.asdict(self) | ({"jwt_secret": "***"} if self.jwt_secret else {})
        return f"ApiSettings({shown})"


class ReplicaSettings(Section, frozen=True, kw_only=True):
    """Where the replica lives: by default beside the store (its PostgreSQL database when
    `[store] url` is set, else the SQLite file in the data directory)."""

    url: str | None = None
    """postgresql://user@host:port/dbname: the replica in that database (the one the
    business's programs read), whichever the store is."""
    schema: Annotated[str, Meta(pattern=r"^[a-z_][a-z0-9_]{0,47}$")] | None = None
    """PostgreSQL: the schema that holds the replica's tables (default: `[store] schema`)."""
    password_file: Path | None = None
    """PostgreSQL: a file holding the password (default: the store's, in its database)."""

    def __post_init__(self) -> None:
        if self.url is not None and not self.url.startswith(("postgresql://", "postgres://")):
            raise ValueError("replica.url must be a postgresql:// URL")
