"""The response contract, and every number in every reason checked against the data behind it."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.catalog.models import Category, Product
from marketplace.catalog.taxonomy import attribute_specs
from marketplace.core.appstate import state_of
from marketplace.core.db import Database
from marketplace.history.models import HistoryEvent
from sandbox.persona import Persona, load_personas
from tests.marketplace.decide._helpers import account_id_of

PERSONAS = load_personas().members

NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def login(client: TestClient, persona: Persona) -> dict[str, str]:
    answer = client.post(
        "/api/v1/sessions", json={"email": persona.email, "password": persona.password}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _numbers_in(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, str):
        for found in NUMBER.findall(value):
            yield float(found.replace(",", ""))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _numbers_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers_in(item)


def _viewed_products(session: Session, account_id: int, slug: str) -> list[Product]:
    ids = session.scalars(
        select(HistoryEvent.product_id)
        .where(HistoryEvent.account_id == account_id, HistoryEvent.kind == "view")
        .distinct()
    ).all()
    return list(
        session.scalars(
            select(Product)
            .join(Category, Category.id == Product.category_id)
            .where(Product.id.in_([i for i in ids if i is not None]), Category.slug == slug)
        )
    )


def _in_stock(session: Session, slug: str) -> list[Product]:
    return list(
        session.scalars(
            select(Product)
            .join(Category, Category.id == Product.category_id)
            .where(Category.slug == slug, Product.stock > 0)
        )
    )


def _ordinal(slug: str, key: str, value: Any) -> float | None:
    spec = next(s for s in attribute_specs(slug) if s.key == key)
    if spec.kind == "choice":
        return float(spec.choices.index(value)) if value in spec.choices else None
    return None if value is None else float(value)


def check_evidence(
    session: Session,
    *,
    account_id: int,
    slug: str,
    pick: dict[str, Any],
    top: dict[str, Any],
) -> None:
    product = pick["product"]
    row = session.get(Product, product["id"])
    assert row is not None
    viewed = _viewed_products(session, account_id, slug)
    for item in pick["evidence"]:
        data, kind = item["data"], item["kind"]
        # Every number in the sentence is one of the numbers the reason carries.
        carried = list(_numbers_in(data))
        for found in NUMBER.findall(item["text"]):
            value = float(found.replace(",", ""))
            assert any(math.isclose(value, c, abs_tol=0.005) for c in carried), (
                f"{found!r} in {item['text']!r} is not in its evidence {data}"
            )
        # ... and those numbers are the catalog's and the shopper's own.
        if "rating" in data:
            assert data["rating"] == round(row.rating, 1)
        if "review_count" in data:
            assert data["review_count"] == row.review_count
        if "price" in data:
            assert data["price"] == pytest.approx(float(row.price))
        if "top_price" in data:
            assert data["top_price"] == pytest.approx(top["product"]["price"])
        if "top_rating" in data:
            assert data["top_rating"] == round(top["product"]["rating"], 1)
        if "percent_cheaper" in data:
            expected = round(100 * (data["top_price"] - data["price"]) / data["top_price"])
            assert data["percent_cheaper"] == expected
        if "price_difference" in data:
            assert data["price_difference"] == pytest.approx(data["price"] - data["top_price"])
        if "viewed_min_price" in data:
            assert data["viewed_min_price"] == pytest.approx(min(float(v.price) for v in viewed))
        if "viewed_max_price" in data:
            assert data["viewed_max_price"] == pytest.approx(max(float(v.price) for v in viewed))
        if kind == "attribute":
            key = data["attribute"]
            if "share_beaten" in data:
                stock = _in_stock(session, slug)
                assert data["size"] == len(stock)
                mine = _ordinal(slug, key, row.attributes.get(key))
                assert mine is not None
                values = [_ordinal(slug, key, p.attributes.get(key)) for p in stock]
                if data["better"] == "higher":
                    beaten = sum(1 for v in values if v is not None and v < mine)
                else:
                    beaten = sum(1 for v in values if v is not None and v > mine)
                assert data["share_beaten"] == math.floor(100 * beaten / len(stock))
                assert data["value"] == row.attributes.get(key)
            if "viewed_matching" in data:
                matching = [v for v in viewed if v.attributes.get(key) == data["value"]]
                assert data["viewed_matching"] == len(matching)
                assert row.attributes.get(key) == data["value"]
            if "viewed" in data:
                assert data["viewed"] == sum(1 for v in viewed if v.attributes.get(key) is not None)
        if kind in ("tradeoff", "upgrade") and "top_value" in data:
            assert data["value"] == row.attributes.get(data["attribute"])
            assert data["top_value"] == top["product"]["attributes"].get(data["attribute"])
        if kind == "interest":
            views = session.scalars(
                select(HistoryEvent.id).where(
                    HistoryEvent.account_id == account_id,
                    HistoryEvent.kind == "view",
                    HistoryEvent.product_id == row.id,
                )
            ).all()
            assert data["views"] == len(views)
        if kind == "brand":
            assert data["brand"] == row.brand
            if "viewed_matching" in data:
                assert data["viewed_matching"] == sum(1 for v in viewed if v.brand == row.brand)
            if "purchases" in data:
                bought = session.scalars(
                    select(HistoryEvent.product_id).where(
                        HistoryEvent.account_id == account_id, HistoryEvent.kind == "purchase"
                    )
                ).all()
                brands = [session.get(Product, pid).brand for pid in bought if pid]  # type: ignore[union-attr]
                assert data["purchases"] == brands.count(row.brand)


def test_every_persona_gets_valid_picks_with_checkable_reasons(
    client: TestClient, database: Database
) -> None:
    seen_kinds: set[str] = set()
    for persona in PERSONAS:
        headers = login(client, persona)
        offer = client.get("/api/v1/help-me-decide/offer", headers=headers).json()
        assert offer["offered"] is True, persona.key
        assert offer["category"] == persona.main_category
        answer = client.post("/api/v1/help-me-decide", headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert {"category", "top_pick", "budget_pick", "premium_pick", "notes"} <= set(body)
        assert body["category"] == persona.main_category
        picks = {
            role: body[role] for role in ("top_pick", "budget_pick", "premium_pick") if body[role]
        }
        for role in ("budget_pick", "premium_pick"):
            if body[role] is None:
                assert any(
                    note.startswith(f"No {role.split('_')[0]} pick") for note in body["notes"]
                )
        ids = [pick["product"]["id"] for pick in picks.values()]
        assert len(ids) == len(set(ids)), "picks must be distinct"
        top_price = body["top_pick"]["product"]["price"]
        if body["budget_pick"]:
            assert body["budget_pick"]["product"]["price"] <= 0.7 * top_price + 1e-6
        if body["premium_pick"]:
            assert body["premium_pick"]["product"]["price"] > top_price
        account_id = account_id_of(database, persona.email)
        with database.session() as session:
            for pick in picks.values():
                product = pick["product"]
                assert {"id", "title", "price", "rating", "review_count", "brand"} <= set(product)
                assert 2 <= len(pick["reasons"]) <= 4
                assert pick["reasons"] == [e["text"] for e in pick["evidence"]]
                assert "total" in pick["factors"]
                row = session.get(Product, product["id"])
                assert row is not None
                assert row.stock > 0
                assert session.get(Category, row.category_id).slug == body["category"]  # type: ignore[union-attr]
                check_evidence(
                    session,
                    account_id=account_id,
                    slug=body["category"],
                    pick=pick,
                    top=body["top_pick"],
                )
                seen_kinds.update(e["kind"] for e in pick["evidence"])
    # The personas exercise the personal, quality and price reasons at least.
    assert {"attribute", "quality", "price"} <= seen_kinds


def test_house_brand_boost_is_visible_in_the_factors(
    app: Any, client: TestClient, database: Database
) -> None:
    from marketplace.decide.config import DecideConfig, ScoringWeights
    from tests.marketplace.decide._helpers import in_stock_ids, new_shopper, record

    headers, account = new_shopper(client)
    record(database, account, views=in_stock_ids(database, "tents", 4), slug="tents")
    plain = client.post("/api/v1/help-me-decide", headers=headers).json()
    assert "house_brand" not in plain["top_pick"]["factors"]
    assert plain["weights"]["house_brand_boost"] == 0.0

    state_of(app).decide_config = DecideConfig(weights=ScoringWeights(house_brand_boost=5.0))
    boosted = client.post("/api/v1/help-me-decide", headers=headers).json()
    top = boosted["top_pick"]
    assert top["product"]["brand"] == "Nile Basics"
    assert top["factors"]["house_brand"] == 1.0
    assert boosted["weights"]["house_brand_boost"] == 5.0
    assert any("own brand" in note for note in boosted["notes"])
    assert any(e["kind"] == "house_brand" for e in top["evidence"])
