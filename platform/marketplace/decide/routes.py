"""Help Me Decide endpoints: whether it is offered, and the picks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from marketplace.accounts.deps import AccountDep, ShopperDep
from marketplace.catalog.deps import ProductIndexDep
from marketplace.core.deps import NowDep, SessionDep, SettingsDep
from marketplace.decide import service
from marketplace.decide.assistant.agent import run_turn
from marketplace.decide.assistant.tools import AssistantContext
from marketplace.decide.deps import AssistantMemoryDep, DecideConfigDep
from marketplace.decide.schemas import (
    ActionOut,
    AssistantMessageIn,
    AssistantReplyOut,
    DecideRequest,
    OfferOut,
    RecommendationOut,
)

router = APIRouter(prefix="/api/v1", tags=["help-me-decide"])


_NOT_ENOUGH: dict[int | str, dict[str, Any]] = {
    404: {"description": "The category does not exist; the problem lists the valid slugs."},
    409: {
        "description": "Not enough signal yet (`not-enough-signal`: the problem says how many "
        "more products to view), or nothing in the category is in stock."
    },
}


@router.get(
    "/help-me-decide/offer",
    response_model=OfferOut,
    summary="Is Help Me Decide offered?",
    description="Whether the storefront should show the Help Me Decide button to this shopper, "
    "for which category, and otherwise what to do first. The offer appears once the shopper "
    "viewed enough distinct products of one category recently (3 in 72 hours by default). "
    "Works for anonymous shoppers (session cookie) and logged-in ones.",
)
def get_offer(
    shopper: ShopperDep, session: SessionDep, now: NowDep, config: DecideConfigDep
) -> OfferOut:
    return service.offer(
        session,
        account_id=shopper.account_id,
        session_key=shopper.session_key,
        now=now,
        config=config,
    )


@router.post(
    "/help-me-decide",
    response_model=RecommendationOut,
    summary="Help Me Decide: top, budget and premium picks",
    description="Recommends one product of a category for this shopper, plus a clearly cheaper "
    "budget pick and a premium upgrade, each with 2-4 reasons, the factor scores and the "
    "evidence behind every reason. It uses only this shopper's own searches, views, cart and "
    "purchases, plus aggregate co-view similarity. `category` defaults to the category that "
    "triggered the offer. A missing budget or premium pick is null, with a note saying why.",
    responses=_NOT_ENOUGH,
)
def post_decide(
    shopper: ShopperDep,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    config: DecideConfigDep,
    body: Annotated[DecideRequest | None, Body()] = None,
) -> RecommendationOut:
    return service.decide(
        session,
        account_id=shopper.account_id,
        session_key=shopper.session_key,
        now=now,
        category=body.category if body else None,
        config=config,
        llm=settings.llm,
    )


@router.post(
    "/assistant/messages",
    response_model=AssistantReplyOut,
    tags=["assistant"],
    summary="Talk to the shopping assistant",
    description="The platform's own shopping assistant for logged-in shoppers: a LangChain agent "
    "with the tools `search_catalog`, `my_history`, `help_me_decide` and `add_to_cart`, acting "
    'for this shopper only. Offline by default (a scripted model that understands e.g. "help me '
    'choose headphones under $200" and "add the budget pick to my cart"); a real model when '
    "`SANDBOX_LLM` names one. Messages with the same `conversation_id` share context: the "
    "conversation's last turns (20 by default), for an hour after its last message.",
    responses={401: {"description": "Not logged in; the problem says how to log in."}},
)
def post_assistant_message(
    body: AssistantMessageIn,
    account: AccountDep,
    shopper: ShopperDep,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    config: DecideConfigDep,
    memory: AssistantMemoryDep,
    index: ProductIndexDep,
) -> AssistantReplyOut:
    ctx = AssistantContext(
        session=session,
        index=index,
        account_id=account.id,
        session_key=shopper.session_key,
        now=now,
        config=config,
    )
    turn = run_turn(
        ctx,
        body.message,
        # The account id in the thread keeps one shopper out of another's conversation.
        thread_id=f"{account.id}:{body.conversation_id}",
        llm=settings.llm,
        memory=memory,
    )
    return AssistantReplyOut(
        conversation_id=body.conversation_id,
        reply=turn.reply,
        actions=[ActionOut(tool=a.tool, args=a.args, result=a.result) for a in turn.actions],
        recommendation=ctx.recommendation,
        cart=ctx.cart.model_dump() if ctx.cart else None,
        model=settings.llm,
    )
