"""The ranking scores whole columns at once; it must order every candidate exactly as scoring each
product on its own, in plain floats, does (the reference below), and pick the same three.

A seeded catalog large enough for the candidate cut, shoppers with views, searches that become
constraints or soft terms, a kept cart line and co-viewed products, asked over HTTP; the
reference reads the same history and catalog and scores product by product.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.app import create_app
from marketplace.catalog.models import Product
from marketplace.catalog.seed import seed_catalog
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.migrate import upgrade
from marketplace.core.settings import Settings
from marketplace.decide import candidates as cands
from marketplace.decide import service
from marketplace.decide.config import DecideConfig, ScoringWeights
from marketplace.decide.constraints import apply_constraints, revealed_constraints
from marketplace.decide.domain import AttrSpec, ProductFacts
from marketplace.decide.pool import product_text_tokens
from marketplace.decide.profile import (
    CategoryStats,
    LearnedProfile,
    category_stats,
    learn_profile,
    number_of,
)
from marketplace.decide.ranking import bayes_rating, price_fit, score_products
from marketplace.decide.signals import FACT_COLUMNS, category_signal, fact_from_row, load_history
from marketplace.history.service import record_event
from tests.conftest import ADMIN_TOKEN, CHROME_UA, TEST_NOW, TEST_SEED
from tests.marketplace.decide._helpers import in_stock_ids, new_shopper, record

PRODUCTS = 4000

# (category, which in-stock products to view (offset, count), a search, whether to keep one in
# the cart). Several shoppers view the same headphones, so later ones have co-viewed products.
SHOPPERS: tuple[tuple[str, int, int, str | None, bool], ...] = (
    ("headphones", 0, 3, None, False),
    ("headphones", 0, 4, "wireless noise cancelling headphones under $200", False),
    ("headphones", 1, 3, "over-ear headphones", True),
    ("headphones", 0, 5, "bluetooth", False),
    ("tents", 2, 4, "4 person waterproof tent", False),
    ("laptops", 0, 3, "laptop 16gb", True),
    ("blenders", 5, 6, None, False),
    ("backpacks", 3, 3, "lightweight backpack under 80", False),
    ("monitors", 1, 4, "27 inch 4k monitor", True),
)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reference") / "catalog.sqlite"
    upgrade(f"sqlite:///{path}")
    database = Database(f"sqlite:///{path}")
    try:
        seed_catalog(database, products=PRODUCTS, seed=TEST_SEED, now=TEST_NOW)
    finally:
        database.dispose()
    return path


def _stars(p: ProductFacts, stats: CategoryStats, config: DecideConfig) -> float:
    return bayes_rating(p, stats.mean_rating, config.rating_prior_count)


def _reference_total(
    p: ProductFacts,
    profile: LearnedProfile,
    specs: Sequence[AttrSpec],
    stats: CategoryStats,
    config: DecideConfig,
    co_view: dict[int, float],
) -> float:
    """One product's total, factor by factor, in plain floats."""
    w = config.weights
    num, den = 0.0, 0.0
    for pref in profile.preferences:
        num += pref.importance * (pref.score(p, stats) or 0.0)
        den += pref.importance
    fit = num / den if den else 0.5
    words = product_text_tokens(p, specs)
    terms = profile.terms
    search = sum(t in words for t in terms) / len(terms) if terms else 0.5
    quality = min(1.0, max(0.0, (_stars(p, stats, config) - 3.0) / 2.0))
    price = price_fit(p.price, profile.band, stats.price_percentile(p.price))

    def share(values: dict[Any, float], key: Any) -> float:
        most = max(values.values(), default=0.0)
        return values.get(key, 0.0) / most if most else 0.0

    total = (
        w.attribute_fit * fit
        + w.search_match * search
        + w.quality * quality
        + w.price_fit * price
        + w.brand_affinity * share(dict(profile.brand_weight), p.brand)
        + w.co_view * share(co_view, p.id)
        + w.availability * min(1.0, p.stock / config.low_stock)
        + w.interest * share(dict(profile.interest), p.id)
    )
    if w.house_brand_boost:
        total += w.house_brand_boost * (1.0 if p.is_house_brand else 0.0)
    return total


def _upgrades(p: ProductFacts, top: ProductFacts, profile: LearnedProfile) -> bool:
    comparisons = []
    for pref in profile.preferences:
        a, b = p.attributes.get(pref.spec.key), top.attributes.get(pref.spec.key)
        if pref.kind == "bool":
            comparisons.append(int(a is pref.preferred) - int(b is pref.preferred))
        elif pref.kind == "directed":
            na, nb = number_of(a, pref.spec), number_of(b, pref.spec)
            if na is None or nb is None or na == nb:
                comparisons.append(0)
            else:
                comparisons.append(1 if (na - nb) * pref.preferred > 0 else -1)
    return bool(comparisons) and min(comparisons) >= 0 and max(comparisons) > 0


