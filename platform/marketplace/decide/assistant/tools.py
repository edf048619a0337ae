"""The assistant's tools: the platform's own services, called in-process for the shopper."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from langchain_core.tools import BaseTool, tool
from pydantic import ValidationError
from sqlalchemy.orm import Session

from marketplace.cart import service as cart_service
from marketplace.cart.schemas import CartOut
from marketplace.catalog import service as catalog_service
from marketplace.catalog.schemas import MAX_QUERY_CHARS, SearchParams
from marketplace.catalog.text_index import ProductIndex
from marketplace.core.errors import ProblemError
from marketplace.decide import service as decide_service
from marketplace.decide.config import DecideConfig
from marketplace.decide.schemas import Pick, RecommendationOut
from marketplace.decide.signals import load_facts, load_history

# The assistant acts for the shopper, but it is the platform's agent doing the browsing.
ASSISTANT_VISITOR_CLASS = "first-party-agent"


@dataclass
class AssistantContext:
    """Who the assistant works for in this request, and what its tools produced."""

    session: Session
    index: ProductIndex
    account_id: int
    session_key: str | None
    now: datetime
    config: DecideConfig
    recommendation: RecommendationOut | None = None
    cart: CartOut | None = None
    calls: list[str] = field(default_factory=list)

    @property
    def shopper(self) -> _ShopperRef:
        return _ShopperRef(self.account_id, self.session_key)


@dataclass(frozen=True)
class _ShopperRef:
    account_id: int | None
    session_key: str | None


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _pick_brief(pick: Pick | None) -> dict[str, Any] | None:
    if pick is None:
        return None
    p = pick.product
    return {
        "id": p.id,
        "title": p.title,
        "price": p.price,
        "rating": p.rating,
        "review_count": p.review_count,
        "brand": p.brand,
        "reasons": pick.reasons,
    }


def _error(exc: ProblemError) -> str:
    return _dump({"error": exc.detail, "status": exc.status})


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or "input"
    return f"Field '{field}': {err.get('msg', 'is invalid')}."


def build_tools(ctx: AssistantContext) -> list[BaseTool]:
    """The four tools, bound to this shopper and this request's database session."""

    @tool
    def search_catalog(
        query: str = "", category: str | None = None, max_price: float | None = None
    ) -> str:
        """Search the store's catalog. `category` is a slug such as `headphones`; returns the
        five best matches with id, title, price, rating and review count."""
        ctx.calls.append("search_catalog")
        try:
            # A model may pass anything: a long request is searched by its first words.
            params = SearchParams(
                q=query[:MAX_QUERY_CHARS] or None,
                category=category,
                max_price=max_price,
                page_size=5,
            )
        except ValidationError as exc:
            return _dump({"error": _first_problem(exc), "status": 422})
        try:
            page = catalog_service.search_products(
                ctx.session,
                ctx.index,
                params,
                shopper=ctx.shopper,
                visitor_class=ASSISTANT_VISITOR_CLASS,
                now=ctx.now,
            )
        except ProblemError as exc:
            return _error(exc)
        items = [
            {
                "id": i.id,
                "title": i.title,
                "price": i.price,
                "rating": i.rating,
                "review_count": i.review_count,
                "sponsored": i.sponsored,
            }
            for i in page.items
            if i.in_stock
        ]
        return _dump({"total": page.total, "items": items[:5]})

    @tool
    def my_history(limit: int = 10) -> str:
        """The shopper's own recent searches, viewed products and cart (newest first)."""
        ctx.calls.append("my_history")
        rows = load_history(
            ctx.session,
            account_id=ctx.account_id,
            session_key=None,
            since=ctx.now - timedelta(days=ctx.config.history_window_days),
        )
        rows = list(reversed(rows))
        searches = [r.query for r in rows if r.kind == "search" and r.query][: max(1, limit)]
        viewed_ids: list[int] = []
        for r in rows:
            if r.kind == "view" and r.product_id is not None and r.product_id not in viewed_ids:
                viewed_ids.append(r.product_id)
        viewed_ids = viewed_ids[: max(1, limit)]
        facts = load_facts(ctx.session, viewed_ids)
        viewed = [
            {"id": pid, "title": facts[pid].title, "price": facts[pid].price}
            for pid in viewed_ids
            if pid in facts
        ]
        cart = cart_service.cart_view(ctx.session, ctx.account_id)
        return _dump(
            {
                "searches": searches,
                "viewed": viewed,
                "cart": {
                    "items": [
                        {"id": line.product_id, "title": line.title, "quantity": line.quantity}
                        for line in cart.items
                    ],
                    "total": cart.total,
                },
            }
        )

    @tool
    def help_me_decide(category: str | None = None, request: str | None = None) -> str:
        """Help Me Decide: the top, budget and premium picks for this shopper with reasons.
        `category` is a slug (default: what the shopper has been browsing); `request` is what
        the shopper asked for in words, e.g. "wireless headphones under $200"."""
        ctx.calls.append("help_me_decide")
        try:
            decision = decide_service.decide(
                ctx.session,
                account_id=ctx.account_id,
                session_key=ctx.session_key,
                now=ctx.now,
                category=category,
                request_text=request,
                # A shopper who names the category has told us enough to start from.
                require_views=category is None,
                config=ctx.config,
            )
        except ProblemError as exc:
            return _error(exc)
        ctx.recommendation = decision
        return _dump(
            {
                "category": decision.category,
                "category_name": decision.category_name,
                "top": _pick_brief(decision.top_pick),
                "budget": _pick_brief(decision.budget_pick),
                "premium": _pick_brief(decision.premium_pick),
                "notes": decision.notes,
            }
        )

    @tool
    def add_to_cart(product_id: int, quantity: int = 1) -> str:
        """Add `quantity` of a product to the shopper's cart; returns the cart."""
        ctx.calls.append("add_to_cart")
        try:
            cart = cart_service.add_item(
                ctx.session,
                account_id=ctx.account_id,
                product_id=product_id,
                quantity=quantity,
                now=ctx.now,
                session_key=ctx.session_key,
            )
        except ProblemError as exc:
            return _error(exc)
        ctx.cart = cart
        added = next((line for line in cart.items if line.product_id == product_id), None)
        return _dump(
            {
                "added": {
                    "id": product_id,
                    "title": added.title if added else None,
                    "quantity": quantity,
                },
                "cart_items": sum(line.quantity for line in cart.items),
                "cart_total": cart.total,
            }
        )

    return [search_catalog, my_history, help_me_decide, add_to_cart]
