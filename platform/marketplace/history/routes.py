"""The shopper's own history: `GET /api/v1/me/history`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from marketplace.accounts.deps import ShopperDep
from marketplace.core.deps import SessionDep
from marketplace.history import service
from marketplace.history.schemas import HistoryEventOut, HistoryPage

router = APIRouter(prefix="/api/v1/me", tags=["history"])

EventKind = Literal["search", "view", "cart_add", "cart_update", "cart_remove", "purchase"]


@router.get(
    "/history",
    response_model=HistoryPage,
    summary="Your shopping history",
    description="The caller's own searches, product views, cart changes and purchases, newest "
    "first: the account's when logged in, otherwise this browser session's (claimed by the "
    "account at login). Nobody else's history is ever returned.",
)
def my_history(
    shopper: ShopperDep,
    session: SessionDep,
    kind: Annotated[EventKind | None, Query(description="Only events of this kind.")] = None,
    # Bounded so the offset fits the database's 64-bit integers.
    page: Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1.")] = 1,
    page_size: Annotated[int, Query(ge=1, le=100, description="Events per page.")] = 50,
) -> HistoryPage:
    events, total = service.event_page(
        session,
        account_id=shopper.account_id,
        session_key=shopper.session_key,
        kind=kind,
        page=page,
        page_size=page_size,
    )
    return HistoryPage(
        items=[HistoryEventOut.model_validate(event) for event in events],
        total=total,
        page=page,
        page_size=page_size,
    )
