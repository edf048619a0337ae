"""Helpers shared by the cart, order and history tests."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from marketplace.accounts.models import Account
from marketplace.accounts.service import start_session
from marketplace.catalog.models import Product
from marketplace.core.db import Database
from tests.conftest import TEST_NOW

_emails = itertools.count()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_shopper(client: TestClient, prefix: str = "shopper") -> dict[str, str]:
    """Register and log in a fresh shopper over HTTP; returns its bearer header."""
    from tests.conftest import register_and_login

    token = register_and_login(client, f"{prefix}{next(_emails)}@example.com")
    return auth(token)


def quick_accounts(database: Database, count: int, prefix: str) -> list[str]:
    """Accounts with live bearer tokens, created directly: no password hashing, for load tests."""
    tokens = []
    with database.session() as session:
        for i in range(count):
            account = Account(
                email=f"{prefix}{i}@example.com",
                name=f"Buyer {i}",
                password_hash="not-a-password-hash",
                created_at=TEST_NOW - timedelta(days=1),
            )
            session.add(account)
            session.flush()
            issued = start_session(session, account, now=TEST_NOW, max_age_s=3600)
            tokens.append(issued.token)
    return tokens


def product_with_stock(database: Database, at_least: int = 1, skip: int = 0) -> int:
    """The id of a product with at least `at_least` units in stock."""
    with database.session() as session:
        ids = session.scalars(
            select(Product.id).where(Product.stock >= at_least).order_by(Product.id)
        ).all()
    assert len(ids) > skip, f"the test catalog has no product with {at_least} in stock"
    return ids[skip]


def set_stock(database: Database, product_id: int, stock: int) -> None:
    with database.session() as session:
        session.execute(update(Product).where(Product.id == product_id).values(stock=stock))


def stock_of(database: Database, product_id: int) -> int:
    with database.session() as session:
        return int(session.scalar(select(Product.stock).where(Product.id == product_id)) or 0)


def title_of(database: Database, product_id: int) -> str:
    with database.session() as session:
        return str(session.scalar(select(Product.title).where(Product.id == product_id)))


def quiet_gate_policy(folder: Path) -> str:
    """The observe policy without account escalation: load tests hammer one account on purpose.

    The concurrency tests are about the database; a burst of simultaneous orders from one
    account would otherwise (rightly) look automated and get the account suspended mid-test.
    """
    path = folder / "quiet-observe.yaml"
    path.write_text(
        "extends: observe\n"
        "name: quiet-observe\n"
        "escalation: {warn_after: 999, suspend_after: 1000}\n"
    )
    return str(path)
