"""Fulfillment of a checkout: methods, destinations (saved addresses of known buyers), options."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.core.errors import clip
from marketplace.protocols.checkout.domain import InvalidCheckout, MethodInput
from marketplace.protocols.checkout.models import (
    ProtocolAddress,
    ProtocolCheckout,
    ProtocolCustomer,
    ProtocolPromotion,
    ProtocolShippingRate,
)
from marketplace.protocols.checkout.pricing import ShippingOption, free_shipping, shipping_options

ADDRESS_FIELDS = (
    "street_address",
    "address_locality",
    "address_region",
    "postal_code",
    "address_country",
)
# Echoed back on a destination when the agent sent them; never used for pricing.
DESTINATION_FIELDS = (
    "id",
    *ADDRESS_FIELDS,
    "extended_address",
    "first_name",
    "last_name",
    "full_name",
    "phone_number",
)


def merge_methods(
    session: Session,
    row: ProtocolCheckout,
    wanted: Sequence[MethodInput],
    new_id: Callable[[str], str],
) -> list[dict[str, Any]]:
    """The session's fulfillment methods after the agent's changes (fields left out are kept)."""
    current: list[dict[str, Any]] = (row.fulfillment or {}).get("methods", [])
    email = _buyer_email(row.buyer)
    line_ids = [line["id"] for line in row.line_items]
    methods = []
    for n, want in enumerate(wanted):
        old = next((m for m in current if want.id and m["id"] == want.id), None)
        if old is None and n < len(current) and current[n]["type"] == want.type:
            old = current[n]
        if want.type not in ("shipping", "pickup"):
            raise InvalidCheckout(f"Unknown fulfillment method type '{clip(want.type, 32)}'.")
        destinations: list[dict[str, Any]] | None
        if want.destinations:
            destinations = [
                _destination(session, d, email, row.buyer, new_id) for d in want.destinations
            ]
        elif old is not None and old.get("destinations"):
            destinations = old["destinations"]
        elif want.type == "shipping" and email:
            destinations = _saved_addresses(session, email) or None
        else:
            destinations = None
        ids = [d["id"] for d in destinations or []]
        selected = old.get("selected_destination_id") if old else None
        if want.select_destination:
            selected = want.selected_destination_id
            if selected is not None and selected not in ids:
                raise InvalidCheckout(
                    f"Destination '{clip(selected, 64)}' is not one of this method's "
                    f"destinations ({', '.join(ids) or 'none yet'})."
                )
        elif selected not in ids:
            selected = None
        option = old.get("selected_option_id") if old else None
        if old is not None and old.get("selected_destination_id") != selected:
            option = None
        if want.selected_option_ids:
            option = want.selected_option_ids[0]
        method = {
            "id": old["id"] if old else (want.id or f"fm_{n + 1}")[:64],
            "type": want.type,
            "line_item_ids": line_ids,
            "destinations": destinations,
            "selected_destination_id": selected,
            "group_id": old["group_id"] if old else f"fg_{n + 1}",
            "selected_option_id": option,
        }
        _check_option(session, row, method, explicit=bool(want.selected_option_ids))
        methods.append(method)
    return methods


def _check_option(
    session: Session, row: ProtocolCheckout, method: dict[str, Any], *, explicit: bool
) -> None:
    option = method["selected_option_id"]
    if option is None:
        return
    destination = next(
        (d for d in method["destinations"] or [] if d["id"] == method["selected_destination_id"]),
        None,
    )
    if destination is None:
        if explicit:
            raise InvalidCheckout("Select a destination before selecting a fulfillment option.")
        method["selected_option_id"] = None
        return
    offered = [o.id for o in options_for(session, row.line_items, destination)]
    if option not in offered:
        if explicit:
            raise InvalidCheckout(
                f"Fulfillment option '{clip(option, 64)}' is not offered for this destination "
                f"({', '.join(offered)})."
            )
        method["selected_option_id"] = None


def _destination(
    session: Session,
    sent: dict[str, Any],
    email: str | None,
    buyer: dict[str, Any] | None,
    new_id: Callable[[str], str],
) -> dict[str, Any]:
    """The destination as kept: an id of the agent's, a saved address's, or a new one.

    A known buyer's address without an id is matched to their saved addresses by content,
    or saved as a new one, so the next checkout of the same buyer offers it.
    """
    destination = {
        k: clip(str(sent[k]), 300) for k in DESTINATION_FIELDS if sent.get(k) is not None
    }
    if "id" in destination or not email:
        destination.setdefault("id", new_id("dest"))
        return destination
    customer = _customer(session, email, buyer, new_id)
    content = tuple(destination.get(k) for k in ADDRESS_FIELDS)
    saved = session.scalars(
        select(ProtocolAddress)
        .where(ProtocolAddress.customer_id == customer.id)
        .order_by(ProtocolAddress.position)
    ).all()
    for address in saved:
        if tuple(getattr(address, k) for k in ADDRESS_FIELDS) == content:
            return {**destination, "id": address.id}
    address = ProtocolAddress(
        id=new_id("addr"),
        customer_id=customer.id,
        position=len(saved),
        **{k: destination.get(k) for k in ADDRESS_FIELDS},
    )
    if address.address_country is not None:
        address.address_country = address.address_country[:2]
    session.add(address)
    return {**destination, "id": address.id}


def options_for(
    session: Session, lines: list[dict[str, Any]], destination: dict[str, Any]
) -> list[ShippingOption]:
    """The shipping options for a destination, with the shop's free-shipping promotions."""
    subtotal = sum(line["unit_price"] * line["quantity"] for line in lines)
    promotions = session.scalars(select(ProtocolPromotion)).all()
    rates = session.scalars(select(ProtocolShippingRate)).all()
    free = free_shipping(subtotal, [line["item_id"] for line in lines], promotions)
    return shipping_options(destination.get("address_country"), rates, free_standard=free)


def _buyer_email(buyer: dict[str, Any] | None) -> str | None:
    email = (buyer or {}).get("email")
    return email.strip().lower()[:254] if isinstance(email, str) and email.strip() else None


def _buyer_name(buyer: dict[str, Any] | None) -> str:
    buyer = buyer or {}
    first, last = buyer.get("first_name"), buyer.get("last_name")
    if isinstance(first, str) or isinstance(last, str):
        return " ".join(p for p in (first, last) if isinstance(p, str))[:200]
    for key in ("full_name", "fullName", "name"):
        if isinstance(buyer.get(key), str):
            return str(buyer[key])[:200]
    return ""


def _customer(
    session: Session, email: str, buyer: dict[str, Any] | None, new_id: Callable[[str], str]
) -> ProtocolCustomer:
    customer = session.scalar(select(ProtocolCustomer).where(ProtocolCustomer.email == email))
    if customer is None:
        customer = ProtocolCustomer(id=new_id("cust"), name=_buyer_name(buyer), email=email)
        session.add(customer)
        session.flush()
    return customer


def _saved_addresses(session: Session, email: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ProtocolAddress)
        .join(ProtocolCustomer, ProtocolCustomer.id == ProtocolAddress.customer_id)
        .where(ProtocolCustomer.email == email)
        .order_by(ProtocolAddress.position, ProtocolAddress.id)
    ).all()
    return [
        {"id": a.id, **{k: getattr(a, k) for k in ADDRESS_FIELDS if getattr(a, k) is not None}}
        for a in rows
    ]
