"""The cart: one line per (account, product); every change is a single atomic statement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from marketplace.cart.models import CartItem
from marketplace.cart.schemas import MAX_LINE_QUANTITY, CartLineOut, CartOut
from marketplace.catalog.models import Category, Product
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.core.ids import MAX_ID, is_id
from marketplace.history.service import record_event


@dataclass(frozen=True)
class CartLine:
    """One cart line joined with the product's current title, price and stock."""

    product_id: int
    title: str
    brand: str
    category_slug: str
    price: float
    quantity: int
    stock: int

    @property
    def line_total(self) -> float:
        return round(self.price * self.quantity, 2)


@dataclass(frozen=True)
class _ProductInfo:
    id: int
    title: str
    stock: int
    category_slug: str


def cart_lines(session: Session, account_id: int) -> list[CartLine]:
    """The account's cart, ordered by product id (the order in which checkout locks stock)."""
    rows = session.execute(
        select(
            CartItem.product_id,
            Product.title,
            Product.brand,
            Category.slug,
            Product.price,
            CartItem.quantity,
            Product.stock,
        )
        .join(Product, Product.id == CartItem.product_id)
        .join(Category, Category.id == Product.category_id)
        .where(CartItem.account_id == account_id)
        .order_by(CartItem.product_id)
    ).all()
    return [
        CartLine(
            product_id=r[0],
            title=r[1],
            brand=r[2],
            category_slug=r[3],
            price=float(r[4]),
            quantity=r[5],
            stock=r[6],
        )
        for r in rows
    ]


def cart_view(session: Session, account_id: int) -> CartOut:
    """The cart as the API shows it, priced at current prices."""
    lines = cart_lines(session, account_id)
    return CartOut(
        items=[
            CartLineOut(
                product_id=line.product_id,
                title=line.title,
                brand=line.brand,
                category=line.category_slug,
                price=line.price,
                quantity=line.quantity,
                line_total=line.line_total,
                stock=line.stock,
                in_stock=line.stock >= line.quantity,
            )
            for line in lines
        ],
        total=round(sum(line.line_total for line in lines), 2),
        item_count=sum(line.quantity for line in lines),
    )


def _product(session: Session, product_id: int) -> _ProductInfo:
    if not is_id(product_id):
        # Not echoed: an in-process caller may pass a number of any size.
        raise NotFound(
            f"There is no such product: ids run from 1 to {MAX_ID}; find product ids with "
            "GET /api/v1/products.",
            type_slug="unknown-product",
        )
    row = session.execute(
        select(Product.id, Product.title, Product.stock, Category.slug)
        .join(Category, Category.id == Product.category_id)
        .where(Product.id == product_id)
    ).first()
    if row is None:
        raise NotFound(
            f"There is no product {product_id}; find product ids with GET /api/v1/products.",
            type_slug="unknown-product",
            product_id=product_id,
        )
    return _ProductInfo(id=row[0], title=row[1], stock=row[2], category_slug=row[3])


def _too_many(product: _ProductInfo, wanted: int) -> Conflict:
    if product.stock <= 0:
        detail = f"'{product.title}' (product {product.id}) is out of stock; it cannot be added."
    else:
        detail = (
            f"Only {product.stock} of '{product.title}' (product {product.id}) are left in "
            f"stock and the cart would hold {wanted}; choose at most {product.stock}."
        )
    return Conflict(
        detail,
        title="Not enough stock",
        type_slug="insufficient-stock",
        product_id=product.id,
        stock_left=max(product.stock, 0),
    )


def _line_too_big(product: _ProductInfo, wanted: int) -> Conflict:
    return Conflict(
        f"A cart line holds at most {MAX_LINE_QUANTITY} units and this one would hold {wanted} "
        f"of '{product.title}' (product {product.id}); add fewer.",
        type_slug="quantity-limit",
        product_id=product.id,
    )


def _check_quantity(quantity: int) -> None:
    """The API bounds quantities too; callers in-process (the assistant's tools) meet this one."""
    if not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise Unprocessable(
            f"Field 'quantity': must be between 1 and {MAX_LINE_QUANTITY}; remove a line with "
            "DELETE instead of setting 0.",
            type_slug="invalid-quantity",
            errors=[{"field": "quantity", "message": f"must be 1 to {MAX_LINE_QUANTITY}"}],
        )


