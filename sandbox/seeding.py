"""Seeding the personas' accounts and histories through the platform's own services."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Account
from marketplace.accounts.service import hash_password, register
from marketplace.cart import service as cart_service
from marketplace.catalog.models import Category, Product
from marketplace.core.db import Database
from marketplace.history.service import record_event
from marketplace.orders import service as orders_service
from sandbox.persona import Persona, Personas
from sandbox.utility import ProductTraits, utility

# How many days of history the seed spreads over, ending at `now`.
HISTORY_DAYS = 30
# Products considered per category when seeding; bounds the work on a million-product catalog.
_CANDIDATES_PER_CATEGORY = 600


def _candidates(session: Session, category_slug: str) -> list[ProductTraits]:
    products = session.scalars(
        select(Product)
        .join(Category, Category.id == Product.category_id)
        .where(Category.slug == category_slug)
        .order_by(Product.id)
        .limit(_CANDIDATES_PER_CATEGORY)
    ).all()
    return [ProductTraits.from_row(p, category_slug) for p in products]


def _stock(session: Session, product_id: int) -> int:
    return int(session.scalar(select(Product.stock).where(Product.id == product_id)) or 0)


class _Seeder:
    """Writes one persona's history through the platform's own services, in time order."""

    def __init__(
        self, session: Session, persona: Persona, account_id: int, rng: random.Random
    ) -> None:
        self.session = session
        self.persona = persona
        self.account_id = account_id
        self.rng = rng
        self.orders_placed = 0

    def record(self, **event: Any) -> None:
        """Add one search or view to the account's history."""
        record_event(self.session, account_id=self.account_id, session_key=None, **event)

    def noisy_ranking(self, products: Sequence[ProductTraits], noise: float) -> list[ProductTraits]:
        # Shoppers mostly look at what suits them, but not only: browsing is noisy.
        profile = self.persona.profile
        scored = [(utility(profile, p) + self.rng.gauss(0.0, noise), p.id, p) for p in products]
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [item[2] for item in scored]

    def search(self, at: datetime, category: str, *, with_budget: bool) -> None:
        filters: dict[str, Any] = {"category": category}
        if with_budget:
            filters["max_price"] = float(
                round(self.persona.profile.budgets.get(category, 0.0) * 1.2)
            )
        self.record(
            kind="search",
            now=at,
            category_slug=category,
            query=self.persona.query_for(category),
            filters=filters,
        )

    def view(self, at: datetime, product: ProductTraits) -> None:
        self.record(kind="view", now=at, product_id=product.id, category_slug=product.category)

    def buy(self, at: datetime, product: ProductTraits) -> bool:
        if _stock(self.session, product.id) < 2:
            return False
        cart_service.add_item(
            self.session, account_id=self.account_id, product_id=product.id, quantity=1, now=at
        )
        self.orders_placed += 1
        orders_service.place_order(
            self.session,
            account_id=self.account_id,
            idempotency_key=f"persona-seed-{self.persona.key}-{self.orders_placed}",
            request=None,
            channel="human",
            now=at + timedelta(minutes=3),
        )
        return True

    def hesitate(self, at: datetime, product: ProductTraits) -> None:
        """Put something in the cart and take it out again: a considered, rejected option."""
        if _stock(self.session, product.id) < 1:
            return
        cart_service.add_item(
            self.session, account_id=self.account_id, product_id=product.id, quantity=1, now=at
        )
        cart_service.remove_item(
            self.session,
            account_id=self.account_id,
            product_id=product.id,
            now=at + timedelta(minutes=self.rng.randint(2, 40)),
        )

    def trip(
        self,
        start: datetime,
        category: str,
        products: Sequence[ProductTraits],
        *,
        views: int,
        buy: bool,
        hesitate: bool,
    ) -> None:
        """One shopping session: a search, a few product views, maybe a cart change or order."""
        at = start
        self.search(at, category, with_budget=self.rng.random() < 0.4)
        ranking = self.noisy_ranking(products, noise=0.12)
        pool = ranking[: max(views * 2, 6)]
        seen = self.rng.sample(pool, k=min(views, len(pool)))
        # Browsing also stumbles on the odd unsuitable product.
        if len(ranking) > len(pool) and self.rng.random() < 0.5:
            seen.append(self.rng.choice(ranking[len(pool) :]))
        for product in seen:
            at += timedelta(minutes=self.rng.randint(1, 6))
            self.view(at, product)
        if not seen:
            return
        favourite = max(seen, key=lambda p: (utility(self.persona.profile, p), -p.id))
        if hesitate:
            others = [p for p in seen if p.id != favourite.id]
            if others:
                at += timedelta(minutes=self.rng.randint(1, 5))
                self.hesitate(at, self.rng.choice(others))
        if buy:
            at += timedelta(minutes=self.rng.randint(2, 10))
            self.view(at, favourite)
            self.buy(at + timedelta(minutes=1), favourite)


