"""Partner agents over HTTP: the admin's registry, and self-service keys under test-mode policies.

With the admin token (or the dashboard's cookie) every route works as it always did. Without it, a
request signed with Web Bot Auth is a partner managing itself, allowed only when the active policy
says `partners: {self_service: true}` (the `open` and `observe` presets do):

- `POST /api/v1/partners` registers the partner if the request is signed with a key in the body
  (the signature is checked against that key alone, since it is not registered yet; its nonce is
  claimed like any other);
- `GET /api/v1/partners/{name}`, `POST .../keys` and `DELETE .../keys/{keyid}` need a signature
  that the gate verified with a key registered to that partner. Rotating: add the new key signed
  with the old one, then delete the old one signed with the new one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response, Security, status
from fastapi.security import HTTPAuthorizationCredentials

from marketplace.core.admin import (
    ADMIN_BEARER,
    ADMIN_COOKIE_SCHEME,
    AdminDep,
    has_admin_cookie,
    require_admin,
)
from marketplace.core.deps import NowDep
from marketplace.core.errors import Forbidden
from marketplace.gate.deps import GateRuntimeDep
from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.deps import IdentityDep
from marketplace.gate.identity.partners import (
    PartnerCreate,
    PartnerKeysAdd,
    PartnerOut,
    validate_jwks,
)
from marketplace.gate.judge import Verdict
from marketplace.gate.runtime import GateRuntime

router = APIRouter()

Caller = Literal["admin", "signed"]
SELF_SERVICE = (
    " Without the admin token, a request signed (Web Bot Auth) by the partner's own key is "
    "accepted when the active policy sets `partners: {self_service: true}` (the open and observe "
    "presets)."
)


def partner_caller(
    request: Request,
    token: Annotated[HTTPAuthorizationCredentials | None, Security(ADMIN_BEARER)],
    cookie: Annotated[str | None, Security(ADMIN_COOKIE_SCHEME)],
) -> Caller:
    """`admin` with admin credentials; `signed` for a signed request without them; else the
    admin check's 401 or 403."""
    signed = "signature" in request.headers or "signature-input" in request.headers
    if signed and "authorization" not in request.headers and not has_admin_cookie(request):
        return "signed"
    require_admin(request, token, cookie)
    return "admin"


CallerDep = Annotated[Caller, Depends(partner_caller)]


def _self_service_on(runtime: GateRuntime) -> None:
    policy = runtime.compiled.policy
    if not policy.partners.self_service:
        raise Forbidden(
            f"Self-service partner keys are off under the policy {policy.name!r} "
            "(partners.self_service is false). Ask the store's admin to register your key "
            "(Authorization: Bearer <SANDBOX_ADMIN_TOKEN>), or run a policy with "
            "`partners: {self_service: true}`, such as open or observe.",
            type_slug="self-service-off",
        )


def _gate_signature(request: Request) -> dict[str, Any]:
    """What the gate found in this request's signature (empty when it carried none)."""
    decision = getattr(request.state, "gate_decision", None)
    if isinstance(decision, Verdict):
        found = decision.signals.get("signature")
        if isinstance(found, dict):
            return found
    return {}


def _signed_by(request: Request, name: str) -> None:
    """Refuse unless the gate verified this request's signature with a key of partner `name`."""
    found = _gate_signature(request)
    if found.get("status") == "valid" and found.get("owner") == name:
        return
    code = found.get("code") or "absent"
    why = found.get("reason") or "no signature was verified"
    raise Forbidden(
        f"Sign this request with a key registered to partner {name!r}; the gate's signature "
        f"status is {code}: {why}",
        type_slug="self-service-proof",
    )


@router.get(
    "/api/v1/partners",
    tags=["admin"],
    summary="List registered partner agents and their key thumbprints",
    response_model=list[PartnerOut],
)
def list_partners(identity: IdentityDep, _admin: AdminDep) -> list[PartnerOut]:
    return identity.partners.list_partners()


