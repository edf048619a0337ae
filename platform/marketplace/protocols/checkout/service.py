"""The checkout core: sessions of every protocol door, priced from the marketplace's catalog.

Completing a session buys through the marketplace's own order code (`place_lines_order`), so
stock is taken exactly as for an order of the REST API and no door can oversell; the order
records the door as its channel.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.accounts.models import Account
from marketplace.cart.service import CartLine
from marketplace.catalog.models import Product
from marketplace.core.errors import ProblemError, clip
from marketplace.orders.models import Order
from marketplace.orders.service import place_lines_order
from marketplace.protocols.checkout import payments
from marketplace.protocols.checkout.domain import (
    CANCELED,
    COMPLETED,
    INCOMPLETE,
    OPEN_STATUSES,
    READY,
    CheckoutChanges,
    CheckoutClosed,
    CheckoutNotFound,
    CheckoutView,
    InsufficientStock,
    InvalidCheckout,
    ItemNotFound,
    LineItemInput,
    LineView,
    MethodInput,
    MethodView,
    OrderNotFound,
    OrderView,
    PaymentInput,
    PaymentSubmission,
    Totals,
)
from marketplace.protocols.checkout.fulfillment import merge_methods, options_for
from marketplace.protocols.checkout.models import (
    ProtocolCheckout,
    ProtocolDiscount,
    ProtocolOrder,
)
from marketplace.protocols.checkout.pricing import (
    apply_discounts,
)

MAX_LINES = 100
MAX_QUANTITY = 100_000
MAX_CODES = 20
SESSION_TTL = timedelta(hours=6)


def random_id(prefix: str) -> str:
    """An unguessable public id: protocol sessions and orders are reached by id alone."""
    return f"{prefix}_{secrets.token_hex(12)}"


def _minor(price: float) -> int:
    return round(price * 100)


class CheckoutCore:
    """Create, read, change, complete and cancel protocol checkout sessions; read their orders.

    Built once per app (`AppState.protocols.core`); every method works in the caller's session
    and leaves the commit to it (one commit per request).
    """

    def __init__(self, *, currency: str, new_id: Callable[[str], str] = random_id) -> None:
        self.currency = currency.upper()
        self.new_id = new_id

    # --- sessions -----------------------------------------------------------------------

    def create(
        self,
        session: Session,
        *,
        channel: str,
        currency: str | None,
        line_items: Sequence[LineItemInput],
        now: datetime,
        buyer: dict[str, Any] | None = None,
        fulfillment: Sequence[MethodInput] | None = None,
        discount_codes: Sequence[str] = (),
        payment: PaymentInput | None = None,
        agent_profile: str | None = None,
    ) -> CheckoutView:
        """A new session; 400 for an unknown item, a quantity beyond stock or another currency."""
        self._check_currency(currency)
        if not line_items:
            raise InvalidCheckout("A checkout needs at least one line item.")
        row = ProtocolCheckout(
            id=self.new_id("chk"),
            channel=channel,
            status=INCOMPLETE,
            currency=self.currency,
            line_items=self._lines(session, line_items, []),
            buyer=buyer,
            fulfillment=None,
            discount_codes=self._codes(discount_codes),
            payment=_payment_json(payment or PaymentInput()),
            agent_profile=agent_profile,
            order_id=None,
            created_at=now,
            updated_at=now,
            expires_at=now + SESSION_TTL,
        )
        if fulfillment:
            row.fulfillment = {"methods": merge_methods(session, row, fulfillment, self.new_id)}
        session.add(row)
        return self._refresh(session, row)

    def get(self, session: Session, checkout_id: str) -> CheckoutView:
        return self._view(session, self._row(session, checkout_id, lock=False))

    def update(
        self, session: Session, checkout_id: str, changes: CheckoutChanges, *, now: datetime
    ) -> CheckoutView:
        """Apply the fields the agent sent; 409 once the session is completed or canceled."""
        row = self._open_row(session, checkout_id, "changed", now)
        if changes.currency is not None:
            self._check_currency(changes.currency)
        if changes.line_items is not None:
            if not changes.line_items:
                raise InvalidCheckout("A checkout needs at least one line item.")
            row.line_items = self._lines(session, changes.line_items, row.line_items)
            if row.fulfillment:  # the methods cover every line, old and new
                ids = [line["id"] for line in row.line_items]
                row.fulfillment = {
                    "methods": [{**m, "line_item_ids": ids} for m in row.fulfillment["methods"]]
                }
        if changes.buyer is not None:
            row.buyer = changes.buyer
        if changes.discount_codes is not None:
            row.discount_codes = self._codes(changes.discount_codes)
        if changes.payment is not None:
            row.payment = _payment_json(changes.payment)
        if changes.fulfillment is not None:
            row.fulfillment = {
                "methods": merge_methods(session, row, changes.fulfillment, self.new_id)
            }
        row.updated_at = now
        return self._refresh(session, row)

    def cancel(self, session: Session, checkout_id: str, *, now: datetime) -> CheckoutView:
        row = self._open_row(session, checkout_id, "canceled", now)
        row.status = CANCELED
        row.updated_at = now
        session.flush()
        return self._view(session, row)

    def complete(
        self, session: Session, checkout_id: str, payment: PaymentSubmission, *, now: datetime
    ) -> CheckoutView:
        """Charge the (mock) payment and place the order; stock is taken as for any order.

        400: fulfillment not chosen; 402: payment declined; 409: closed session, or stock gone.
        """
        row = self._open_row(session, checkout_id, "completed", now)
        view = self._view(session, row)
        if not view.fulfillment_ready:
            raise InvalidCheckout(
                "Fulfillment address and option must be selected before completing the checkout: "
                "send a destination, select it, then select one of the options offered."
            )
        reference = payments.authorize(payment, checkout_id=row.id)
        account_id = self._channel_account(session, row.channel, now)
        lines = [
            CartLine(
                product_id=line.product_id,
                title=line.title,
                brand="",
                category_slug="",
                price=line.unit_price / 100,
                quantity=line.quantity,
                stock=0,
            )
            for line in view.lines
        ]
        try:
            placed = place_lines_order(
                session,
                account_id=account_id,
                idempotency_key=f"checkout:{row.id}",
                lines=lines,
                channel=row.channel,
                payment_method=payment.handler_id[:32],
                payment_reference=reference,
                total=view.totals.total / 100,
                now=now,
            )
        except ProblemError as exc:
            if exc.type_slug != "out-of-stock":
                raise
            line = next(ln for ln in view.lines if ln.product_id == exc.extra.get("product_id"))
            raise CheckoutClosed(
                f"Insufficient stock for item '{line.item_id}': {exc.extra.get('stock_left', 0)} "
                f"left, the checkout asks for {line.quantity}. Nothing was charged; lower the "
                "quantity or remove the item, then complete again.",
                title="Out of stock",
                type_slug="protocol-out-of-stock",
            ) from None
        if not placed.created:  # a concurrent completion won the race
            raise CheckoutClosed(f"Checkout session {row.id} is already completed.")
        order = ProtocolOrder(
            id=self.new_id("ord"),
            order_id=placed.order.id,
            checkout_id=row.id,
            channel=row.channel,
            line_items=[_line_json(line) for line in view.lines],
            totals=_totals_json(view.totals),
            expectations=_expectations(view),
            events=[],
            adjustments=[],
            created_at=now,
            updated_at=now,
        )
        session.add(order)
        row.status = COMPLETED
        row.order_id = placed.order.id
        row.payment = {**row.payment, "selected_instrument_id": payment.instrument_id}
        row.updated_at = now
        session.flush()
        return self._view(session, row)

    # --- orders -------------------------------------------------------------------------

    def get_order(self, session: Session, order_id: str) -> OrderView:
        return self._order_view(session, self._order_row(session, order_id))

    def update_order(
        self,
        session: Session,
        order_id: str,
        *,
        events: list[dict[str, Any]] | None,
        adjustments: list[dict[str, Any]] | None,
        now: datetime,
    ) -> OrderView:
        """Replace the order's fulfillment events and adjustments (those sent)."""
        row = self._order_row(session, order_id, lock=True)
        if events is not None:
            row.events = events
        if adjustments is not None:
            row.adjustments = adjustments
        row.updated_at = now
        session.flush()
        return self._order_view(session, row)

    def ship_order(self, session: Session, order_id: str, *, now: datetime) -> OrderView:
        """Record a shipment of every line (the simulation endpoint's doing)."""
        row = self._order_row(session, order_id, lock=True)
        event = {
            "id": self.new_id("evt"),
            "occurred_at": now.isoformat(),
            "type": "shipped",
            "line_items": [{"id": li["id"], "quantity": li["quantity"]} for li in row.line_items],
            "tracking_number": f"SIM{row.order_id:08d}",
            "description": "Shipped (simulated)",
        }
        row.events = [*row.events, event]
        row.updated_at = now
        order = session.get(Order, row.order_id)
        if order is not None:
            order.status = "shipped"
        session.flush()
        return self._order_view(session, row)

    # --- internals ----------------------------------------------------------------------

    def _check_currency(self, currency: str | None) -> None:
        if currency is not None and currency.upper() != self.currency:
            raise InvalidCheckout(
                f"This store sells in {self.currency} only; currency '{clip(currency, 8)}' is "
                "not supported."
            )

    @staticmethod
    def _codes(codes: Sequence[str]) -> list[str]:
        return [code[:64] for code in list(dict.fromkeys(codes))[:MAX_CODES]]

    def _row(self, session: Session, checkout_id: str, *, lock: bool) -> ProtocolCheckout:
        stmt = select(ProtocolCheckout).where(ProtocolCheckout.id == checkout_id[:40])
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        row = session.scalar(stmt)
        if row is None:
            raise CheckoutNotFound(f"There is no checkout session '{clip(checkout_id, 60)}'.")
        return row

    def _open_row(
        self, session: Session, checkout_id: str, verb: str, now: datetime
    ) -> ProtocolCheckout:
        row = self._row(session, checkout_id, lock=True)
        if row.status not in OPEN_STATUSES:
            raise CheckoutClosed(
                f"Checkout session {row.id} is {row.status}; it cannot be {verb} any more. "
                "Start a new checkout session."
            )
        if now >= row.expires_at:
            raise CheckoutClosed(
                f"Checkout session {row.id} expired at {row.expires_at.isoformat()}; it cannot "
                f"be {verb} any more. Start a new checkout session."
            )
        return row

    def _lines(
        self, session: Session, wanted: Sequence[LineItemInput], current: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Lines priced from the catalog (what the agent says a title or price is, is ignored)."""
        if len(wanted) > MAX_LINES:
            raise InvalidCheckout(f"A checkout holds at most {MAX_LINES} line items.")
        products = products_by_item_id(session, [w.item_id for w in wanted])
        known_ids = {line["id"] for line in current}
        taken: set[str] = set()
        lines: list[dict[str, Any]] = []
        for n, want in enumerate(wanted, start=1):
            product = products.get(want.item_id)
            if product is None:
                raise ItemNotFound(f"Item '{clip(want.item_id, 64)}' not found in the catalog.")
            if not 1 <= want.quantity <= MAX_QUANTITY:
                raise InvalidCheckout(f"Quantity must be 1-{MAX_QUANTITY}; got {want.quantity}.")
            if want.quantity > product.stock:
                raise InsufficientStock(
                    f"Insufficient stock for item '{clip(want.item_id, 64)}': {product.stock} "
                    f"left, {want.quantity} asked for."
                )
            line_id = want.id if want.id in known_ids and want.id not in taken else None
            while line_id is None or line_id in taken:
                line_id = f"li_{n}" if f"li_{n}" not in known_ids | taken else self.new_id("li")
            taken.add(line_id)
            image = product.attributes.get("image_url") if product.attributes else None
            lines.append(
                {
                    "id": line_id,
                    "item_id": want.item_id,
                    "product_id": product.id,
                    "title": product.title,
                    "unit_price": _minor(product.price),
                    "quantity": want.quantity,
                    "image_url": image if isinstance(image, str) else None,
                }
            )
        return lines

    def _refresh(self, session: Session, row: ProtocolCheckout) -> CheckoutView:
        view = self._view(session, row)
        row.status = READY if view.fulfillment_ready else INCOMPLETE
        session.flush()
        return self._view(session, row)

    def _view(self, session: Session, row: ProtocolCheckout) -> CheckoutView:
        lines = [
            LineView(
                id=line["id"],
                item_id=line["item_id"],
                product_id=line["product_id"],
                title=line["title"],
                unit_price=line["unit_price"],
                quantity=line["quantity"],
                image_url=line.get("image_url"),
            )
            for line in row.line_items
        ]
        subtotal = sum(line.subtotal for line in lines)
        known = {
            d.code: d
            for d in session.scalars(
                select(ProtocolDiscount).where(ProtocolDiscount.code.in_(row.discount_codes))
            )
        }
        applied = apply_discounts(subtotal, row.discount_codes, known)
        methods = None
        if row.fulfillment is not None:
            methods = []
            for m in row.fulfillment["methods"]:
                destination = next(
                    (d for d in m["destinations"] or [] if d["id"] == m["selected_destination_id"]),
                    None,
                )
                options = options_for(session, row.line_items, destination) if destination else None
                methods.append(
                    MethodView(
                        id=m["id"],
                        type=m["type"],
                        line_item_ids=m["line_item_ids"],
                        destinations=m["destinations"],
                        selected_destination_id=m["selected_destination_id"],
                        group_id=m["group_id"],
                        options=options,
                        selected_option_id=m["selected_option_id"],
                    )
                )
        chosen = [m.option for m in methods or []]
        fulfillment = (
            sum(o.amount for o in chosen if o is not None)
            if chosen and all(o is not None for o in chosen)
            else None
        )
        public_order = None
        if row.order_id is not None:
            public_order = session.scalar(
                select(ProtocolOrder.id).where(ProtocolOrder.checkout_id == row.id)
            )
        return CheckoutView(
            id=row.id,
            channel=row.channel,
            status=row.status,
            currency=row.currency,
            lines=lines,
            buyer=row.buyer,
            methods=methods,
            discount_codes=list(row.discount_codes),
            applied_discounts=applied,
            payment=PaymentInput(
                selected_instrument_id=row.payment.get("selected_instrument_id"),
                instruments=list(row.payment.get("instruments") or []),
            ),
            totals=Totals(
                subtotal=subtotal,
                discount=sum(a.amount for a in applied),
                fulfillment=fulfillment,
            ),
            agent_profile=row.agent_profile,
            order_id=public_order,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    def _order_row(self, session: Session, order_id: str, *, lock: bool = False) -> ProtocolOrder:
        stmt = select(ProtocolOrder).where(ProtocolOrder.id == order_id[:40])
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        row = session.scalar(stmt)
        if row is None:
            raise OrderNotFound(f"There is no order '{clip(order_id, 60)}'.")
        return row

    def _order_view(self, session: Session, row: ProtocolOrder) -> OrderView:
        checkout = session.get(ProtocolCheckout, row.checkout_id)
        order = session.get(Order, row.order_id)
        return OrderView(
            id=row.id,
            checkout_id=row.checkout_id,
            channel=row.channel,
            marketplace_order_id=row.order_id,
            status=order.status if order is not None else "placed",
            currency=checkout.currency if checkout is not None else self.currency,
            line_items=row.line_items,
            totals=row.totals,
            expectations=row.expectations,
            events=row.events,
            adjustments=row.adjustments,
            agent_profile=checkout.agent_profile if checkout is not None else None,
            created_at=row.created_at,
        )

    @staticmethod
    def _channel_account(session: Session, channel: str, now: datetime) -> int:
        """The account a door's orders are booked to; it has no password and cannot log in."""
        email = f"{channel}-buyers@protocols.invalid"
        account_id = session.scalar(select(Account.id).where(Account.email == email))
        if account_id is not None:
            return account_id
        account = Account(
            email=email,
            name=f"{channel.upper()} buyers",
            password_hash="!",  # noqa: S106 - no hash matches: login is impossible
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(account)
        except IntegrityError:
            existing = session.scalar(select(Account.id).where(Account.email == email))
            if existing is None:
                raise
            return existing
        return account.id


def _payment_json(payment: PaymentInput) -> dict[str, Any]:
    return {
        "selected_instrument_id": payment.selected_instrument_id,
        "instruments": payment.instruments,
    }


def _line_json(line: LineView) -> dict[str, Any]:
    return {
        "id": line.id,
        "item_id": line.item_id,
        "title": line.title,
        "unit_price": line.unit_price,
        "quantity": line.quantity,
        "image_url": line.image_url,
    }


def _totals_json(totals: Totals) -> list[dict[str, Any]]:
    out = [{"type": "subtotal", "amount": totals.subtotal}]
    if totals.discount:
        out.append({"type": "discount", "amount": totals.discount})
    if totals.fulfillment is not None:
        out.append({"type": "fulfillment", "amount": totals.fulfillment})
    out.append({"type": "total", "amount": totals.total})
    return out


def totals_json(totals: Totals) -> list[dict[str, Any]]:
    """The totals as the protocols list them: subtotal, discount, fulfillment, total."""
    return _totals_json(totals)


def _expectations(view: CheckoutView) -> list[dict[str, Any]]:
    expectations = []
    for n, method in enumerate(view.methods or [], start=1):
        destination = method.destination or {}
        option = method.option
        expectations.append(
            {
                "id": f"exp_{n}",
                "line_items": [
                    {"id": line.id, "quantity": line.quantity}
                    for line in view.lines
                    if line.id in method.line_item_ids
                ],
                "method_type": method.type,
                "destination": {k: v for k, v in destination.items() if k != "id"},
                "description": option.title if option else None,
            }
        )
    return expectations


def products_by_item_id(session: Session, item_ids: list[str]) -> dict[str, Product]:
    """Catalog products by protocol item id: a product's SKU, or its numeric id."""
    skus = [i for i in item_ids if i]
    numeric = [int(i) for i in item_ids if i.isdigit() and len(i) < 19]
    products = session.scalars(
        select(Product).where(or_(Product.sku.in_(skus), Product.id.in_(numeric)))
    ).all()
    found: dict[str, Product] = {}
    for product in products:
        found[product.sku] = product
        found.setdefault(str(product.id), product)
    return found
