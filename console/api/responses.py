"""The API's two answer shapes, encoded with msgspec: `{"success": true, "data", ["message"]}`
and the one error body `{"success": false, "error": {"code", "message"}}`.

Routes return these responses themselves, so FastAPI documents each route's
`response_model` but does not validate and re-encode every answer at run time (that
tripled the cost of `GET /api/sync/status`); the schemathesis test holds the answers
to the documented schemas instead.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response


class Json(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else msgspec.json.encode(content)

    @classmethod
    def raw(cls, body: bytes, status: int = 200) -> Json:
        """An answer already encoded (a cached one)."""
        return cls(body, status_code=status)


def success_body(data: Any, message: str | None = None) -> bytes:
    body: dict[str, Any] = {"success": True}
    if message is not None:
        body["message"] = message
    body["data"] = data
    return msgspec.json.encode(body)


def success(data: Any, message: str | None = None, status: int = 200) -> Json:
    return Json.raw(success_body(data, message), status)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Json:
    return Json(error_body(code, message), status_code=status, headers=headers)
