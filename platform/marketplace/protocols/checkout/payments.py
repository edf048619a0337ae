"""The mock payment handler: every advertised handler is simulated, nothing is ever charged.

A token credential is approved unless it starts with `fail` (the test shop's `fail_token`); a raw
card credential must pass the Luhn check and is declined for 4000 0000 0000 0002, the card
networks' usual "declined" test number. The card number is checked here and never kept.
"""

from __future__ import annotations

import hashlib

from marketplace.protocols.checkout.domain import (
    InvalidCheckout,
    PaymentDeclined,
    PaymentSubmission,
)

MOCK_HANDLER = "mock_payment_handler"
HANDLER_IDS = (MOCK_HANDLER, "google_pay", "shop_pay")
DECLINED_CARD = "4000000000000002"
MAX_REFERENCE = 64


def _luhn(number: str) -> bool:
    digits = [int(c) for c in number]
    checksum = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        checksum += digit
    return checksum % 10 == 0


def authorize(payment: PaymentSubmission, *, checkout_id: str) -> str:
    """Approve the payment and return its reference, or raise 402 (declined) / 400 (malformed)."""
    if payment.handler_id not in HANDLER_IDS:
        raise InvalidCheckout(
            f"Unknown payment handler '{payment.handler_id[:64]}'; this store offers "
            f"{', '.join(HANDLER_IDS)} (all simulated).",
        )
    if payment.card_number is not None:
        number = payment.card_number.replace(" ", "").replace("-", "")
        if not (12 <= len(number) <= 19 and number.isdigit() and _luhn(number)):
            raise PaymentDeclined("The card number is not a valid test card number.")
        if number == DECLINED_CARD:
            raise PaymentDeclined("The card was declined (test card 4000 0000 0000 0002).")
        last4 = number[-4:]
    elif payment.token:
        if payment.token.startswith("fail"):
            raise PaymentDeclined(
                f"The payment handler declined the token of instrument "
                f"'{(payment.instrument_id or '?')[:64]}'; use another instrument."
            )
        last4 = payment.last_digits or ""
    else:
        raise InvalidCheckout(
            "The payment has no credential: send a token credential of the payment handler "
            "(or a test card credential)."
        )
    digest = hashlib.sha256(f"{checkout_id}:{payment.handler_id}".encode()).hexdigest()[:20]
    reference = f"mock_{digest}" + (f"_{last4}" if len(last4) == 4 and last4.isdigit() else "")
    return reference[:MAX_REFERENCE]
