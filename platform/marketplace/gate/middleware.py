"""The gate as pure ASGI middleware, outermost but for the request bounds (core/bounds.py).

404s, static files and unknown paths are decided, answered with the gate's headers and logged like
any route. Refusals never reach the app; allowed requests carry the decision in `request.state`
(`visitor_class`, `policy_decision`, `policy_rule`, `bot_score`, `gate_facts`).
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC
from typing import Any

import anyio
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.core.cookies import cookie_values
from marketplace.core.errors import problem_response, wants_html
from marketplace.core.security import SESSION_COOKIE
from marketplace.gate.challenge_page import challenge_page
from marketplace.gate.decisionlog import new_row, session_hash
from marketplace.gate.doors import McpCall, classify_mcp, door_of
from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.behaviour import facts_session_key, session_key
from marketplace.gate.judge import Verdict
from marketplace.gate.normalize import METHOD_OVERRIDE_HEADERS, normalize_path
from marketplace.gate.refusals import protocol_refusal
from marketplace.gate.runtime import GateRuntime


def build_facts(scope: Scope, runtime: GateRuntime) -> RequestFacts:
    """RequestFacts from an ASGI scope: normalised path, route class, every header kept."""
    headers: list[tuple[str, str]] = []
    cookie_headers: list[str] = []
    authority = ""
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers.append((name, value))
        if name == "cookie":
            cookie_headers.append(value)
        elif name == "host" and not authority:
            authority = value
    raw_path_bytes = scope.get("raw_path")
    raw_path = raw_path_bytes.decode("latin-1") if raw_path_bytes else str(scope.get("path", "/"))
    query = scope.get("query_string", b"").decode("latin-1")
    path = normalize_path(raw_path)
    route_class = runtime.compiled.routes.match(path, query)
    if not authority:
        server = scope.get("server")
        authority = f"{server[0]}:{server[1]}" if server else ""
    client = scope.get("client")
    # Read as the app reads it; two copies are no session (DuplicateCookieGuard refuses them).
    sessions = cookie_values(cookie_headers, SESSION_COOKIE) if cookie_headers else []
    cookie = (sessions[0] or None) if len(sessions) == 1 else None
    return RequestFacts(
        method=str(scope.get("method", "GET")).upper(),
        path=path,
        raw_path=raw_path,
        query=query,
        authority=authority,
        scheme=str(scope.get("scheme", "http")),
        headers=tuple(headers),
        client_ip=client[0] if client else None,
        session_id=cookie,
        route_class=route_class,
        is_asset=route_class == "assets",
    )


def gate_headers(decision: Verdict, observe: bool) -> list[tuple[str, str]]:
    headers = [
        ("X-Policy-Decision", decision.effective),
        ("X-Policy-Rule", decision.rule_id),
        ("X-Visitor-Class", decision.visitor_class),
    ]
    if observe:
        headers.append(("X-Policy-Observed-Action", decision.action))
    if decision.signature_code is not None:
        # On every answer, allowed ones too: a signer learns what became of its signature.
        headers.append(("X-Signature-Status", decision.signature_code))
    headers.extend(decision.extra_headers)
    return headers


class GateMiddleware:
    """Decide, answer refusals, annotate allowed requests, log every decision."""

    def __init__(self, app: ASGIApp, *, runtime: GateRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime = self.runtime
        runtime.maybe_refresh()
        raw_headers = scope.get("headers", ())
        started = time.perf_counter()
        facts = build_facts(scope, runtime)
        door = door_of(facts.path)
        mcp: McpCall | None = None
        if door == "mcp" and facts.method == "POST" and facts.route_class == "protocol-checkout":
            # One path for every MCP call: the JSON-RPC message says whether it reads the
            # catalog or buys (RequestBounds has already read and bounded the body).
            body, receive = await _read_and_replay(receive)
            mcp = classify_mcp(body)
            facts = dataclasses.replace(facts, route_class=mcp.route_class)
        judge = runtime.judge
        signed = any(name in (b"signature", b"signature-input") for name, _ in raw_headers)
        if signed or judge.reads_shared_signals(facts):
            # Checking a signature claims its nonce in the shared store, and a session this
            # worker has not seen lately is read from it: keep those round-trips off the loop.
            decision = await anyio.to_thread.run_sync(judge.decide, facts)
        else:
            decision = judge.decide(facts)
        seconds = time.perf_counter() - started
        overrides = [
            n for n, _ in raw_headers if n.decode("latin-1").lower() in METHOD_OVERRIDE_HEADERS
        ]
        if overrides:
            # Decided on the method on the wire; nothing behind the gate may honour an override.
            scope["headers"] = [
                (n, v)
                for n, v in raw_headers
                if n.decode("latin-1").lower() not in METHOD_OVERRIDE_HEADERS
            ]
            decision.signals["method_override_ignored"] = sorted(
                {n.decode("latin-1").lower() for n in overrides}
            )
        if mcp is not None and mcp.tools:
            decision.signals["mcp"] = {"tools": list(mcp.tools)}
        state = scope.setdefault("state", {})
        state["door"] = door
        state["visitor_class"] = decision.visitor_class
        state["policy_decision"] = decision.action
        state["policy_rule"] = decision.rule_id
        state["bot_score"] = decision.bot_score
        state["gate_facts"] = facts
        state["gate_decision"] = decision
        observe = runtime.compiled.observe
        headers = gate_headers(decision, observe)
        runtime.metrics.observe(
            decision.visitor_class,
            decision.action,
            decision.route_class,
            decision.effective == decision.action,
            seconds,
        )
        status_holder: dict[str, int] = {}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = int(message["status"])
                mutable = MutableHeaders(scope=message)
                for name, value in headers:
                    mutable.append(name, value)
            await send(message)

        try:
            protocol = (
                protocol_refusal(door, decision, facts.path, mcp.request_id if mcp else None)
                if decision.refused
                else None
            )
            challenge = (
                None if protocol is not None else self._challenge_page(scope, facts, decision)
            )
            if protocol is not None:
                await protocol(scope, receive, send_with_headers)
            elif challenge is not None:
                await challenge(scope, receive, send_with_headers)
            elif decision.refused:
                signature = decision.signature_problem
                response = problem_response(
                    Request(scope),
                    decision.status,
                    decision.title,
                    decision.detail,
                    decision.type_slug if decision.type_slug else f"policy-{decision.effective}",
                    None,
                    rule=decision.rule_id,
                    visitor_class=decision.visitor_class,
                    decision=decision.effective,
                    route_class=decision.route_class,
                    policy=decision.policy_name,
                    **({"signature": signature} if signature is not None else {}),
                )
                await response(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            self._log(facts, decision, seconds, status_holder.get("status"), state, door)
        renewed = state.get("session_cookie")
        if (
            facts.session_id
            and isinstance(renewed, str)
            and renewed
            and renewed != facts.session_id
        ):
            # The store replaced the session cookie (a log-in): the visitor is the same person,
            # so what it did before counts for the new session too. Never from a visitor without
            # a cookie: that key is everyone behind one address with one browser (a classroom).
            await anyio.to_thread.run_sync(self._carry, facts, renewed)

    def _carry(self, facts: RequestFacts, renewed: str) -> None:
        tracker = self.runtime.judge.tracker
        if tracker is not None:
            new_key = session_key(renewed, facts.client_ip, facts.user_agent)
            tracker.carry(facts_session_key(facts), new_key)

    def _challenge_page(self, scope: Scope, facts: RequestFacts, decision: Verdict) -> Any:
        """The challenge page for a browser refused with `challenge`, else None.

        Only for visitors scored by behaviour (suspected-agent): a passed challenge changes
        their score, while a declared or unsigned agent would be challenged again and again."""
        tracker = self.runtime.judge.tracker
        if decision.effective != "challenge" or decision.visitor_class != "suspected-agent":
            return None
        if tracker is None:
            return None
        if decision.problem_status is not None or not wants_html(Request(scope)):
            return None
        token = tracker.challenge_token(facts, self.runtime.judge.clock().timestamp())
        return challenge_page(
            title=decision.title,
            detail=decision.detail,
            token=token,
            method=facts.method,
        )

    def _log(
        self,
        facts: RequestFacts,
        decision: Verdict,
        seconds: float,
        status: int | None,
        state: dict[str, Any],
        door: str,
    ) -> None:
        log = self.runtime.decision_log
        if log is None:
            return
        account_id = state.get("account_id")
        row = new_row(
            at=self.runtime.judge.clock().astimezone(UTC),
            method=facts.method[:16],
            path=facts.path,
            raw_path=facts.raw_path,
            route_class=decision.route_class,
            door=door,
            visitor_class=decision.visitor_class,
            rule=decision.rule_id[:64],
            action=decision.action,
            enforced=decision.effective == decision.action,
            status=status,
            policy=decision.policy_name[:64],
            policy_version=decision.policy_version,
            bot_score=decision.bot_score,
            signals=decision.signals,
            agent=decision.agent,
            session=session_hash(facts.session_id),
            account_id=account_id if isinstance(account_id, int) else None,
            team=state.get("team") if isinstance(state.get("team"), str) else None,
            client_ip=(facts.client_ip or "")[:64] or None,
            user_agent=facts.user_agent,
            latency_us=round(seconds * 1_000_000),
        )
        cookie, bearer = facts.session_id, None
        auth = facts.header("authorization")
        if auth is not None:
            # The app reads only this header then, never the cookie: an unknown token is a 401,
            # not the cookie's owner.
            cookie = None
            if auth[:7].lower() == "bearer ":
                bearer = auth[7:].strip() or None
        log.record(row, cookie=cookie, bearer=bearer)


async def _read_and_replay(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a `receive` that hands it on unchanged."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replayed
