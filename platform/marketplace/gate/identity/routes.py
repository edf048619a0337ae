"""The identity layer over HTTP: the key directory and the beacon (partner keys are served by
gate/partner_routes.py, which reads the active policy)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response, status

from marketplace.core.deps import NowDep
from marketplace.core.errors import Forbidden
from marketplace.core.security import SESSION_COOKIE
from marketplace.gate.identity.behaviour import BEACON_PATH, MAX_BEACON_BYTES
from marketplace.gate.identity.challenge import CHALLENGE_PATH, MAX_CHALLENGE_BYTES
from marketplace.gate.identity.deps import IdentityDep, TrackerDep
from marketplace.gate.identity.httpsig import new_nonce
from marketplace.gate.identity.keys import DIRECTORY_MEDIA_TYPE, DIRECTORY_PATH

router = APIRouter()


@router.get(
    DIRECTORY_PATH,
    tags=["identity"],
    summary="The platform's public signing keys (Web Bot Auth key directory)",
    description="A JWK set of the platform's Ed25519 public key(s). The platform's own agent "
    "signs its requests with the matching private key; `keyid` is each key's JWK thumbprint. "
    "The response carries its `Content-Digest` (RFC 9530, sha-256) and is itself signed (tag "
    "`http-message-signatures-directory`, covering `@authority` of the request and the digest).",
    response_class=Response,
    responses={200: {"content": {DIRECTORY_MEDIA_TYPE: {}}}},
)
def key_directory(request: Request, identity: IdentityDep, now: NowDep) -> Response:
    body = json.dumps(identity.directory(), separators=(",", ":")).encode("utf-8")
    headers = {"Cache-Control": "public, max-age=300"}
    headers.update(identity.sign_directory(str(request.url), body, now=now, nonce=new_nonce()))
    return Response(content=body, media_type=DIRECTORY_MEDIA_TYPE, headers=headers)


@router.post(
    BEACON_PATH,
    tags=["identity"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Interaction beacon from the storefront's pages",
    description="Posted by /static/beacon.js: pointer and key event counts, navigator.webdriver "
    "and the time to the first interaction, with `token`, the token of the page it runs on (its "
    "script tag's `data-token`). Always answered 204; a malformed body, or one without a token "
    "issued to this session's pages in the last six hours, is ignored.",
    response_class=Response,
)
async def beacon(request: Request, tracker: TrackerDep, now: NowDep) -> Response:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BEACON_BYTES:
            return Response(status_code=status.HTTP_204_NO_CONTENT)  # not a beacon; ignored
    facts = getattr(request.state, "gate_facts", None)
    client = getattr(facts, "client_ip", None) or (request.client.host if request.client else None)
    tracker.record_beacon(
        request.cookies.get(SESSION_COOKIE),
        client,
        request.headers.get("user-agent", ""),
        raw,
        now.timestamp(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    CHALLENGE_PATH,
    tags=["identity"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Answer of a challenge page's script",
    description="Posted by /static/challenge.js on the page a browser gets when the gate answers "
    "`challenge`: `{token, counter, webdriver}`, where SHA-256(`token:counter`) starts with the "
    "page's number of zero bits. 204 when it passed: the session then scores as a person's. "
    "403 `/problems/challenge-failed` otherwise (no valid token for this session, a wrong proof, "
    "or `webdriver: true`).",
    response_class=Response,
)
async def challenge(request: Request, tracker: TrackerDep, now: NowDep) -> Response:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_CHALLENGE_BYTES:
            break
    facts = getattr(request.state, "gate_facts", None)
    client = getattr(facts, "client_ip", None) or (request.client.host if request.client else None)
    passed = tracker.record_challenge(
        request.cookies.get(SESSION_COOKIE),
        client,
        request.headers.get("user-agent", ""),
        raw,
        now.timestamp(),
    )
    if not passed:
        raise Forbidden(
            "The challenge was not passed: reload the challenged page in an ordinary browser "
            "with JavaScript on.",
            title="The challenge was not passed",
            type_slug="challenge-failed",
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
