"""A policy's own declared agents: classed like the shipped registry's, listed in robots.txt."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
MY_AGENT = "MyShoppingAgent/0.1 (+https://example.com/agent)"
POLICY = (
    "extends: open\n"
    "name: my-agents\n"
    "agents:\n"
    "  - {name: MyShoppingAgent, operator: Example Inc, category: ai-agent}\n"
    "  - name: ExampleIndexer\n"
    "    operator: Example Inc\n"
    "    category: training-crawler\n"
    "    aliases: [Example-Indexer-Beta]\n"
)


@pytest.fixture
def policy() -> str:
    return "open"


def test_a_declared_agent_is_classed_by_its_category(client: TestClient) -> None:
    before = client.get("/api/v1/products", headers={"user-agent": MY_AGENT})
    assert before.headers["x-visitor-class"] == "automation"

    switched = client.put("/api/v1/policy", json={"yaml": POLICY}, headers=ADMIN)
    assert switched.status_code == 200, switched.text

    mine = client.get("/api/v1/products", headers={"user-agent": MY_AGENT})
    assert mine.status_code == 200
    assert mine.headers["x-visitor-class"] == "declared-agent"
    # Folded like registry names: case and look-alike letters (Cyrillic а) change nothing.
    folded = client.get("/api/v1/products", headers={"user-agent": "myshoppingаgent/0.2".encode()})  # type: ignore[dict-item]
    assert folded.headers["x-visitor-class"] == "declared-agent"
    alias = client.get("/api/v1/products", headers={"user-agent": "Example-Indexer-Beta/2"})
    assert alias.headers["x-visitor-class"] == "declared-crawler"
    # The shipped registry still applies, and other tools are still automation.
    gpt = client.get("/robots.txt", headers={"user-agent": "GPTBot/1.1"})
    assert gpt.headers["x-visitor-class"] == "declared-crawler"
    curl = client.get("/api/v1/products", headers={"user-agent": "curl/8.5.0"})
    assert curl.headers["x-visitor-class"] == "automation"

    robots = client.get("/robots.txt").text
    assert "User-agent: MyShoppingAgent" in robots
    assert "User-agent: Example-Indexer-Beta" in robots
    declared = client.get("/api/v1/policy/public", headers={"user-agent": MY_AGENT}).json()
    assert declared["agents"] == [
        {
            "name": "MyShoppingAgent",
            "operator": "Example Inc",
            "category": "ai-agent",
            "aliases": [],
        },
        {
            "name": "ExampleIndexer",
            "operator": "Example Inc",
            "category": "training-crawler",
            "aliases": ["Example-Indexer-Beta"],
        },
    ]

    client.put("/api/v1/policy", json={"preset": "open"}, headers=ADMIN)
    after = client.get("/api/v1/products", headers={"user-agent": MY_AGENT})
    assert after.headers["x-visitor-class"] == "automation"
    assert "MyShoppingAgent" not in client.get("/robots.txt").text
    assert client.get("/api/v1/policy/public").json()["agents"] == []


@pytest.mark.parametrize(
    ("entry", "field", "line", "words"),
    [
        (
            "  - {name: MyShoppingAgent, operator: Example Inc, kind: ai-agent}\n",
            "agents.0",
            4,
            "kind",
        ),
        (
            "  - {name: MyShoppingAgent, operator: Example Inc, category: robot}\n",
            "agents.0.category",
            4,
            "ai-agent",
        ),
        ("  - {name: GPTBot, operator: Me}\n", "agents.0", 4, "shipped registry"),
        ("  - {name: Mozilla, operator: Me}\n", "agents.0", 4, "every browser"),
        ("  - {name: 'x', operator: Me}\n", "agents.0.name", 4, "pattern"),
        (
            "  - {name: MyShoppingAgent, operator: A}\n  - {name: myshoppingagent, operator: B}\n",
            "agents",
            3,
            "list each name once",
        ),
    ],
)
def test_an_invalid_entry_names_its_line_and_field(
    client: TestClient, entry: str, field: str, line: int, words: str
) -> None:
    text = f"extends: open\nname: my-agents\nagents:\n{entry}"
    refused = client.put("/api/v1/policy", json={"yaml": text}, headers=ADMIN)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert field in detail
    assert f"line {line}" in detail
    assert words in detail
