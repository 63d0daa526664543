"""schemathesis over the API's own OpenAPI document, with an operate token: generated paths,
queries and bodies (valid and not) must never get a 5xx nor an answer outside the schema.

Bounded to stay well under a minute on a loaded two-core machine: a few dozen examples per
operation, no shrinking deadline. The event stream is asked for `follow=false` (it would
otherwise stream for ever).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from support.api import OPERATE, ApiServer, api_env, token

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    root = tmp_path_factory.mktemp("schemathesis")
    (root / "data").mkdir()
    started = ApiServer(api_env(root / "data"), root)
    yield started
    log = started.err.read_text()
    assert started.stop() == 0, started.log()
    assert "unexpected error" not in log, log


@pytest.fixture
def api_schema(server: ApiServer) -> Any:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_error_and_every_answer_matches_the_schema(case: Any) -> None:
    if case.path == "/api/events":
        case.query = {**(case.query or {}), "follow": "false"}
    case.call_and_validate(headers={"Authorization": f"Bearer {token(OPERATE)}"}, timeout=10)
