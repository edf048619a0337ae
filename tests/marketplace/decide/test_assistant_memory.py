"""The assistant's memory is bounded: last turns per conversation, LRU of conversations, idle TTL.

Finding 4 of the hostile-input review: every turn of every conversation was kept for the life of
the process (2,000 conversations added 73 MiB; one 400-turn conversation took the process from 279
to 1,594 MiB). Whether the assistant still remembers shows over HTTP: "add the budget pick to my
cart" adds the pick it recommended earlier in the conversation, and when it has forgotten that
recommendation it has to ask Help Me Decide first.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from marketplace.core.appstate import state_of
from marketplace.core.clock import FrozenClock
from marketplace.core.settings import Settings
from marketplace.decide.assistant.memory import ConversationMemory, last_turns
from tests.conftest import register_and_login

MESSAGES = "/api/v1/assistant/messages"
TURNS = 3
CONVERSATIONS = 3
TTL_S = 600


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "assistant_max_turns": TURNS,
            "assistant_max_conversations": CONVERSATIONS,
            "assistant_ttl_s": TTL_S,
        }
    )


@pytest.fixture
def shopper(client: TestClient) -> TestClient:
    token = register_and_login(client, "memory@example.com")
    client.headers["authorization"] = f"Bearer {token}"
    return client


def say(client: TestClient, message: str, conversation: str) -> list[str]:
    """Send a message; the tools the assistant used for it."""
    answer = client.post(MESSAGES, json={"message": message, "conversation_id": conversation})
    assert answer.status_code == 200, answer.text
    return [action["tool"] for action in answer.json()["actions"]]


def remembers_the_pick(client: TestClient, conversation: str) -> bool:
    tools = say(client, "add the budget pick to my cart", conversation)
    # Forgotten: the assistant has no pick and must ask Help Me Decide (which may need more).
    assert tools == ["add_to_cart"] or tools[0] == "help_me_decide", tools
    return tools == ["add_to_cart"]


CHOOSE = "help me choose headphones under $200"


def test_a_long_conversation_keeps_its_last_turns(shopper: TestClient) -> None:
    say(shopper, CHOOSE, "long")
    for _ in range(TURNS - 2):
        say(shopper, "hello", "long")
    assert remembers_the_pick(shopper, "long")  # the recommendation is still in the window

    say(shopper, CHOOSE, "longer")
    for _ in range(TURNS):
        say(shopper, "hello", "longer")
    assert not remembers_the_pick(shopper, "longer")  # it was dropped with its turn

    memory = state_of(shopper.app).assistant_memory
    for _ in range(20):
        say(shopper, "hello", "longer")
    assert all(memory.turns(key) <= TURNS for key in list(memory._items))


def test_the_least_recently_used_conversation_is_forgotten(shopper: TestClient) -> None:
    say(shopper, CHOOSE, "kept")
    say(shopper, CHOOSE, "dropped")
    for other in ("c", "d"):
        say(shopper, "hello", other)
        say(shopper, "hello", "kept")  # used again: stays
    assert len(state_of(shopper.app).assistant_memory) == CONVERSATIONS
    assert remembers_the_pick(shopper, "kept")
    assert not remembers_the_pick(shopper, "dropped")


def test_an_idle_conversation_is_forgotten(shopper: TestClient, clock: FrozenClock) -> None:
    say(shopper, CHOOSE, "a")
    say(shopper, CHOOSE, "b")
    clock.advance(seconds=TTL_S - 60)
    assert remembers_the_pick(shopper, "a")
    clock.advance(seconds=TTL_S + 1)
    assert not remembers_the_pick(shopper, "b")


def test_conversations_stay_per_shopper(client: TestClient) -> None:
    first = register_and_login(client, "first@example.com")
    say_as = {"authorization": f"Bearer {first}"}
    answer = client.post(MESSAGES, json={"message": CHOOSE}, headers=say_as)
    assert answer.status_code == 200
    second = register_and_login(client, "second@example.com")
    answer = client.post(
        MESSAGES,
        json={"message": "add the budget pick to my cart"},
        headers={"authorization": f"Bearer {second}"},
    )
    tools = [action["tool"] for action in answer.json()["actions"]]
    assert tools[0] == "help_me_decide"  # the other shopper's pick is not in this conversation


def test_last_turns_starts_at_a_shopper_message() -> None:
    messages = [
        HumanMessage("one"),
        AIMessage("", tool_calls=[{"name": "t", "args": {}, "id": "1"}]),
        ToolMessage("{}", tool_call_id="1"),
        AIMessage("done"),
        HumanMessage("two"),
        AIMessage("ok"),
        HumanMessage("three"),
        AIMessage("ok"),
    ]
    assert last_turns(messages, 5) == tuple(messages)
    assert last_turns(messages, 2) == tuple(messages[4:])
    assert last_turns(messages, 1) == tuple(messages[6:])


def test_memory_holds_at_most_its_bounds(clock: FrozenClock) -> None:
    memory = ConversationMemory(max_conversations=10, max_turns=4, ttl_s=60, clock=clock)
    turn = [HumanMessage("hi"), AIMessage("hello")]
    for n in range(1000):
        memory.save(f"t{n % 37}", turn * (n % 9))
        assert len(memory) <= 10
    assert max(memory.turns(f"t{n}") for n in range(37)) == 4
    clock.advance(seconds=61)
    assert len(memory) == 10  # expiry happens on the next use
    assert memory.history("t1") == []
    assert len(memory) == 0
    with pytest.raises(ValueError, match="positive"):
        ConversationMemory(max_conversations=0, max_turns=1, ttl_s=1, clock=clock)
