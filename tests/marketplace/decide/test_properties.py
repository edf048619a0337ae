"""Property tests over generated catalogs and histories.

The picks are distinct, in price order, in stock and in the category; a missing pick comes with a
note; and one shopper's picks never depend on another shopper's history, except through the
aggregate co-view similarity.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from marketplace.accounts.service import hash_password, register
from marketplace.catalog.models import Product
from marketplace.core.db import Database
from marketplace.core.errors import Conflict
from marketplace.decide.config import DecideConfig, ScoringWeights
from marketplace.decide.domain import (
    AttrSpec,
    Interaction,
    ProductFacts,
    SearchSignal,
    ShopperSignal,
)
from marketplace.decide.service import decide, rank_and_pick
from marketplace.decide.signals import category_signal, load_history
from marketplace.history.models import HistoryEvent
from marketplace.history.service import record_event
from tests.conftest import TEST_NOW

# Never checked: these accounts only hold history.
PASSWORD_HASH = hash_password("x" * 10)

SPECS = (
    AttrSpec("wireless", "Wireless", "bool", None, "higher"),
    AttrSpec("battery_hours", "Battery life", "int", "h", "higher"),
    AttrSpec("weight_g", "Weight", "int", "g", "lower"),
    AttrSpec("form", "Form factor", "choice", None, None, ("in-ear", "on-ear", "over-ear")),
    AttrSpec("tier", "Tier", "choice", None, "higher", ("basic", "plus", "pro")),
    AttrSpec("capacity", "Capacity", "int", "persons", None),
)
CATEGORY = "gadgets"
QUERIES = (
    "wireless gadgets",
    "gadgets under $50",
    "over-ear",
    "4 person gadget",
    "pro gadget with long battery",
    "not wireless",
    "under 2000",
    "cheap",
)

attributes = st.fixed_dictionaries(
    {
        "wireless": st.booleans(),
        "battery_hours": st.integers(1, 60),
        "weight_g": st.integers(20, 400),
        "form": st.sampled_from(SPECS[3].choices),
        "tier": st.sampled_from(SPECS[4].choices),
        "capacity": st.sampled_from([1, 2, 4, 6]),
    }
)


@st.composite
def products(draw: st.DrawFn) -> list[ProductFacts]:
    n = draw(st.integers(1, 30))
    out = []
    for i in range(n):
        out.append(
            ProductFacts(
                id=i + 1,
                title=f"Gadget {i}",
                brand=draw(st.sampled_from(["Acme", "Zenith", "Nile Basics", "Orbit"])),
                category=draw(st.sampled_from([CATEGORY, CATEGORY, CATEGORY, "other"])),
                price=draw(st.floats(1, 2000, allow_nan=False).map(lambda x: round(x, 2))),
                rating=draw(st.floats(1, 5).map(lambda x: round(x, 1))),
                review_count=draw(st.integers(0, 5000)),
                stock=draw(st.integers(0, 12)),
                attributes=draw(attributes),
                is_house_brand=False,
            )
        )
    return out


@st.composite
def signals(draw: st.DrawFn, catalog: list[ProductFacts]) -> ShopperSignal:
    chosen = draw(st.lists(st.sampled_from(catalog), max_size=8, unique_by=lambda p: p.id))
    interactions = tuple(
        Interaction(
            product=p,
            views=draw(st.integers(0, 4)),
            carted=draw(st.booleans()),
            purchases=draw(st.integers(0, 1)),
        )
        for p in chosen
        if p.category == CATEGORY
    )
    searches = tuple(
        SearchSignal(q, {"max_price": draw(st.sampled_from([0, 40, 400]))})
        for q in draw(st.lists(st.sampled_from(QUERIES), max_size=3))
    )
    return ShopperSignal(CATEGORY, interactions, searches, {"Acme": draw(st.integers(0, 2))})


configs = st.builds(
    DecideConfig,
    weights=st.builds(
        ScoringWeights,
        attribute_fit=st.floats(0, 1),
        quality=st.floats(0, 1),
        price_fit=st.floats(0, 1),
        house_brand_boost=st.sampled_from([0.0, 0.2, 3.0]),
    ),
    budget_max_price_ratio=st.sampled_from([0.5, 0.7, 0.9]),
    min_candidates_after_constraints=st.integers(1, 5),
)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), config=configs)
def test_picks_are_distinct_ordered_in_stock_and_in_the_category(
    data: st.DataObject, config: DecideConfig
) -> None:
    catalog = data.draw(products())
    signal = data.draw(signals(catalog))
    by_id = {p.id: p for p in catalog}
    eligible = [p for p in catalog if p.category == CATEGORY and p.stock > 0]
    if not eligible:
        with pytest.raises(Conflict):
            rank_and_pick(catalog, signal, SPECS, config, category=CATEGORY, noun="gadgets")
        return
    ranked = rank_and_pick(catalog, signal, SPECS, config, category=CATEGORY, noun="gadgets")
    picks = [p for p in (ranked.top, ranked.budget, ranked.premium) if p is not None]
    ids = [p.product.id for p in picks]
    assert len(ids) == len(set(ids))
    for pick in picks:
        source = by_id[pick.product.id]
        assert source.category == CATEGORY
        assert source.stock > 0
        assert 2 <= len(pick.reasons) <= 4
        assert pick.reasons == [e.text for e in pick.evidence]
    top = ranked.top.product.price
    if ranked.budget is not None:
        assert ranked.budget.product.price <= config.budget_max_price_ratio * top + 1e-6
        assert ranked.budget.product.price < top
    else:
        assert any(n.startswith("No budget pick") for n in ranked.notes)
    if ranked.premium is not None:
        assert ranked.premium.product.price > top
    else:
        assert any(n.startswith("No premium pick") for n in ranked.notes)
    assert ("house_brand" in ranked.top.factors) == bool(config.weights.house_brand_boost)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_the_top_pick_has_the_best_score(data: st.DataObject) -> None:
    catalog = data.draw(products())
    signal = data.draw(signals(catalog))
    config = DecideConfig()
    if not any(p.category == CATEGORY and p.stock > 0 for p in catalog):
        return
    ranked = rank_and_pick(catalog, signal, SPECS, config, category=CATEGORY, noun="gadgets")
    totals = [p.factors["total"] for p in (ranked.budget, ranked.premium) if p is not None]
    assert all(ranked.top.factors["total"] >= t for t in totals)


# --- nobody else's history ------------------------------------------------------------------

other_events = st.lists(
    st.tuples(
        st.sampled_from(["view", "search", "purchase", "cart_add"]),
        st.integers(0, 299),  # index into the catalog
        st.integers(0, 200),  # hours ago
        st.sampled_from(["wireless headphones under 40", "4 person tent", "veridian laptop"]),
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture
def two_shoppers(database: Database) -> tuple[int, int, list[int]]:
    """Shopper A with a few headphone views and a search; shopper B with nothing yet."""
    with database.session() as session:
        a = register(
            session, email="a@example.com", password_hash=PASSWORD_HASH, name="A", now=TEST_NOW
        )
        b = register(
            session, email="b@example.com", password_hash=PASSWORD_HASH, name="B", now=TEST_NOW
        )
        session.flush()
        ids = list(session.scalars(select(Product.id).order_by(Product.id)))
        from marketplace.catalog.models import Category

        phones = list(
            session.scalars(
                select(Product.id)
                .join(Category, Category.id == Product.category_id)
                .where(Category.slug == "headphones", Product.stock > 0)
                .order_by(Product.id)
                .limit(4)
            )
        )
        record_event(
            session,
            kind="search",
            now=TEST_NOW - timedelta(hours=3),
            account_id=a.id,
            session_key=None,
            category_slug="headphones",
            query="over-ear headphones",
        )
        for i, pid in enumerate(phones):
            record_event(
                session,
                kind="view",
                now=TEST_NOW - timedelta(hours=2, minutes=i),
                account_id=a.id,
                session_key=None,
                product_id=pid,
                category_slug="headphones",
            )
        return a.id, b.id, ids


def _snapshot(database: Database, account_id: int, config: DecideConfig) -> tuple[Any, Any]:
    with database.session() as session:
        rows = load_history(
            session, account_id=account_id, session_key=None, since=TEST_NOW - timedelta(days=180)
        )
        signal = category_signal(session, rows, "headphones", category_words=["headphones"])
        picked = decide(
            session, account_id=account_id, session_key=None, now=TEST_NOW, config=config
        )
    picks = tuple(
        p.product.id if p else None
        for p in (picked.top_pick, picked.budget_pick, picked.premium_pick)
    )
    return signal, picks


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=other_events)
def test_another_shoppers_history_never_changes_the_personal_signal(
    database: Database, two_shoppers: tuple[int, int, list[int]], events: list[Any]
) -> None:
    a, b, ids = two_shoppers
    # Without the co-view factor nothing aggregate remains, so the picks must not move either.
    config = DecideConfig(weights=ScoringWeights(co_view=0.0))
    before = _snapshot(database, a, config)
    with database.session() as session:
        for kind, index, hours, query in events:
            record_event(
                session,
                kind=kind,
                now=TEST_NOW - timedelta(hours=hours),
                account_id=b,
                session_key="other-session",
                product_id=None if kind == "search" else ids[index % len(ids)],
                query=query if kind == "search" else None,
                category_slug="headphones" if kind == "search" else None,
            )
    try:
        assert _snapshot(database, a, config) == before
    finally:
        with database.session() as session:
            session.execute(delete(HistoryEvent).where(HistoryEvent.account_id == b))
