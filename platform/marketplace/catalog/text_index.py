"""The product search index: words ranked by BM25 in tantivy, kept in step with the database.

The database stays the record. Every transaction that changes a product's searchable fields
also appends the product's id to `product_changes` (triggers of migration 0015, suspended by a
bulk load, which appends one row without a product instead: "the whole catalog, under a new
token"). Before it answers, the index compares the newest change with the one it applied last,
which it keeps inside itself, committed with the documents, and applies what is missing. So a
search never answers from an older catalog than the transaction it runs in, and a crash between
the database's commit and the index's only leaves changes to apply again.

One index serves every worker process of a store: tantivy lets one process write at a time
(its lock file); the others wait for it and then read what it committed.

Relevance is tantivy's BM25 over title, brand and description (weights 10, 4, 1) with block-max
WAND, so the best matches are found without scoring every match; ties in score are broken by
review count, then id, exactly. The other orders are single fast-field keys that pack the
whole SQL order, ties included, into one integer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import tantivy
from sqlalchemy import Connection, Table, func, select
from sqlalchemy.engine import make_url

from marketplace.catalog.models import Product, ProductChange
from marketplace.catalog.query import RANK_WINDOW, Hits, ProductFilter, SortKey
from marketplace.core.db import Database
from marketplace.core.errors import ProblemError

# Part of the directory's name: a new schema gets a new directory, built from the database.
FORMAT = 1
_TOKENIZER = "product_text"
_TEXT_FIELDS = (("title", 10.0), ("brand", 4.0), ("description", 1.0))
# The id of the one document that records which change the index applied last.
_MARK_ID = 0
_ID_BITS = 28
_ID_MASK = (1 << _ID_BITS) - 1
_REVIEW_BITS = 24
_RATING_BITS = 9  # ratings in hundredths, 0.00-5.11
# Fast-field sort keys: (field, descending). Each packs the SQL order's columns, most
# significant first, and the id last (inverted where the key descends, so ids ascend).
_SORT_FIELDS: dict[str, tuple[str, bool]] = {
    "price_asc": ("key_price_asc", False),
    "price_desc": ("key_price_desc", True),
    "rating": ("key_rating", True),
    "newest": ("key_newest", True),
    "popularity": ("key_popularity", True),
}
_WRITER_HEAP = 256_000_000
_TIE_READ_AHEAD = 4
_BATCH = 10_000

products: Table = Product.__table__  # type: ignore[assignment]
changes: Table = ProductChange.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Mark:
    """A point in the database's change log: the newest change and the catalog's token."""

    seq: int
    token: str

    def covers(self, other: Mark) -> bool:
        return self.token == other.token and self.seq >= other.seq


class IndexBusy(ProblemError):
    """Another process held the index's writer for longer than the wait allows (a 503: the
    search can be asked again once that process has committed)."""

    status = 503
    type_slug = "search-index-busy"
    title = "Service unavailable"


def index_location(database_url: str, *, configured: Path | None, data_dir: Path) -> Path | None:
    """Where a store's index lives: `configured`, beside a SQLite file, or under `data_dir`
    for PostgreSQL; None (in memory) for an in-memory SQLite database."""
    if configured is not None:
        return configured / f"v{FORMAT}"
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        path = Path(url.database)
        return path.with_name(f"{path.name}.search-v{FORMAT}")
    name = f"{url.host or 'local'}-{url.port or 'default'}-{url.database}"
    return data_dir / "search" / f"{name}-v{FORMAT}"


class ProductIndex:
    """One store's search index, opened once per process and shared by its threads."""

    def __init__(self, directory: Path | None, *, writer_wait_s: float = 900.0) -> None:
        self.directory = directory
        self._writer_wait_s = writer_wait_s
        self._schema = _schema()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self._index = tantivy.Index(
            self._schema, path=str(directory) if directory is not None else None, reuse=True
        )
        self._analyzer = _analyzer()
        self._index.register_tokenizer(_TOKENIZER, self._analyzer)
        self._index.config_reader(reload_policy="Manual")
        self._lock = threading.Lock()
        self._applied = self._read_mark()

    # --- Keeping in step -------------------------------------------------------------------

    def catch_up(self, database: Database) -> None:
        """Bring the index up to date with `database` (at start-up, and after a seed)."""
        with database.reader() as connection:
            self.ensure_current(connection)

    def ensure_current(self, connection: Connection) -> None:
        """Apply every change the database shows `connection` and the index lacks."""
        latest = latest_mark(connection)
        if latest is None or (self._applied is not None and self._applied.covers(latest)):
            return
        with self._lock:
            self._reload()
            if self._applied is not None and self._applied.covers(latest):
                return
            writer = self._writer(latest)
            if writer is None:
                return
            try:
                self._apply(writer, connection, latest)
                writer.commit()
                writer.wait_merging_threads()
            except BaseException:
                writer.rollback()
                raise
            self._index.reload()
            self._applied = latest

    def _apply(self, writer: Any, connection: Connection, latest: Mark) -> None:
        applied = self._applied
        if applied is None or applied.token != latest.token:
            writer.delete_all_documents()
            rows = _product_rows(connection, None)
        else:
            ids = sorted(
                int(i)
                for i in connection.scalars(
                    select(changes.c.product_id)
                    .where(changes.c.seq > applied.seq, changes.c.seq <= latest.seq)
                    .distinct()
                )
                if i is not None
            )
            for product_id in ids:
                writer.delete_documents_by_term("product_id", product_id)
            rows = _product_rows(connection, ids)
        for row in rows:
            writer.add_document(_document(row))
        writer.delete_documents_by_term("product_id", _MARK_ID)
        writer.add_document(
            tantivy.Document(product_id=_MARK_ID, mark_seq=latest.seq, mark_token=latest.token)
        )

    def _writer(self, latest: Mark) -> Any | None:
        """The index's writer, once no other process holds it; None when, meanwhile, another
        process applied `latest` already."""
        deadline = time.monotonic() + self._writer_wait_s
        while True:
            try:
                return self._index.writer(heap_size=_WRITER_HEAP, num_threads=2)
            except ValueError as error:
                if "lock" not in str(error).lower():
                    raise
            time.sleep(0.05)
            self._reload()
            if self._applied is not None and self._applied.covers(latest):
                return None
            if time.monotonic() > deadline:
                raise IndexBusy(
                    f"The search index at {self.directory} stayed locked by another process "
                    f"for {self._writer_wait_s:.0f} s while it caught up with the catalog; "
                    "search again in a minute.",
                    headers={"Retry-After": "60"},
                )

    def _reload(self) -> None:
        self._index.reload()
        self._applied = self._read_mark()

    def _read_mark(self) -> Mark | None:
        searcher = self._index.searcher()
        found = searcher.search(tantivy.Query.term_query(self._schema, "product_id", _MARK_ID), 1)
        if not found.hits:
            return None
        document = searcher.doc(found.hits[0][1])
        return Mark(seq=int(document["mark_seq"][0]), token=str(document["mark_token"][0]))

    # --- Searching -------------------------------------------------------------------------

    def search(self, flt: ProductFilter, *, sort: SortKey, limit: int, offset: int) -> Hits:
        """A page of the products that match `flt`'s words and filters, in `sort` order."""
        searcher = self._index.searcher()
        query = self._query(flt)
        wanted = offset + limit
        ranked, total = self._ranked(searcher, query, size=max(RANK_WINDOW, wanted))
        if sort == "relevance":
            return Hits(ids=ranked[offset:wanted], total=total, ranked=tuple(ranked[:RANK_WINDOW]))
        field, descending = _SORT_FIELDS[sort]
        page = searcher.search(
            query,
            limit=limit,
            offset=offset,
            count=False,
            order_by_field=field,
            order=tantivy.Order.Desc if descending else tantivy.Order.Asc,
        )
        ids = self._ids(searcher, [address for _key, address in page.hits])
        return Hits(ids=ids, total=total, ranked=tuple(ranked[:RANK_WINDOW]))

    def _ranked(self, searcher: Any, query: Any, *, size: int) -> tuple[list[int], int]:
        """The best `size` matches by score, ties broken by review count then id, and the
        number of matches. Every match tied with the `size`-th is read, so the cut is exact."""
        # Generated catalogs tie often (alike titles score alike): read well past the cut at
        # once, and four times further while the last row read still ties with it.
        fetch = size * _TIE_READ_AHEAD
        total: int | None = None
        while True:
            found = searcher.search(query, limit=fetch, count=total is None)
            total = int(found.count) if total is None else total
            hits = found.hits
            if len(hits) < fetch or hits[-1][0] < hits[size - 1][0]:
                break
            fetch *= _TIE_READ_AHEAD
        addresses = [address for _score, address in hits]
        ids = self._ids(searcher, addresses)
        reviews = searcher.fast_field_values("review_count", addresses)
        order = sorted(range(len(hits)), key=lambda i: (-hits[i][0], -reviews[i], ids[i]))
        return [ids[i] for i in order[:size]], total

    @staticmethod
    def _ids(searcher: Any, addresses: Sequence[Any]) -> list[int]:
        return [int(i) for i in searcher.fast_field_values("product_id", list(addresses))]

    def _query(self, flt: ProductFilter) -> Any:
        schema = self._schema
        query = tantivy.Query
        words = []
        for term in flt.terms:
            for token in self._analyzer.analyze(term):
                fields = [
                    query.boost_query(query.term_query(schema, name, token), weight)
                    for name, weight in _TEXT_FIELDS
                ]
                words.append(query.boolean_query([(tantivy.Occur.Should, f) for f in fields]))
        if not words:
            return query.empty_query()
        occur = tantivy.Occur.Should if flt.any_term else tantivy.Occur.Must
        clauses = [(occur, word) for word in words]
        # Filters score nothing: relevance is the words' alone.
        for condition in self._filters(flt):
            clauses.append((tantivy.Occur.Must, query.const_score_query(condition, 0.0)))
        return query.boolean_query(clauses)

    def _filters(self, flt: ProductFilter) -> Iterator[Any]:
        schema = self._schema
        query = tantivy.Query
        if flt.category_id is not None:
            yield query.term_query(schema, "category_id", flt.category_id)
        if flt.min_price is not None or flt.max_price is not None:
            yield query.range_query(
                schema, "price", tantivy.FieldType.Float, flt.min_price, flt.max_price
            )
        if flt.min_rating is not None:
            yield query.range_query(schema, "rating", tantivy.FieldType.Float, flt.min_rating, None)

    @property
    def documents(self) -> int:
        """Products in the index (for reports)."""
        return max(0, int(self._index.searcher().num_docs) - (self._applied is not None))


