"""The summary paragraph: templates by default, a chat model only when `SANDBOX_LLM` names one.

Either way the model sees only the structured reasons, so every fact in the paragraph comes from
them; the model may rephrase but has nothing else to say.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

SCRIPTED = "scripted"

_SYSTEM = (
    "You write one short paragraph (at most 80 words) recommending products to a shopper. "
    "Use only the facts in the JSON you are given: do not add any number, feature, brand or "
    "claim that is not there. Mention the top pick first, then the budget and premium picks "
    "if present."
)

_models: dict[str, Any] = {}
_lock = threading.Lock()


def _pick_sentence(role: str, pick: dict[str, Any]) -> str:
    reasons = "; ".join(_mid_sentence(r, pick.get("brand")) for r in pick["reasons"][:2])
    return f"{role} {pick['title']} (${pick['price']:,.2f}): {reasons}."


def _mid_sentence(reason: str, brand: str | None) -> str:
    """A reason continued after a colon: lower-case first letter, unless it begins with a name."""
    if not reason or (brand and reason.startswith(brand)):
        return reason
    return reason[0].lower() + reason[1:]


def scripted_summary(facts: dict[str, Any]) -> str:
    """A template paragraph built from the structured reasons only."""
    parts = [_pick_sentence(f"For {facts['category_name'].lower()}, we recommend", facts["top"])]
    if facts.get("budget"):
        parts.append(_pick_sentence("To spend less, consider", facts["budget"]))
    if facts.get("premium"):
        parts.append(_pick_sentence("For an upgrade, consider", facts["premium"]))
    return " ".join(parts)


def chat_model(spec: str) -> Any:
    """The LangChain chat model for a `provider:model` string, created once per process."""
    with _lock:
        if spec not in _models:
            from langchain.chat_models import init_chat_model

            _models[spec] = init_chat_model(spec, temperature=0)
        return _models[spec]


def summarize(facts: dict[str, Any], llm: str) -> tuple[str, str | None]:
    """The paragraph, and a note when the configured model could not be used."""
    if not llm or llm == SCRIPTED:
        return scripted_summary(facts), None
    try:
        model = chat_model(llm)
        reply = model.invoke(
            [("system", _SYSTEM), ("human", json.dumps(facts, ensure_ascii=False))]
        )
        text = str(getattr(reply, "content", "") or "").strip()
        if text:
            return text, None
    except Exception as exc:  # any provider failure falls back to the template
        log.warning("LLM wording with %s failed: %s", llm, exc)
        return scripted_summary(facts), f"The {llm} model was unavailable; templates wrote this."
    return scripted_summary(facts), None