def _seed_one(
    session: Session, persona: Persona, account: Account, *, seed: int, now: datetime
) -> None:
    rng = random.Random(f"persona:{seed}:{persona.key}")
    seeder = _Seeder(session, persona, account.id, rng)
    candidates = {slug: _candidates(session, slug) for slug in persona.interests}
    main, others = persona.main_category, list(persona.interests[1:]) or [persona.main_category]

    # Earlier trips, 29 to 6 days ago, in the other interests; the first few end in an order.
    past_days = sorted(rng.sample(range(6, HISTORY_DAYS), k=min(5, HISTORY_DAYS - 6)), reverse=True)
    for index, days_ago in enumerate(past_days):
        category = others[index % len(others)]
        if not candidates[category]:
            continue
        start = now - timedelta(days=days_ago, hours=rng.randint(0, 10), minutes=rng.randint(0, 59))
        seeder.trip(
            start,
            category,
            candidates[category],
            views=rng.randint(2, 5),
            buy=index < persona.orders,
            hesitate=rng.random() < 0.3,
        )

    # The decision in progress: several looks at the main category over the last few days.
    if candidates[main]:
        for days_ago, views in ((4, rng.randint(3, 5)), (2, rng.randint(3, 5)), (0, 3)):
            start = now - timedelta(
                days=days_ago, hours=rng.randint(1, 6) if days_ago == 0 else rng.randint(0, 10)
            )
            seeder.trip(
                start,
                main,
                candidates[main],
                views=views,
                buy=False,
                hesitate=days_ago == 2 and rng.random() < 0.6,
            )


def seed_personas(database: Database, personas: Personas, *, seed: int, now: datetime) -> None:
    """Create the persona accounts and their histories; the same seed gives the same histories.

    Personas whose account already exists are left alone, so seeding twice adds nothing.
    """
    with database.session() as session:
        for persona in personas.members:
            exists = session.scalar(select(Account.id).where(Account.email == persona.email))
            if exists is not None:
                continue
            account = register(
                session,
                email=persona.email,
                password_hash=hash_password(persona.password),
                name=persona.name,
                now=now - timedelta(days=HISTORY_DAYS + 30),
            )
            session.flush()
            _seed_one(session, persona, account, seed=seed, now=now)


class _Planner(_Seeder):
    """A `_Seeder` that keeps the searches and views it would write instead of writing them."""

    def __init__(self, session: Session, persona: Persona, rng: random.Random) -> None:
        super().__init__(session, persona, 0, rng)
        self.events: list[dict[str, Any]] = []

    def record(self, **event: Any) -> None:
        self.events.append(event)


# Trips of the decision in progress (main category), newest first: (days ago, views or None).
_RECENT_TRIPS: tuple[tuple[int, int | None], ...] = ((0, 3), (2, None), (4, None))


def seed_history(
    session: Session,
    persona: Persona,
    account_id: int,
    *,
    events: int,
    seed: int,
    now: datetime,
) -> None:
    """Write exactly `events` of the persona's searches and views to the account, up to `now`."""
    # The newest `events` of one stream of trips planned backwards from `now` (the decision in
    # progress in the main category, then earlier trips in the other interests): a longer
    # history holds every event of a shorter one. Nothing is bought or put in the cart, so
    # stock, and with it the best product a persona could get, stays as it was.
    if events < 0:
        raise ValueError(f"events must be 0 or more, not {events}")
    candidates = {slug: _candidates(session, slug) for slug in persona.interests}
    main, others = persona.main_category, list(persona.interests[1:]) or [persona.main_category]
    planned: list[dict[str, Any]] = []
    trip = 0
    while len(planned) < events:
        # One generator per trip: the newest trips come out the same whatever `events` asks for.
        rng = random.Random(f"history:{seed}:{persona.key}:{trip}")
        planner = _Planner(session, persona, rng)
        if trip < len(_RECENT_TRIPS):
            days_ago, fixed_views = _RECENT_TRIPS[trip]
            category, views = main, fixed_views or rng.randint(3, 5)
            hours = rng.randint(1, 6) if days_ago == 0 else rng.randint(0, 10)
            start = now - timedelta(days=days_ago, hours=hours)
        else:
            earlier = trip - len(_RECENT_TRIPS)
            category, views = others[earlier % len(others)], rng.randint(2, 5)
            start = now - timedelta(
                days=6 + earlier, hours=rng.randint(0, 10), minutes=rng.randint(0, 59)
            )
        # A trip in a category with nothing to look at is a search alone, so this ends.
        planner.trip(start, category, candidates[category], views=views, buy=False, hesitate=False)
        planned = planner.events + planned
        trip += 1
    planned.sort(key=lambda event: event["now"])
    writer = _Seeder(session, persona, account_id, random.Random(0))
    for event in planned[len(planned) - events :]:
        writer.record(**event)


__all__ = ["HISTORY_DAYS", "seed_history", "seed_personas"]