def latest_mark(connection: Connection) -> Mark | None:
    """The newest change in the database's log, with the token of its catalog; None before
    migration 0015 wrote the first one."""
    newest = select(func.max(changes.c.seq)).scalar_subquery()
    token = (
        select(changes.c.token)
        .where(changes.c.product_id.is_(None))
        .order_by(changes.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    row = connection.execute(select(newest, token)).one()
    if row[0] is None or row[1] is None:
        return None
    return Mark(seq=int(row[0]), token=str(row[1]))


_COLUMNS = (
    products.c.id,
    products.c.title,
    products.c.brand,
    products.c.description,
    products.c.category_id,
    products.c.price,
    products.c.rating,
    products.c.review_count,
    products.c.created_at,
)


def _product_rows(connection: Connection, ids: list[int] | None) -> Iterable[Any]:
    """Every product (`ids` None), or those of `ids` that still exist, in batches."""
    if ids is None:
        result = connection.execution_options(yield_per=_BATCH).execute(
            select(*_COLUMNS).order_by(products.c.id)
        )
        yield from result
        return
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        yield from connection.execute(select(*_COLUMNS).where(products.c.id.in_(chunk)))


def _document(row: Any) -> Any:
    product_id = int(row.id)
    if not 0 < product_id <= _ID_MASK:
        raise ValueError(f"product id {product_id} is outside the search index's range")
    cents = max(0, round(float(row.price) * 100))
    rating = min(max(0, round(float(row.rating) * 100)), (1 << _RATING_BITS) - 1)
    reviews = min(max(0, int(row.review_count)), (1 << _REVIEW_BITS) - 1)
    created: datetime = row.created_at
    seconds = max(0, int(created.timestamp()))
    inverse_id = _ID_MASK - product_id
    return tantivy.Document(
        product_id=product_id,
        title=row.title,
        brand=row.brand,
        description=row.description,
        category_id=int(row.category_id),
        price=float(row.price),
        rating=float(row.rating),
        review_count=reviews,
        key_price_asc=(cents << _ID_BITS) | product_id,
        key_price_desc=(cents << _ID_BITS) | inverse_id,
        key_rating=(((rating << _REVIEW_BITS) | reviews) << _ID_BITS) | inverse_id,
        key_newest=(seconds << _ID_BITS) | inverse_id,
        key_popularity=(((reviews << _RATING_BITS) | rating) << _ID_BITS) | inverse_id,
    )


def _schema() -> Any:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("product_id", indexed=True, fast=True)
    for name, _weight in _TEXT_FIELDS:
        # Term frequencies without positions: queries are words, never phrases.
        builder.add_text_field(name, tokenizer_name=_TOKENIZER, index_option="freq")
    builder.add_integer_field("category_id", indexed=True)
    builder.add_float_field("price", fast=True)
    builder.add_float_field("rating", fast=True)
    builder.add_integer_field("review_count", fast=True)
    for field, _descending in _SORT_FIELDS.values():
        builder.add_integer_field(field, fast=True)
    builder.add_integer_field("mark_seq", stored=True)
    builder.add_text_field("mark_token", stored=True, tokenizer_name="raw")
    return builder.build()


def _analyzer() -> Any:
    """Words split at anything but letters and digits (so "13.3-inch" is 13, 3 and inch),
    lower-cased, accents folded, English stems ("headphones" finds "headphone")."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(64))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


__all__ = ["FORMAT", "IndexBusy", "Mark", "ProductIndex", "index_location", "latest_mark"]
