"""The ACP door: the five checkout-session endpoints of the Agentic Commerce Protocol.

Thin routes on the shared checkout core (`adapter.py` maps the shapes). Every POST needs an
`Idempotency-Key`: the same key and body get the first answer again (`Idempotent-Replayed:
true`), the same key with another body a 422 `idempotency_conflict`. Keys are scoped to the
caller (its partner name when signed) and the endpoint path, as ACP asks. Errors are ACP error
objects (errors.py).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Header, Path, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.core.deps import NowDep, SessionDep
from marketplace.protocols.acp import adapter
from marketplace.protocols.acp.deps import AcpDep, AcpState, PartnerDep
from marketplace.protocols.acp.errors import AcpFailure, AcpRoute
from marketplace.protocols.acp.models import AcpWebhook
from marketplace.protocols.acp.schemas import (
    API_VERSION,
    SUPPORTED_VERSIONS,
    AcpError,
    CheckoutSession,
    CompleteRequest,
    CreateRequest,
    UpdateRequest,
)
from marketplace.protocols.checkout.domain import CANCELED, COMPLETED, CheckoutView
from marketplace.protocols.checkout.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyConflict,
    Replay,
    claim,
    fingerprint,
)

CHANNEL = "acp"
SESSION_ID = Annotated[str, Path(max_length=64, description="The checkout session's id.")]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": AcpError, "description": "Bad request, missing headers, unknown item."},
    404: {"model": AcpError, "description": "No ACP checkout session with this id."},
    409: {"model": AcpError, "description": "The session is closed, or stock ran out."},
    422: {"model": AcpError, "description": "The Idempotency-Key was used for another body."},
}


def api_version(
    version: Annotated[
        str | None,
        Header(alias="API-Version", description=f"The ACP version; `{API_VERSION}`."),
    ] = None,
) -> str:
    if version is None:
        raise AcpFailure(
            400,
            "missing_api_version",
            f"Send the API-Version header; this store speaks {', '.join(SUPPORTED_VERSIONS)}.",
            param="API-Version",
            extra={"supported_versions": list(SUPPORTED_VERSIONS)},
        )
    if version.strip() not in SUPPORTED_VERSIONS:
        raise AcpFailure(
            400,
            "unsupported_api_version",
            f"API-Version {version[:32]!r} is not supported; this store speaks "
            f"{', '.join(SUPPORTED_VERSIONS)}.",
            param="API-Version",
            extra={"supported_versions": list(SUPPORTED_VERSIONS)},
        )
    return version.strip()


router = APIRouter(
    prefix="/checkout_sessions",
    tags=["acp"],
    route_class=AcpRoute,
    dependencies=[Depends(api_version)],
    responses=ERRORS,
)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Required on every POST: 1-255 printable characters, a UUID works.",
    ),
]
RequestId = Annotated[str | None, Header(alias="Request-Id", max_length=255)]


def _headers(key: str | None, request_id: str | None) -> dict[str, str]:
    headers = {"API-Version": API_VERSION}
    if key is not None:
        headers["Idempotency-Key"] = key
    if request_id is not None:
        headers["Request-Id"] = request_id
    return headers


def _claim(
    session: Session,
    request: Request,
    key: str | None,
    partner: str | None,
    body: Any,
    now: Any,
) -> Any:
    """The idempotency claim of this POST, or the stored answer to replay."""
    if key is None:
        raise AcpFailure(
            400,
            "idempotency_key_required",
            "Idempotency-Key header is required on all POST requests.",
            param="Idempotency-Key",
        )
    if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise AcpFailure(
            400,
            "invalid",
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters.",
            param="Idempotency-Key",
        )
    path = request.url.path
    # Scoped to the caller and the endpoint: another agent, or another endpoint, with the
    # same key is another request.
    scoped = hashlib.sha256(f"{partner or '-'}\n{path}\n{key}".encode()).hexdigest()
    try:
        return claim(
            session,
            channel=CHANNEL,
            key=scoped,
            request_fingerprint=fingerprint("POST", path, body),
            now=now,
        )
    except IdempotencyConflict:
        raise AcpFailure(
            422,
            "idempotency_conflict",
            "Idempotency-Key has already been used with a different request body.",
            param="Idempotency-Key",
        ) from None


def _answer(
    request: Request,
    view: CheckoutView,
    outcome: Any,
    status_code: int,
    headers: dict[str, str],
) -> JSONResponse:
    body = adapter.session_out(view, base_url=str(request.base_url)).model_dump(
        mode="json", exclude_none=True
    )
    outcome.finish(status_code, body)
    return JSONResponse(body, status_code=status_code, headers=headers)


def _replayed(replay: Replay, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(
        replay.body,
        status_code=replay.status_code,
        headers={**headers, "Idempotent-Replayed": "true"},
    )


def _own(acp: AcpState, session: Session, checkout_id: str) -> CheckoutView:
    """An ACP session; those opened through another door are not found here."""
    view = acp.core.get(session, checkout_id)
    if view.channel != CHANNEL:
        raise AcpFailure(
            404, "not_found", f"There is no ACP checkout session '{checkout_id[:64]}'."
        )
    return view


def _with_default_option(
    acp: AcpState, session: Session, view: CheckoutView, now: datetime
) -> CheckoutView:
    """`view` with the fulfillment option ACP picks by default, when it has none chosen yet."""
    default = adapter.default_option(view)
    if default is None:
        return view
    return acp.core.update(session, view.id, default, now=now)


def _body(model: Any) -> Any:
    # Sent members only: ACP tells `null` (clear it) from an absent member (keep it).
    return model.model_dump(mode="json", exclude_unset=True)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CheckoutSession,
    response_model_exclude_none=True,
    summary="Create a checkout session",
    description="Items are catalog product ids. With a `fulfillment_address` the cheapest "
    "shipping option is selected and the session is `ready_for_payment`.",
)
def create_session(
    request: Request,
    session: SessionDep,
    now: NowDep,
    acp: AcpDep,
    partner: PartnerDep,
    body: Annotated[CreateRequest, Body()],
    key: IdempotencyKey = None,
    request_id: RequestId = None,
) -> JSONResponse:
    headers = _headers(key, request_id)
    outcome = _claim(session, request, key, partner, _body(body), now)
    if isinstance(outcome, Replay):
        return _replayed(outcome, headers)
    view = acp.core.create(session, channel=CHANNEL, now=now, **adapter.create_inputs(body))
    view = _with_default_option(acp, session, view, now)
    return _answer(request, view, outcome, 201, headers)


@router.get(
    "/{checkout_session_id}",
    response_model=CheckoutSession,
    response_model_exclude_none=True,
    summary="Retrieve a checkout session",
)
def get_session(
    request: Request,
    session: SessionDep,
    acp: AcpDep,
    checkout_session_id: SESSION_ID,
    request_id: RequestId = None,
) -> JSONResponse:
    view = _own(acp, session, checkout_session_id)
    body = adapter.session_out(view, base_url=str(request.base_url))
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True), headers=_headers(None, request_id)
    )


@router.post(
    "/{checkout_session_id}",
    response_model=CheckoutSession,
    response_model_exclude_none=True,
    summary="Update a checkout session",
    description="Replace the items, set the buyer or the fulfillment address, or pick a "
    "fulfillment option.",
)
def update_session(
    request: Request,
    session: SessionDep,
    now: NowDep,
    acp: AcpDep,
    partner: PartnerDep,
    checkout_session_id: SESSION_ID,
    body: Annotated[UpdateRequest, Body()],
    key: IdempotencyKey = None,
    request_id: RequestId = None,
) -> JSONResponse:
    headers = _headers(key, request_id)
    outcome = _claim(session, request, key, partner, _body(body), now)
    if isinstance(outcome, Replay):
        return _replayed(outcome, headers)
    _own(acp, session, checkout_session_id)
    view = acp.core.update(session, checkout_session_id, adapter.changes(body), now=now)
    view = _with_default_option(acp, session, view, now)
    return _answer(request, view, outcome, 200, headers)


@router.post(
    "/{checkout_session_id}/complete",
    response_model=CheckoutSession,
    response_model_exclude_none=True,
    summary="Complete a checkout session",
    description="Pays with a simulated delegated payment token (`spt_test_...`; "
    "`spt_test_decline...` is declined) and places the order, taking stock as every order "
    "does. Order events (`order_create`, then `order_update`) go to the agent's webhook.",
)
def complete_session(
    request: Request,
    session: SessionDep,
    now: NowDep,
    acp: AcpDep,
    partner: PartnerDep,
    tasks: BackgroundTasks,
    checkout_session_id: SESSION_ID,
    body: Annotated[CompleteRequest, Body()],
    key: IdempotencyKey = None,
    request_id: RequestId = None,
) -> JSONResponse:
    headers = _headers(key, request_id)
    outcome = _claim(session, request, key, partner, _body(body), now)
    if isinstance(outcome, Replay):
        return _replayed(outcome, headers)
    _own(acp, session, checkout_session_id)
    payment = adapter.payment(body.payment_data)
    if body.buyer is not None:
        changes = adapter.changes(UpdateRequest(buyer=body.buyer))
        acp.core.update(session, checkout_session_id, changes, now=now)
    view = acp.core.complete(session, checkout_session_id, payment, now=now)
    answer = _answer(request, view, outcome, 200, headers)
    target = _webhook(session, acp, partner)
    if target is not None:
        # After the response, hence after the commit: the receiver can read the order.
        tasks.add_task(_send_events, acp, target, view, str(request.base_url))
    return answer


@router.post(
    "/{checkout_session_id}/cancel",
    response_model=CheckoutSession,
    response_model_exclude_none=True,
    summary="Cancel a checkout session",
    responses={405: {"model": AcpError, "description": "Already completed or canceled."}},
)
def cancel_session(
    request: Request,
    session: SessionDep,
    now: NowDep,
    acp: AcpDep,
    partner: PartnerDep,
    checkout_session_id: SESSION_ID,
    key: IdempotencyKey = None,
    request_id: RequestId = None,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> JSONResponse:
    headers = _headers(key, request_id)
    outcome = _claim(session, request, key, partner, body or {}, now)
    if isinstance(outcome, Replay):
        return _replayed(outcome, headers)
    view = _own(acp, session, checkout_session_id)
    if view.status in (COMPLETED, CANCELED):
        raise AcpFailure(
            405,
            "checkout_closed",
            f"Checkout session {view.id} is already {view.status}; it cannot be canceled.",
        )
    view = acp.core.cancel(session, checkout_session_id, now=now)
    return _answer(request, view, outcome, 200, headers)


def _webhook(session: Session, acp: AcpState, partner: str | None) -> tuple[str, str] | None:
    """(url, secret) for this caller's order events: its own webhook, else the store's."""
    if partner is not None:
        own = session.scalar(select(AcpWebhook).where(AcpWebhook.partner == partner))
        if own is not None:
            return own.url, own.secret
    if acp.webhook_url is not None:
        return acp.webhook_url, acp.webhook_secret
    return None


def _send_events(acp: AcpState, target: tuple[str, str], view: CheckoutView, base: str) -> None:
    url, secret = target
    for kind, order_status in (("order_create", "created"), ("order_update", "confirmed")):
        acp.events.send(
            url,
            secret,
            {
                "type": kind,
                "data": {
                    "type": "order",
                    "checkout_session_id": view.id,
                    "permalink_url": f"{base}checkout_sessions/{view.id}",
                    "status": order_status,
                    "refunds": [],
                },
            },
        )
