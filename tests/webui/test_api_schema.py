"""Schemathesis over /api/openapi.json: whatever it sends, no 5xx.

Every operation of the description is exercised with generated input, as a
signed-in owner (session cookie + X-CSRFToken) and with an upload token.
Random path parameters mostly miss, so each generated case is also sent
with the organization, project, version and repository that exist."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.webui.conftest import bearer

EXAMPLES_PER_OPERATION = 12
KNOWN = {"org": "acme", "project": "demo", "version": "1.0", "owner": "acme", "repo": "billing",
         "username": "rita"}


@pytest.fixture
def seeded(world):
    world.wheel("demo", "1.0", readme="# Demo", content_type="text/markdown")
    world.wheel("demo", "1.0", "cp313-cp313-manylinux_2_17_x86_64")
    owner = world.browser("olivia")
    assert owner.api("POST", "/api/v1/orgs/acme/repositories", {"full_name": "acme/billing"}).status_code == 201
    return world


def session_credentials(world) -> dict[str, dict[str, str]]:
    """What a signed-in owner's page script sends: the cookie and the CSRF header."""
    browser = world.browser("olivia")
    token = browser.csrf  # also stores the CSRF secret in the session cookie
    cookie = browser.client.get_cookie("session")
    return {"headers": {"X-CSRFToken": token}, "cookies": {"session": cookie.value}}


def variants(case):
    """The case as generated, then aimed at objects that exist."""
    yield
    if case.path_parameters:
        generated = dict(case.path_parameters)
        case.path_parameters.update({k: v for k, v in KNOWN.items() if k in generated and k == "org"})
        yield
        case.path_parameters.update({k: v for k, v in KNOWN.items() if k in generated})
        yield


@pytest.mark.parametrize("caller", ["session", "token"])
def test_api_never_answers_with_a_server_error(seeded, app, caller):
    if caller == "session":
        credentials = session_credentials(seeded)
    else:
        credentials = {"headers": bearer(seeded.token(scope="upload"))}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 29

    for operation in operations:

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case):
            for _ in variants(case):
                case.call_and_validate(checks=[not_a_server_error], **credentials)

        exercise()
