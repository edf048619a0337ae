"""The summary: templates by default; a chat model only rewrites the facts it is given."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from marketplace.decide import summary

FACTS: dict[str, Any] = {
    "category_name": "Tents",
    "top": {
        "title": "Trail Tent",
        "price": 54.99,
        "brand": "Pinecrest",
        "reasons": ["4.8 stars from 39 ratings", "You viewed 10 freestanding tents"],
    },
    "budget": None,
    "premium": None,
}


def test_scripted_summary_uses_only_the_reasons() -> None:
    text, note = summary.summarize(FACTS, "scripted")
    assert note is None
    assert text == (
        "For tents, we recommend Trail Tent ($54.99): 4.8 stars from 39 ratings; "
        "you viewed 10 freestanding tents."
    )


def test_a_reason_that_begins_with_the_brand_keeps_its_capital() -> None:
    facts = {
        **FACTS,
        "top": {
            **FACTS["top"],
            "brand": "Nile Basics",
            "reasons": ["Nile Basics is the store's own brand", "4.8 stars from 39 ratings"],
        },
    }
    text, _ = summary.summarize(facts, "scripted")
    assert ": Nile Basics is the store's own brand; 4.8 stars" in text


def test_a_configured_model_writes_the_paragraph_from_the_facts(monkeypatch: Any) -> None:
    model = FakeListChatModel(responses=["Trail Tent fits: 4.8 stars from 39 ratings."])
    seen: list[Any] = []

    class Spy:
        def invoke(self, messages: Any) -> Any:
            seen.append(messages)
            return model.invoke(messages)

    monkeypatch.setattr(summary, "chat_model", lambda spec: Spy())
    text, note = summary.summarize(FACTS, "fake:model")
    assert text == "Trail Tent fits: 4.8 stars from 39 ratings."
    assert note is None
    # The model is handed the structured facts and nothing else.
    system, human = seen[0]
    assert "only the facts" in system[1]
    assert "Trail Tent" in human[1]
    assert "4.8 stars from 39 ratings" in human[1]


def test_a_failing_model_falls_back_to_the_templates(monkeypatch: Any) -> None:
    def broken(spec: str) -> Any:
        raise RuntimeError("no API key")

    monkeypatch.setattr(summary, "chat_model", broken)
    text, note = summary.summarize(FACTS, "openai:gpt-4o-mini")
    assert text.startswith("For tents, we recommend Trail Tent")
    assert note is not None
    assert "openai:gpt-4o-mini" in note
