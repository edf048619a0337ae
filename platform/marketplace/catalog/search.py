"""Ranked full-text product search on SQLite (FTS5, bm25) and PostgreSQL (tsvector, ts_rank).

The only module besides the migrations that writes SQL by hand: the two databases spell full-text
search differently, so the dialect-specific pieces live here behind one interface. User input never
reaches either query language as syntax: `search_terms` reduces it to plain word tokens first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Integer,
    Row,
    Select,
    Table,
    TextClause,
    column,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from marketplace.catalog.models import Product

SortKey = Literal["relevance", "price_asc", "price_desc", "rating", "popularity", "newest"]
SORT_KEYS: tuple[str, ...] = (
    "relevance",
    "price_asc",
    "price_desc",
    "rating",
    "popularity",
    "newest",
)

MAX_TERMS = 8
MAX_TERM_LENGTH = 40

# Words that carry no meaning in a product query. Dropping them on both databases keeps results
# alike: PostgreSQL's english configuration ignores them, while FTS5 would demand them literally.
# fmt: off
STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "i",
        "in", "into", "is", "it", "its", "me", "my", "no", "nor", "not", "of", "on", "or", "our",
        "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this",
        "those", "to", "too", "was", "we", "were", "what", "when", "where", "which", "while", "who",
        "whom", "why", "will", "with", "you", "your",
    }
)
# fmt: on

# Letters and digits only: quotes, `*`, `^`, `:`, parentheses and the like never get through.
_WORD = re.compile(r"[^\W_]+")

# Column weights: a word in the title counts most, then the brand, then the description.
_BM25_WEIGHTS = (10.0, 4.0, 1.0)

products: Table = Product.__table__  # type: ignore[assignment]
_fts = table("products_fts", column("rowid", Integer))


def search_terms(q: str | None) -> tuple[str, ...]:
    """The searchable words of a user query, lower-cased, stopwords and duplicates removed."""
    if not q:
        return ()
    terms: list[str] = []
    for word in _WORD.findall(q.lower()):
        if word in STOPWORDS or len(word) > MAX_TERM_LENGTH or word in terms:
            continue
        terms.append(word)
        if len(terms) == MAX_TERMS:
            break
    return tuple(terms)


@dataclass(frozen=True)
class ProductFilter:
    """What a search matches: words (all of them, or any with `any_term`) and the filters."""

    terms: tuple[str, ...] = ()
    any_term: bool = False
    category_id: int | None = None
    min_price: float | None = None
    max_price: float | None = None
    min_rating: float | None = None


@dataclass(frozen=True)
class Hits:
    """One page of matching product ids in order, and how many products match in all.

    `total_is_lower_bound` is True when counting stopped at `COUNT_CAP` (a query with words
    and filters that matches more than that): at least `total` products match. `ranked` holds
    the best-ranked matches a relevance page was taken from, best first, when it was taken from
    a ranked window; the sponsored slots are auctioned among them.
    """

    ids: list[int]
    total: int
    total_is_lower_bound: bool = False
    ranked: tuple[int, ...] | None = None


# Relevance ranks in two steps: the best RANK_WINDOW matches by text score alone, inside the
# full-text index, then the filters and the tie-break on those rows only. Joining every match
# to `products` to sort it cost more than all the rest of a search on a large catalog.
RANK_WINDOW = 300
# Matches of a query with words *and* filters are counted up to here; past it the total is
# shown as a lower bound ("over 1,000 results"). Counting them exactly looks up every match.
COUNT_CAP = 1000


class _Matcher:
    """The FROM clause, conditions and relevance score of one filter on one database.

    `text_source`, `text_id` and `text_conditions` alone find the word matches, without
    touching `products` on SQLite (the FTS5 table answers); `filters` are the rest.
    """

    def __init__(self, session: Session, flt: ProductFilter) -> None:
        self.source: FromClause = products
        self.text_source: FromClause = products
        self.text_id: ColumnElement[int] = products.c.id
        self.text_conditions: list[ColumnElement[bool] | TextClause] = []
        self.filters: list[ColumnElement[bool]] = []
        # Lower is better on both databases, so one ORDER BY serves both.
        self.score: ColumnElement[Any] | None = None
        if flt.terms:
            dialect = session.get_bind().dialect.name
            if dialect == "sqlite":
                self._sqlite(flt.terms, flt.any_term)
            elif dialect == "postgresql":
                self._postgres(flt.terms, flt.any_term)
            else:  # pragma: no cover - only the two supported databases
                raise RuntimeError(f"full-text search is not implemented for {dialect}")
        c = self._filter_column
        if flt.category_id is not None:
            self.filters.append(c("category_id") == flt.category_id)
        if flt.min_price is not None:
            self.filters.append(c("price") >= flt.min_price)
        if flt.max_price is not None:
            self.filters.append(c("price") <= flt.max_price)
        if flt.min_rating is not None:
            self.filters.append(c("rating") >= flt.min_rating)
        self.conditions: list[ColumnElement[bool] | TextClause] = [
            *self.text_conditions,
            *self.filters,
        ]

    def _filter_column(self, name: str) -> ColumnElement[Any]:
        column = products.c[name]
        if self.source is products:
            return column
        # SQLite with words: a unary plus keeps the planner off the column's index, so the
        # full-text matches drive the join (one primary-key lookup each) rather than a
        # category or price range with a full-text probe per row, which is far slower.
        return UnaryExpression(column, operator=custom_op("+"), type_=column.type)

    def _sqlite(self, terms: tuple[str, ...], any_term: bool) -> None:
        # Each term as an FTS5 string literal; terms hold only letters and digits, so the
        # quotes cannot be broken out of, and NEAR/AND/OR/NOT become plain words.
        expression = (" OR " if any_term else " ").join(f'"{term}"' for term in terms)
        self.source = _fts.join(products, products.c.id == _fts.c.rowid)
        self.text_source = _fts
        self.text_id = _fts.c.rowid
        self.text_conditions.append(
            text("products_fts MATCH :fts_expression").bindparams(fts_expression=expression)
        )
        self.score = func.bm25(literal_column("products_fts"), *_BM25_WEIGHTS)

    def _postgres(self, terms: tuple[str, ...], any_term: bool) -> None:
        vector: ColumnElement[Any] = literal_column("products.search_vector")
        english: ColumnElement[Any] = literal_column("'english'::regconfig")
        query = (
            # websearch syntax reads a lone `or` as the OR operator; the terms are plain words.
            func.websearch_to_tsquery(english, " or ".join(terms))
            if any_term
            else func.plainto_tsquery(english, " ".join(terms))
        )
        self.text_conditions.append(vector.op("@@")(query))
        # Normalisation 1 divides by the log of the document length, like bm25's length term.
        self.score = -func.ts_rank(vector, query, 1)

    def select_ids(self) -> Select[tuple[int]]:
        return select(products.c.id).select_from(self.source).where(*self.conditions)

    def count(self, session: Session) -> tuple[int, bool]:
        """How many products match, and whether that is only a lower bound (`COUNT_CAP`)."""
        if not self.filters:
            # Exact and cheap: the full-text index counts its own matches (or, without
            # words, the table counts its rows).
            whole = select(func.count()).select_from(self.text_source)
            return int(session.scalar(whole.where(*self.text_conditions)) or 0), False
        if self.score is None:
            # Filters alone are answered by the composite indexes.
            return int(
                session.scalar(
                    select(func.count()).select_from(self.source).where(*self.conditions)
                )
                or 0
            ), False
        # Words and filters: every match would be looked up in `products`; stop at the cap.
        capped = self.select_ids().limit(COUNT_CAP + 1).subquery()
        total = int(session.scalar(select(func.count()).select_from(capped)) or 0)
        return min(total, COUNT_CAP), total > COUNT_CAP


def _order_by(sort: SortKey, score: ColumnElement[Any] | None) -> list[ColumnElement[Any]]:
    c = products.c
    if sort == "relevance" and score is None:
        sort = "popularity"
    tail = [c.id.asc()]
    if sort == "relevance":
        assert score is not None
        return [score.asc(), c.review_count.desc(), *tail]
    if sort == "price_asc":
        return [c.price.asc(), *tail]
    if sort == "price_desc":
        return [c.price.desc(), *tail]
    if sort == "rating":
        return [c.rating.desc(), c.review_count.desc(), *tail]
    if sort == "newest":
        return [c.created_at.desc(), *tail]
    return [c.review_count.desc(), c.rating.desc(), *tail]


def search_ids(
    session: Session, flt: ProductFilter, *, sort: SortKey, limit: int, offset: int
) -> Hits:
    """Ids of the matching products in `sort` order (ties broken by id), and the total."""
    matcher = _Matcher(session, flt)
    if sort == "relevance" and matcher.score is not None:
        return _ranked_page(session, matcher, limit=limit, offset=offset)
    stmt = matcher.select_ids().order_by(*_order_by(sort, matcher.score))
    ids: list[int] = list(session.scalars(stmt.limit(limit).offset(offset)))
    if offset == 0 and len(ids) < limit:
        return Hits(ids=ids, total=len(ids))
    total, lower_bound = matcher.count(session)
    return Hits(ids=ids, total=max(total, offset + len(ids)), total_is_lower_bound=lower_bound)


def _ranked_page(session: Session, matcher: _Matcher, *, limit: int, offset: int) -> Hits:
    """A relevance page, ranked in two steps in one statement.

    Step one scores the matches (the full-text index alone, or with the filters the rows that
    pass them) and keeps them aside; step two looks up the review count, the tie-break, only
    for the rows that score at least as well as the `RANK_WINDOW`-th best one (or the page's
    last row, when deeper). Every row tied with that one is kept, so the order is exactly the
    one ranking every match gives. The kept rows also count the matches. (On SQLite; see
    below for PostgreSQL.)
    """
    assert matcher.score is not None
    wanted = offset + limit
    size = max(RANK_WINDOW, wanted)
    if matcher.source is products:
        # PostgreSQL: the vector and the tie-break live in one row, so there is nothing to
        # look up in a second step; one pass ranks the matches and counts them.
        stmt = (
            select(products.c.id, func.count().over())
            .where(*matcher.conditions)
            .order_by(*_order_by("relevance", matcher.score))
            .limit(size)
        )
        rows = session.execute(stmt).all()
        return _hits(rows, offset=offset, wanted=wanted)
    score = matcher.score.label("score")
    if matcher.filters:
        scored = select(products.c.id, score, products.c.review_count)
        scored = scored.select_from(matcher.source).where(*matcher.conditions)
    else:
        scored = select(matcher.text_id.label("id"), score).select_from(matcher.text_source)
        scored = scored.where(*matcher.text_conditions)
    # Materialised: SQLite computes bm25() only inside the full-text query itself.
    ranked = scored.cte("scored_matches").prefix_with("MATERIALIZED")
    cutoff = select(ranked.c.score).order_by(ranked.c.score).offset(size - 1).limit(1)
    total = select(func.count()).select_from(ranked).scalar_subquery()
    if matcher.filters:
        source: FromClause = ranked
        reviews = ranked.c.review_count
    else:
        source = ranked.join(products, products.c.id == ranked.c.id)
        reviews = products.c.review_count
    stmt = (
        select(ranked.c.id, total)
        .select_from(source)
        .where(ranked.c.score <= func.coalesce(cutoff.scalar_subquery(), _WORST_SCORE))
        .order_by(ranked.c.score, reviews.desc(), ranked.c.id)
        .limit(size)
    )
    return _hits(session.execute(stmt).all(), offset=offset, wanted=wanted)


def _hits(rows: Sequence[Row[int, int]], *, offset: int, wanted: int) -> Hits:
    """The page of ranked `(id, total)` rows, with the best ones kept for the ads."""
    ids = [int(row[0]) for row in rows]
    return Hits(
        ids=ids[offset:wanted],
        total=int(rows[0][1]) if rows else 0,
        ranked=tuple(ids[:RANK_WINDOW]),
    )


# Above any text score (bm25 and negated ts_rank are at most 0): no cutoff.
_WORST_SCORE = 1.0


def sponsored_ids(
    session: Session,
    flt: ProductFilter,
    *,
    limit: int,
    among: tuple[int, ...] | None = None,
) -> list[int]:
    """In-stock products with a bid that match `flt`, highest bid first (then relevance).

    `among` (a relevance page's `Hits.ranked`, best first) restricts the auction to those
    matches, the best-ranked ones, and breaks ties in bid by their order.
    """
    bids = products.c.sponsored_bid
    # A literal 0, not a bound parameter, so SQLite sees that the partial index on bidders
    # (`WHERE sponsored_bid > 0`) covers the query.
    bidding = [bids > literal_column("0"), products.c.stock > 0]
    if among is not None:
        rank = {pid: n for n, pid in enumerate(among)}
        rows = session.execute(select(products.c.id, bids).where(products.c.id.in_(rank), *bidding))
        best = sorted(rows, key=lambda r: (-r[1], rank[r[0]]))
        return [int(r[0]) for r in best[:limit]]
    matcher = _Matcher(session, flt)
    stmt = matcher.select_ids().where(*bidding)
    order: list[ColumnElement[Any]] = [bids.desc()]
    if matcher.score is not None:
        order.append(matcher.score.asc())
    stmt = stmt.order_by(*order, products.c.id.asc()).limit(limit)
    return list(session.scalars(stmt))


# --- Bulk loading ---------------------------------------------------------------------------

_SQLITE_INSERT_TRIGGER = "products_fts_ai"
_POSTGRES_INDEX = "ix_products_search_vector"


IndexRange = Callable[[int, int], None]


@contextmanager
def bulk_loading(connection: Connection) -> Iterator[IndexRange]:
    """Hand over search indexing to a bulk load, and restore per-row indexing afterwards.

    Yields `index_range(first_id, last_id)`, to call after each inserted batch of products:
    indexing batch by batch lets it run while worker processes generate the next batch,
    instead of once, alone, at the end. The per-row trigger (SQLite) or GIN index
    (PostgreSQL) is suspended meanwhile and re-created from its own stored definition, so the
    migration stays the one place that defines it.
    """
    dialect = connection.dialect.name
    if dialect == "sqlite":
        # A large page cache keeps index pages in memory during the load (negative = KiB).
        connection.exec_driver_sql("PRAGMA cache_size = -262144")
        definition = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
            (_SQLITE_INSERT_TRIGGER,),
        ).scalar()
        if definition:
            connection.exec_driver_sql(f"DROP TRIGGER {_SQLITE_INSERT_TRIGGER}")

        def index_range(first_id: int, last_id: int) -> None:
            connection.exec_driver_sql(
                "INSERT INTO products_fts(rowid, title, brand, description) "
                "SELECT id, title, brand, description FROM products WHERE id BETWEEN ? AND ?",
                (first_id, last_id),
            )

        yield index_range
        if definition:
            connection.exec_driver_sql(str(definition))
        # Merge the batches' index segments into one, for the fastest queries.
        connection.exec_driver_sql("INSERT INTO products_fts(products_fts) VALUES ('optimize')")
        # The connection returns to the pool; its later requests need no bulk-load cache.
        connection.exec_driver_sql("PRAGMA cache_size = -2000")
    elif dialect == "postgresql":
        definition = connection.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
            {"name": _POSTGRES_INDEX},
        ).scalar()
        if definition:
            connection.exec_driver_sql(f"DROP INDEX {_POSTGRES_INDEX}")
        # The generated tsvector column is filled as rows are inserted; nothing to do per batch.
        yield _nothing
        if definition:
            connection.exec_driver_sql(str(definition))
    else:  # pragma: no cover - only the two supported databases
        yield _nothing


def _nothing(first_id: int, last_id: int) -> None:
    return None


def analyze(connection: Connection) -> None:
    """Refresh the query planner's statistics after a bulk load."""
    connection.exec_driver_sql("ANALYZE")


def rebuild_index(connection: Connection) -> None:
    """Re-index every product's text (SQLite; PostgreSQL's generated column is always current)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("INSERT INTO products_fts(products_fts) VALUES ('rebuild')")


__all__ = [
    "SORT_KEYS",
    "Hits",
    "ProductFilter",
    "SortKey",
    "analyze",
    "bulk_loading",
    "rebuild_index",
    "search_ids",
    "search_terms",
    "sponsored_ids",
]
