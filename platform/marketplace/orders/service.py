"""Checkout: an order is placed from the cart in one transaction, exactly once per key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from marketplace.accounts.models import Account
from marketplace.cart.service import CartLine, cart_lines, take_ordered_lines
from marketplace.catalog.models import Product
from marketplace.core.errors import Conflict, NotFound, ProblemError, Unprocessable
from marketplace.core.ids import is_id
from marketplace.history.service import record_event
from marketplace.orders.models import Order, OrderItem, StockHold
from marketplace.orders.schemas import (
    OrderCreate,
    OrderLineOut,
    OrderOut,
    OrderPage,
    PaymentOut,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class PlacedOrder:
    """The order, and whether this request created it (False: a replay of the first request)."""

    order: Order
    created: bool


def check_idempotency_key(key: str | None) -> str:
    """The key, or a 400 that says what to send (IETF draft-ietf-httpapi-idempotency-key)."""
    if key is None or not key.strip():
        raise ProblemError(
            f"POST /api/v1/orders needs an '{IDEMPOTENCY_HEADER}' header, e.g. a fresh UUID per "
            "order; a retry with the same key returns the same order instead of buying twice.",
            status=400,
            title="Idempotency-Key required",
            type_slug="idempotency-key-missing",
        )
    key = key.strip()
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ProblemError(
            f"The '{IDEMPOTENCY_HEADER}' header must be 1-{MAX_KEY_LENGTH} printable characters "
            f"(it has {len(key)}); a UUID works.",
            status=400,
            title="Invalid Idempotency-Key",
            type_slug="idempotency-key-invalid",
        )
    return key


def _fingerprint(body: dict[str, Any], lines: Iterable[tuple[int, int]]) -> str:
    """What makes two requests "the same": the validated body and the cart it ordered."""
    canonical = json.dumps(
        {"body": body, "cart": sorted([list(line) for line in lines])},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _payment_reference(account_id: int, key: str, card_last4: str | None) -> str:
    # Derived rather than random so a seeded scenario gives the same report every run. The
    # schema has no last-four column, so the reference carries it, as a printed receipt does.
    digest = hashlib.sha256(f"{account_id}:{key}".encode()).hexdigest()[:20]
    return f"mock_{digest}" + (f"_{card_last4}" if card_last4 else "")


def _key_reused(reason: str) -> Unprocessable:
    return Unprocessable(
        f"This {IDEMPOTENCY_HEADER} was already used for another request ({reason}); send a new "
        "key for a new order, or repeat the first request unchanged to get its order back.",
        title="Idempotency-Key reused",
        type_slug="idempotency-key-reused",
    )


def _replay(order: Order, body: dict[str, Any], lines: list[CartLine]) -> PlacedOrder:
    bought = [(item.product_id, item.quantity) for item in order.items]
    if _fingerprint(body, bought) != order.request_fingerprint:
        raise _key_reused("a different body")
    # After the first request succeeded its cart is empty; a cart of other things means the key
    # is being reused for a new purchase, which must not silently return the old order.
    current = [(line.product_id, line.quantity) for line in lines]
    if current and _fingerprint(body, current) != order.request_fingerprint:
        raise _key_reused(f"order {order.id}, for other items than your cart holds now")
    return PlacedOrder(order=order, created=False)


def _order_by_key(session: Session, account_id: int, key: str) -> Order | None:
    return session.scalar(
        select(Order)
        .where(Order.account_id == account_id, Order.idempotency_key == key)
        .options(selectinload(Order.items))
        .execution_options(populate_existing=True)
    )


def _held_for_others(product_id: int, account_id: int) -> Any:
    """Units of the product held for other accounts, as a subquery read when the row is locked."""
    return (
        select(func.coalesce(func.sum(StockHold.units), 0))
        .where(StockHold.product_id == product_id, StockHold.account_id != account_id)
        .scalar_subquery()
    )


def _held_products(session: Session, account_id: int, lines: list[CartLine]) -> dict[int, int]:
    """For each product of the cart that has holds at all: the units held for this account."""
    held: dict[int, int] = {}
    rows = session.execute(
        select(StockHold.product_id, StockHold.account_id, StockHold.units).where(
            StockHold.product_id.in_([line.product_id for line in lines])
        )
    ).all()
    for product_id, holder, units in rows:
        held.setdefault(product_id, 0)
        if holder == account_id:
            held[product_id] = units
    return held


def _out_of_stock(session: Session, line: CartLine, account_id: int) -> Conflict:
    stock = session.scalar(select(Product.stock).where(Product.id == line.product_id)) or 0
    others = int(session.scalar(select(_held_for_others(line.product_id, account_id))) or 0)
    left = stock - others
    if left <= 0 < stock:
        detail = (
            f"The {stock} units of '{line.title}' (product {line.product_id}) that are left are "
            "held for a workshop's teams, so none can be sold to you; remove it with "
            f"DELETE /api/v1/cart/items/{line.product_id}. Nothing was charged."
        )
    elif left <= 0:
        detail = (
            f"'{line.title}' (product {line.product_id}) is out of stock; remove it with "
            f"DELETE /api/v1/cart/items/{line.product_id} and order again. Nothing was charged."
        )
    else:
        detail = (
            f"Only {left} of '{line.title}' (product {line.product_id}) are left for you"
            + (f" ({others} more are held for a workshop's teams)" if others else "")
            + f" and your cart "
            f"asks for {line.quantity}; lower the quantity with PATCH "
            f"/api/v1/cart/items/{line.product_id} and order again. Nothing was charged."
        )
    return Conflict(
        detail,
        title="Out of stock",
        type_slug="out-of-stock",
        product_id=line.product_id,
        stock_left=max(left, 0),
    )


def _take_stock(session: Session, account_id: int, lines: list[CartLine]) -> None:
    """Take each line's units out of stock, or raise 409 and leave the rollback to the caller.

    Every door (the REST API, the protocol checkouts) buys through here, so none can oversell.
    """
    # Locks are taken in product-id order (callers sort), so two checkouts that share
    # products cannot deadlock; the WHERE makes the stock check and the decrement one step.
    held = _held_products(session, account_id, lines)
    for line in lines:
        enough: Any = Product.stock >= line.quantity
        own_after = 0
        if line.product_id in held:
            # What stays must cover every hold left afterwards: others' and the rest of ours.
            # Holds only shrink, so a subquery read a moment early errs on the safe side.
            own_after = max(0, held[line.product_id] - line.quantity)
            enough = Product.stock - line.quantity >= (
                _held_for_others(line.product_id, account_id) + own_after
            )
        result = cast(
            "CursorResult[Any]",
            session.execute(
                update(Product)
                .where(Product.id == line.product_id, enough)
                .values(stock=Product.stock - line.quantity)
                .execution_options(synchronize_session=False)
            ),
        )
        if result.rowcount != 1:
            raise _out_of_stock(session, line, account_id)
        if held.get(line.product_id):
            session.execute(
                update(StockHold)
                .where(StockHold.product_id == line.product_id, StockHold.account_id == account_id)
                .values(units=own_after)
                .execution_options(synchronize_session=False)
            )


def _claim_key(session: Session, order: Order) -> Order | None:
    """Insert `order`, claiming its idempotency key; the order that holds the key already, if any.

    A concurrent request with the same key blocks on the unique index until the first commits,
    then finds its order instead of taking stock twice.
    """
    try:
        with session.begin_nested():
            session.add(order)
    except IntegrityError:
        winner = _order_by_key(session, order.account_id, order.idempotency_key)
        if winner is None:
            raise
        return winner
    return None


def _fill(session: Session, order: Order, lines: list[CartLine]) -> None:
    """Take the lines' units out of stock (or 409) and add them to `order` as its items."""
    _take_stock(session, order.account_id, lines)
    order.items.extend(
        OrderItem(
            product_id=line.product_id,
            title=line.title,
            unit_price=line.price,
            quantity=line.quantity,
        )
        for line in lines
    )


