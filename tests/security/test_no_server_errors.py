"""No input gets a 500: numbers, ids and quantities are bounded in the services as in the API.

The assistant is driven with arbitrary text (a hypothesis property, scripted brain, logged-in
shopper); its tools, called the way a real model may call them, answer out-of-range ids and
quantities with an error the model can read instead of reaching the database; the HTML forms and
admin filters bound their numbers like the API does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from marketplace.app import create_app
from marketplace.cart.models import CartItem
from marketplace.core.appstate import state_of
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.settings import Settings
from marketplace.decide.assistant.tools import AssistantContext, build_tools
from marketplace.decide.config import load_decide_config
from tests.conftest import ADMIN_TOKEN, CHROME_UA, TEST_NOW, TEST_SEED, register_and_login

MESSAGES = "/api/v1/assistant/messages"
HUGE = "99999999999999999999999"


@pytest.fixture
def store(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[FastAPI, Database]]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        admin_token=ADMIN_TOKEN,
        secret_key="no-500-secret-key",
        policy="observe",
        seed=TEST_SEED,
    )
    database = Database(sqlite_url)
    yield create_app(settings, database=database, clock=FrozenClock(TEST_NOW)), database
    database.dispose()


@pytest.fixture
def client(store: tuple[FastAPI, Database]) -> Iterator[TestClient]:
    # Server errors are answers here (problem+json 500), not exceptions in the test.
    with TestClient(
        store[0], headers={"user-agent": CHROME_UA}, raise_server_exceptions=False
    ) as test_client:
        yield test_client


@pytest.fixture
def shopper(client: TestClient) -> str:
    return register_and_login(client, "shopper@example.com")


def _say(client: TestClient, token: str, message: str) -> Any:
    answer = client.post(
        MESSAGES, json={"message": message}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code < 500, (message, answer.text)
    return answer


@pytest.mark.parametrize(
    "message",
    [
        f"add product {HUGE} to my cart",
        "add product 9223372036854775808 to my cart",
        "add product 0 to my cart",
        f"add {HUGE} units of product 1",
        f"find headphones under ${'9' * 400}",
        f"help me choose headphones under {'9' * 900}",
        "find " + "wireless headphones " * 45,
    ],
)
def test_numbers_in_a_message_get_an_answer_not_a_server_error(
    client: TestClient, shopper: str, message: str
) -> None:
    answer = _say(client, shopper, message)
    assert answer.status_code == 200, answer.text
    assert answer.json()["reply"]


def test_an_impossible_product_id_is_answered_without_a_tool_call(
    client: TestClient, shopper: str
) -> None:
    answer = _say(client, shopper, f"add product {HUGE} to my cart").json()
    assert answer["actions"] == []
    assert answer["reply"].startswith(f"There is no product {HUGE}")


_NUMBER = st.one_of(
    st.integers(-(2**80), 2**80).map(str),
    st.from_regex(r"-?[0-9]{17,60}", fullmatch=True),
    st.from_regex(r"[0-9]{1,3}( units| x| of them| pieces)", fullmatch=True),
)
_COMMAND = st.builds(
    "{} {} {} {}".format,
    st.sampled_from(["add", "put", "buy the", "order", "help me choose", "find", "what did i"]),
    st.sampled_from(["product", "item", "#", "id", "", "the budget pick", "headphones"]),
    _NUMBER,
    st.sampled_from(["", "to my cart", "under $", "units"]).map(str) | st.text(max_size=30),
)


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.one_of(_COMMAND, st.text(min_size=1, max_size=300)))
@example(text=f"add product {HUGE} to my cart")
@example(text=f"find tents under ${'9' * 500}")
def test_the_assistant_answers_any_text_without_a_server_error(
    client: TestClient, shopper: str, text: str
) -> None:
    answer = client.post(
        MESSAGES, json={"message": text[:1000]}, headers={"Authorization": f"Bearer {shopper}"}
    )
    assert answer.status_code < 500, (text, answer.text)


def test_the_tools_refuse_out_of_range_ids_and_quantities(store: tuple[FastAPI, Database]) -> None:
    # What a real model may send: the tools' own type hints only say `int`.
    app, database = store
    with database.session() as session:
        lines_before = len(session.scalars(select(CartItem)).all())
        ctx = AssistantContext(
            session=session,
            index=state_of(app).product_index,
            account_id=1,
            session_key=None,
            now=TEST_NOW,
            config=load_decide_config(),
        )
        tools = {t.name: t for t in build_tools(ctx)}
        add = tools["add_to_cart"]
        results = {
            (product_id, quantity): json.loads(
                add.invoke({"product_id": product_id, "quantity": quantity})
            )
            for product_id, quantity in [
                (1, -3),
                (1, 0),
                (1, 10**6),
                (2**63, 1),
                (int(HUGE), 1),
                (-1, 1),
            ]
        }
        search = json.loads(tools["search_catalog"].invoke({"max_price": -5.0}))
        lines_after = len(session.scalars(select(CartItem)).all())
    for (product_id, quantity), result in results.items():
        expected = 422 if product_id == 1 else 404
        assert result["status"] == expected, (product_id, quantity, result)
        assert re.search(r"quantity|no such product|no product", result["error"]), result
    assert search["status"] == 422
    assert lines_after == lines_before


def test_forms_and_filters_bound_their_numbers(client: TestClient) -> None:
    register_and_login(client, "forms@example.com")
    page = client.get("/products/1")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    added = client.post(
        "/cart/items",
        data={"product_id": HUGE, "quantity": "1", "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    assert added.status_code == 422
    decisions = client.get(
        f"/api/v1/decisions?account_id={HUGE}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert decisions.status_code == 422