@router.post(
    "/api/v1/partners",
    tags=["admin"],
    status_code=status.HTTP_201_CREATED,
    summary="Register an outside agent's public key",
    description="A request signed (Web Bot Auth) with a registered key is classed "
    "`verified-agent` under every preset. Send only the public key: a JWK with `d` is refused."
    + SELF_SERVICE
    + " To register yourself, sign this request with the key in the body (`keyid` its JWK "
    "thumbprint).",
    response_model=PartnerOut,
    responses={
        403: {"description": "Self-service is off, or the body's key did not sign the request."},
        409: {"description": "The name or a key is registered already."},
    },
)
def register_partner(
    body: PartnerCreate,
    request: Request,
    identity: IdentityDep,
    runtime: GateRuntimeDep,
    now: NowDep,
    caller: CallerDep,
) -> PartnerOut:
    if caller == "admin":
        return identity.partners.register(body, now=now)
    _self_service_on(runtime)
    keys = validate_jwks(body.key_list())
    found = _gate_signature(request)
    if not (found.get("status") == "valid" and found.get("keyid") in {k for k, _ in keys}):
        # The key is not registered yet, so the gate could not verify it: check the signature
        # against the body's keys alone.
        facts = getattr(request.state, "gate_facts", None)
        if not isinstance(facts, RequestFacts):
            raise Forbidden("This request was not seen by the gate.", type_slug="forbidden")
        check = identity.verify_holder(
            facts, keys, body.name, policy=runtime.compiled.policy, now=now
        )
        if not check.valid:
            raise Forbidden(
                "Self-service registration needs the request signed with the key in the body "
                f"(keyid = its JWK thumbprint); the signature status is {check.code}: "
                f"{check.reason}",
                type_slug="self-service-proof",
            )
    return identity.partners.register(body, now=now, keys=keys)


@router.get(
    "/api/v1/partners/{name}",
    tags=["admin"],
    summary="One partner and its keys",
    description="For the admin, or for the partner itself." + SELF_SERVICE,
    response_model=PartnerOut,
)
def get_partner(
    name: str,
    request: Request,
    identity: IdentityDep,
    runtime: GateRuntimeDep,
    caller: CallerDep,
) -> PartnerOut:
    if caller == "signed":
        _self_service_on(runtime)
        _signed_by(request, name)
    return identity.partners.get(name)


@router.post(
    "/api/v1/partners/{name}/keys",
    tags=["admin"],
    summary="Add keys to a partner (rotation: add the new key, then delete the old one)",
    description="Keys the partner holds already are kept; at most 10 keys per partner."
    + SELF_SERVICE
    + " A partner signs this request with one of its registered keys.",
    response_model=PartnerOut,
    responses={409: {"description": "A key belongs to another partner, or too many keys."}},
)
def add_partner_keys(
    name: str,
    body: PartnerKeysAdd,
    request: Request,
    identity: IdentityDep,
    runtime: GateRuntimeDep,
    caller: CallerDep,
) -> PartnerOut:
    if caller == "signed":
        _self_service_on(runtime)
        _signed_by(request, name)
    return identity.partners.add_keys(name, body)


@router.delete(
    "/api/v1/partners/{name}/keys/{keyid}",
    tags=["admin"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove one key of a partner (its last key stays)",
    description="After this, a signature by the removed key is `unknown-key`." + SELF_SERVICE,
    response_class=Response,
    responses={409: {"description": "It is the partner's last key."}},
)
def delete_partner_key(
    name: str,
    keyid: str,
    request: Request,
    identity: IdentityDep,
    runtime: GateRuntimeDep,
    caller: CallerDep,
) -> Response:
    if caller == "signed":
        _self_service_on(runtime)
        _signed_by(request, name)
    identity.partners.delete_key(name, keyid)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/api/v1/partners/{name}",
    tags=["admin"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a partner and its keys",
    response_class=Response,
)
def delete_partner(name: str, identity: IdentityDep, _admin: AdminDep) -> Response:
    identity.partners.delete(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
