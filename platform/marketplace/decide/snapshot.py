"""Each worker's copy of a category's in-stock products, kept between requests.

Loading and parsing thousands of products (their JSON attributes, the words a search can match,
the category's percentiles) costs far more than scoring them, and the catalog hardly changes
while shoppers browse. So each process keeps one `CategoryPool` per category and database, and
checks on every request whether the catalog moved on, with a signal every worker reads from the
same database: the highest product id (a product was added) and the highest order id (an order
changed some stock; only the products it sold are read again). Changes made around the platform
(SQL by hand, the workshop's restock) show once the copy is `ttl` seconds old. The service
re-reads its picks before answering, so a pick is never out of stock or shown with an old price.

With a `SnapshotRefresher` registered for the database (the app does it), a copy that is too old
or misses new products is still answered from, and read again by the refresher's background
tick, so no shopper's request pays for reading a whole category; the app also reads the
categories named in `SANDBOX_DECIDE_WARM_CATEGORIES` as it starts, before it serves. Only a
category this worker never read is read on the request.
"""

from __future__ import annotations

import dataclasses
import gc
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.catalog.models import Category, Product
from marketplace.core.tick import BackgroundTick
from marketplace.decide.domain import AttrSpec, ProductFacts
from marketplace.decide.pool import CategoryPool
from marketplace.decide.signals import FACT_COLUMNS, fact_from_row, load_facts
from marketplace.orders.models import Order, OrderItem

SpecsFor = Callable[[Sequence[ProductFacts]], Sequence[AttrSpec]]


@dataclass(frozen=True)
class CatalogVersion:
    """What every worker can read cheaply to tell that its copy is out of date."""

    max_product_id: int
    max_order_id: int


@dataclass(frozen=True)
class _Entry:
    pool: CategoryPool
    version: CatalogVersion
    loaded_at: float


# Keyed by the engine, so two databases in one process (tests, the harness) never share a copy,
# and a disposed engine's copies go with it.
_pools: WeakKeyDictionary[object, dict[int, _Entry]] = WeakKeyDictionary()
_refreshers: WeakKeyDictionary[object, SnapshotRefresher] = WeakKeyDictionary()
_lock = threading.Lock()


_VERSION = select(
    select(func.max(Product.id)).scalar_subquery(),
    select(func.max(Order.id)).scalar_subquery(),
)


def catalog_version(session: Session) -> CatalogVersion:
    """The highest product and order ids: two primary-key lookups, on any database."""
    session.flush()  # as the ORM's autoflush would: the session's own new rows count
    row = session.connection().execute(_VERSION).one()
    return CatalogVersion(int(row[0] or 0), int(row[1] or 0))


def category_pool(
    session: Session,
    category: Category,
    *,
    specs_for: SpecsFor,
    ttl: float,
    clock: Callable[[], float] = time.monotonic,
) -> CategoryPool:
    """The category's in-stock products, most reviewed first, from this worker's copy if current.

    `ttl` = 0 reads the database every time and keeps nothing. With a refresher registered for
    the database, a copy that is too old or misses new products is answered from and read again
    in the background.
    """
    version = catalog_version(session)
    now = clock()
    engine = session.get_bind()
    with _lock:
        entry = _pools.get(engine, {}).get(category.id)
        refresher = _refreshers.get(engine)
    if entry is not None and now - entry.loaded_at < ttl:
        if entry.version == version:
            return entry.pool
        if entry.version.max_product_id == version.max_product_id:
            pool = _after_orders(session, entry, specs_for)
            if pool is not None:
                _keep(engine, category.id, _Entry(pool, version, entry.loaded_at))
                return pool
    if entry is not None and ttl > 0 and refresher is not None:
        refresher.want(category.slug)
        return entry.pool
    return reload(session, category, specs_for=specs_for, ttl=ttl, clock=clock)


def reload(
    session: Session,
    category: Category,
    *,
    specs_for: SpecsFor,
    ttl: float,
    clock: Callable[[], float] = time.monotonic,
    engine: object | None = None,
) -> CategoryPool:
    """Read the category again and keep the copy (unless `ttl` is 0), for `engine` (by default
    the session's: a reader connection's session names the engine whose copy it refreshes)."""
    version = catalog_version(session)
    now = clock()
    engine = engine if engine is not None else session.get_bind()
    with _lock:
        entry = _pools.get(engine, {}).get(category.id)
    pool = load_pool(
        session, category, specs_for=specs_for, previous=None if entry is None else entry.pool
    )
    if ttl > 0:
        _keep(engine, category.id, _Entry(pool, version, now))
    return pool


