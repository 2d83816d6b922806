"""The fuzzing of test_fuzz_endpoints.py, on the shipped project's own endpoints and
named requests (the school demo's too, while it is there)."""

from __future__ import annotations

import pytest

from tests.integration.test_fuzz_endpoints import (  # noqa: F401 - collected here again
    fuzzed,
    test_any_payload_over_the_socket_is_never_a_5xx,
    test_any_payload_to_any_named_request_is_never_a_5xx,
    test_any_value_to_any_json_endpoint_is_never_a_5xx,
    test_edge_values_in_every_field_of_every_endpoint_and_named_request,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def project(shipped_project_module):
    return "shipped"
