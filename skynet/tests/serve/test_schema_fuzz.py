"""schemathesis against the service's OpenAPI schema: generated requests to every operation, valid
(positive) and invalid (negative), with bounded examples; no answer may be a server error, and every
answer must match the schema (its status codes, content types and bodies).

schemathesis' own pytest plugin (``@schema.parametrize``) reads a pytest attribute that pytest 9
no longer has, so each operation's strategy (``operation.as_strategy``) drives a hypothesis test
here: the same cases and the same checks (``case.call_and_validate``).
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")  # requirements-dev.txt pins it; CI installs it

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from skynet.serve import create_app  # noqa: E402
from skynet.tests.serve.conftest import home_settings  # noqa: E402

#: Examples per operation and mode: enough to reach every field's bounds, small enough for CI.
EXAMPLES = 40
#: operation -> whether every request its schema allows must be accepted (schemathesis'
#: positive_data_acceptance). A forecast of a stored device needs a device in the store, and a
#: control context's events have rules across fields that a schema cannot say (a device's
#: minimum set point not above its maximum, a temperature target within 5 … 40 °C, a known time
#: zone, no time ahead of the clock): there an allowed request may be refused, with a 4xx that
#: says why.
OPERATIONS = {
    ("POST", "/v1/user_model/predict"): True,
    ("POST", "/v1/estimation/predict"): False,
    ("POST", "/v1/control/decide"): False,
    ("GET", "/readyz"): True,
    ("GET", "/livez"): True,
    ("GET", "/metrics"): True,
}
#: GET operations take no input: there is nothing to make invalid.
CASES = [(method, path, mode) for (method, path) in OPERATIONS for mode in GenerationMode
         if method == "POST" or mode is GenerationMode.POSITIVE]  # fmt: skip


@pytest.fixture(scope="module")
def fuzzed_schema(trained_home):
    """The schema of the service over the trained home (read only: no fuzzed request stores anything)."""
    app = create_app(home_settings(trained_home["home"]), reload_interval=0)
    app.state.served.refresh()  # what the lifespan does; schemathesis' client does not run it
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_is_fuzzed(fuzzed_schema):
    found = {(op.ok().method.upper(), op.ok().path) for op in fuzzed_schema.get_all_operations()}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_no_request_is_a_server_error(fuzzed_schema, method, path, mode):
    from schemathesis.checks import load_all_checks
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    load_all_checks()
    operation = fuzzed_schema[path][method]
    excluded = [] if OPERATIONS[(method, path)] else [positive_data_acceptance]

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)  # fmt: skip
    def answered_by_the_schema(case) -> None:
        case.call_and_validate(excluded_checks=excluded)

    answered_by_the_schema()
