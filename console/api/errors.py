"""The one error body of the API, and the handlers that turn every failure into it.

Every error answer is `{"success": false, "error": {"code", "message"}}`.
The core's exceptions map to statuses here (unknown service or request 404, an
impossible transition 409, a store that cannot be reached 503). FastAPI's own
(a bad body 422, an unknown route 404, a wrong method 405) keep theirs. Anything
else is logged with its traceback and answered with a bare JSON 500: a client
never sees a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute

from console.api.responses import error_response
from core.errors import InvalidTransition, LeaseLost, NotFound, StoreError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer other than success, raised anywhere below a route."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def _code(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"


def _allowed(path: str, routes: Sequence[BaseRoute]) -> list[str]:
    """Every method some route accepts on this path, HEAD wherever GET is (the guard
    answers HEAD as GET)."""
    methods: set[str] = set()
    for route in routes:
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _message(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args else type(exc).__name__


def install_error_handlers(app: FastAPI, routes: Sequence[BaseRoute]) -> None:
    """`routes`: every route of the app, for the `Allow` of a 405 (FastAPI keeps included
    routers' routes out of `app.routes`)."""

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:  # Starlette names only the matched route's methods
            headers = {**(headers or {}), "Allow": ", ".join(_allowed(request.url.path, routes))}
        if exc.status_code == 400:  # a body that is not JSON: an invalid body, like any other
            return error_response(422, "invalid_request", f"body: {exc.detail}", headers)
        return error_response(exc.status_code, _code(exc.status_code), str(exc.detail), headers)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, "invalid_request", _validation_message(exc))

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(404, "not_found", _message(exc))

    async def conflict(request: Request, exc: Exception) -> Response:
        return error_response(409, "conflict", _message(exc))

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.warning("store unavailable: %s", exc)
        return error_response(503, "store_unavailable", f"the store cannot be reached: {exc}")

    async def internal(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal_error", "internal error (logged by the server)")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(InvalidTransition, conflict)
    app.add_exception_handler(LeaseLost, conflict)
    app.add_exception_handler(StoreError, unavailable)
    app.add_exception_handler(OSError, unavailable)
    app.add_exception_handler(Exception, internal)
