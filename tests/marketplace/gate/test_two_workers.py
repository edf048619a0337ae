"""Two real uvicorn worker processes on one store: policy switches, nonces and what each worker
knows of a session are shared."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, text

from marketplace.catalog.models import Product
from marketplace.core.migrate import upgrade
from marketplace.gate.identity.sign import RequestSigner
from tests.conftest import CHROME_UA, skip_or_fail
from tests.support.redis import find_redis_server, redis_server
from tests.support.workers import Worker

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
ADMIN = {"Authorization": "Bearer two-worker-admin"}


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[Worker, Worker, Path]]:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    upgrade(url)
    data = tmp_path / "data"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)]),
        "SANDBOX_DATABASE_URL": url,
        "SANDBOX_DATA_DIR": str(data),
        "SANDBOX_ADMIN_TOKEN": "two-worker-admin",
        "SANDBOX_POLICY": "closed",
    }
    # Started together: whichever creates the platform key first, both end up with that one.
    one = Worker(env, tmp_path / "one.log")
    two = Worker(env, tmp_path / "two.log")
    try:
        one.wait_ready()
        two.wait_ready()
        yield one, two, data / "platform-signing-key.pem"
    finally:
        one.stop()
        two.stop()


def test_policy_switch_and_nonce_replay_across_two_workers(
    workers: tuple[Worker, Worker, Path],
) -> None:
    one, two, key_file = workers
    assert httpx.get(f"{two.url}/api/v1/policy", headers=ADMIN).json()["name"] == "closed"

    switched = httpx.put(f"{one.url}/api/v1/policy", json={"preset": "open"}, headers=ADMIN)
    assert switched.status_code == 200, switched.text
    started = time.monotonic()
    name = None
    while time.monotonic() - started < 1.0:
        name = httpx.get(f"{two.url}/api/v1/policy", headers=ADMIN).json()["name"]
        if name == "open":
            break
        time.sleep(0.05)
    assert name == "open", "the other worker did not switch within a second"

    # The first-party signer reads the platform key from the data folder, as the harness does.
    signer = RequestSigner.for_platform(key_file)
    target = "http://shop.test/api/v1/categories"
    headers = {"Host": "shop.test", "User-Agent": "nile-first-party/1.0"}
    headers.update(signer.headers("GET", target))
    first = httpx.get(f"{one.url}/api/v1/categories", headers=headers)
    assert first.headers["x-visitor-class"] == "first-party-agent"
    replayed = httpx.get(f"{two.url}/api/v1/categories", headers=headers)
    assert replayed.headers["x-visitor-class"] != "first-party-agent"
    fresh = dict(headers)
    fresh.update(signer.headers("GET", target))
    assert (
        httpx.get(f"{two.url}/api/v1/categories", headers=fresh).headers["x-visitor-class"]
        == "first-party-agent"
    )


# --- Honest shoppers spread over two workers ------------------------------------------------

SHOPPERS = 12
BEACON_TOKEN = re.compile(r'src="/static/beacon\.js" data-token="([^"]+)"')


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("postgres+redis", marks=pytest.mark.postgres),
    ]
)
def shop_workers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Worker, Worker, str]]:
    """Two workers of one seeded store: SQLite, PostgreSQL, or PostgreSQL with Redis."""
    backend: str = request.param
    with ExitStack() as stack:
        if backend == "sqlite":
            target = tmp_path / "shop.db"
            shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
            url = f"sqlite:///{target}"
        else:
            url = stack.enter_context(
                postgres_copy(
                    request.getfixturevalue("postgres_server_url"),
                    request.getfixturevalue("postgres_template"),
                )
            )
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)]),
            "SANDBOX_DATABASE_URL": url,
            "SANDBOX_DATA_DIR": str(tmp_path / "data"),
            "SANDBOX_ADMIN_TOKEN": "two-worker-admin",
            "SANDBOX_SECRET_KEY": "two-worker-secret",
            "SANDBOX_POLICY": "closed",
        }
        if backend.endswith("+redis"):
            server = find_redis_server()
            if server is None:
                skip_or_fail("redis", "redis-server is not installed: apt-get install redis-server")
            env["SANDBOX_REDIS_URL"] = stack.enter_context(redis_server(tmp_path, str(server)))
        one = Worker(env, tmp_path / "one.log")
        two = Worker(env, tmp_path / "two.log")
        stack.callback(two.stop)
        stack.callback(one.stop)
        one.wait_ready()
        two.wait_ready()
        yield one, two, url


@contextmanager
def postgres_copy(server_url: str, template: str) -> Iterator[str]:
    name = f"two_workers_{os.getpid()}_{time.monotonic_ns()}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield server_url.rpartition("/")[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def in_stock(database_url: str, count: int) -> list[int]:
    """The first `count` product ids with stock."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            ids = conn.execute(
                select(Product.id).where(Product.stock > 0).order_by(Product.id).limit(count)
            ).scalars()
            found = list(ids)
    finally:
        engine.dispose()
    assert len(found) == count, "the seeded catalog has too few products in stock"
    return found


