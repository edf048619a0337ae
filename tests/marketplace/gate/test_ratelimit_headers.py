"""RateLimit-Policy and RateLimit (IETF draft-ietf-httpapi-ratelimit-headers) on rate-limited
classes: present from the first request, counting down to the 429, which keeps Retry-After."""

from __future__ import annotations

import math

import http_sf
import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN, CHROME_UA, TEST_NOW

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)"
WINDOW_S = 7


@pytest.fixture
def policy() -> str:
    return "open"


def _limit(client: TestClient, requests: int) -> None:
    policy = (
        "extends: open\nname: tight\n"
        f"rate_limits:\n  declared-crawler: {{requests: {requests}, per_seconds: {WINDOW_S}}}\n"
    )
    assert client.put("/api/v1/policy", json={"yaml": policy}, headers=ADMIN).status_code == 200


def _item(value: str) -> tuple[str, dict[str, int]]:
    parsed = http_sf.parse(value.encode(), tltype="list")
    assert len(parsed) == 1, value
    name, params = parsed[0]
    return str(name), dict(params)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_ratelimit_headers_count_down_before_the_429(client: TestClient) -> None:
    _limit(client, 3)
    # The test clock stands still, so every request falls in the same fixed window.
    now = TEST_NOW.timestamp()
    reset = math.ceil((math.floor(now / WINDOW_S) + 1) * WINDOW_S - now)
    answers = [client.get("/api/v1/products", headers={"user-agent": GPTBOT}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    for answer, remaining in zip(answers, [2, 1, 0, 0], strict=True):
        assert _item(answer.headers["ratelimit-policy"]) == (
            "declared-crawler",
            {"q": 3, "w": WINDOW_S},
        )
        assert _item(answer.headers["ratelimit"]) == (
            "declared-crawler",
            {"r": remaining, "t": reset},
        )
    assert 1 <= reset <= WINDOW_S
    throttled = answers[-1]
    assert throttled.headers["retry-after"] == str(WINDOW_S)
    assert throttled.headers["content-type"].startswith("application/problem+json")
    assert throttled.json()["type"] == "/problems/policy-throttle"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_ratelimit_headers_where_no_limit_applies(client: TestClient) -> None:
    _limit(client, 3)
    shopper = client.get("/api/v1/products", headers={"user-agent": CHROME_UA})
    assert shopper.status_code == 200
    assert "ratelimit" not in shopper.headers
    assert "ratelimit-policy" not in shopper.headers
    # The published rules are exempt from the limit in `open` (rate_limited: false).
    rules = client.get("/robots.txt", headers={"user-agent": GPTBOT})
    assert rules.status_code == 200
    assert "ratelimit" not in rules.headers
