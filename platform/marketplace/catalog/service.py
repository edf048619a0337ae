"""Catalog logic: search with sponsored slots, product pages and categories; no HTTP here.

The storefront's HTML routes and the JSON API call the same functions, so a search served as a
page records the same history and ad impressions as one served as JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select
from sqlalchemy.orm import Session, joinedload

from marketplace.catalog import adids, search
from marketplace.catalog.models import AdClick, AdImpression, Category, Product
from marketplace.catalog.query import ProductFilter, search_terms
from marketplace.catalog.schemas import (
    CategoryOut,
    ProductDetail,
    ProductSummary,
    SearchPage,
    SearchParams,
    Specification,
)
from marketplace.catalog.slates import Slot, SponsoredSlates
from marketplace.catalog.taxonomy import CATEGORY_SLUGS, AttributeSpec, attribute_specs
from marketplace.catalog.text_index import ProductIndex
from marketplace.core.errors import NotFound, Unprocessable
from marketplace.core.ids import is_id
from marketplace.core.precompiled import Precompiled
from marketplace.core.writebehind import WriteBehind
from marketplace.history.service import record_event

# Visitor classes whose ad clicks advertisers pay for: people. Automated clicks are invalid
# traffic, as on every ad network.
PAYING_CLASSES = frozenset({"human"})
# 1-based positions of the sponsored slots on every page of results.
SPONSORED_SLOTS = (1, 4)
# Ads are auctioned among at most this many candidates; deep pages show none.
MAX_AD_CANDIDATES = 40
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")


@dataclass(frozen=True)
class WriteQueue:
    """Where a request that writes nothing itself queues what it records: history rows and ad
    impressions (ids from this process's block), written before this process's next
    transaction."""

    write_behind: WriteBehind
    impression_ids: adids.ImpressionIds


class ShopperRef(Protocol):
    """Who is shopping: `marketplace.accounts.deps.Shopper` fits, so does any simple record."""

    @property
    def account_id(self) -> int | None: ...

    @property
    def session_key(self) -> str | None: ...


def search_products(
    session: Session,
    index: ProductIndex,
    params: SearchParams,
    *,
    shopper: ShopperRef | None,
    visitor_class: str,
    now: datetime,
    record_history: bool = True,
    placement: str = "search",
    queue: WriteQueue | None = None,
) -> SearchPage:
    """One page of ranked results with sponsored products in their slots.

    Records a `search` event in the shopper's history and one `AdImpression` per sponsored
    product served (with `visitor_class` and `placement`, e.g. "home" for a storefront
    shelf): in the session's transaction, or on `queue`, so that `session` may be a read-only
    one. Pass `record_history=False` for listings the shopper did not ask for. Unknown
    categories and inverted price ranges are refused with a 422 that says what to change.
    """
    category = resolve_category(session, params.category)
    _check_price_range(params)
    terms = search_terms(params.q)
    flt = ProductFilter(
        terms=terms,
        category_id=category.id if category else None,
        min_price=params.min_price,
        max_price=params.max_price,
        min_rating=params.min_rating,
    )
    sort = params.effective_sort
    offset = (params.page - 1) * params.page_size
    hits = search.search_ids(session, index, flt, sort=sort, limit=params.page_size, offset=offset)
    if hits.total == 0 and len(terms) > 1:
        # Like a store's search box: when no product has every word, rank those with any.
        flt = replace(flt, any_term=True)
        hits = search.search_ids(
            session, index, flt, sort=sort, limit=params.page_size, offset=offset
        )

    ad_ids: list[int] = []
    slots = len(SPONSORED_SLOTS)
    first_ad = (params.page - 1) * slots
    if hits.ids and first_ad < MAX_AD_CANDIDATES:
        candidates = search.sponsored_ids(session, flt, limit=first_ad + slots, among=hits.ranked)
        ad_ids = candidates[first_ad : first_ad + slots]

    by_id = products_by_ids(session, [*hits.ids, *ad_ids])
    items = [product_summary(by_id[pid]) for pid in hits.ids if pid in by_id]
    query_text = _printable(params.q or "")[:200] or None
    placed: list[tuple[int, Product]] = []
    for slot, ad_id in zip(SPONSORED_SLOTS, [i for i in ad_ids if i in by_id], strict=False):
        placed.append((min(slot, len(items) + len(placed) + 1), by_id[ad_id]))
    if queue is None:
        ads = serve_ads(
            session,
            placed,
            placement=placement,
            query=query_text,
            shopper=shopper,
            visitor_class=visitor_class,
            now=now,
        )
    else:
        ads = queue_ads(
            queue.write_behind,
            queue.impression_ids,
            [(pos, (product_summary(p, sponsored=True), p.sponsored_bid)) for pos, p in placed],
            placement=placement,
            query=query_text,
            shopper=shopper,
            visitor_class=visitor_class,
            now=now,
        )
    for (position, _product), ad in zip(placed, ads, strict=True):
        items.insert(position - 1, ad)
    account_id = shopper.account_id if shopper else None
    session_key = shopper.session_key if shopper else None
    if record_history and shopper is not None:
        record_event(
            queue.write_behind if queue is not None else session,
            kind="search",
            now=now,
            account_id=account_id,
            session_key=session_key,
            category_slug=category.slug if category else None,
            query=query_text,
            filters=params.history_filters(),
        )
    return SearchPage(
        items=items,
        total=hits.total,
        total_is_lower_bound=False,
        page=params.page,
        page_size=params.page_size,
        sort=sort,
        query_terms=list(terms),
        matched_all_words=not flt.any_term,
    )


def _printable(text: str) -> str:
    # Control characters (NUL above all, which PostgreSQL refuses in text) never reach storage.
    return "".join(ch for ch in text if ch.isprintable() or ch == " ").strip()


def resolve_category(session: Session, slug: str | None) -> Category | None:
    """The category for `slug` (None for no slug); a 422 listing the valid slugs otherwise."""
    if slug is None or not slug.strip():
        return None
    wanted = slug.strip().lower()
    category = None
    if _SLUG.fullmatch(wanted):
        category = session.scalar(select(Category).where(Category.slug == wanted))
    if category is None:
        valid = list(session.scalars(select(Category.slug).order_by(Category.id))) or list(
            CATEGORY_SLUGS
        )
        shown = _printable(slug)[:64]
        raise Unprocessable(
            f"Field 'category': there is no category {shown!r}. Use one of: {', '.join(valid)}.",
            errors=[{"field": "category", "message": f"unknown category {shown!r}"}],
            valid_categories=valid,
        )
    return category


def _check_price_range(params: SearchParams) -> None:
    if (
        params.min_price is not None
        and params.max_price is not None
        and params.min_price > params.max_price
    ):
        raise Unprocessable(
            f"Field 'min_price': {params.min_price:g} is above max_price {params.max_price:g}; "
            "swap them or leave one out.",
            errors=[{"field": "min_price", "message": "must not be above max_price"}],
        )


def products_by_ids(session: Session, ids: Iterable[int]) -> dict[int, Product]:
    """The products with these ids (categories loaded), by id; unknown ids are left out."""
    wanted = {i for i in ids if is_id(i)}
    if not wanted:
        return {}
    stmt = select(Product).options(joinedload(Product.category)).where(Product.id.in_(wanted))
    return {p.id: p for p in session.scalars(stmt)}


def get_product(session: Session, product_id: int) -> Product:
    """The product `product_id` with its category loaded; a 404 naming the id otherwise."""
    product = products_by_ids(session, [product_id]).get(product_id)
    if product is None:
        raise _no_product(product_id)
    return product


def _no_product(product_id: int) -> NotFound:
    return NotFound(
        f"There is no product with id {product_id}; find products with GET /api/v1/products?q=...",
        type_slug="product-not-found",
        product_id=product_id,
    )


def view_product(
    session: Session, product_id: int, *, shopper: ShopperRef | None, now: datetime
) -> Product:
    """`get_product`, and record a `view` event in the shopper's history."""
    product = get_product(session, product_id)
    if shopper is not None:
        record_view(session, product.id, product.category.slug, shopper=shopper, now=now)
    return product


def record_view(
    target: Session | WriteBehind,
    product_id: int,
    category_slug: str,
    *,
    shopper: ShopperRef,
    now: datetime,
) -> None:
    """Record a `view` in the shopper's history (see `history.service.record_event`)."""
    record_event(
        target,
        kind="view",
        now=now,
        account_id=shopper.account_id,
        session_key=shopper.session_key,
        product_id=product_id,
        category_slug=category_slug,
    )


def serve_ads(
    session: Session,
    placed: list[tuple[int, Product]],
    *,
    placement: str,
    query: str | None,
    shopper: ShopperRef | None,
    visitor_class: str,
    now: datetime,
) -> list[ProductSummary]:
    """Record one impression per sponsored product served at its 1-based position, in the
    session's transaction, and return each as a sponsored summary whose `ad_click` link names
    its impression."""
    if not placed:
        return []
    ids = adids.reserve(session.connection(), len(placed))
    slots = [(pos, (product_summary(p, sponsored=True), p.sponsored_bid)) for pos, p in placed]
    rows = _impression_rows(slots, ids, placement, query, shopper, visitor_class, now)
    session.execute(insert(AdImpression), rows)
    return _with_links(slots, ids)


def queue_ads(
    write_behind: WriteBehind,
    impression_ids: adids.IdSource,
    placed: list[tuple[int, Slot]],
    *,
    placement: str,
    shopper: ShopperRef | None,
    visitor_class: str,
    now: datetime,
    query: str | None = None,
) -> list[ProductSummary]:
    """`serve_ads` without a write in the request: the ids come from this process's block and
    the impressions are queued on the write-behind (written before this process's next
    transaction, so a click on one always finds it)."""
    if not placed:
        return []
    ids = impression_ids.take(len(placed))
    table = cast(Table, AdImpression.__table__)
    for row in _impression_rows(placed, ids, placement, query, shopper, visitor_class, now):
        write_behind.add(table, row)
    return _with_links(placed, ids)


def _impression_rows(
    placed: list[tuple[int, Slot]],
    ids: list[int],
    placement: str,
    query: str | None,
    shopper: ShopperRef | None,
    visitor_class: str,
    now: datetime,
) -> list[dict[str, Any]]:
    return [
        {
            "id": impression_id,
            "product_id": summary.id,
            "bid": bid,
            "placement": placement,
            "position": position,
            "query": query,
            "visitor_class": visitor_class,
            "account_id": shopper.account_id if shopper else None,
            "session_key": shopper.session_key if shopper else None,
            "created_at": now,
        }
        for (position, (summary, bid)), impression_id in zip(placed, ids, strict=True)
    ]


def _with_links(placed: list[tuple[int, Slot]], ids: list[int]) -> list[ProductSummary]:
    return [
        summary.model_copy(update={"ad_click": ad_click_path(summary.id, impression_id)})
        for (_position, (summary, _bid)), impression_id in zip(placed, ids, strict=True)
    ]


def sponsored_beside(
    session: Session,
    product: Product,
    *,
    slots: int,
    slates: SponsoredSlates,
    write_behind: WriteBehind,
    impression_ids: adids.IdSource,
    shopper: ShopperRef | None,
    visitor_class: str,
    now: datetime,
) -> list[ProductSummary]:
    """Sponsored products of the same category shown on a product's page (highest bids); their
    impressions are queued (`queue_ads`), so `session` may be a read-only one."""
    shown = slates.beside(
        session,
        product_id=product.id,
        category_id=product.category_id,
        category_slug=product.category.slug,
        slots=slots,
    )
    return queue_ads(
        write_behind,
        impression_ids,
        list(enumerate(shown, start=1)),
        placement="product",
        shopper=shopper,
        visitor_class=visitor_class,
        now=now,
    )


def ad_click_path(product_id: int, impression_id: int) -> str:
    """The storefront link of one served ad: its product page, naming the impression."""
    return f"/products/{product_id}?ad={impression_id}"


def record_ad_click(
    session: Session,
    *,
    impression_id: int,
    product_id: int,
    shopper: ShopperRef | None,
    visitor_class: str,
    now: datetime,
) -> AdClick | None:
    """Record a click on a served ad; None when `impression_id` is not an ad for this product
    or was clicked already, so a stale or replayed link opens the page without a charge.

    Advertisers pay the bid for a person's click only: clicks by any other class of visitor
    are kept, uncharged, as invalid traffic.
    """
    impression = session.get(AdImpression, impression_id) if is_id(impression_id) else None
    if impression is None or impression.product_id != product_id:
        return None
    if session.scalar(select(AdClick.id).where(AdClick.impression_id == impression_id)):
        return None
    click = AdClick(
        impression_id=impression_id,
        product_id=product_id,
        cost=impression.bid,
        charged=visitor_class in PAYING_CLASSES,
        visitor_class=visitor_class,
        account_id=shopper.account_id if shopper else None,
        session_key=shopper.session_key if shopper else None,
        created_at=now,
    )
    session.add(click)
    return click


def product_summary(product: Product, *, sponsored: bool = False) -> ProductSummary:
    """The list view of a product (its category must be loaded)."""
    return ProductSummary(
        id=product.id,
        title=product.title,
        brand=product.brand,
        category=product.category.slug,
        price=product.price,
        rating=product.rating,
        review_count=product.review_count,
        stock=product.stock,
        in_stock=product.stock > 0,
        seller_type=product.seller_type,
        is_house_brand=product.is_house_brand,
        sponsored=sponsored,
    )


def product_detail(product: Product) -> ProductDetail:
    """The detail view of a product (its category must be loaded)."""
    fields = {name: getattr(product, name) for name in _DETAIL_COLUMNS}
    return _detail(fields, category_slug=product.category.slug, category_name=product.category.name)


# What the detail view shows of a product (cost and ad bids stay private).
_DETAIL_COLUMNS = (
    "id", "sku", "title", "brand", "is_house_brand", "price", "rating", "review_count", "stock",
    "seller", "seller_type", "description", "attributes",
)  # fmt: skip
_DETAIL_QUERY = (
    select(
        *(getattr(Product, name) for name in _DETAIL_COLUMNS),
        Category.slug.label("category_slug"),
        Category.name.label("category_name"),
    )
    .join(Category, Category.id == Product.category_id)
    .where(Product.id == bindparam("product_id"))
)


_DETAIL_READ = Precompiled(_DETAIL_QUERY)


def read_product_detail(connection: Connection, *, product_id: int) -> ProductDetail:
    """`product_detail` read with one plain statement on `connection` (e.g. a
    `Database.reader()`, which never waits for writers); a 404 naming the id otherwise."""
    rows = _DETAIL_READ.rows(connection, {"product_id": product_id}) if is_id(product_id) else []
    if not rows:
        raise _no_product(product_id)
    fields = dict(zip((*_DETAIL_COLUMNS, "category_slug", "category_name"), rows[0], strict=True))
    # The driver's own values: SQLite gives JSON as text and booleans as 0/1, PostgreSQL
    # gives numerics as Decimal; the response model turns those into floats and booleans.
    if isinstance(fields["attributes"], str):
        fields["attributes"] = json.loads(fields["attributes"])
    fields["is_house_brand"] = bool(fields["is_house_brand"])
    return _detail(
        fields,
        category_slug=fields.pop("category_slug"),
        category_name=fields.pop("category_name"),
    )


def _shown(spec: AttributeSpec, value: Any) -> Any:
    """The value a specification shows: none for a 0 that means the product has none."""
    return None if spec.none_at_zero and value == 0 else value


def _detail(fields: dict[str, Any], *, category_slug: str, category_name: str) -> ProductDetail:
    try:
        specs = attribute_specs(category_slug)
    except ValueError:  # a category added outside the taxonomy: show raw attributes
        specs = ()
    attributes = dict(fields.pop("attributes") or {})
    specifications = [
        Specification(key=s.key, label=s.label, value=_shown(s, attributes.get(s.key)), unit=s.unit)
        for s in specs
    ]
    return ProductDetail(
        **fields,
        category=category_slug,
        category_name=category_name,
        in_stock=fields["stock"] > 0,
        attributes=attributes,
        specifications=specifications,
    )


def list_categories(session: Session) -> list[CategoryOut]:
    """Every category in taxonomy order, with its number of products."""
    stmt = (
        select(Category.slug, Category.name, func.count(Product.id))
        .outerjoin(Product, Product.category_id == Category.id)
        .group_by(Category.id, Category.slug, Category.name)
        .order_by(Category.id)
    )
    return [CategoryOut(slug=s, name=n, product_count=c) for s, n, c in session.execute(stmt)]