def shop(
    index: int, product_id: int, browsing: Worker, other: Worker, start: threading.Barrier
) -> httpx.Response:
    """One shopper: pages, assets and a beacon on `browsing`, then a pause and a cart add.

    The cart add goes to the other worker, as a load balancer may send it. Half the shoppers
    also had their assets served by that worker, so it saw the session before, without a view.
    """
    assets_on = other if index % 2 else browsing
    with httpx.Client(headers={"user-agent": CHROME_UA}, timeout=30) as client:
        html = {"accept": "text/html"}
        home = client.get(f"{browsing.url}/", headers=html)
        assert home.status_code == 200, home.text
        for asset in ("/static/store.css", "/static/beacon.js"):
            assert client.get(f"{assets_on.url}{asset}").status_code == 200
        email = f"two-workers-{index}@example.com"
        login_form = {"email": email, "password": "correct-horse-9"}
        account = {**login_form, "name": f"Shopper {index}"}
        assert client.post(f"{browsing.url}/api/v1/accounts", json=account).status_code == 201
        login = client.post(f"{browsing.url}/api/v1/sessions", json=login_form)
        assert login.status_code == 200, login.text
        page = client.get(f"{browsing.url}/products/{product_id}", headers=html)
        assert page.status_code == 200, page.text
        found = BEACON_TOKEN.search(page.text)
        assert found is not None
        beacon = {"pointer": 14, "keys": 0, "first_interaction_ms": 900, "token": found.group(1)}
        client.post(f"{browsing.url}/api/v1/beacon", content=json.dumps(beacon))
        start.wait()
        time.sleep(6)  # reading the product page
        return client.post(
            f"{other.url}/api/v1/cart/items", json={"product_id": product_id, "quantity": 1}
        )


def shoppers_challenged(
    database_url: str, workers: list[tuple[Worker, Worker]], first: int
) -> list[httpx.Response]:
    """Run SHOPPERS shoppers at once, the i-th on `workers[i % len(workers)]`; the refused."""
    products = in_stock(database_url, first + SHOPPERS)[first:]
    start = threading.Barrier(SHOPPERS)
    with ThreadPoolExecutor(SHOPPERS) as pool:
        futures = [
            pool.submit(shop, first + i, products[i], *workers[i % len(workers)], start)
            for i in range(SHOPPERS)
        ]
        answers = [future.result() for future in futures]
    for answer in answers:
        assert answer.is_success or answer.headers.get("x-policy-decision") != "allow", answer.text
    return [a for a in answers if a.headers.get("x-policy-decision") != "allow"]


def test_honest_shoppers_on_two_workers_are_not_challenged(
    shop_workers: tuple[Worker, Worker, str],
) -> None:
    one, two, url = shop_workers
    # Every cart add lands on the worker that did not serve the product pages.
    spread = shoppers_challenged(url, [(one, two), (one, two), (two, one), (two, one)], first=0)
    assert not spread, [(a.status_code, a.text[:200]) for a in spread]
    alone = shoppers_challenged(url, [(one, one)], first=SHOPPERS)
    assert not alone, [(a.status_code, a.text[:200]) for a in alone]
