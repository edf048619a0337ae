"""Queued history writes and the read path of product pages, on SQLite and PostgreSQL.

A product page queues its `view` instead of writing it in the request; these tests hold the
promises that makes: the process reads its own writes, a rollback loses nothing, a shutdown
writes everything, and a product page takes no write lock.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Table, event, func, select, update

from marketplace.catalog import adids
from marketplace.catalog.adids import ImpressionIds
from marketplace.catalog.models import AdClick, AdImpression, Product
from marketplace.core.db import Database
from marketplace.core.security import CookieSigner
from marketplace.history.models import HistoryEvent
from marketplace.history.service import record_event
from tests.conftest import TEST_NOW, register_and_login
from tests.marketplace._shop import product_with_stock, set_stock


def views_of(database: Database, session_key: str) -> int:
    with database.session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(HistoryEvent)
            .where(HistoryEvent.session_key == session_key, HistoryEvent.kind == "view")
        )
    return int(count or 0)


def queue_view(database: Database, session_key: str, product_id: int) -> None:
    record_event(
        database.write_behind,
        kind="view",
        now=TEST_NOW,
        account_id=None,
        session_key=session_key,
        product_id=product_id,
    )


def test_a_queued_view_is_read_by_the_next_session(database: Database) -> None:
    product = product_with_stock(database)
    key = f"wb-{uuid.uuid4().hex}"
    queue_view(database, key, product)
    # No flush in between: the reading session writes the queue as its transaction begins.
    assert views_of(database, key) == 1
    assert database.write_behind.pending == 0


def test_a_rolled_back_session_gives_the_queued_rows_back(database: Database) -> None:
    product = product_with_stock(database)
    key = f"wb-{uuid.uuid4().hex}"
    queue_view(database, key, product)

    def failing_request() -> None:
        with database.session() as session:
            session.execute(select(1))  # begins, and so writes the queue in this transaction
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        failing_request()
    assert database.write_behind.pending == 1
    assert views_of(database, key) == 1


def test_a_rolled_back_savepoint_keeps_the_rows_its_transaction_commits(
    database: Database,
) -> None:
    product = product_with_stock(database)
    key = f"wb-{uuid.uuid4().hex}"
    queue_view(database, key, product)
    with database.session() as session:
        session.execute(select(1))  # writes the queue in this transaction
        with pytest.raises(RuntimeError), session.begin_nested():
            raise RuntimeError("e.g. a duplicate e-mail, caught by the request")
    # Written once, and not given back to be written again.
    assert database.write_behind.pending == 0
    for _ in range(3):
        assert views_of(database, key) == 1


def test_shutdown_writes_what_is_queued(database: Database) -> None:
    product = product_with_stock(database)
    key = f"wb-{uuid.uuid4().hex}"
    other = Database(database.url)
    try:
        queue_view(other, key, product)
    finally:
        other.dispose()
    assert views_of(database, key) == 1


def test_the_background_tick_writes_without_any_session(database: Database) -> None:
    product = product_with_stock(database)
    key = f"wb-{uuid.uuid4().hex}"
    written = threading.Event()
    queue_view(database, key, product)
    for _ in range(100):
        if database.write_behind.pending == 0:
            written.set()
            break
        written.wait(0.05)
    assert written.is_set(), "the queue was never written by the background tick"
    assert views_of(database, key) == 1


def test_a_session_begun_during_a_flush_reads_the_rows_being_flushed(database: Database) -> None:
    product = product_with_stock(database)
    key = f"wb-{uuid.uuid4().hex}"
    committing, go_on = threading.Event(), threading.Event()
    main = threading.current_thread()

    def hold_the_first_flush(_connection: object) -> None:
        # Whichever writes the queue first (the background tick or the thread below) stops
        # at its commit until the reader has begun.
        if threading.current_thread() is not main and not committing.is_set():
            committing.set()
            go_on.wait(5)

    event.listen(database.engine, "commit", hold_the_first_flush)
    try:
        queue_view(database, key, product)
        flush = threading.Thread(target=database.write_behind.flush)
        flush.start()
        assert committing.wait(5), "the queue was never flushed"
        # The rows have left the queue but are not committed: they still count as pending,
        # and a session that begins now waits for the commit instead of missing them.
        assert database.write_behind.pending == 1
        # A read that takes no session (a product page's) still finds them among the queued.
        queued = database.write_behind.queued(cast(Table, HistoryEvent.__table__))
        assert [row["session_key"] for row in queued] == [key]
        seen: list[int] = []
        reader = threading.Thread(target=lambda: seen.append(views_of(database, key)))
        reader.start()
        reader.join(0.3)
        assert reader.is_alive(), "the session did not wait for the flush's commit"
        go_on.set()
        reader.join(5)
        flush.join(5)
    finally:
        go_on.set()
        event.remove(database.engine, "commit", hold_the_first_flush)
    assert seen == [1]
    assert database.write_behind.pending == 0


def test_a_product_page_takes_no_write_lock(client: TestClient, database: Database) -> None:
    product = product_with_stock(database)
    if database.dialect != "sqlite":
        pytest.skip("the write lock is SQLite's")
    # Hold SQLite's write lock in another transaction: a page that needed it would wait.
    with database.session() as holder:
        holder.execute(update(Product).where(Product.id == product).values(stock=Product.stock))
        response = client.get(f"/api/v1/products/{product}")
        assert response.status_code == 200
        assert response.json()["id"] == product


_AD_LINK = re.compile(r'href="/products/(\d+)\?ad=(\d+)"')


def test_a_row_the_database_refuses_is_dropped_not_retried_forever(database: Database) -> None:
    product = product_with_stock(database)
    key = f"wb-{uuid.uuid4().hex}"
    with database.session() as session:
        taken = adids.reserve(session.connection(), 1)[0]
    row = {
        "id": taken,
        "product_id": product,
        "bid": 1.0,
        "placement": "product",
        "position": 1,
        "query": None,
        "visitor_class": "human",
        "account_id": None,
        "session_key": key,
        "created_at": TEST_NOW,
    }
    table = cast(Table, AdImpression.__table__)
    database.write_behind.add(table, row)
    database.write_behind.flush()
    database.write_behind.add(table, row)  # the same id again: refused
    queue_view(database, key, product)
    # No session meanwhile: one that began now would write the refused row and fail.
    for _ in range(100):
        if database.write_behind.dropped:
            break
        time.sleep(0.05)
    assert database.write_behind.dropped == 1
    for _ in range(100):  # the rest is written in the same transaction, just after
        if views_of(database, key):
            break
        time.sleep(0.05)
    assert views_of(database, key) == 1
    assert database.write_behind.pending == 0


def test_an_html_product_page_with_ads_takes_no_write_lock(
    client: TestClient, database: Database
) -> None:
    if database.dialect != "sqlite":
        pytest.skip("the write lock is SQLite's")
    html = {"accept": "text/html"}
    # A product whose page shows sponsored products (and so mints impression ids).
    page = product = None
    for skip in range(20):
        product = product_with_stock(database, skip=skip)
        page = client.get(f"/products/{product}", headers=html)
        if _AD_LINK.search(page.text):
            break
    assert page is not None
    assert product is not None
    assert _AD_LINK.search(page.text)
    with database.session() as holder:
        holder.execute(update(Product).where(Product.id == product).values(stock=Product.stock))
        started = time.monotonic()
        page = client.get(f"/products/{product}", headers=html)
        took = time.monotonic() - started
        assert page.status_code == 200
        # A page that needed the lock would wait for SQLite's busy timeout (30 s), then fail.
        assert took < 5, f"the page waited {took:.1f} s with the write lock held elsewhere"
    links = [(int(p), int(i)) for p, i in _AD_LINK.findall(page.text)]
    assert links
    # Once the lock is free the queued impressions are written, under the ids the links name.
    with database.session() as session:
        shown = {
            i.id: i
            for i in session.scalars(
                select(AdImpression).where(AdImpression.id.in_([i for _, i in links]))
            )
        }
    assert {i: (shown[i].product_id, shown[i].placement) for _, i in links} == {
        i: (p, "product") for p, i in links
    }
    # And the link still records (and charges) a person's click on that impression.
    ad_product, impression = links[0]
    opened = client.get(f"/products/{ad_product}", params={"ad": impression}, headers=html)
    assert opened.status_code == 200
    with database.session() as session:
        click = session.scalar(select(AdClick).where(AdClick.impression_id == impression))
    assert click is not None
    assert click.charged
    assert click.product_id == ad_product


def test_searches_take_no_write_lock(client: TestClient, database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("the write lock is SQLite's")
    product = product_with_stock(database)
    html = {"accept": "text/html"}
    # Once before: the visitor's first request is known to the gate afterwards.
    assert client.get("/", headers=html).status_code == 200
    with database.session() as holder:
        holder.execute(update(Product).where(Product.id == product).values(stock=Product.stock))
        started = time.monotonic()
        page = client.get("/search", params={"q": "headphones"}, headers=html)
        api = client.get("/api/v1/products", params={"q": "headphones"})
        home = client.get("/", headers=html)
        took = time.monotonic() - started
        assert (page.status_code, api.status_code, home.status_code) == (200, 200, 200)
        assert took < 5, f"the searches waited {took:.1f} s with the write lock held elsewhere"
    shown = [int(i) for _, i in _AD_LINK.findall(page.text)]
    shown += [
        int(item["ad_click"].rsplit("=", 1)[1]) for item in api.json()["items"] if item["sponsored"]
    ]
    assert shown
    with database.session() as session:
        placements = dict(
            session.execute(
                select(AdImpression.id, AdImpression.query).where(AdImpression.id.in_(shown))
            ).all()
        )
        searches = session.scalar(
            select(func.count())
            .select_from(HistoryEvent)
            .where(HistoryEvent.kind == "search", HistoryEvent.query == "headphones")
        )
    assert placements == dict.fromkeys(shown, "headphones")
    assert searches == 2


def test_the_cart_and_checkout_pages_take_no_write_lock(
    client: TestClient, database: Database
) -> None:
    if database.dialect != "sqlite":
        pytest.skip("the write lock is SQLite's")
    product = product_with_stock(database, at_least=2)
    register_and_login(client, f"{uuid.uuid4().hex[:12]}@example.com")
    added = client.post("/api/v1/cart/items", json={"product_id": product, "quantity": 2})
    assert added.status_code in (200, 201), added.text
    html = {"accept": "text/html"}
    with database.session() as holder:
        holder.execute(update(Product).where(Product.id == product).values(stock=Product.stock))
        started = time.monotonic()
        cart = client.get("/cart", headers=html)
        checkout = client.get("/checkout", headers=html, follow_redirects=False)
        took = time.monotonic() - started
        assert (cart.status_code, checkout.status_code) == (200, 200)
        assert took < 5, f"the pages waited {took:.1f} s with the write lock held elsewhere"
    assert f"/products/{product}" in cart.text


def test_impression_ids_are_unique_across_processes(database: Database) -> None:
    first, second = ImpressionIds(database.engine, block_size=4), ImpressionIds(database.engine)
    taken = first.take(3) + second.take(5) + first.take(6)
    with database.session() as session:
        taken += adids.reserve(session.connection(), 2)
    assert len(set(taken)) == len(taken) == 16


def test_ids_on_hand_are_handed_out_without_reserving_or_waiting(database: Database) -> None:
    ids = ImpressionIds(database.engine, block_size=4)
    assert ids.take_on_hand(1) is None  # nothing reserved yet, and none reserved by asking
    first = ids.take(1)  # reserves a block, and the next one ahead in a thread
    for _ in range(100):
        on_hand = ids.take_on_hand(2)
        if on_hand is not None:
            break
        time.sleep(0.05)
    assert on_hand is not None
    taken = first + on_hand.take(2)
    assert len(set(taken)) == 3
    with pytest.raises(ValueError, match="taken ahead"):
        on_hand.take(1)  # the page took what it asked for, no more


def test_ids_on_hand_do_not_wait_for_a_taker_that_is_reserving(database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("the write lock is SQLite's")
    product = product_with_stock(database)
    ids = ImpressionIds(database.engine)
    with database.session() as holder:
        # The write lock is taken elsewhere: a taker with no ids left reserves a block, and
        # waits for the lock while holding the ids' own lock.
        holder.execute(update(Product).where(Product.id == product).values(stock=Product.stock))
        taker = threading.Thread(target=ids.take, args=(1,))
        taker.start()
        # Until the taker holds the ids' lock, asking would not test the wait at all.
        for _ in range(100):
            if ids._lock.locked():
                break
            time.sleep(0.02)
        assert ids._lock.locked(), "the taker never began reserving"
        started = time.monotonic()
        assert ids.take_on_hand(1) is None
        assert time.monotonic() - started < 1
    taker.join(10)
    assert not taker.is_alive()


def test_a_product_page_shows_the_stock_just_committed(
    client: TestClient, database: Database
) -> None:
    product = product_with_stock(database)
    set_stock(database, product, 7)
    assert client.get(f"/api/v1/products/{product}").json()["stock"] == 7
    set_stock(database, product, 3)
    assert client.get(f"/api/v1/products/{product}").json()["stock"] == 3


def test_a_verified_cookie_is_remembered_but_a_forged_one_is_not() -> None:
    signer = CookieSigner("a-secret-key-of-enough-length-123", 3600)
    cookie = signer.dumps("token-1")
    assert signer.loads(cookie) == "token-1"
    assert signer.loads(cookie) == "token-1"  # from the cache
    assert signer.loads(cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")) is None
    other = CookieSigner("another-secret-key-of-enough-len", 3600)
    assert other.loads(cookie) is None


def test_a_remembered_cookie_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    import itsdangerous.timed

    import marketplace.core.security as security

    signer = CookieSigner("a-secret-key-of-enough-length-123", 60)
    cookie = signer.dumps("token-1")
    assert signer.loads(cookie) == "token-1"
    later = security.time.time() + 61
    monkeypatch.setattr(security.time, "time", lambda: later)
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    assert signer.loads(cookie) is None
