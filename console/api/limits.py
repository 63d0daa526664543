"""The API's size and lifetime limits, defined once, for the server, `syncdeck token`
and docs/api.md alike. Constants only: importing this imports no web framework and
no JWT library, so the command line's argument checks can use them too. Nothing here
raises.
"""

from __future__ import annotations

MAX_TOKEN_TTL_S = 366 * 86400
"""The longest a token may live: `syncdeck token --ttl` refuses more."""
