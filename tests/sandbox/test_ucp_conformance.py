"""The official UCP conformance suite against a live store with the flower shop, under `observe`.

The suite lives beside the project (`../shared/reference/ucp-conformance`); without it the test
is skipped, saying so, unless SANDBOX_TEST_REQUIRE lists `ucp` (CI does).
"""

from __future__ import annotations

import subprocess

import pytest

from sandbox import ucp_conformance
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.ucp_conformance, pytest.mark.slow, pytest.mark.timeout(1200)]


def test_the_ucp_conformance_suite_passes_against_the_flower_shop() -> None:
    suite = ucp_conformance.DEFAULT_SUITE
    if not (suite / "integration_test_utils.py").is_file():
        skip_or_fail("ucp", f"the UCP conformance suite is not at {suite} (../shared is absent)")
    try:
        ucp_conformance.ensure_venv()
    except (subprocess.CalledProcessError, OSError) as exc:
        skip_or_fail("ucp", f"could not install the suite's venv (ucp-sdk==0.1.0): {exc}")

    results = ucp_conformance.run_suite(suite)

    table = ucp_conformance.report(results)
    print(table)
    assert len(results) == 13, table
    assert sum(r.ran for r in results) == ucp_conformance.TOTAL_TESTS, table
    assert sum(r.passed for r in results) >= ucp_conformance.MIN_PASSED, table