def _reference(
    database: Database, account_id: int, slug: str, config: DecideConfig
) -> dict[str, Any]:
    """The candidates in order with their totals, and the three picks, product by product."""
    days = max(config.history_window_days, config.trigger_window_hours / 24)
    with database.session() as session:
        category = cands.category_row(session, slug)
        assert category is not None
        rows = load_history(
            session, account_id=account_id, session_key=None, since=TEST_NOW - timedelta(days=days)
        )
        words = service.category_words(slug, category.name)
        signal = category_signal(session, rows, slug, category_words=words, now=TEST_NOW)
        products = [
            fact_from_row(row, slug)
            for row in session.execute(
                select(*FACT_COLUMNS)
                .where(Product.category_id == category.id, Product.stock > 0)
                .order_by(Product.review_count.desc(), Product.id)
            )
        ]
        co = cands.co_view(
            session,
            seeds=signal.product_ids,
            category=category,
            exclude_account_id=account_id,
            since=TEST_NOW - timedelta(days=config.history_window_days),
            limit=config.co_view_neighbours,
        )
    specs = service.attr_specs(slug, products)
    stats = category_stats(products, specs)
    brands = sorted({p.brand for p in products}, key=lambda b: (-len(b), b))
    constraints = revealed_constraints(signal.searches, specs, brands=brands)
    kept, applied, _ = apply_constraints(
        products, constraints, minimum=config.min_candidates_after_constraints
    )
    kept = kept or products
    cut = config.max_candidates
    if len(kept) > cut:
        kept = kept[:cut] + [p for p in kept[cut:] if p.id in co.similarity]
    profile = learn_profile(
        signal,
        specs,
        stats,
        category_words=words,
        constraint_words=[c.source for c in applied if c.op != "brand"],
    )
    totals = {p.id: _reference_total(p, profile, specs, stats, config, co.similarity) for p in kept}
    ranked = sorted(kept, key=lambda p: (-totals[p.id], p.price, p.id))
    top = ranked[0]
    floor, top_stars = config.budget_min_quality, _stars(top, stats, config)
    budget = next(
        (
            p
            for p in ranked[1:]
            if p.price <= top.price * config.budget_max_price_ratio + 1e-9
            and _stars(p, stats, config) >= floor
        ),
        None,
    )
    premium = next(
        (
            p
            for p in ranked
            if top.price + 1e-9 < p.price <= top.price * config.premium_max_price_ratio + 1e-9
            and _stars(p, stats, config) >= floor
            and (_stars(p, stats, config) >= top_stars or _upgrades(p, top, profile))
        ),
        None,
    )
    # The ranking's own full order of the same candidates (its public, pure entry point).
    columns = score_products(kept, profile, specs, stats, config, co_view=co.similarity)
    return {
        "order": [p.id for p in ranked],
        "totals": [totals[p.id] for p in ranked],
        "columns_order": [s.product.id for s in columns],
        "columns_totals": [s.total for s in columns],
        "picks": [top.id, budget and budget.id, premium and premium.id],
        "top_total": round(totals[top.id], 4),
        "compared": len(kept),
        "co_viewed": len(co.similarity),
    }


def _pick_id(answer: dict[str, Any], role: str) -> int | None:
    pick = answer[role]
    return None if pick is None else int(pick["product"]["id"])


@pytest.mark.parametrize(
    "config",
    [
        DecideConfig(max_candidates=40),
        DecideConfig(max_candidates=200, weights=ScoringWeights(house_brand_boost=0.05)),
    ],
    ids=["cut-at-40", "house-brand-boost"],
)
def test_the_column_ranking_orders_and_picks_as_product_by_product_scoring(
    catalog: Path, tmp_path: Path, config: DecideConfig
) -> None:
    shutil.copyfile(catalog, tmp_path / "store.sqlite")
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'store.sqlite'}",
        admin_token=ADMIN_TOKEN,
        secret_key="test-secret-key",
        policy="observe",
        seed=TEST_SEED,
        catalog_size=PRODUCTS,
    )
    database = Database(settings.resolved_database_url)
    app = create_app(settings, database=database, clock=FrozenClock(TEST_NOW), decide_config=config)
    co_viewed = 0
    try:
        with TestClient(app, headers={"user-agent": CHROME_UA}) as client:
            for slug, skip, count, query, carted in SHOPPERS:
                headers, me = new_shopper(client)
                views = in_stock_ids(database, slug, count, skip=skip)
                record(database, me, views=views, slug=slug, query=query)
                if carted:
                    with database.session() as session:
                        record_event(
                            session,
                            kind="cart_add",
                            now=TEST_NOW - timedelta(seconds=30),
                            account_id=me,
                            session_key=None,
                            product_id=views[-1],
                            quantity=1,
                        )
                answer = client.post(
                    "/api/v1/help-me-decide", json={"category": slug}, headers=headers
                )
                assert answer.status_code == 200, answer.text
                body = answer.json()
                expected = _reference(database, me, slug, config)
                assert expected["columns_order"] == expected["order"], (slug, query)
                assert expected["columns_totals"] == expected["totals"], (slug, query)
                picks = [_pick_id(body, r) for r in ("top_pick", "budget_pick", "premium_pick")]
                assert picks == expected["picks"], (slug, query)
                assert body["compared"] == expected["compared"], (slug, query)
                assert body["top_pick"]["factors"]["total"] == expected["top_total"]
                co_viewed += expected["co_viewed"]
    finally:
        database.dispose()
    # The shoppers who viewed the same headphones made co-view count for the later ones.
    assert co_viewed > 0
