"""The gate's HTTP surface: robots.txt, /metrics, the active policy (public and admin views) and
the decision log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import column, func, or_, select, table

from marketplace.core.admin import AdminDep
from marketplace.core.deps import NowDep, SessionDep
from marketplace.core.errors import Unprocessable
from marketplace.core.ids import MAX_ID
from marketplace.gate import agentlog
from marketplace.gate.deps import GateRuntimeDep, SignedKeyDep
from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.deps import IdentityDep
from marketplace.gate.identity.explain import (
    DescribedRequest,
    SignatureExplanation,
    described_facts,
)
from marketplace.gate.identity.keys import DIRECTORY_PATH
from marketplace.gate.judge import Verdict
from marketplace.gate.models import GateDecision
from marketplace.gate.policy.model import PRESET_NAMES, PolicyError
from marketplace.gate.policy.public import PublicPolicy, public_policy
from marketplace.gate.policy.robots import PUBLIC_RULES_PATH, render_robots
from marketplace.gate.policy.tables import decision_table
from marketplace.gate.runtime import GateRuntime

router = APIRouter()

# The accounts table seen from the gate: only the columns a team filter needs. The gate imports no
# other domain, so it names the table rather than the accounts model.
_ACCOUNTS = table("accounts", column("id"), column("team"))


@router.get(
    "/robots.txt",
    tags=["gate"],
    summary="robots.txt generated from the active policy (RFC 9309)",
    response_class=PlainTextResponse,
)
def robots_txt(runtime: GateRuntimeDep) -> PlainTextResponse:
    text = render_robots(runtime.compiled)
    return PlainTextResponse(text, headers={"Cache-Control": "public, max-age=60"})


@router.get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics: gate decisions and the gate's latency",
    response_class=Response,
)
def metrics(runtime: GateRuntimeDep) -> Response:
    return Response(runtime.metrics.render(), media_type=runtime.metrics.content_type)


# --- The active policy --------------------------------------------------------------------


class PolicyOut(BaseModel):
    name: str
    description: str
    mode: str
    version: int
    source: str
    presets: list[str]
    table: dict[str, dict[str, str]] = Field(
        description="visitor class -> route class -> action (GET), as docs/policy.md shows it"
    )
    yaml: str


class PolicySwitch(BaseModel):
    """Either a preset name or the YAML text of a policy."""

    model_config = ConfigDict(extra="forbid")

    preset: Literal["closed", "open", "pay-per-crawl", "partner-only", "observe"] | None = None
    yaml: str | None = Field(default=None, max_length=1_000_000)

    @model_validator(mode="after")
    def _one(self) -> PolicySwitch:
        if (self.preset is None) == (self.yaml is None):
            raise ValueError("send exactly one of 'preset' (a preset name) or 'yaml' (policy text)")
        return self


def _policy_out(runtime: GateRuntime) -> PolicyOut:
    compiled = runtime.compiled
    policy = compiled.policy
    return PolicyOut(
        name=policy.name,
        description=policy.description,
        mode=policy.mode,
        version=compiled.version,
        source=runtime.active_source,
        presets=list(PRESET_NAMES),
        table=decision_table(compiled),
        yaml=runtime.active_text,
    )


_PUBLIC_LINKS = {
    "robots": "/robots.txt",
    "key_directory": DIRECTORY_PATH,
    "problem_types": "/problems",
    "openapi": "/openapi.json",
}


@router.get(
    PUBLIC_RULES_PATH,
    tags=["gate"],
    summary="The active policy's rules, rate limits and crawl prices, for every visitor",
    description="What the gate does, as agents should read it before they crawl or act: the "
    "rules with their reasons (first match wins), the rate limit of each visitor class, the "
    "crawl price, the route classes and the resulting decision table. Every visitor may read it "
    "under every preset (route class `robots`). Partner keys, bot-score thresholds and the "
    "policy's source stay in the admin view, `GET /api/v1/policy`.",
    response_model=PublicPolicy,
)
def get_public_policy(runtime: GateRuntimeDep, response: Response) -> PublicPolicy:
    response.headers["Cache-Control"] = "public, max-age=60"
    return public_policy(runtime.compiled, _PUBLIC_LINKS)


@router.get(
    "/api/v1/policy",
    tags=["admin"],
    summary="The active policy, its decision table and its YAML",
    response_model=PolicyOut,
)
def get_policy(runtime: GateRuntimeDep, _admin: AdminDep) -> PolicyOut:
    return _policy_out(runtime)


@router.put(
    "/api/v1/policy",
    tags=["admin"],
    summary="Switch the active policy in every worker (a preset or YAML text)",
    response_model=PolicyOut,
    responses={422: {"description": "The policy is invalid; the active policy is unchanged."}},
)
def put_policy(body: PolicySwitch, runtime: GateRuntimeDep, _admin: AdminDep) -> PolicyOut:
    try:
        runtime.switch(preset=body.preset, yaml_text=body.yaml)
    except PolicyError as exc:
        first = exc.first
        where = f" (line {first.line})" if first.line else ""
        raise Unprocessable(
            f"The policy is invalid and was not applied: field '{first.field}'{where}: "
            f"{first.message}. The active policy is unchanged.",
            type_slug="invalid-policy",
            errors=[{"field": p.field, "line": p.line, "message": p.message} for p in exc.problems],
        ) from exc
    return _policy_out(runtime)


# --- The signature debugger ---------------------------------------------------------------

EXPLAIN_PATH = "/api/v1/signature/explain"


@router.post(
    EXPLAIN_PATH,
    tags=["gate"],
    summary="Explain a Web Bot Auth signature: the signature base, the key, the verdict",
    description="Send the request your agent sent as `{method, url, headers}`, or send nothing "
    "and sign this request itself: the answer is what the gate makes of the signature under "
    "the active policy, its status (as in `X-Signature-Status`) and reason, the covered "
    "components, the key it resolved (or why not), and the RFC 9421 signature base the "
    "verifier rebuilt, which your signer must have signed byte for byte. Explaining is not a "
    "use: a described request's nonce is not claimed, so it can still be sent once. Open to "
    "every visitor under every preset (route class `robots`), with the public routes' rate "
    "limits.",
    response_model=SignatureExplanation,
)
def explain_signature(
    request: Request,
    runtime: GateRuntimeDep,
    identity: IdentityDep,
    now: NowDep,
    described: Annotated[DescribedRequest | None, Body()] = None,
) -> SignatureExplanation:
    policy = runtime.compiled.policy
    if described is not None:
        facts = described_facts(described)
        return identity.explain(facts, explained="described", policy=policy, now=now)
    own: RequestFacts = request.state.gate_facts
    answer = identity.explain(own, explained="this-request", policy=policy, now=now)
    decision: Verdict = request.state.gate_decision
    answer.gate_status = decision.signature_code
    if answer.verified:
        answer.nonce = (
            "The gate claimed this request's nonce as it passed, as for any signed request; "
            "the explanation itself claimed nothing."
        )
    return answer


# --- The decision log ---------------------------------------------------------------------


class DecisionOut(BaseModel):
    id: int
    at: datetime
    method: str
    path: str
    route_class: str
    door: str = Field(description="The door: `web`, `api`, `ucp`, `acp` or `mcp`.")
    visitor_class: str
    rule: str
    action: str
    enforced: bool
    status: int | None
    policy: str
    bot_score: int | None
    signals: dict[str, Any]
    agent: str | None
    session: str | None
    account_id: int | None
    team: str | None
    user_agent: str
    latency_us: int


class DecisionPage(BaseModel):
    items: list[DecisionOut]
    total: int
    page: int
    page_size: int


@router.get(
    "/api/v1/decisions",
    tags=["admin"],
    summary="The gate's decision log, newest first, with filters",
    response_model=DecisionPage,
)
def list_decisions(
    session: SessionDep,
    runtime: GateRuntimeDep,
    _admin: AdminDep,
    visitor_class: Annotated[str | None, Query(max_length=32)] = None,
    action: Annotated[str | None, Query(max_length=16)] = None,
    route_class: Annotated[str | None, Query(max_length=32)] = None,
    door: Annotated[str | None, Query(max_length=8, description="web, api, ucp, acp, mcp")] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    account_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    team: Annotated[str | None, Query(max_length=64)] = None,
    agent: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601 time, inclusive")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
) -> DecisionPage:
    if runtime.decision_log is not None:
        runtime.decision_log.flush()  # include what is still queued: the admin sees everything
    conditions = []
    for field, value in (
        (GateDecision.visitor_class, visitor_class),
        (GateDecision.action, action),
        (GateDecision.route_class, route_class),
        (GateDecision.door, door),
        (GateDecision.rule, rule),
        (GateDecision.account_id, account_id),
        (GateDecision.agent, agent),
    ):
        if value is not None:
            conditions.append(field == value)
    if team is not None:
        members = select(_ACCOUNTS.c.id).where(_ACCOUNTS.c.team == team)
        conditions.append(or_(GateDecision.team == team, GateDecision.account_id.in_(members)))
    if since is not None:
        if since.tzinfo is None:
            raise Unprocessable(
                "Field 'since' needs a timezone, e.g. 2026-06-01T12:00:00Z.",
                type_slug="invalid-request",
            )
        conditions.append(GateDecision.at >= since)
    total = session.scalar(select(func.count()).select_from(GateDecision).where(*conditions)) or 0
    rows = session.scalars(
        select(GateDecision)
        .where(*conditions)
        .order_by(GateDecision.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    items = [DecisionOut.model_validate(row, from_attributes=True) for row in rows]
    return DecisionPage(items=items, total=total, page=page, page_size=page_size)


# --- An agent's own decisions ----------------------------------------------------------------


class AgentDecisionOut(BaseModel):
    at: datetime
    method: str
    path: str = Field(description="The normalised path the policy matched.")
    door: str = Field(description="The door: `web`, `api`, `ucp`, `acp` or `mcp`.")
    visitor_class: str
    rule: str
    reason: str | None = Field(description="The rule's reason under the active policy.")
    action: str = Field(description="What the policy decided.")
    enforced: bool = Field(description="False when observe mode let the request through.")
    status: int | None = Field(description="The HTTP status answered.")
    signature_status: str | None = Field(
        description="How the signature was read: `verified`, `unknown-key`, `expired`, "
        "`not-yet-valid`, `replayed`, `bad-signature`, `malformed`, `missing-component`, "
        "`wrong-tag`, `too-long`."
    )
    signature_reason: str | None = Field(description="Why a failed signature failed.")


class AgentDecisionPage(BaseModel):
    items: list[AgentDecisionOut]
    total: int
    page: int
    page_size: int


@router.get(
    "/api/v1/agents/me/decisions",
    tags=["identity"],
    summary="Your agent's own decisions: the gate's log for your signing key",
    description="The gate's decisions on requests signed with the key this request is signed "
    "with, newest first, including those whose signature failed (a clock out of step, a nonce "
    "sent twice): time, method, path, rule and reason, action and the signature status. Answers "
    "only a request whose Web Bot Auth signature verified with a registered key (401 "
    "otherwise); every preset lets signed agents reach it (route class `other`).",
    response_model=AgentDecisionPage,
    responses={401: {"description": "The request is not signed with a registered key."}},
)
def list_my_decisions(
    session: SessionDep,
    runtime: GateRuntimeDep,
    keyid: SignedKeyDep,
    since: Annotated[datetime | None, Query(description="ISO 8601 time, inclusive")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=agentlog.MAX_PAGE_SIZE)] = 50,
) -> AgentDecisionPage:
    if since is not None and since.tzinfo is None:
        raise Unprocessable(
            "Field 'since' needs a timezone, e.g. 2026-06-01T12:00:00Z.",
            type_slug="invalid-request",
        )
    if runtime.decision_log is not None:
        runtime.decision_log.flush()  # the agent's latest requests are still queued
    page_body = agentlog.decisions_of_key(
        session,
        keyid,
        reasons=runtime.rule_reasons(),
        page=page,
        page_size=page_size,
        since=since,
    )
    return AgentDecisionPage.model_validate(page_body)
