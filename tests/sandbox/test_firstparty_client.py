"""The platform's own agent signs every request with the platform key and the gate knows it."""

from __future__ import annotations

import pytest

from marketplace.core.clock import FrozenClock
from marketplace.core.settings import Settings
from sandbox.firstparty_client import FirstPartyAgent, platform_client
from sandbox.liveserver import LiveServer
from sandbox.persona import load_personas

PERSONAS = load_personas().members


@pytest.fixture
def policy() -> str:
    return "closed"


def test_signed_requests_are_the_first_party_agent_even_on_a_closed_platform(
    live_server: LiveServer, settings: Settings, clock: FrozenClock
) -> None:
    with platform_client(live_server.url, settings=settings, clock=clock) as client:
        listing = client.get("/api/v1/products", params={"category": "tents"})
        assert listing.status_code == 200
        assert listing.headers["x-visitor-class"] == "first-party-agent"
        assert listing.request.headers["signature-input"].count('tag="web-bot-auth"') == 1

        agent = FirstPartyAgent(client)
        persona = PERSONAS[0]
        agent.log_in(persona.email, persona.password)
        assert agent.offer()["category"] == persona.main_category
        picks = agent.help_me_decide()
        assert picks["category"] == persona.main_category
        reply = agent.say("add the top pick to my cart")
        assert [a["tool"] for a in reply["actions"]] == ["help_me_decide", "add_to_cart"]
        assert reply["actions"][1]["args"]["product_id"] == picks["top_pick"]["product"]["id"]


def nonce_of(request: object) -> str:
    headers = request.headers  # type: ignore[attr-defined]
    return str(headers["signature-input"]).split('nonce="', 1)[1].split('"', 1)[0]


def test_a_redirect_the_client_follows_is_signed_afresh(
    live_server: LiveServer, settings: Settings, clock: FrozenClock
) -> None:
    with platform_client(
        live_server.url, settings=settings, clock=clock, follow_redirects=True
    ) as client:
        answer = client.get("/api/v1/products/", params={"category": "tents"})
    assert [hop.status_code for hop in answer.history] == [307]
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-visitor-class"] == "first-party-agent"
    first, second = answer.history[0].request, answer.request
    assert nonce_of(first) != nonce_of(second)
    assert len(nonce_of(second)) == 86  # 64 random bytes in unpadded base64url
    agent = f'sig1="{live_server.url}/.well-known/http-message-signatures-directory"'
    assert second.headers["signature-agent"] == agent
    assert '"signature-agent";key="sig1"' in second.headers["signature-input"]
