"""Faults: the database going away under a running app, and a server killed mid-checkout.

1. A private PostgreSQL server is stopped under a running app: data routes answer 503
   problem+json with Retry-After (never a bare 500), the gate still decides every request, and
   where identification itself needs the database (a signed request's nonce) the policy's
   `on_error` decides: fail closed on the cart, open on the catalog, and as the policy overrides.
   The server is started again and the app recovers without a restart.
2. uvicorn runs as a real subprocess on a SQLite file; concurrent checkouts are fired and the
   process is SIGKILLed in the middle of them. After a restart, stock plus ordered units equals
   the initial stock for every product, no order is half written, and retrying every checkout
   with its key places each order exactly once.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import selectinload

from marketplace.accounts.models import Account
from marketplace.accounts.service import start_session
from marketplace.app import create_app
from marketplace.catalog.models import Product
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.migrate import upgrade
from marketplace.core.settings import Settings
from marketplace.orders.models import Order, OrderItem
from sandbox.liveserver import free_port, wait_until_healthy
from tests.conftest import (
    ADMIN_TOKEN,
    CHROME_UA,
    TEST_NOW,
    TEST_SEED,
    seed_database,
    skip_or_fail,
)
from tests.marketplace.gate import _signing
from tests.support.postgres import PostgresServer, find_pg_bin

GPTBOT = "Mozilla/5.0 (compatible; GPTBot/1.1; +https://openai.com/gptbot)"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


# --- The database goes away ---------------------------------------------------------------


class StoppablePostgres(PostgresServer):
    """A private cluster that can be stopped and started again without losing its data."""

    def stop(self) -> None:
        try:
            super().stop()
        except subprocess.CalledProcessError:  # already paused: only the files are left
            shutil.rmtree(self.root, ignore_errors=True)

    def pause(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def resume(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -c port={self.port} -k {self.root} -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )


@pytest.fixture
def private_postgres() -> Iterator[tuple[StoppablePostgres, str]]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        skip_or_fail("postgres", "PostgreSQL is not installed: `apt-get install postgresql`")
    server = StoppablePostgres(bin_dir)  # type: ignore[arg-type]
    try:
        url = server.start()
    except Exception as exc:  # pragma: no cover - depends on the machine
        server.stop()
        skip_or_fail("postgres", f"could not start PostgreSQL: {exc}")
        raise
    try:
        upgrade(url)
        database = Database(url)
        try:
            seed_database(database, now=TEST_NOW)
        finally:
            database.dispose()
        yield server, url
    finally:
        server.stop()


def _partner_policy(key: Ed25519PrivateKey, on_error: str = "") -> str:
    x = _signing.jwk(key)["x"]
    return (
        "extends: closed\nname: fault-test\n"
        f"partners:\n  - name: partner-co\n    jwk: {{kty: OKP, crv: Ed25519, x: '{x}'}}\n"
        + on_error
    )


def _signed(key: Ed25519PrivateKey, method: str, path: str) -> dict[str, str]:
    created = int(TEST_NOW.timestamp())
    headers = _signing.sign(
        key,
        method=method,
        authority="testserver",
        path=path,
        created=created,
        expires=created + 60,
        nonce=secrets.token_hex(8),
    )
    return {"user-agent": "PartnerBot/1.0", **headers}


def _is_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"]


@pytest.mark.slow
@pytest.mark.postgres
def test_database_down_gives_503_and_on_error_decides(
    private_postgres: tuple[StoppablePostgres, str], tmp_path: Path
) -> None:
    server, url = private_postgres
    key = Ed25519PrivateKey.generate()
    policy_file = tmp_path / "fault.yaml"
    policy_file.write_text(_partner_policy(key))
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        admin_token=ADMIN_TOKEN,
        secret_key="fault-secret",
        policy=str(policy_file),
        seed=TEST_SEED,
    )
    database = Database(url, pool_size=2)
    app = create_app(settings, database=database, clock=FrozenClock(TEST_NOW))
    try:
        with TestClient(app, headers={"user-agent": CHROME_UA}) as client:
            assert client.get("/api/v1/products/1").status_code == 200
            signed = client.get(
                "/api/v1/products/1", headers=_signed(key, "GET", "/api/v1/products/1")
            )
            assert signed.headers["x-visitor-class"] == "verified-agent"
            assert signed.status_code == 200

            server.pause()
            # Plain requests: the gate decides without the database, the route answers 503.
            for path in ("/api/v1/products", "/api/v1/products/1", "/api/v1/categories"):
                down = client.get(path)
                _is_problem(down, 503)
                assert down.headers["retry-after"]
                assert down.headers["x-policy-decision"] == "allow"
            page = client.get("/", headers={"accept": "text/html"})
            assert page.status_code == 503
            assert "text/html" in page.headers["content-type"]
            login = client.post(
                "/api/v1/sessions", json={"email": "a@example.com", "password": "x" * 10}
            )
            _is_problem(login, 503)
            # The gate's own answers need no database: outside tools are still kept out.
            assert (
                client.get("/api/v1/cart", headers={"user-agent": "curl/8.5.0"}).status_code == 403
            )
            assert client.get("/healthz").status_code == 200

            # Signed requests need the database for their nonce: on_error decides.
            cart = client.get("/api/v1/cart", headers=_signed(key, "GET", "/api/v1/cart"))
            _is_problem(cart, 403)
            assert cart.headers["x-policy-rule"] == "on-error"
            catalog = client.get(
                "/api/v1/products/1", headers=_signed(key, "GET", "/api/v1/products/1")
            )
            assert catalog.headers["x-policy-rule"] == "on-error"
            assert catalog.headers["x-policy-decision"] == "allow"
            _is_problem(catalog, 503)  # let through by on_error, then the route has no database

            server.resume()
            # Recovered without a restart: stale pooled connections are replaced.
            deadline = time.monotonic() + 30
            while client.get("/api/v1/products/1").status_code != 200:
                assert time.monotonic() < deadline, "the app did not recover"
                time.sleep(0.5)
            signed = client.get(
                "/api/v1/products/1", headers=_signed(key, "GET", "/api/v1/products/1")
            )
            assert signed.headers["x-visitor-class"] == "verified-agent"
            assert signed.status_code == 200

            # A policy that opens the cart on error is honoured the same way.
            opened = _partner_policy(key, "on_error: {cart: allow}\n")
            assert (
                client.put("/api/v1/policy", json={"yaml": opened}, headers=ADMIN).status_code
                == 200
            )
            server.pause()
            cart = client.get("/api/v1/cart", headers=_signed(key, "GET", "/api/v1/cart"))
            assert cart.headers["x-policy-rule"] == "on-error"
            assert cart.headers["x-policy-decision"] == "allow"
            assert cart.status_code in (401, 503)
            server.resume()
    finally:
        database.dispose()


# --- A server killed in the middle of checkouts -------------------------------------------

BUYERS = 24


def _tokens(database: Database, count: int) -> list[str]:
    """Accounts with live tokens at the real time (the subprocess runs on the system clock)."""
    now = datetime.now(UTC)
    tokens = []
    with database.session() as session:
        for i in range(count):
            account = Account(
                email=f"killed{i}@example.com",
                name=f"Buyer {i}",
                password_hash="not-a-password-hash",
                created_at=now - timedelta(days=1),
            )
            session.add(account)
            session.flush()
            tokens.append(start_session(session, account, now=now, max_age_s=3600).token)
    return tokens


class Uvicorn:
    """The platform as a real uvicorn process on a SQLite file."""

    def __init__(self, db_url: str, folder: Path, policy: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "SANDBOX_DATABASE_URL": db_url,
            "SANDBOX_DATA_DIR": str(folder / "data"),
            "SANDBOX_POLICY": str(policy),
            "SANDBOX_ADMIN_TOKEN": ADMIN_TOKEN,
            "SANDBOX_SECRET_KEY": "kill-secret",
        }
        self.log = folder / f"uvicorn-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "marketplace.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=log)
        wait_until_healthy(self.url, self.process, output=self.log.read_text)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _consistency(database: Database, stock_before: dict[int, int]) -> dict[int, int]:
    """Assert stock + ordered units == initial stock and no half-written order; units sold."""
    sold = {}
    with database.session() as session:
        for product_id, before in stock_before.items():
            stock = session.scalar(select(Product.stock).where(Product.id == product_id))
            ordered = session.scalar(
                select(func.coalesce(func.sum(OrderItem.quantity), 0))
                .join(Order, Order.id == OrderItem.order_id)
                .where(OrderItem.product_id == product_id, Order.idempotency_key.like("kill-%"))
            )
            assert stock is not None
            assert stock + int(ordered) == before, (product_id, stock, ordered, before)
            sold[product_id] = int(ordered)
        empty = session.scalar(select(func.count(Order.id)).where(~Order.items.any()))
        assert empty == 0, "an order without items was committed"
        orders = session.scalars(
            select(Order)
            .where(Order.idempotency_key.like("kill-%"))
            .options(selectinload(Order.items))
        )
        for order in orders:
            total = sum(float(i.unit_price) * i.quantity for i in order.items)
            assert float(order.total) == pytest.approx(total), order.id
        integrity = session.execute(text("PRAGMA integrity_check")).scalar()
        assert integrity == "ok"
    return sold


@pytest.mark.slow
def test_server_killed_mid_checkout_restarts_consistent(
    sqlite_template: Path, tmp_path: Path
) -> None:
    db_path = tmp_path / "killed.db"
    shutil.copyfile(sqlite_template, db_path)
    db_url = f"sqlite:///{db_path}"
    policy = tmp_path / "quiet.yaml"
    policy.write_text(
        "extends: observe\nname: quiet-observe\n"
        "escalation: {warn_after: 999, suspend_after: 1000}\n"
    )
    database = Database(db_url)
    products = []
    with database.session() as session:
        products = list(session.scalars(select(Product.id).order_by(Product.id).limit(4)))
        for product_id in products:
            session.get(Product, product_id).stock = 40  # type: ignore[union-attr]
    stock_before = dict.fromkeys(products, 40)
    tokens = _tokens(database, BUYERS)
    database.dispose()

    server = Uvicorn(db_url, tmp_path, policy)
    server.start()
    try:
        carts: dict[int, list[tuple[int, int]]] = {}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for i, token in enumerate(tokens):
                lines = [(products[(i + j) % 4], 1 + (i + j) % 3) for j in range(2)]
                carts[i] = lines
                for product_id, quantity in lines:
                    added = http.post(
                        "/api/v1/cart/items",
                        json={"product_id": product_id, "quantity": quantity},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    assert added.status_code == 201, added.text

        placed = threading.Event()
        outcomes: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(BUYERS)

        def checkout(i: int) -> None:
            barrier.wait()
            try:
                answer = httpx.post(
                    f"{server.url}/api/v1/orders",
                    headers={
                        "Authorization": f"Bearer {tokens[i]}",
                        "Idempotency-Key": f"kill-{i}",
                    },
                    timeout=30,
                )
                outcome = str(answer.status_code)
                if answer.status_code == 201:
                    placed.set()
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=checkout, args=(i,)) for i in range(BUYERS)]
        for thread in threads:
            thread.start()
        assert placed.wait(60), "no checkout completed before the kill"
        server.kill()
        for thread in threads:
            thread.join()
        completed = outcomes.count("201")
        assert completed < BUYERS, f"every checkout finished before the kill: {outcomes}"
        print(f"\nkill: {completed} of {BUYERS} checkouts answered before SIGKILL: {outcomes}")

        # Restart on the same file: SQLite recovers its WAL; everything committed is whole.
        database = Database(db_url)
        try:
            sold = _consistency(database, stock_before)
            assert sum(sold.values()) >= completed
        finally:
            database.dispose()

        server.start()
        # Retrying every checkout with its key: each buyer ends up with exactly one order.
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for i, token in enumerate(tokens):
                retry = http.post(
                    "/api/v1/orders",
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"kill-{i}"},
                )
                assert retry.status_code in (200, 201), retry.text
                assert sorted(
                    (it["product_id"], it["quantity"]) for it in retry.json()["items"]
                ) == sorted(carts[i])
        database = Database(db_url)
        try:
            sold = _consistency(database, stock_before)
            wanted = {
                p: sum(q for lines in carts.values() for pid, q in lines if pid == p)
                for p in products
            }
            assert sold == wanted
            with database.session() as session:
                orders = session.scalar(
                    select(func.count(Order.id)).where(Order.idempotency_key.like("kill-%"))
                )
            assert orders == BUYERS
        finally:
            database.dispose()
    finally:
        server.stop()