class SnapshotRefresher:
    """Reads this worker's stale category copies again on a background tick (and warms some).

    `read(slug)` reads one category's copy again in a session of its own; the app builds it from
    the service, which knows each category's attribute specs.
    """

    def __init__(
        self,
        engine: object,
        read: Callable[[str], None],
        *,
        warm: Callable[[], Sequence[str]] = tuple,
        interval_s: float = 1.0,
    ) -> None:
        self._read = read
        self._warm = warm
        self._due: list[str] = []
        self._due_lock = threading.Lock()
        self.tick = BackgroundTick(
            "decide-snapshots", self._run, interval_s=interval_s, has_work=self._has_work
        )
        self._engine = engine
        with _lock:
            _refreshers[engine] = self

    def warm(self) -> int:
        """Read the configured categories now (the app does it as it starts, before serving)."""
        slugs = list(self._warm())
        for slug in slugs:
            self._read(slug)
        return len(slugs)

    def want(self, slug: str) -> None:
        """Read `slug` again soon (its copy is too old or misses new products)."""
        with self._due_lock:
            if slug in self._due:
                return
            self._due.append(slug)
        self.tick.ensure_running()
        self.tick.wake()

    def _has_work(self) -> bool:
        return bool(self._due)

    def _run(self) -> int:
        done = 0
        while True:
            with self._due_lock:
                if not self._due:
                    return done
                slug = self._due[0]
            try:
                self._read(slug)
            finally:
                with self._due_lock:
                    self._due.remove(slug)
            done += 1

    def close(self) -> None:
        # Once closed it refreshes nothing: requests on this database read stale copies again
        # themselves, as without a refresher.
        with _lock:
            if _refreshers.get(self._engine) is self:
                del _refreshers[self._engine]
        self.tick.close()


def forget(session: Session, category_id: int) -> None:
    """Drop this worker's copy of the category (it turned out to be out of date)."""
    with _lock:
        _pools.get(session.get_bind(), {}).pop(category_id, None)


def clear() -> None:
    """Drop every copy in this process."""
    with _lock:
        _pools.clear()


def _keep(engine: object, category_id: int, entry: _Entry) -> None:
    with _lock:
        _pools.setdefault(engine, {})[category_id] = entry
    # A copy holds a few objects per product and lives for minutes: moved out of the cyclic
    # collector's sight (as create_app does with what it built), or every full collection
    # walks all of them, within some shopper's request. Replaced copies hold no cycles, so
    # reference counting still frees them.
    gc.freeze()


def load_pool(
    session: Session,
    category: Category,
    *,
    specs_for: SpecsFor,
    previous: CategoryPool | None = None,
) -> CategoryPool:
    """Read the category's in-stock products (the most reviewed first) from the database.

    The words of products that read the same as in `previous` are taken from it.
    """
    rows = session.execute(
        select(*FACT_COLUMNS)
        .where(Product.category_id == category.id, Product.stock > 0)
        .order_by(Product.review_count.desc(), Product.id)
    )
    products = [fact_from_row(row, category.slug) for row in rows]
    tokens: dict[int, tuple[str, ...]] = {}
    if previous is not None:
        known = previous.known_tokens()
        for p in products:
            words = known.get(p.id)
            if words is None:
                continue
            before = previous.products[previous.row_of[p.id]]
            if dataclasses.replace(before, stock=p.stock) == p:
                tokens[p.id] = words
    return CategoryPool(products, specs_for(products), tokens=tokens)


def _after_orders(session: Session, entry: _Entry, specs_for: SpecsFor) -> CategoryPool | None:
    """The copy updated for the orders placed since it was read, or None to read it all again."""
    pool = entry.pool
    sold = session.scalars(
        select(OrderItem.product_id)
        .where(OrderItem.order_id > entry.version.max_order_id)
        .distinct()
    ).all()
    ours = sorted({pid for pid in sold if pid in pool.row_of})
    if not ours:
        return pool
    fresh = load_facts(session, ours)
    gone: set[int] = set()
    stock: dict[int, int] = {}
    for pid in ours:
        old, new = pool.products[pool.row_of[pid]], fresh.get(pid)
        if new is None or new.stock <= 0:
            gone.add(pid)
        elif dataclasses.replace(old, stock=new.stock) != new:
            return None  # more than stock changed: read everything again
        else:
            stock[pid] = new.stock
    products = [
        dataclasses.replace(p, stock=stock[p.id]) if p.id in stock else p
        for p in pool.products
        if p.id not in gone
    ]
    if not gone:
        return pool.with_products(products)
    return CategoryPool(products, specs_for(products), tokens=pool.known_tokens())
