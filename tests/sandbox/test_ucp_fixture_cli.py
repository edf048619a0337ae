"""`sandbox seed --ucp-fixture DIR`: a UCP test shop joins the catalog; bad folders are named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from marketplace.catalog.models import Product
from marketplace.protocols.checkout.models import ProtocolAddress, ProtocolDiscount
from tests.marketplace.protocols._ucp import write_shop
from tests.sandbox.test_cli import sandbox

pytestmark = [pytest.mark.slow]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps at the terminal's width; wide, the messages checked here stay on one line."""
    monkeypatch.setenv("COLUMNS", "400")


def _products(data_dir: Path) -> dict[str, tuple[float, int]]:
    engine = create_engine(f"sqlite:///{data_dir / 'sandbox.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Product.sku, Product.price, Product.stock).where(
                    Product.sku.in_(["rose", "tulip", "sold_out"])
                )
            ).all()
            assert conn.execute(select(ProtocolDiscount.code)).scalars().all() or not rows
            assert conn.execute(select(ProtocolAddress.id)).scalars().all() or not rows
    finally:
        engine.dispose()
    return {sku: (price, stock) for sku, price, stock in rows}


def test_a_test_shop_is_loaded_into_the_catalog_and_reloaded_in_place(tmp_path: Path) -> None:
    shop = write_shop(tmp_path / "flower_shop")
    first = sandbox("seed", "--products", "30", "--ucp-fixture", str(shop), data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Loaded the UCP test shop flower_shop: 3 products" in first.stdout
    assert _products(tmp_path) == {"rose": (35.0, 100), "tulip": (30.0, 20), "sold_out": (20.0, 0)}

    write_shop(shop, **{"inventory.csv": "product_id,quantity\nrose,7\ntulip,20\nsold_out,0\n"})
    again = sandbox("seed", "--ucp-fixture", str(shop), data_dir=tmp_path)
    assert again.returncode == 0, again.stderr
    assert _products(tmp_path)["rose"] == (35.0, 7)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"products.csv": "id,title,price\nrose,Rose,3500\ntulip,Tulip,cheap\n"},
            "products.csv row 3: price 'cheap'",
        ),
        (
            {"inventory.csv": "product_id,quantity\nrose,1\nghost,2\n"},
            "inventory.csv row 3: unknown product_id 'ghost'",
        ),
        (
            {"discounts.csv": "code,kind\n10OFF,percentage\n"},
            "discounts.csv: the header lacks column(s) type, value",
        ),
        (
            {
                "addresses.csv": "id,customer_id,street_address,city,state,postal_code,country\n"
                "a9,nobody,,,,,US\n"
            },
            "addresses.csv row 2: unknown customer_id 'nobody'",
        ),
    ],
)
def test_a_bad_file_is_named_with_its_row_and_nothing_is_loaded(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    shop = write_shop(tmp_path / "shop", **change)
    result = sandbox("seed", "--products", "30", "--ucp-fixture", str(shop), data_dir=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "nothing was loaded" in result.stderr
    assert _products(tmp_path) == {}


def test_a_missing_folder_or_file_is_named(tmp_path: Path) -> None:
    missing = sandbox("seed", "--ucp-fixture", str(tmp_path / "nowhere"), data_dir=tmp_path)
    assert missing.returncode == 2
    assert "no such folder" in missing.stderr
    shop = write_shop(tmp_path / "shop")
    (shop / "promotions.csv").unlink()
    result = sandbox("seed", "--products", "30", "--ucp-fixture", str(shop), data_dir=tmp_path)
    assert result.returncode == 2
    assert "promotions.csv: missing" in result.stderr
    shutil.rmtree(shop)
