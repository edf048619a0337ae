"""docs/agent-developers.md: the UCP and MCP examples run as written against a live store."""

from __future__ import annotations

import contextlib
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from marketplace.core.db import Database
from marketplace.core.settings import Settings
from sandbox.liveserver import LiveServer
from tests.marketplace.protocols._ucp import load_shop
from tests.shopbots.test_docs import example

DOC_STORE = '"http://127.0.0.1:8000'
FLOWERS = {
    "products.csv": "id,title,price\nbouquet_roses,Bouquet of Red Roses,3500\n"
    "bouquet_tulips,Spring Tulips,3000\n",
    "inventory.csv": "product_id,quantity\nbouquet_roses,50\nbouquet_tulips,50\n",
    "shipping_rates.csv": "id,country_code,service_level,price,title\n"
    "std-ship,default,standard,500,Standard Shipping\n"
    "exp-ship-us,US,express,1500,Express Shipping (US)\n",
    "promotions.csv": "id,type,min_subtotal,eligible_item_ids,description\n"
    'roses,free_shipping,,"[""bouquet_roses""]",Free shipping on roses\n',
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"ucp_simulation_secret": "let-me-ship"})


@pytest.fixture(autouse=True)
def shop(database: Database, tmp_path: Path) -> None:
    load_shop(database, tmp_path / "flower_shop", **FLOWERS)


def run(marker: str, url: str) -> list[str]:
    code = example(marker)
    assert DOC_STORE in code
    out = io.StringIO()
    names = {"__name__": "example"}
    # A thread of its own, as a script has: the MCP example starts its own event loop.
    with contextlib.redirect_stdout(out), ThreadPoolExecutor(max_workers=1) as script:
        script.submit(exec, code.replace(DOC_STORE, f'"{url}'), names).result()
    return out.getvalue().splitlines()


def test_the_rest_example_buys_and_ships(live_server: LiveServer) -> None:
    printed = run("ucp-rest", live_server.url)
    assert printed[0].startswith("[('std-ship', 'Standard Shipping (Free)', 0)")
    assert printed[1].startswith("ready_for_complete [{'type': 'subtotal', 'amount': 7000}")
    assert printed[2].endswith("Standard Shipping (Free)")
    assert printed[3] == "fulfilled"


def test_the_mcp_example_buys(live_server: LiveServer) -> None:
    printed = run("ucp-mcp", live_server.url)
    assert "complete_checkout" in printed[0]
    assert printed[1].startswith("completed ord_")
