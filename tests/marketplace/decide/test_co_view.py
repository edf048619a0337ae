"""Item-to-item co-view similarity widens the candidates, from aggregates of 2+ other shoppers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from marketplace.accounts.service import hash_password, register
from marketplace.catalog.models import Category, Product
from marketplace.core.db import Database
from marketplace.decide.config import DecideConfig, ScoringWeights
from marketplace.decide.service import decide
from marketplace.history.service import record_event
from tests.conftest import TEST_NOW

# Never checked: these accounts only hold history.
PASSWORD_HASH = hash_password("x" * 10)

CONFIG = DecideConfig(max_candidates=10, weights=ScoringWeights(co_view=5.0))


def _tents(database: Database) -> list[int]:
    """In-stock tents, most reviewed first (the order the candidate cut keeps them in)."""
    with database.session() as session:
        return list(
            session.scalars(
                select(Product.id)
                .join(Category, Category.id == Product.category_id)
                .where(Category.slug == "tents", Product.stock > 0)
                .order_by(Product.review_count.desc(), Product.id)
            )
        )


def _shopper(database: Database, email: str, views: list[int]) -> int:
    with database.session() as session:
        account = register(
            session, email=email, password_hash=PASSWORD_HASH, name="S", now=TEST_NOW
        )
        session.flush()
        for i, pid in enumerate(views):
            record_event(
                session,
                kind="view",
                now=TEST_NOW - timedelta(hours=1, minutes=i),
                account_id=account.id,
                session_key=None,
                product_id=pid,
                category_slug="tents",
            )
        return account.id


def _decide(database: Database, account_id: int) -> tuple[int, dict[str, float], int]:
    with database.session() as session:
        out = decide(session, account_id=account_id, session_key=None, now=TEST_NOW, config=CONFIG)
    return out.top_pick.product.id, out.top_pick.factors, out.compared


def test_co_viewed_products_join_the_candidates_only_with_two_other_shoppers(
    database: Database,
) -> None:
    tents = _tents(database)
    mine, outside = tents[:3], tents[-1]  # `outside` is beyond the 10-product candidate cut
    me = _shopper(database, "me@example.com", mine)
    top, factors, compared = _decide(database, me)
    assert top != outside
    assert compared == 10

    # One other shopper who viewed my tent and `outside`: too few to use.
    _shopper(database, "other1@example.com", [mine[0], outside])
    top, factors, compared = _decide(database, me)
    assert top != outside
    assert compared == 10

    # A second one makes it an aggregate: `outside` is added back and wins on similarity.
    _shopper(database, "other2@example.com", [mine[1], outside])
    top, factors, compared = _decide(database, me)
    assert compared == 11
    assert top == outside
    assert factors["co_view"] == 1.0
