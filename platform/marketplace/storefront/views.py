"""What each page shows, assembled from the domain services; no HTTP and no HTML here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import quote, urlencode

from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.orm import Session

from marketplace.accounts.deps import Shopper
from marketplace.accounts.schemas import AccountCreate
from marketplace.catalog import service as catalog
from marketplace.catalog.adids import IdSource
from marketplace.catalog.schemas import ProductDetail, ProductSummary, SearchParams
from marketplace.catalog.slates import SponsoredSlates
from marketplace.catalog.taxonomy import category_spec
from marketplace.catalog.text_index import ProductIndex
from marketplace.core.errors import ProblemError
from marketplace.core.writebehind import WriteBehind
from marketplace.decide import service as decide
from marketplace.decide.config import DecideConfig
from marketplace.decide.schemas import Pick
from marketplace.history.models import HistoryEvent

SEARCH_PAGE_SIZE = 24
SORTS: tuple[tuple[str, str], ...] = (
    ("relevance", "Best match"),
    ("popularity", "Most reviewed"),
    ("price_asc", "Price: low to high"),
    ("price_desc", "Price: high to low"),
    ("rating", "Customer rating"),
    ("newest", "Newest"),
)
_SORT_KEYS = {key for key, _ in SORTS}
HOME_PRODUCTS = 8
# Sponsored products of the same category under a product page.
PRODUCT_PAGE_AD_SLOTS = 2
MAX_PAGE = 1000


# --- Products as pages show them ---------------------------------------------------------------


@dataclass(frozen=True)
class ProductCard:
    id: int
    title: str
    brand: str
    category_slug: str
    category_name: str
    price: float
    rating: float
    review_count: int
    sponsored: bool = False
    in_stock: bool = True
    ad_click: str | None = None

    @property
    def category_icon(self) -> str:
        return self.category_name

    @property
    def link(self) -> str:
        """Where the card leads: the product page, through the ad's click link for an ad."""
        return self.ad_click or f"/products/{self.id}"


@dataclass(frozen=True)
class ProductPage(ProductCard):
    description: str = ""
    stock: int = 0
    seller: str = ""
    seller_type: str = "platform"
    is_house_brand: bool = False
    attributes: tuple[tuple[str, str], ...] = ()


def _category_noun(slug: str) -> str:
    try:
        return category_spec(slug).name
    except ValueError:
        return slug.replace("-", " ").capitalize()


def format_value(value: Any, unit: str | None) -> str:
    """An attribute value as a shopper reads it: "Yes", "30 h", "15.6-inch", "Over-ear"."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
        # str.title() would turn "USB-C" into "Usb-C"; only the first letter changes.
        text = text[:1].upper() + text[1:]
    if unit is None:
        return text
    return f"{text}-inch" if unit == "in" else f"{text} {unit}"


def card_of(item: ProductSummary, names: dict[str, str]) -> ProductCard:
    return ProductCard(
        id=item.id,
        title=item.title,
        brand=item.brand,
        category_slug=item.category,
        category_name=names.get(item.category) or _category_noun(item.category),
        price=item.price,
        rating=item.rating,
        review_count=item.review_count,
        sponsored=item.sponsored,
        in_stock=item.in_stock,
        ad_click=item.ad_click,
    )


def page_of(detail: ProductDetail) -> ProductPage:
    return ProductPage(
        id=detail.id,
        title=detail.title,
        brand=detail.brand,
        category_slug=detail.category,
        category_name=detail.category_name,
        price=detail.price,
        rating=detail.rating,
        review_count=detail.review_count,
        in_stock=detail.in_stock,
        description=detail.description,
        stock=detail.stock,
        seller=detail.seller,
        seller_type=detail.seller_type,
        is_house_brand=detail.is_house_brand,
        attributes=tuple(
            (spec.label, format_value(spec.value, spec.unit))
            for spec in detail.specifications
            if spec.value is not None
        ),
    )


# --- Search filters --------------------------------------------------------------------------


def _parse_number(text: str, name: str, notices: list[str]) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        notices.append(f"The {name} “{text}” is not a number, so it was ignored.")
        return None
    if not math.isfinite(value) or value < 0:
        notices.append(f"The {name} must be zero or more, so “{text}” was ignored.")
        return None
    return value


@dataclass(frozen=True)
class SearchFilters:
    """The search form's values, checked; what could not be used is explained in `notices`."""

    q: str
    category: str
    min_price: float | None
    max_price: float | None
    min_rating: float | None
    sort: str
    page: int
    notices: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        *,
        q: str,
        category: str,
        min_price: str,
        max_price: str,
        min_rating: str,
        sort: str,
        page: str,
        categories: dict[str, str],
    ) -> SearchFilters:
        notices: list[str] = []
        q = " ".join(q.split())
        category = category.strip().lower()
        if category and category not in categories:
            notices.append(f"There is no category “{category}”; showing all categories.")
            category = ""
        low = _parse_number(min_price, "lowest price", notices)
        high = _parse_number(max_price, "highest price", notices)
        if low is not None and high is not None and low > high:
            notices.append("The lowest price was above the highest, so the two were swapped.")
            low, high = high, low
        rating = _parse_number(min_rating, "minimum rating", notices)
        if rating is not None and rating > 5:
            notices.append("Ratings go up to 5 stars, so the minimum rating was set to 5.")
            rating = 5.0
        sort = sort.strip()
        if sort and sort not in _SORT_KEYS:
            notices.append(f"Unknown sort order “{sort}”; the default order is used instead.")
            sort = ""
        try:
            page_number = min(max(int(page), 1), MAX_PAGE)
        except ValueError:
            page_number = 1
        return cls(
            q=q,
            category=category,
            min_price=low,
            max_price=high,
            min_rating=rating,
            sort=sort,
            page=page_number,
            notices=tuple(notices),
        )

    @property
    def min_price_text(self) -> str:
        return "" if self.min_price is None else f"{self.min_price:g}"

    @property
    def max_price_text(self) -> str:
        return "" if self.max_price is None else f"{self.max_price:g}"

    def query_string(self, page: int) -> str:
        """This search's URL query for another page, without empty fields."""
        params: dict[str, str | int] = {}
        if self.q:
            params["q"] = self.q
        if self.category:
            params["category"] = self.category
        if self.min_price is not None:
            params["min_price"] = self.min_price_text
        if self.max_price is not None:
            params["max_price"] = self.max_price_text
        if self.min_rating is not None:
            params["min_rating"] = f"{self.min_rating:g}"
        if self.sort:
            params["sort"] = self.sort
        if page > 1:
            params["page"] = page
        return urlencode(params, quote_via=quote)

    def params(self, page_size: int) -> SearchParams:
        return SearchParams(
            q=self.q or None,
            category=self.category or None,
            min_price=self.min_price,
            max_price=self.max_price,
            min_rating=self.min_rating,
            sort=self.sort or None,  # checked against SORTS above
            page=self.page,
            page_size=page_size,
        )


