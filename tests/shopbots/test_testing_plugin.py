"""`sandbox.testing`: the fixture an agent developer's own tests use to get a platform.

The fixtures are loaded by this folder's conftest, as `-p sandbox.testing` would load them.
"""

from __future__ import annotations

import httpx
import pytest

from sandbox.testing import Platform
from shopbots.identity import GPTBOT_UA


def test_default_policy_is_closed_and_refuses_a_declared_crawler(sandbox_url: str) -> None:
    response = httpx.get(f"{sandbox_url}/api/v1/products", headers={"user-agent": GPTBOT_UA})
    assert response.status_code == 403
    assert response.headers["x-policy-decision"] == "block"
    assert response.headers["x-visitor-class"] == "declared-crawler"


@pytest.mark.parametrize("sandbox_policy", ["open"], indirect=True)
def test_policy_is_chosen_by_indirect_parametrization(
    sandbox_platform: Platform, sandbox_policy: str
) -> None:
    assert sandbox_platform.policy == "open"
    response = httpx.get(
        f"{sandbox_platform.url}/api/v1/products", headers={"user-agent": GPTBOT_UA}
    )
    assert response.status_code == 200
    assert response.json()["total"] > 0
    policy = httpx.get(
        f"{sandbox_platform.url}/api/v1/policy", headers=sandbox_platform.admin_headers
    )
    assert policy.status_code == 200, policy.text
