"""Cart endpoints: the logged-in shopper's cart."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from marketplace.accounts.deps import AccountDep, ShopperDep
from marketplace.cart import service
from marketplace.cart.schemas import CartItemAdd, CartItemUpdate, CartOut
from marketplace.core.deps import NowDep, SessionDep

router = APIRouter(prefix="/api/v1/cart", tags=["cart"])

_LOGIN: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in; the problem says how to log in."}
}
_UNKNOWN_OR_ABSENT: dict[int | str, dict[str, Any]] = {
    404: {"description": "The product does not exist, or is not in the cart."}
}
_STOCK: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "Not enough stock (the problem names the product and `stock_left`), "
        "or the line would exceed 99 units."
    }
}

# Bounded to a 64-bit integer: a larger id cannot exist and would overflow the database driver.
ProductIdPath = Annotated[int, Path(ge=1, le=2**63 - 1, description="The product's id.")]


@router.get(
    "",
    response_model=CartOut,
    summary="The cart",
    description="The logged-in shopper's cart at current prices, with each line's stock.",
    responses=_LOGIN,
)
def get_cart(account: AccountDep, session: SessionDep) -> CartOut:
    return service.cart_view(session, account.id)


@router.post(
    "/items",
    response_model=CartOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a product to the cart",
    description="Adds `quantity` (1-99) of a product. Adding a product that is already in the "
    "cart increases its quantity. Returns the whole cart.",
    responses={**_LOGIN, **_UNKNOWN_OR_ABSENT, **_STOCK},
)
def add_item(
    body: CartItemAdd, account: AccountDep, shopper: ShopperDep, session: SessionDep, now: NowDep
) -> CartOut:
    return service.add_item(
        session,
        account_id=account.id,
        product_id=body.product_id,
        quantity=body.quantity,
        now=now,
        session_key=shopper.session_key,
    )


@router.patch(
    "/items/{product_id}",
    response_model=CartOut,
    summary="Change a cart line's quantity",
    description="Sets the quantity (1-99) of a product already in the cart. Returns the cart.",
    responses={**_LOGIN, **_UNKNOWN_OR_ABSENT, **_STOCK},
)
def update_item(
    product_id: ProductIdPath,
    body: CartItemUpdate,
    account: AccountDep,
    shopper: ShopperDep,
    session: SessionDep,
    now: NowDep,
) -> CartOut:
    return service.set_quantity(
        session,
        account_id=account.id,
        product_id=product_id,
        quantity=body.quantity,
        now=now,
        session_key=shopper.session_key,
    )


@router.delete(
    "/items/{product_id}",
    response_model=CartOut,
    summary="Remove a product from the cart",
    description="Removes the product's line from the cart and returns what is left.",
    responses={**_LOGIN, **_UNKNOWN_OR_ABSENT},
)
def remove_item(
    product_id: ProductIdPath,
    account: AccountDep,
    shopper: ShopperDep,
    session: SessionDep,
    now: NowDep,
) -> CartOut:
    return service.remove_item(
        session,
        account_id=account.id,
        product_id=product_id,
        now=now,
        session_key=shopper.session_key,
    )