# --- Pages ------------------------------------------------------------------------------------


def home_page(
    session: Session,
    index: ProductIndex,
    *,
    shopper: Shopper,
    visitor_class: str,
    now: datetime,
    queue: catalog.WriteQueue | None = None,
) -> dict[str, Any]:
    """Categories and the best-rated products, with the sponsored slots the catalog fills."""
    categories = catalog.list_categories(session)
    names = {c.slug: c.name for c in categories}
    # Not a search the shopper made, so it stays out of their history; the ads it shows are
    # still counted as impressions for this visitor.
    top = catalog.search_products(
        session,
        index,
        SearchParams(sort="rating", page_size=HOME_PRODUCTS),
        shopper=shopper,
        visitor_class=visitor_class,
        now=now,
        record_history=False,
        placement="home",
        queue=queue,
    )
    return {
        "categories": categories,
        "product_count": sum(c.product_count for c in categories),
        "featured": [card_of(item, names) for item in top.items],
    }


def search_page(
    session: Session,
    index: ProductIndex,
    form: dict[str, str],
    *,
    shopper: Shopper,
    visitor_class: str,
    now: datetime,
    queue: catalog.WriteQueue | None = None,
) -> dict[str, Any]:
    """One page of results for the search form's raw values (see `SearchFilters.parse`); with
    `queue`, nothing is written in `session` (see `catalog.search_products`)."""
    categories = catalog.list_categories(session)
    names = {c.slug: c.name for c in categories}
    filters = SearchFilters.parse(**form, categories=names)
    result = catalog.search_products(
        session,
        index,
        filters.params(SEARCH_PAGE_SIZE),
        shopper=shopper,
        visitor_class=visitor_class,
        now=now,
        queue=queue,
    )
    pages = max(1, math.ceil(result.total / SEARCH_PAGE_SIZE))
    first = (filters.page - 1) * SEARCH_PAGE_SIZE + 1 if result.total else 0
    return {
        "filters": filters,
        "categories": categories,
        "category_name": names.get(filters.category, ""),
        "sorts": SORTS,
        "selected_sort": filters.sort or result.sort,
        "notices": filters.notices,
        "items": [card_of(item, names) for item in result.items],
        "total": result.total,
        "page": filters.page,
        "pages": pages,
        "first_index": first,
        "last_index": min(result.total, filters.page * SEARCH_PAGE_SIZE),
        "page_link": lambda p: "/search?" + filters.query_string(p),
    }