def _add_quantity(
    session: Session, *, account_id: int, product_id: int, quantity: int, now: datetime
) -> int:
    """Insert the line or add to it in one statement; returns the line's new quantity.

    A read-then-write would let two concurrent adds both read the old quantity and one of
    them be lost; the upsert lets the database's unique (account, product) key arbitrate.
    """
    values = {
        "account_id": account_id,
        "product_id": product_id,
        "quantity": quantity,
        "added_at": now,
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg_insert = postgresql.insert(CartItem).values(**values)
        pg_upsert = pg_insert.on_conflict_do_update(
            index_elements=[CartItem.account_id, CartItem.product_id],
            set_={"quantity": CartItem.quantity + pg_insert.excluded.quantity},
        ).returning(CartItem.quantity)
        return int(session.execute(pg_upsert).scalar_one())
    if dialect == "sqlite":
        lite_insert = sqlite.insert(CartItem).values(**values)
        lite_upsert = lite_insert.on_conflict_do_update(
            index_elements=[CartItem.account_id, CartItem.product_id],
            set_={"quantity": CartItem.quantity + lite_insert.excluded.quantity},
        ).returning(CartItem.quantity)
        return int(session.execute(lite_upsert).scalar_one())
    raise NotImplementedError(f"the cart supports SQLite and PostgreSQL, not {dialect}")


def add_item(
    session: Session,
    *,
    account_id: int,
    product_id: int,
    quantity: int,
    now: datetime,
    session_key: str | None = None,
) -> CartOut:
    """Add `quantity` of a product; the line may not exceed the stock or the per-line limit.

    Raising after the upsert is safe: the request's transaction rolls the upsert back.
    """
    _check_quantity(quantity)
    product = _product(session, product_id)
    if product.stock < quantity:
        raise _too_many(product, quantity)
    new_quantity = _add_quantity(
        session, account_id=account_id, product_id=product_id, quantity=quantity, now=now
    )
    if new_quantity > MAX_LINE_QUANTITY:
        raise _line_too_big(product, new_quantity)
    if new_quantity > product.stock:
        raise _too_many(product, new_quantity)
    record_event(
        session,
        kind="cart_add",
        now=now,
        account_id=account_id,
        session_key=session_key,
        product_id=product_id,
        category_slug=product.category_slug,
        quantity=quantity,
    )
    return cart_view(session, account_id)


def _not_in_cart(product_id: int) -> NotFound:
    return NotFound(
        f"Product {product_id} is not in your cart; add it with POST /api/v1/cart/items.",
        type_slug="not-in-cart",
        product_id=product_id,
    )


def set_quantity(
    session: Session,
    *,
    account_id: int,
    product_id: int,
    quantity: int,
    now: datetime,
    session_key: str | None = None,
) -> CartOut:
    """Set a line's quantity outright (idempotent, unlike adding)."""
    _check_quantity(quantity)
    product = _product(session, product_id)
    if quantity > product.stock:
        raise _too_many(product, quantity)
    result = session.execute(
        update(CartItem)
        .where(CartItem.account_id == account_id, CartItem.product_id == product_id)
        .values(quantity=quantity)
        .returning(CartItem.id)
        .execution_options(synchronize_session=False)
    )
    if result.first() is None:
        raise _not_in_cart(product_id)
    record_event(
        session,
        kind="cart_update",
        now=now,
        account_id=account_id,
        session_key=session_key,
        product_id=product_id,
        category_slug=product.category_slug,
        quantity=quantity,
    )
    return cart_view(session, account_id)


def remove_item(
    session: Session,
    *,
    account_id: int,
    product_id: int,
    now: datetime,
    session_key: str | None = None,
) -> CartOut:
    """Remove a line; a product not in the cart is a 404, so a typo does not pass silently."""
    if not is_id(product_id):
        raise _not_in_cart(product_id)
    removed = session.execute(
        delete(CartItem)
        .where(CartItem.account_id == account_id, CartItem.product_id == product_id)
        .returning(CartItem.quantity)
        .execution_options(synchronize_session=False)
    ).first()
    if removed is None:
        raise _not_in_cart(product_id)
    category_slug = session.scalar(
        select(Category.slug)
        .join(Product, Product.category_id == Category.id)
        .where(Product.id == product_id)
    )
    record_event(
        session,
        kind="cart_remove",
        now=now,
        account_id=account_id,
        session_key=session_key,
        product_id=product_id,
        category_slug=category_slug,
        quantity=int(removed[0]),
    )
    return cart_view(session, account_id)


def take_ordered_lines(session: Session, account_id: int, lines: list[CartLine]) -> None:
    """Take what an order bought out of the cart, keeping anything added meanwhile.

    Deleting the whole cart would silently drop an add that raced with checkout.
    """
    for line in lines:
        where = (CartItem.account_id == account_id, CartItem.product_id == line.product_id)
        session.execute(
            delete(CartItem)
            .where(*where, CartItem.quantity <= line.quantity)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(CartItem)
            .where(*where, CartItem.quantity > line.quantity)
            .values(quantity=CartItem.quantity - line.quantity)
            .execution_options(synchronize_session=False)
        )
