"""The commerce protocols' doors behind the gate: classed, decided, refused in each protocol's
shape with the gate's headers, signed agents identified as on the REST API, the door logged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN, TEST_NOW
from tests.marketplace._storefront import csrf_of
from tests.marketplace.gate import _signing

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NOW = int(TEST_NOW.timestamp())
CURL = {"user-agent": "curl/8.5.0"}
CHATGPT = {
    "user-agent": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; "
    "ChatGPT-User/1.0; +https://openai.com/bot"
}
ACP_CREATE = "/checkout_sessions"
UCP_CREATE = "/ucp/v1/checkout-sessions"


def mcp_call(tool: str, request_id: int = 7) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": {}},
    }


MCP_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def gate(response: Any) -> tuple[str, str, str]:
    headers = response.headers
    return headers["x-policy-decision"], headers["x-policy-rule"], headers["x-visitor-class"]


def post(
    client: TestClient,
    path: str,
    body: Any,
    headers: dict[str, str],
    key: Ed25519PrivateKey | None = None,
) -> Any:
    signed = dict(headers)
    if key is not None:
        signed.update(_signing.sign_now(key, path=path, now=NOW, method="POST"))
    return client.post(
        path,
        content=json.dumps(body),
        headers={**signed, "content-type": "application/json", "idempotency-key": "k-1"},
    )


@pytest.mark.parametrize("policy", ["closed"])
def test_closed_refuses_outside_agents_at_each_protocol_checkout_in_its_own_shape(
    client: TestClient,
) -> None:
    acp = post(client, ACP_CREATE, {"items": [{"id": "1", "quantity": 1}]}, CURL)
    assert acp.status_code == 403
    assert gate(acp) == ("block", "outside-agents-no-transactions", "automation")
    assert acp.headers["content-type"].startswith("application/json")
    error = acp.json()
    assert set(error) == {"type", "code", "message"}
    assert error["type"] == "invalid_request"
    assert error["code"] == "policy_block"
    assert "Outside agents may not" in error["message"]

    ucp = post(client, UCP_CREATE, {"line_items": []}, CURL)
    assert ucp.status_code == 403
    assert gate(ucp) == ("block", "outside-agents-no-transactions", "automation")
    assert ucp.headers["content-type"].startswith("application/problem+json")
    body = ucp.json()
    assert body["ucp"]["version"] == "2026-01-11"
    assert body["rule"] == "outside-agents-no-transactions"
    assert body["type"] == "/problems/policy-block"
    [message] = body["messages"]
    assert message["type"] == "error"
    assert message["code"] == "policy_block"
    assert "Outside agents may not" in message["content"]

    mcp = post(client, "/mcp", mcp_call("complete_checkout", 41), CURL)
    assert mcp.status_code == 403
    assert gate(mcp) == ("block", "outside-agents-no-transactions", "automation")
    rpc = mcp.json()
    assert rpc["jsonrpc"] == "2.0"
    assert rpc["id"] == 41
    assert rpc["error"]["code"] == -32001
    assert rpc["error"]["data"]["rule"] == "outside-agents-no-transactions"
    assert rpc["error"]["data"]["visitor_class"] == "automation"
    assert rpc["error"]["data"]["route_class"] == "protocol-checkout"

    # Reading is classed protocol-catalog: listed like the REST catalog, so not refused here.
    listing = post(client, "/mcp", MCP_LIST, CURL)
    assert gate(listing)[:2] == ("allow", "outside-agents-read-catalog")
    search = post(client, "/mcp", mcp_call("search_catalog"), CURL)
    assert gate(search)[:2] == ("allow", "outside-agents-read-catalog")
    # A batch that hides a checkout among reads is a checkout; an unknown tool is one too.
    batch = post(client, "/mcp", [mcp_call("search_catalog", 1), mcp_call("pay_now", 2)], CURL)
    assert batch.status_code == 403
    assert batch.json()["id"] == 1
    unknown = post(client, "/mcp", mcp_call("brand_new_tool"), CURL)
    assert unknown.status_code == 403

    # Discovery is a catalog read, refused to declared AI agents under closed, in UCP's shape.
    discovery = client.get("/.well-known/ucp", headers=CHATGPT)
    assert discovery.status_code == 403
    assert gate(discovery) == ("block", "ai-agents-out", "declared-agent")
    assert discovery.json()["messages"][0]["code"] == "policy_block"
    # The store's own REST API still answers in problem+json.
    rest = client.post("/api/v1/orders", headers=CURL)
    assert rest.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("policy", ["closed"])
def test_closed_refuses_even_a_signed_partner_identified_as_on_the_rest_api(
    client: TestClient,
) -> None:
    key = _signing.register_partner(client, ADMIN)
    for path, body in (
        (ACP_CREATE, {"items": [{"id": "1", "quantity": 1}]}),
        (UCP_CREATE, {}),
        ("/mcp", mcp_call("create_checkout")),
    ):
        answer = post(client, path, body, CURL, key)
        assert answer.status_code == 403, path
        assert gate(answer) == ("block", "outside-agents-no-transactions", "verified-agent")
        assert answer.headers["x-signature-status"] == "verified"
    rest = client.get(
        "/api/v1/cart",
        headers={**CURL, **_signing.sign_now(key, path="/api/v1/cart", now=NOW)},
    )
    assert gate(rest)[2] == "verified-agent"


@pytest.mark.parametrize("policy", ["open"])
def test_open_lets_a_signed_agent_through_and_asks_unsigned_ones_to_sign(
    client: TestClient,
) -> None:
    key = _signing.register_partner(client, ADMIN)
    for path, body in (
        (ACP_CREATE, {"items": [{"id": "1", "quantity": 1}]}),
        (UCP_CREATE, {}),
        ("/mcp", mcp_call("create_checkout")),
    ):
        unsigned = post(client, path, body, CURL)
        assert unsigned.status_code == 403, path
        assert gate(unsigned) == ("challenge", "sign-to-transact", "automation")
        assert "Accept-Signature" in unsigned.headers
        signed = post(client, path, body, CURL, key)
        assert signed.status_code != 403, (path, signed.text)
        assert gate(signed) == ("allow", "trusted-everywhere", "verified-agent")
    challenged = post(client, ACP_CREATE, {}, CURL).json()
    assert challenged["code"] == "policy_challenge"
    assert "sign your requests with Web Bot Auth" in challenged["message"]


@pytest.mark.parametrize("policy", ["observe"])
def test_observe_lets_everything_through_and_logs_the_door(client: TestClient) -> None:
    for path, body in (
        (ACP_CREATE, {"items": [{"id": "1", "quantity": 1}]}),
        (UCP_CREATE, {}),
        ("/mcp", mcp_call("complete_checkout")),
    ):
        answer = post(client, path, body, CURL)
        assert answer.status_code != 403, path
        assert gate(answer) == ("allow", "outside-agents-no-transactions", "automation")
        assert answer.headers["x-policy-observed-action"] == "block"
    client.get("/api/v1/products", headers=CURL)
    client.get("/", headers=CURL)
    doors = {}
    for door in ("acp", "ucp", "mcp", "api", "web"):
        page = client.get("/api/v1/decisions", params={"door": door}, headers=ADMIN).json()
        doors[door] = page["items"]
    assert [row["path"] for row in doors["acp"]] == [ACP_CREATE]
    assert [row["path"] for row in doors["ucp"]] == [UCP_CREATE]
    [mcp] = doors["mcp"]
    assert mcp["route_class"] == "protocol-checkout"
    assert mcp["signals"]["mcp"] == {"tools": ["complete_checkout"]}
    assert all(row["door"] == "api" for row in doors["api"])
    assert "/" in [row["path"] for row in doors["web"]]
    stats = client.get("/api/v1/admin/stats", headers=ADMIN).json()
    by_door = stats["requests"]["by_door"]
    for door in ("acp", "ucp", "mcp"):
        # Observed refusals are let through: the dashboard counts what was done.
        assert by_door[door] == {"allow": 1}, by_door
    # The dashboard shows the doors too, and which door each refusal came through.
    page = client.get("/dashboard", headers={"accept": "text/html"})
    client.post("/dashboard/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf_of(page.text)})
    board = client.get("/dashboard").text
    doors_table = board.split('id="doors"', 1)[1].split("</table>", 1)[0]
    for door in ("acp", "ucp", "mcp", "api", "web"):
        assert f"<td>{door}</td>" in doors_table, door
