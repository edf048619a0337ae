"""The active policy as any visitor may read it: the rules an agent must follow, nothing more.

Left out on purpose: partner keys (they name the store's partners and which keys it trusts), the
bot-score thresholds (publishing them tells a scraper how far it may push before it is flagged),
`on_error` and the policy's YAML source (operational detail for the store's owner).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from marketplace.gate.policy.compiled import CompiledPolicy, format_price
from marketplace.gate.policy.tables import decision_table


class PublicRule(BaseModel):
    """One rule: which visitors, on which routes, with which methods, get what, and why."""

    id: str
    visitors: list[str] = Field(description="Visitor classes, or `*` for every one.")
    routes: list[str] = Field(description="Route classes, or `*` for every one.")
    methods: list[str] = Field(description="HTTP methods, or `*`; HEAD counts as GET.")
    action: str = Field(description="allow, block, challenge, throttle or pay.")
    reason: str
    rate_limited: bool = Field(
        description="Whether the visitor class's rate limit applies when this rule lets it in."
    )


class PublicRateLimit(BaseModel):
    """At most `requests` requests per `per_seconds` for one visitor of a class."""

    requests: int
    per_seconds: int


class PublicPrice(BaseModel):
    """What one page costs under a `pay` rule."""

    amount: str
    currency: str
    header: str = Field(description="The same price as the `crawler-price` header writes it.")


class PublicSignatures(BaseModel):
    """Bounds a Web Bot Auth signature must keep to."""

    max_clock_skew_s: int
    max_validity_s: int


class PublicEscalation(BaseModel):
    """After how many agent-driven sessions an account is warned, then suspended."""

    warn_after: int
    suspend_after: int


class PublicAgent(BaseModel):
    """An agent this policy names on top of the shipped registry, and the class it is given."""

    name: str
    operator: str
    category: str = Field(description="How the gate classes a visitor whose user agent names it.")
    aliases: list[str]


class PublicPolicy(BaseModel):
    """The active policy's rules, limits and prices, readable by every visitor."""

    name: str
    description: str
    mode: str = Field(description="`enforce`, or `observe`: every decision logged, none enforced.")
    version: int = Field(description="Changes whenever the store switches its policy.")
    rules: list[PublicRule] = Field(description="Tried in order; the first match decides.")
    default: PublicRule = Field(description="Decides when no rule matches.")
    rate_limits: dict[str, PublicRateLimit] = Field(description="Per visitor class.")
    crawl_price: PublicPrice | None
    routes: dict[str, list[str]] = Field(
        description="Route class -> path patterns (`*` is one segment; the longest match wins)."
    )
    table: dict[str, dict[str, str]] = Field(
        description="Visitor class -> route class -> what a GET gets (other methods noted)."
    )
    agents: list[PublicAgent] = Field(
        description="Agents the policy declares beyond the shipped registry (its `agents:` list)."
    )
    signatures: PublicSignatures
    escalation: PublicEscalation
    links: dict[str, str] = Field(description="Where to read more.")


def public_policy(compiled: CompiledPolicy, links: dict[str, str]) -> PublicPolicy:
    """The public view of a compiled policy."""
    policy = compiled.policy
    rules = [
        PublicRule(
            id=rule.id,
            visitors=list(rule.visitors),
            routes=list(rule.routes),
            methods=list(rule.methods),
            action=rule.action,
            reason=rule.reason,
            rate_limited=rule.rate_limited,
        )
        for rule in policy.rules
    ]
    default = policy.default
    price = None
    if compiled.price is not None:
        amount, currency = compiled.price
        header = format_price(amount, currency)
        price = PublicPrice(amount=header.split(" ", 1)[1], currency=currency, header=header)
    return PublicPolicy(
        name=policy.name,
        description=policy.description,
        mode=policy.mode,
        version=compiled.version,
        rules=rules,
        default=PublicRule(
            id=default.id,
            visitors=["*"],
            routes=["*"],
            methods=["*"],
            action=default.action,
            reason=default.reason,
            rate_limited=default.rate_limited,
        ),
        rate_limits={
            visitor: PublicRateLimit(requests=limit.requests, per_seconds=limit.per_seconds)
            for visitor, limit in compiled.rate_limits.items()
        },
        crawl_price=price,
        routes={str(route): list(patterns) for route, patterns in policy.routes.items()},
        table=decision_table(compiled),
        agents=[
            PublicAgent(
                name=a.name, operator=a.operator, category=a.category, aliases=list(a.aliases)
            )
            for a in policy.agents
        ],
        signatures=PublicSignatures(
            max_clock_skew_s=policy.signatures.max_clock_skew_s,
            max_validity_s=policy.signatures.max_validity_s,
        ),
        escalation=PublicEscalation(
            warn_after=policy.escalation.warn_after,
            suspend_after=policy.escalation.suspend_after,
        ),
        links=links,
    )
