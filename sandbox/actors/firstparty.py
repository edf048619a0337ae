"""Sessions of the platform's own agent: a shopper asks the store's assistant to choose and buy.

The agent signs every request with the platform's key (`sandbox.firstparty_client`), which is
what lets it through the gate under every policy; the order it places is counted under its own
channel.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from marketplace.catalog.taxonomy import category_spec
from marketplace.core.settings import Settings
from sandbox.actors.base import ActorResult
from sandbox.actors.humans import Need
from sandbox.firstparty_client import FirstPartyAgent, platform_client
from sandbox.persona import Persona
from shopbots.gate import parse_answer


@dataclass(frozen=True)
class FirstPartyPlan:
    index: int
    persona: Persona
    seed: int
    need: Need | None = None  # default: the persona's main interest
    run_tag: str = ""  # a new conversation and order key in a store that saw this seed before

    @property
    def run_key(self) -> str:
        return f"{self.seed}:{self.index}" + (f":{self.run_tag}" if self.run_tag else "")


def run_first_party_session(
    target: str, plan: FirstPartyPlan, *, key_file: Path | None
) -> ActorResult:
    """Log in for the persona, ask the assistant to choose, add its pick, and place the order."""
    result = ActorResult(
        name=f"first-party-{plan.index} ({plan.persona.key})",
        kind="first-party",
        persona=plan.persona.key,
    )
    if key_file is None:
        result.error = (
            "the store's signing key is not on this machine: run `sandbox run --target` in the "
            "folder (with the SANDBOX_DATA_DIR) the store was started with"
        )
        result.outcome = "skipped"
        return result

    def record(response: httpx.Response) -> None:
        response.read()
        result.note(parse_answer(response))

    settings = Settings(data_dir=key_file.parent, signing_key_file=key_file)
    rng = random.Random(f"first-party:{plan.run_key}")
    need = plan.need or Need.of(plan.persona, plan.persona.main_category)
    noun = category_spec(need.category).name.lower()
    ask = f"help me choose {noun}" + (f" under ${round(need.budget * 1.2)}" if need.budget else "")
    try:
        with platform_client(
            target, settings=settings, event_hooks={"response": [record]}
        ) as client:
            agent = FirstPartyAgent(client)
            agent.log_in(plan.persona.email, plan.persona.password)
            conversation = "session-" + plan.run_key.replace(":", "-")
            advice = agent.say(ask, conversation_id=conversation)
            result.pages_read += 1  # the shopper reads the assistant's answer
            recommendation = advice.get("recommendation") or {}
            top = (recommendation.get("top_pick") or {}).get("product") or {}
            result.hmd_used = bool(top)
            result.hmd_top_pick = top.get("id")
            role = (
                "budget pick"
                if rng.random() < 0.3 and recommendation.get("budget_pick")
                else "top pick"
            )
            agent.say(f"add the {role} to my cart", conversation_id=conversation)
            result.pages_read += 1
            order = client.post(
                "/api/v1/orders",
                headers={"Idempotency-Key": str(uuid.UUID(int=rng.getrandbits(128)))},
            )
            if order.status_code in (200, 201):
                body = order.json()
                result.orders.append(int(body["id"]))
                result.purchases += [int(item["product_id"]) for item in body.get("items", [])]
                result.succeeded = True
                result.outcome = f"ordered the {role} for {plan.persona.name}"
            else:
                result.refused_order_attempts += 1
                result.outcome = f"order refused: {order.status_code}"
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        result.outcome = "failed"
    return result
