"""The first-party assistant over real HTTP: scripted intents end to end, into the right cart."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from marketplace.cart.models import CartItem
from marketplace.core.db import Database
from sandbox.liveserver import LiveServer
from sandbox.persona import load_personas
from tests.conftest import CHROME_UA, register_and_login

PERSONAS = load_personas().members

MESSAGES = "/api/v1/assistant/messages"


def _login(client: httpx.Client, email: str, password: str) -> None:
    answer = client.post("/api/v1/sessions", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"


def _say(client: httpx.Client, message: str, **extra: str) -> dict:  # type: ignore[type-arg]
    answer = client.post(MESSAGES, json={"message": message, **extra})
    assert answer.status_code == 200, answer.text
    body: dict = answer.json()  # type: ignore[type-arg]
    return body


def _cart(database: Database, account_email: str) -> dict[int, int]:
    from marketplace.accounts.models import Account

    with database.session() as session:
        account_id = session.scalar(select(Account.id).where(Account.email == account_email))
        rows = session.execute(
            select(CartItem.product_id, CartItem.quantity).where(CartItem.account_id == account_id)
        ).all()
    return {int(pid): int(qty) for pid, qty in rows}


def test_choose_then_add_the_budget_pick_to_my_cart(
    live_server: LiveServer, database: Database
) -> None:
    with httpx.Client(base_url=live_server.url, headers={"user-agent": CHROME_UA}) as client:
        email = "assistant-user@example.com"
        register = client.post(
            "/api/v1/accounts",
            json={"email": email, "password": "correct-horse-9", "name": "Ada"},
        )
        assert register.status_code == 201, register.text
        _login(client, email, "correct-horse-9")
        before = _cart(database, email)

        chosen = _say(client, "help me choose headphones under $200")
        assert [a["tool"] for a in chosen["actions"]] == ["help_me_decide"]
        assert chosen["actions"][0]["args"]["category"] == "headphones"
        decision = chosen["recommendation"]
        assert decision["category"] == "headphones"
        top = decision["top_pick"]["product"]
        assert top["price"] <= 200
        assert top["title"] in chosen["reply"]
        assert decision["top_pick"]["reasons"][0] in chosen["reply"]
        budget = decision["budget_pick"]
        assert budget is not None, decision["notes"]

        added = _say(client, "add the budget pick to my cart")
        assert [a["tool"] for a in added["actions"]] == ["add_to_cart"]
        assert added["actions"][0]["args"]["product_id"] == budget["product"]["id"]
        assert budget["product"]["title"] in added["reply"]
        after = _cart(database, email)
        assert after == {**before, budget["product"]["id"]: 1}
        assert added["cart"]["items"][0]["product_id"] == budget["product"]["id"]


def test_a_persona_asks_with_no_words_and_adds_the_top_pick(
    live_server: LiveServer, database: Database
) -> None:
    persona = PERSONAS[0]
    with httpx.Client(base_url=live_server.url, headers={"user-agent": CHROME_UA}) as client:
        _login(client, persona.email, persona.password)
        before = _cart(database, persona.email)
        # The category comes from what the persona has been browsing.
        chosen = _say(client, "which one should I buy? help me decide", conversation_id="c1")
        decision = chosen["recommendation"]
        assert decision["category"] == persona.main_category
        top_id = decision["top_pick"]["product"]["id"]
        added = _say(client, "add the top pick to my cart", conversation_id="c1")
        assert added["actions"][0]["args"]["product_id"] == top_id
        assert _cart(database, persona.email) == {**before, top_id: before.get(top_id, 0) + 1}


def test_history_search_and_help_intents(live_server: LiveServer) -> None:
    persona = PERSONAS[1]
    with httpx.Client(base_url=live_server.url, headers={"user-agent": CHROME_UA}) as client:
        _login(client, persona.email, persona.password)
        history = _say(client, "what did I look at recently?")
        assert [a["tool"] for a in history["actions"]] == ["my_history"]
        assert "Recently viewed" in history["reply"]

        found = _say(client, "find wireless headphones under $100")
        assert [a["tool"] for a in found["actions"]] == ["search_catalog"]
        assert found["actions"][0]["args"]["category"] == "headphones"
        assert found["actions"][0]["args"]["max_price"] == 100

        unknown = _say(client, "hello there")
        assert unknown["actions"] == []
        assert "help me choose" in unknown["reply"]


def test_the_assistant_is_for_logged_in_shoppers_only(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, headers={"user-agent": CHROME_UA}) as client:
        answer = client.post(MESSAGES, json={"message": "help me choose a tent"})
    assert answer.status_code == 401
    assert "Log in first" in answer.json()["detail"]


def test_one_shopper_cannot_continue_anothers_conversation(client, database: Database) -> None:  # type: ignore[no-untyped-def]
    first = register_and_login(client, "first@example.com")
    chosen = client.post(
        MESSAGES,
        json={"message": "help me choose a tent", "conversation_id": "shared"},
        headers={"Authorization": f"Bearer {first}"},
    )
    assert chosen.status_code == 200, chosen.text
    second = register_and_login(client, "second@example.com")
    added = client.post(
        MESSAGES,
        json={"message": "add the top pick to my cart", "conversation_id": "shared"},
        headers={"Authorization": f"Bearer {second}"},
    ).json()
    # The second shopper has no recommendation of their own yet, so nothing is added.
    assert all(a["tool"] != "add_to_cart" for a in added["actions"])
    assert _cart(database, "second@example.com") == {}


@pytest.mark.parametrize("message", ["add product 999999 to my cart"])
def test_tool_errors_become_a_helpful_reply(client, message: str) -> None:  # type: ignore[no-untyped-def]
    token = register_and_login(client, "errors@example.com")
    answer = client.post(
        MESSAGES, json={"message": message}, headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert answer["actions"][0]["tool"] == "add_to_cart"
    assert answer["reply"].startswith("I couldn't add it:")
