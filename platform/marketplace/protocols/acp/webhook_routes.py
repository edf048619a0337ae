"""A partner sets where its ACP order events go: `PUT /api/v1/acp/webhook`, signed.

Only a request the gate verified as signed by a registered partner (Web Bot Auth) may set, read
or remove that partner's webhook; the secret that signs its events is returned when set.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Body, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from marketplace.core.deps import NowDep, SessionDep
from marketplace.core.errors import Forbidden, NotFound
from marketplace.protocols.acp.deps import PartnerDep
from marketplace.protocols.acp.models import AcpWebhook

router = APIRouter(prefix="/api/v1/acp", tags=["acp"])


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2048)
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=128,
        description="The HMAC secret of the Merchant-Signature header; default: a new one.",
    )


class WebhookOut(BaseModel):
    partner: str
    url: str
    secret: str | None = Field(default=None, description="Only in the answer that set it.")


def _partner(partner: str | None) -> str:
    if partner is None:
        raise Forbidden(
            "Sign this request (Web Bot Auth) with your registered partner key: a webhook "
            "belongs to the partner whose key the gate verified.",
            type_slug="acp-webhook-unsigned",
        )
    return partner


@router.put(
    "/webhook",
    response_model=WebhookOut,
    summary="Set your ACP order-event webhook",
    description="Order events (`order_create`, `order_update`) of the ACP checkouts you "
    "complete are POSTed there, signed with HMAC-SHA256 (`Merchant-Signature`, hex, over the "
    "raw body). Needs a request signed with your registered partner key.",
)
def set_webhook(
    session: SessionDep,
    now: NowDep,
    partner: PartnerDep,
    body: Annotated[WebhookIn, Body()],
) -> WebhookOut:
    name = _partner(partner)
    secret = body.secret or secrets.token_urlsafe(32)
    row = session.get(AcpWebhook, name)
    if row is None:
        session.add(AcpWebhook(partner=name, url=body.url, secret=secret, updated_at=now))
    else:
        row.url, row.secret, row.updated_at = body.url, secret, now
    return WebhookOut(partner=name, url=body.url, secret=secret)


@router.get(
    "/webhook",
    response_model=WebhookOut,
    response_model_exclude_none=True,
    summary="Your ACP order-event webhook",
)
def get_webhook(session: SessionDep, partner: PartnerDep) -> WebhookOut:
    name = _partner(partner)
    row = session.scalar(select(AcpWebhook).where(AcpWebhook.partner == name))
    if row is None:
        raise NotFound(f"Partner {name!r} has no ACP webhook.", type_slug="acp-webhook-not-set")
    return WebhookOut(partner=name, url=row.url)


@router.delete(
    "/webhook",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove your ACP order-event webhook",
)
def delete_webhook(session: SessionDep, partner: PartnerDep) -> Response:
    name = _partner(partner)
    row = session.get(AcpWebhook, name)
    if row is None:
        raise NotFound(f"Partner {name!r} has no ACP webhook.", type_slug="acp-webhook-not-set")
    session.delete(row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
