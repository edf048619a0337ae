"""Search words that name an attribute, a value, a number with a unit, a brand or a price limit."""

from __future__ import annotations

import pytest

from marketplace.decide.constraints import apply_constraints, parse_query, revealed_constraints
from marketplace.decide.domain import ProductFacts, SearchSignal
from marketplace.decide.service import attr_specs


def _parsed(query: str, slug: str, brands: tuple[str, ...] = ()) -> set[tuple[str, object, object]]:
    return {(c.op, c.key, c.value) for c in parse_query(query, attr_specs(slug), brands)}


@pytest.mark.parametrize(
    ("query", "slug", "expected"),
    [
        (
            "wireless headphones under 60",
            "headphones",
            {("is", "wireless", True), ("max_price", None, 60.0)},
        ),
        (
            "noise-cancelling over-ear headphones under $200",
            "headphones",
            {
                ("is", "noise_cancelling", True),
                ("in", "form", ("over-ear",)),
                ("max_price", None, 200.0),
            },
        ),
        ("non-wireless headphones", "headphones", {("is_not", "wireless", False)}),
        ("4 person family tent", "tents", {("eq", "capacity", 4.0)}),
        (
            "4-person 3-season tent",
            "tents",
            {("eq", "capacity", 4.0), ("in", "season", ("3-season",))},
        ),
        ("27 inch usb-c monitor", "monitors", {("eq", "screen_in", 27.0), ("is", "usb_c", True)}),
        (
            "cordless vacuum hepa",
            "vacuum-cleaners",
            {("is", "cordless", True), ("is", "hepa_filter", True)},
        ),
        ("tent under 2 kg", "tents", {("max", "weight_kg", 2.0)}),
        ("headphones gift", "headphones", set()),
    ],
)
def test_words_that_name_attributes_become_constraints(
    query: str, slug: str, expected: set[tuple[str, object, object]]
) -> None:
    assert _parsed(query, slug) == expected


def test_a_brand_named_in_the_query_is_a_constraint() -> None:
    assert ("brand", None, "Veridian") in _parsed(
        "veridian laptop", "laptops", ("Veridian", "Orbis")
    )


def test_a_newer_search_overrides_an_older_one_on_the_same_attribute() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 6, 1, tzinfo=UTC)
    searches = [
        SearchSignal("wireless headphones", {}, now - timedelta(hours=2)),
        SearchSignal("non-wireless headphones", {"max_price": 80}, now - timedelta(hours=1)),
    ]
    found = {
        (c.op, c.key, c.value) for c in revealed_constraints(searches, attr_specs("headphones"))
    }
    assert found == {("is_not", "wireless", False), ("max_price", None, 80.0)}


def _product(pid: int, price: float, wireless: bool) -> ProductFacts:
    return ProductFacts(
        id=pid,
        title=f"P{pid}",
        brand="Acme",
        category="headphones",
        price=price,
        rating=4.0,
        review_count=10,
        stock=3,
        attributes={"wireless": wireless},
    )


def test_constraints_that_leave_too_few_products_are_relaxed_least_decisive_first() -> None:
    products = [_product(1, 50, True), _product(2, 150, True), _product(3, 40, False)]
    constraints = parse_query("wireless under $45", attr_specs("headphones"))
    kept, applied, relaxed = apply_constraints(products, constraints, minimum=1)
    # Together they match nothing; the yes/no feature gives way before the price limit.
    assert [c.op for c in relaxed] == ["is"]
    assert [c.op for c in applied] == ["max_price"]
    assert [p.id for p in kept] == [3]
    # Asking for more products than the price limit leaves relaxes that too.
    kept, applied, relaxed = apply_constraints(products, constraints, minimum=2)
    assert [c.op for c in relaxed] == ["is", "max_price"]
    assert len(kept) == 3
