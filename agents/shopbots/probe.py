"""Ask the gate what it answers one identity on each route class, without buying anything."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from shopbots.client import AgentClient
from shopbots.gate import GateAnswer
from shopbots.identity import Identity
from shopbots.signing import WebBotAuthSigner
from shopbots.timing import TimingPolicy

# One harmless request per route class; none of them changes anything on the platform.
PROBES: tuple[tuple[str, str, str], ...] = (
    ("robots", "GET", "/robots.txt"),
    ("well-known", "GET", "/.well-known/http-message-signatures-directory"),
    ("catalog", "GET", "/api/v1/products"),
    ("search", "GET", "/search?q=headphones"),
    ("product", "GET", "/products/1"),
    ("assets", "GET", "/static/store.css"),
    ("account", "GET", "/api/v1/me/history"),
    ("cart", "GET", "/api/v1/cart"),
    ("checkout", "GET", "/checkout"),
    ("order", "GET", "/api/v1/orders"),
    ("assistant", "POST", "/api/v1/help-me-decide"),
    ("admin", "GET", "/api/v1/policy"),
)
# The signature debugger: explains the signature of the request it is sent with.
EXPLAIN_PATH = "/api/v1/signature/explain"


@dataclass(frozen=True)
class ProbeRow:
    """The gate's answer to one probe; `answered_path` is where it answered (after redirects)."""

    route_class: str
    method: str
    path: str
    answer: GateAnswer
    answered_path: str = ""


def _client(
    target: str, user_agent: str, sign_key: Path | None, transport: httpx.BaseTransport | None
) -> AgentClient:
    signer = WebBotAuthSigner.from_pem(sign_key.read_bytes()) if sign_key else None
    return AgentClient(
        target,
        Identity("probe", user_agent, {"accept": "application/json, text/html;q=0.9"}),
        signer=signer,
        timing=TimingPolicy("none"),
        transport=transport,
    )


def explain(
    target: str,
    user_agent: str,
    *,
    sign_key: Path | None = None,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """What the gate makes of this identity's signature: the debugger's answer, as JSON.

    Raises ValueError when the platform does not answer with an explanation.
    """
    with _client(target, user_agent, sign_key, transport) as client:
        exchange = client.post(EXPLAIN_PATH, note="explain")
    body = exchange.json()
    if exchange.response is None or not isinstance(body, dict):
        raise ValueError(f"nothing explained at {target}{EXPLAIN_PATH}; is it running?")
    if exchange.response.status_code != 200:
        detail = body.get("detail") or exchange.response.reason_phrase
        raise ValueError(f"{EXPLAIN_PATH} answered {exchange.response.status_code}: {detail}")
    return body


def probe(
    target: str,
    user_agent: str,
    *,
    sign_key: Path | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[ProbeRow]:
    """The gate's answer to `user_agent` (signed with the key in `sign_key`) per route class."""
    client = _client(target, user_agent, sign_key, transport)
    rows: list[ProbeRow] = []
    with client:
        for route_class, method, path in PROBES:
            exchange = client.request(method, path, note=route_class)
            answered = client.steps[-1].answered_path or path
            rows.append(ProbeRow(route_class, method, path, exchange.answer, answered))
    return rows