def place_order(
    session: Session,
    *,
    account_id: int,
    idempotency_key: str | None,
    request: OrderCreate | None,
    channel: str,
    now: datetime,
    session_key: str | None = None,
) -> PlacedOrder:
    """Turn the cart into an order, or return the order this key already placed.

    Any refusal raises, and the request's transaction then rolls back every write made here.
    """
    key = check_idempotency_key(idempotency_key)
    request = request or OrderCreate()
    body = request.model_dump(mode="json")
    # One checkout per account at a time, so two tabs (two keys) cannot both turn the same cart
    # into an order: the second reads the cart after the first emptied it. FOR NO KEY UPDATE
    # leaves the foreign-key checks of cart and history writes unblocked; SQLite ignores it
    # (BEGIN IMMEDIATE already serialises its writers).
    session.execute(
        select(Account.id).where(Account.id == account_id).with_for_update(key_share=True)
    )
    lines = cart_lines(session, account_id)

    existing = _order_by_key(session, account_id, key)
    if existing is not None:
        return _replay(existing, body, lines)
    if not lines:
        raise Conflict(
            "Your cart is empty; add items with POST /api/v1/cart/items first, then order.",
            title="Cart is empty",
            type_slug="empty-cart",
        )

    order = Order(
        account_id=account_id,
        idempotency_key=key,
        request_fingerprint=_fingerprint(body, [(ln.product_id, ln.quantity) for ln in lines]),
        status="placed",
        total=round(sum(line.line_total for line in lines), 2),
        payment_method=request.payment.method,
        payment_reference=_payment_reference(account_id, key, request.payment.card_last4),
        channel=channel,
        created_at=now,
        items=[],
    )
    winner = _claim_key(session, order)
    if winner is not None:
        return _replay(winner, body, lines)
    _fill(session, order, lines)
    take_ordered_lines(session, account_id, lines)
    for line in lines:
        record_event(
            session,
            kind="purchase",
            now=now,
            account_id=account_id,
            session_key=session_key,
            product_id=line.product_id,
            category_slug=line.category_slug,
            quantity=line.quantity,
            order_id=order.id,
        )
    session.flush()
    return PlacedOrder(order=order, created=True)