def product_page(
    session: Session,
    product_id: int,
    *,
    shopper: Shopper,
    now: datetime,
    config: DecideConfig,
    visitor_class: str,
    write_behind: WriteBehind,
    impression_ids: IdSource,
    slates: SponsoredSlates,
) -> dict[str, Any]:
    """The product, recorded as viewed; the Help Me Decide offer counts this view too.

    Nothing is written here: `session` may be a read-only one. The view and the impressions of
    the sponsored products beside it are queued on `write_behind`, so a page takes no write lock.
    """
    product = catalog.get_product(session, product_id)
    catalog.record_view(write_behind, product.id, product.category.slug, shopper=shopper, now=now)
    detail = page_of(catalog.product_detail(product))
    sponsored = catalog.sponsored_beside(
        session,
        product,
        slots=PRODUCT_PAGE_AD_SLOTS,
        slates=slates,
        write_behind=write_behind,
        impression_ids=impression_ids,
        shopper=shopper,
        visitor_class=visitor_class,
        now=now,
    )
    offered = decide.offered_category(
        session,
        account_id=shopper.account_id,
        session_key=shopper.session_key,
        now=now,
        config=config,
        queued=write_behind.queued(cast(Table, HistoryEvent.__table__)),
    )
    name = detail.category_name if offered == detail.category_slug else None
    names = {detail.category_slug: detail.category_name}
    return {
        "product": detail,
        "sponsored": [card_of(item, names) for item in sponsored],
        "decide_category": offered or "",
        "decide_category_name": (name or _category_noun(offered or "")).lower(),
    }


def record_ad_click(
    session: Session,
    product_id: int,
    impression_id: int,
    *,
    shopper: Shopper,
    visitor_class: str,
    now: datetime,
) -> None:
    """A visit through an ad's click link: the click is recorded (once per impression)."""
    catalog.record_ad_click(
        session,
        impression_id=impression_id,
        product_id=product_id,
        shopper=shopper,
        visitor_class=visitor_class,
        now=now,
    )


# --- Forms and messages ------------------------------------------------------------------------


def registration_problem(*, name: str, email: str, password: str) -> str | None:
    """What is wrong with a registration form, in one sentence, or None."""
    try:
        AccountCreate(name=name.strip(), email=email.strip(), password=password)
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors() else ""
        return {
            "name": "Please enter your name.",
            "email": "Please enter a valid email address, like name@example.com.",
            "password": "Choose a password of at least 8 characters.",
        }.get(field, "Please check the form and try again.")
    return None


def shopper_message(exc: ProblemError) -> str:
    """A service's refusal in a shopper's words: the first clause names the product and the
    problem; the API hints after it (endpoints to call) mean nothing on a web page."""
    first = exc.detail.split(";", 1)[0].strip().rstrip(".")
    stock_left = exc.extra.get("stock_left")
    if exc.type_slug == "out-of-stock":
        action = (
            "Remove it from your cart"
            if not stock_left
            else f"Lower the quantity to at most {stock_left}"
        )
        return f"{first}. {action} and place the order again. Nothing was charged."
    if exc.type_slug == "insufficient-stock":
        return f"{first}." + (f" You can add at most {stock_left}." if stock_left else "")
    if exc.type_slug == "empty-cart":
        return "Your cart is empty; add something before checking out."
    if exc.type_slug == "not-in-cart":
        return "That item is no longer in your cart."
    if exc.type_slug.startswith("idempotency-key"):
        return "This checkout form was already used for another order; review it and submit again."
    return f"{first}."


# --- Help Me Decide ----------------------------------------------------------------------------

PICK_LABELS = (
    ("top", "Our pick for you"),
    ("budget", "Budget pick"),
    ("premium", "Premium pick"),
)


@dataclass(frozen=True)
class PickView:
    kind: str
    label: str
    product: ProductCard
    reasons: tuple[str, ...]


def _pick_view(kind: str, label: str, pick: Pick, category_name: str) -> PickView:
    product = pick.product
    card = ProductCard(
        id=product.id,
        title=product.title,
        brand=product.brand,
        category_slug=product.category,
        category_name=category_name,
        price=product.price,
        rating=product.rating,
        review_count=product.review_count,
        in_stock=product.stock > 0,
    )
    return PickView(kind=kind, label=label, product=card, reasons=tuple(pick.reasons))


def decide_page(
    session: Session,
    category: str | None,
    *,
    shopper: Shopper,
    now: datetime,
    config: DecideConfig,
    llm: str,
) -> dict[str, Any]:
    """The picks page; "not enough to go on yet" is shown on the page, not as an error."""
    try:
        decision = decide.decide(
            session,
            account_id=shopper.account_id,
            session_key=shopper.session_key,
            now=now,
            category=category,
            config=config,
            llm=llm,
        )
    except ProblemError as exc:
        if exc.status not in (404, 409):
            raise
        return {
            "category": category or "",
            "category_name": _category_noun(category) if category else "",
            "summary": "",
            "picks": [],
            "notes": [],
            "empty_message": exc.detail,
        }
    picks = {
        "top": decision.top_pick,
        "budget": decision.budget_pick,
        "premium": decision.premium_pick,
    }
    return {
        "category": decision.category,
        "category_name": decision.category_name,
        "summary": decision.summary,
        "picks": [
            _pick_view(kind, label, pick, decision.category_name)
            for kind, label in PICK_LABELS
            if (pick := picks[kind]) is not None
        ],
        "notes": decision.notes,
        "empty_message": "",
    }
