"""Every table of the platform, imported in one place for Alembic and `create_all`."""

from marketplace.accounts.models import Account, AuthSession
from marketplace.admin.models import WorkshopChallenge
from marketplace.cart.models import CartItem
from marketplace.catalog.models import AdImpression, Category, IdBlock, Product
from marketplace.core.db import Base
from marketplace.core.shared.models import GateCounter, GateKV, GateNonce, GateSessionSignal
from marketplace.gate.identity.models import (
    GateAccountStrike,
    GateEscalation,
    GatePartner,
    GatePartnerKey,
)
from marketplace.gate.models import GateDecision
from marketplace.history.models import HistoryEvent
from marketplace.orders.models import Order, OrderItem
from marketplace.protocols.acp.models import AcpWebhook
from marketplace.protocols.checkout.models import (
    ProtocolAddress,
    ProtocolCheckout,
    ProtocolCustomer,
    ProtocolDiscount,
    ProtocolIdempotency,
    ProtocolOrder,
    ProtocolPaymentInstrument,
    ProtocolPromotion,
    ProtocolShippingRate,
)

__all__ = [
    "Account",
    "AcpWebhook",
    "AdImpression",
    "AuthSession",
    "Base",
    "CartItem",
    "Category",
    "GateAccountStrike",
    "GateCounter",
    "GateDecision",
    "GateEscalation",
    "GateKV",
    "GateNonce",
    "GatePartner",
    "GatePartnerKey",
    "GateSessionSignal",
    "HistoryEvent",
    "IdBlock",
    "Order",
    "OrderItem",
    "Product",
    "ProtocolAddress",
    "ProtocolCheckout",
    "ProtocolCustomer",
    "ProtocolDiscount",
    "ProtocolIdempotency",
    "ProtocolOrder",
    "ProtocolPaymentInstrument",
    "ProtocolPromotion",
    "ProtocolShippingRate",
    "WorkshopChallenge",
]