def place_lines_order(
    session: Session,
    *,
    account_id: int,
    idempotency_key: str,
    lines: list[CartLine],
    channel: str,
    payment_method: str,
    payment_reference: str,
    now: datetime,
    total: float | None = None,
) -> PlacedOrder:
    """An order for explicit lines (a protocol checkout's), stock taken as for a cart's order.

    The key identifies the purchase (e.g. the checkout session): a second call with the same key
    returns the first order, `created=False`, without touching stock again. `total` is what was
    paid (after discounts, with shipping); by default the sum of the lines.
    """
    if not lines:
        raise Conflict(
            "There is nothing to order.", title="Nothing to order", type_slug="empty-cart"
        )
    lines = sorted(lines, key=lambda line: line.product_id)
    fingerprint = _fingerprint({"channel": channel}, [(ln.product_id, ln.quantity) for ln in lines])
    existing = _order_by_key(session, account_id, idempotency_key)
    if existing is not None:
        return PlacedOrder(order=existing, created=False)
    order = Order(
        account_id=account_id,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        status="placed",
        total=round(sum(line.line_total for line in lines) if total is None else total, 2),
        payment_method=payment_method,
        payment_reference=payment_reference,
        channel=channel,
        created_at=now,
        items=[],
    )
    winner = _claim_key(session, order)
    if winner is not None:
        return PlacedOrder(order=winner, created=False)
    _fill(session, order, lines)
    session.flush()
    return PlacedOrder(order=order, created=True)


def order_out(order: Order) -> OrderOut:
    """The API view of an order whose items are loaded."""
    reference = order.payment_reference
    tail = reference.rsplit("_", 1)[-1]
    last4 = tail if reference.count("_") == 2 and len(tail) == 4 and tail.isdigit() else None
    return OrderOut(
        id=order.id,
        status=order.status,
        total=float(order.total),
        channel=order.channel,
        created_at=order.created_at,
        payment=PaymentOut(method=order.payment_method, card_last4=last4, reference=reference),
        items=[
            OrderLineOut(
                product_id=item.product_id,
                title=item.title,
                unit_price=float(item.unit_price),
                quantity=item.quantity,
                line_total=round(float(item.unit_price) * item.quantity, 2),
            )
            for item in order.items
        ],
        item_count=sum(item.quantity for item in order.items),
    )


def shopper_order_numbers(session: Session, *, account_id: int) -> dict[int, int]:
    """Order id -> the shopper's own order number (1 for their first order).

    The store's pages number a shopper's orders from 1: the ids are store-wide, and a fresh
    store's ids start after the seeded personas' past orders, so a new shopper's first order
    would otherwise read #17. The API and the URLs keep the store-wide id.
    """
    ids = session.scalars(
        select(Order.id).where(Order.account_id == account_id).order_by(Order.id)
    ).all()
    return {order_id: number for number, order_id in enumerate(ids, start=1)}


def list_orders(session: Session, *, account_id: int, page: int, page_size: int) -> OrderPage:
    """The account's orders, newest first."""
    total = session.scalar(select(func.count(Order.id)).where(Order.account_id == account_id))
    orders = session.scalars(
        select(Order)
        .where(Order.account_id == account_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
        .options(selectinload(Order.items))
    ).all()
    return OrderPage(
        items=[order_out(order) for order in orders],
        total=total or 0,
        page=page,
        page_size=page_size,
    )


def get_order(session: Session, *, account_id: int, order_id: int) -> Order:
    """One of the account's orders; another account's order is "not found", never "forbidden"."""
    order = (
        session.scalar(
            select(Order)
            .where(Order.id == order_id, Order.account_id == account_id)
            .options(selectinload(Order.items))
        )
        if is_id(order_id)
        else None
    )
    if order is None:
        raise NotFound(
            f"You have no order {order_id}; list your orders with GET /api/v1/orders.",
            type_slug="unknown-order",
        )
    return order
