"""Helpers for the Help Me Decide tests: shoppers, their views and searches, the catalog."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.accounts.models import Account
from marketplace.catalog.models import Category, Product
from marketplace.core.db import Database
from marketplace.history.service import record_event
from tests.conftest import TEST_NOW, register_and_login

_emails = itertools.count()


def new_shopper(client: TestClient) -> tuple[dict[str, str], int]:
    """A fresh logged-in shopper: (bearer header, account id)."""
    email = f"decider{next(_emails)}@example.com"
    token = register_and_login(client, email)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    return {"Authorization": f"Bearer {token}"}, int(me.json()["id"])


def in_stock_ids(database: Database, slug: str, count: int, *, skip: int = 0) -> list[int]:
    """`count` in-stock products of the category, by id."""
    with database.session() as session:
        ids = session.scalars(
            select(Product.id)
            .join(Category, Category.id == Product.category_id)
            .where(Category.slug == slug, Product.stock > 0)
            .order_by(Product.id)
        ).all()
    assert len(ids) >= skip + count, f"the test catalog has too few {slug}"
    return list(ids[skip : skip + count])


def record(
    database: Database,
    account_id: int,
    *,
    views: list[int] = (),  # type: ignore[assignment]
    slug: str | None = None,
    query: str | None = None,
    filters: dict[str, object] | None = None,
    at: datetime | None = None,
) -> None:
    """Record views (and optionally a search) as the shopper, `at` (default: a minute ago)."""
    at = at or TEST_NOW - timedelta(minutes=1)
    with database.session() as session:
        if query is not None:
            record_event(
                session,
                kind="search",
                now=at,
                account_id=account_id,
                session_key=None,
                category_slug=slug,
                query=query,
                filters=filters,
            )
        for i, pid in enumerate(views):
            record_event(
                session,
                kind="view",
                now=at + timedelta(seconds=i),
                account_id=account_id,
                session_key=None,
                product_id=pid,
                category_slug=slug,
            )


def account_id_of(database: Database, email: str) -> int:
    with database.session() as session:
        found = session.scalar(select(Account.id).where(Account.email == email))
    assert found is not None
    return int(found)
