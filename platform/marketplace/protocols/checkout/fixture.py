"""Load a UCP test shop (the conformance suite's CSV folder) into the catalog and the core's tables.

The folder holds eight CSV files (`FILES`). Products become real catalog products (their `id`
is the SKU, the protocol item id), in a category named after the folder, with the stock of
`inventory.csv`; loading again updates what is there. A bad file raises FixtureError naming the
file and the row, and nothing is written (the caller's transaction rolls back).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.catalog.models import Category, Product
from marketplace.protocols.checkout.models import (
    ProtocolAddress,
    ProtocolCustomer,
    ProtocolDiscount,
    ProtocolPaymentInstrument,
    ProtocolPromotion,
    ProtocolShippingRate,
)

# file -> the columns it must have
FILES: dict[str, tuple[str, ...]] = {
    "products.csv": ("id", "title", "price"),
    "inventory.csv": ("product_id", "quantity"),
    "discounts.csv": ("code", "type", "value", "description"),
    "promotions.csv": ("id", "type", "min_subtotal", "eligible_item_ids", "description"),
    "shipping_rates.csv": ("id", "country_code", "service_level", "price", "title"),
    "customers.csv": ("id", "name", "email"),
    "addresses.csv": (
        "id",
        "customer_id",
        "street_address",
        "city",
        "state",
        "postal_code",
        "country",
    ),
    "payment_instruments.csv": ("id", "type", "brand", "last_digits", "token", "handler_id"),
}
MAX_ROWS = 10_000
T = TypeVar("T")


class FixtureError(ValueError):
    """The folder or one of its files cannot be loaded; the message names the file and row."""


@dataclass(frozen=True)
class FixtureCounts:
    """Rows loaded per file."""

    counts: dict[str, int]

    def summary(self) -> str:
        return ", ".join(
            f"{n} {name.removesuffix('.csv').replace('_', ' ')}" for name, n in self.counts.items()
        )


def _read(folder: Path, name: str) -> list[tuple[int, dict[str, str]]]:
    path = folder / name
    if not path.is_file():
        raise FixtureError(f"{path}: missing (a UCP test shop folder has {', '.join(FILES)})")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in FILES[name] if c not in (reader.fieldnames or [])]
            if missing:
                raise FixtureError(
                    f"{path}: the header lacks column(s) {', '.join(missing)} (it needs "
                    f"{', '.join(FILES[name])})"
                )
            rows: list[tuple[int, dict[str, str]]] = []
            for row in reader:
                if reader.line_num > MAX_ROWS:
                    raise FixtureError(f"{path}: more than {MAX_ROWS} rows")
                # Row numbers as a spreadsheet shows them: the header is row 1.
                rows.append((len(rows) + 2, {k: (v or "").strip() for k, v in row.items() if k}))
            return rows
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FixtureError(f"{path}: not a UTF-8 CSV file ({exc})") from None


def _field(
    name: str, row_no: int, row: dict[str, str], column: str, parse: Callable[[str], T]
) -> T:
    value = row.get(column, "")
    try:
        return parse(value)
    except (ValueError, TypeError) as exc:
        raise FixtureError(f"{name} row {row_no}: {column} {value!r} is invalid ({exc})") from None


def _text(limit: int, *, required: bool = True) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if required and not value:
            raise ValueError("empty")
        if len(value) > limit:
            raise ValueError(f"longer than {limit} characters")
        return value

    return parse


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("negative")
    return number


def _optional_count(value: str) -> int | None:
    return _count(value) if value else None


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return value

    return parse


def _id_list(value: str) -> list[str]:
    if not value:
        return []
    items = json.loads(value)
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValueError('expected a JSON list of ids, e.g. ["bouquet_roses"]')
    return items


def load_fixture(session: Session, folder: Path, *, now: datetime) -> FixtureCounts:
    """Load (or update) the test shop in `folder`; raises FixtureError before writing anything
    that depends on a bad row (the caller rolls the session back)."""
    if not folder.is_dir():
        raise FixtureError(
            f"{folder}: not a folder (expected a UCP test shop with {', '.join(FILES)})"
        )
    data = {name: _read(folder, name) for name in FILES}
    counts: dict[str, int] = {}
    stock: dict[str, int] = {}
    for n, row in data["inventory.csv"]:
        stock[_field("inventory.csv", n, row, "product_id", _text(32))] = _field(
            "inventory.csv", n, row, "quantity", _count
        )
    slug = folder.resolve().name.lower().replace("_", "-")[:64] or "ucp-test-shop"
    category = session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        category = Category(slug=slug, name=slug.replace("-", " ").capitalize()[:120])
        session.add(category)
        session.flush()
    skus = set()
    for n, row in data["products.csv"]:
        sku = _field("products.csv", n, row, "id", _text(32))
        price = _field("products.csv", n, row, "price", _count) / 100
        title = _field("products.csv", n, row, "title", _text(300))
        skus.add(sku)
        product = session.scalar(select(Product).where(Product.sku == sku))
        if product is None:
            product = Product(
                sku=sku,
                description=f"{title}, from the {category.name.lower()} test shop.",
                category_id=category.id,
                brand=category.name[:80],
                is_house_brand=False,
                cost=round(price * 0.5, 2),
                rating=0.0,
                review_count=0,
                seller="Nile",
                seller_type="platform",
                sponsored_bid=0.0,
                created_at=now,
            )
            session.add(product)
        product.title = title
        product.price = price
        product.stock = stock.get(sku, 0)
        image = row.get("image_url") or None
        product.attributes = {"image_url": image} if image else {}
    for n, row in data["inventory.csv"]:
        if row["product_id"] not in skus:
            raise FixtureError(f"inventory.csv row {n}: unknown product_id {row['product_id']!r}")
    counts["products.csv"] = len(skus)
    counts["inventory.csv"] = len(stock)

    name = "discounts.csv"
    for n, row in data[name]:
        session.merge(
            ProtocolDiscount(
                code=_field(name, n, row, "code", _text(64)),
                kind=_field(name, n, row, "type", _choice("percentage", "fixed_amount")),
                value=_field(name, n, row, "value", _count),
                description=_field(name, n, row, "description", _text(200, required=False)),
            )
        )
    name = "promotions.csv"
    for n, row in data[name]:
        session.merge(
            ProtocolPromotion(
                id=_field(name, n, row, "id", _text(64)),
                kind=_field(name, n, row, "type", _choice("free_shipping")),
                min_subtotal=_field(name, n, row, "min_subtotal", _optional_count),
                eligible_item_ids=_field(name, n, row, "eligible_item_ids", _id_list),
                description=_field(name, n, row, "description", _text(200, required=False)),
            )
        )
    name = "shipping_rates.csv"
    for n, row in data[name]:
        session.merge(
            ProtocolShippingRate(
                id=_field(name, n, row, "id", _text(64)),
                country_code=_field(name, n, row, "country_code", _text(16)),
                service_level=_field(name, n, row, "service_level", _text(32)),
                price=_field(name, n, row, "price", _count),
                title=_field(name, n, row, "title", _text(200)),
            )
        )
    customers = _load_customers(session, data["customers.csv"])
    name = "addresses.csv"
    for position, (n, row) in enumerate(data[name]):
        owner = _field(name, n, row, "customer_id", _text(64))
        if owner not in customers:
            raise FixtureError(f"{name} row {n}: unknown customer_id {owner!r}")
        session.merge(
            ProtocolAddress(
                id=_field(name, n, row, "id", _text(64)),
                customer_id=owner,
                street_address=_field(name, n, row, "street_address", _text(300, required=False)),
                address_locality=_field(name, n, row, "city", _text(120, required=False)),
                address_region=_field(name, n, row, "state", _text(120, required=False)),
                postal_code=_field(name, n, row, "postal_code", _text(32, required=False)),
                address_country=_field(name, n, row, "country", _text(2)),
                position=position,
            )
        )
    name = "payment_instruments.csv"
    for n, row in data[name]:
        session.merge(
            ProtocolPaymentInstrument(
                id=_field(name, n, row, "id", _text(64)),
                kind=_field(name, n, row, "type", _text(16)),
                brand=_field(name, n, row, "brand", _text(32)),
                last_digits=_field(name, n, row, "last_digits", _text(4)),
                token=_field(name, n, row, "token", _text(128)),
                handler_id=_field(name, n, row, "handler_id", _text(64)),
            )
        )
    for file in ("discounts.csv", "promotions.csv", "shipping_rates.csv", "addresses.csv"):
        counts[file] = len(data[file])
    counts["customers.csv"] = len(customers)
    counts["payment_instruments.csv"] = len(data["payment_instruments.csv"])
    session.flush()
    return FixtureCounts(counts)


def _load_customers(session: Session, rows: list[tuple[int, dict[str, str]]]) -> set[str]:
    name = "customers.csv"
    ids = set()
    for n, row in rows:
        customer_id = _field(name, n, row, "id", _text(64))
        email = _field(name, n, row, "email", _text(254)).lower()
        if "@" not in email:
            raise FixtureError(f"{name} row {n}: email {email!r} is not an email address")
        other = session.scalar(select(ProtocolCustomer).where(ProtocolCustomer.email == email))
        if other is not None and other.id != customer_id:
            raise FixtureError(f"{name} row {n}: email {email!r} belongs to customer {other.id!r}")
        session.merge(
            ProtocolCustomer(
                id=customer_id, name=_field(name, n, row, "name", _text(200)), email=email
            )
        )
        ids.add(customer_id)
    return ids
