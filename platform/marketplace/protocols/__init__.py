"""The agentic-commerce protocol doors (UCP over REST and MCP, ACP) on one checkout core.

`protocols.checkout` is the core every door shares; a door only translates its wire format:

    from marketplace.protocols.checkout.service import CheckoutCore
    from marketplace.protocols.checkout.domain import (
        LineItemInput, MethodInput, PaymentInput, CheckoutChanges, PaymentSubmission,
        CheckoutView, OrderView,
    )
    from marketplace.protocols.checkout import idempotency

    core = state.protocols.core                       # built once by create_app
    view = core.create(session, channel="acp", currency="USD",
                       line_items=[LineItemInput(item_id="bouquet_roses", quantity=1)],
                       buyer={"email": ...}, fulfillment=[MethodInput(...)], now=now,
                       agent_profile=None)
    view = core.get(session, view.id)
    view = core.update(session, view.id, CheckoutChanges(discount_codes=["10OFF"]), now=now)
    view = core.complete(session, view.id, PaymentSubmission(handler_id="mock_payment_handler",
                         token="success_token"), now=now)   # places a marketplace order
    view = core.cancel(session, view.id, now=now)
    order = core.get_order(session, view.order_id)

- Item ids are catalog SKUs (or numeric product ids); prices come from the catalog, in minor
  units (cents). A quantity beyond stock is refused (400) when asked for; completion takes stock
  through `orders.service.place_lines_order`, the same guarded decrement as the REST API's
  orders, so racing buyers of any door can't oversell; the order's `channel` is the door.
- Errors are `ProblemError`s (`checkout.domain`): 404 unknown session/order, 400 invalid
  input, 402 declined payment, 409 closed session or stock gone. Each door renders them in its
  own error shape.
- `CheckoutView.status` is `incomplete`, `ready_for_complete`, `completed` or `canceled`.
- Idempotency: `idempotency.claim(session, channel=..., key=..., request_fingerprint=
  idempotency.fingerprint(method, path, body), now=now)` returns a `Replay` (send its stored
  status and body) or a `Claim` (do the work, then `claim.finish(status, body)`); the same key
  with another request raises 409 (`IdempotencyConflict`).
- Payments go through the mock handler (`checkout.payments`): a token starting with `fail` is
  declined (402); nothing is charged and no card number is kept.
"""
