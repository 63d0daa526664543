"""The API's size and lifetime limits, defined once, for the server, `syncdeck token`
and docs/api.md alike. Constants only: importing this imports no web framework and
no JWT library, so the command line's argument checks can use them too. Nothing here
raises.
"""

from __future__ import annotations

MAX_BODY_BYTES = 4096
"""A request body's limit: every valid body is a small JSON object (under 1 KB); a
longer one is answered 413, whether it declares its length or is sent in chunks."""

MAX_HEADER_BYTES = 16384
"""The request line and headers together; longer ones are answered 431. A JWT from an
identity provider with many claims stays well under it."""

MAX_TOKEN_TTL_S = 366 * 86400
"""The longest a token may live: `syncdeck token --ttl` refuses more, and the server
refuses a token whose `exp` lies further ahead than this (plus `[api] leeway_s`)."""
