"""The decision: who is this visitor, which rule applies, and what the visitor is told.

Identification runs in a fixed order, each step a recorded signal: a Web Bot Auth signature (a
proof), the declared user agent against the registry (a claim), then behaviour for visitors that
look like browsers (a bot score). The compiled policy then answers in one table lookup; rate limits
and crawl prices refine `allow` and `pay`. Nothing here touches HTTP, so it is unit-testable and
benchmarkable on its own.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from marketplace.core.clock import Clock, system_clock
from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.httpsig import ALGORITHM, DEFAULT_COVERED, SIGNATURE_LABEL
from marketplace.gate.identity.keys import PLATFORM_OWNER
from marketplace.gate.identity.profiles import accepted_tags
from marketplace.gate.normalize import normalize_method
from marketplace.gate.policy.compiled import AnyRule, CompiledPolicy, format_price
from marketplace.gate.policy.known_agents import (
    KnownAgents,
    looks_like_browser,
)
from marketplace.gate.policy.model import VISITOR_CLASSES, Policy, RateLimit

log = logging.getLogger(__name__)

UNIDENTIFIED = "unidentified"
# The rule that answers 400 to signature headers that do not parse (not a rule of any policy).
UNPARSABLE_SIGNATURE_RULE = "signature-unparsable"
STATUS_OF_ACTION = {"allow": 200, "block": 403, "challenge": 403, "throttle": 429, "pay": 402}
TITLE_OF_ACTION = {
    "block": "Refused by the store's policy",
    "challenge": "Prove you are allowed in",
    "throttle": "Too many requests",
    "pay": "Payment required to crawl",
}
SIGN_HOW = (
    "sign your requests with Web Bot Auth (RFC 9421 HTTP Message Signatures, Ed25519, "
    'tag="web-bot-auth", covering @authority) using a key registered through POST /api/v1/partners'
)


def accept_signature(policy: Policy, *, pay: bool = False) -> str:
    """`Accept-Signature` (RFC 9421 section 5.1): the signature that would be accepted here."""
    components = DEFAULT_COVERED + (("crawler-exact-price",) if pay else ())
    covered = " ".join(f'"{name}"' for name in components)
    tag = accepted_tags(tuple(policy.signatures.profiles))[0]
    return f'{SIGNATURE_LABEL}=({covered});created;expires;nonce;alg="{ALGORITHM}";tag="{tag}"'


class IdentityLike(Protocol):
    """What the judge needs from the identity layer (marketplace.gate.identity.layer.Identity)."""

    def verify(self, facts: RequestFacts, *, policy: Any, now: datetime | float) -> Any: ...


@dataclass(frozen=True)
class Verdict:
    """The gate's answer for one request, with everything the log and the headers need."""

    action: str  # what the policy decided
    effective: str  # what the response does: `allow` for everything under observe mode
    rule_id: str
    reason: str
    detail: str  # the sentence a refused visitor can act on
    visitor_class: str
    route_class: str
    method: str
    signals: dict[str, Any] = field(default_factory=dict)
    bot_score: int | None = None
    agent: str | None = None  # the declared name or the partner that signed
    extra_headers: tuple[tuple[str, str], ...] = ()
    policy_name: str = ""
    policy_version: int = 0
    # The Web Bot Auth status of a request that carried a signature (X-Signature-Status).
    signature_code: str | None = None
    # Set when the answer is not the policy's (a signature header that does not parse: 400).
    problem_status: int | None = None
    type_slug: str | None = None
    problem_title: str | None = None

    @property
    def status(self) -> int:
        if self.problem_status is not None and self.refused:
            return self.problem_status
        return STATUS_OF_ACTION[self.effective]

    @property
    def signature_problem(self) -> dict[str, Any] | None:
        """The problem+json member `signature`: what the gate made of the request's signature."""
        seen = self.signals.get("signature")
        if not isinstance(seen, dict):
            return None
        return {
            "status": seen.get("code"),
            "keyid": seen.get("keyid"),
            "reason": seen.get("reason"),
            "covered": list(seen.get("covered") or ()),
        }

    @property
    def refused(self) -> bool:
        return self.effective != "allow"

    @property
    def title(self) -> str:
        return self.problem_title or TITLE_OF_ACTION.get(self.effective, "Refused")


def parse_price(value: str | None) -> tuple[Decimal, str | None] | None:
    """`USD 0.01` or `0.01` -> (amount, currency or None); None when absent or unreadable."""
    if not value:
        return None
    parts = value.strip().split()
    try:
        if len(parts) == 2:
            return Decimal(parts[1]), parts[0].upper()
        if len(parts) == 1:
            return Decimal(parts[0]), None
    except InvalidOperation:
        return None
    return None


def rate_limit_headers(
    visitor: str, limit: RateLimit, count: int, now: float
) -> list[tuple[str, str]]:
    """`RateLimit-Policy` and `RateLimit` (IETF draft-ietf-httpapi-ratelimit-headers).

    The quota is named after the visitor class; `t` counts down to the end of the fixed window
    the shared state counts in (windows start at multiples of `per_seconds` since the epoch).
    """
    window = limit.per_seconds
    reset = max(1, math.ceil((math.floor(now / window) + 1) * window - now))
    remaining = max(0, limit.requests - count)
    name = f'"{visitor}"'
    return [
        ("RateLimit-Policy", f"{name};q={limit.requests};w={window}"),
        ("RateLimit", f"{name};r={remaining};t={reset}"),
    ]


class Judge:
    """Decides requests against the active compiled policy; swap `compiled` to switch policy."""

    def __init__(
        self,
        compiled: CompiledPolicy,
        *,
        known_agents: KnownAgents | None = None,
        identity: IdentityLike | None = None,
        tracker: Any = None,
        state: Any = None,
        escalator: Any = None,
        clock: Clock = system_clock,
    ) -> None:
        self.compiled = compiled
        # None: the active policy's registry (the shipped one plus the policy's own agents).
        self._known_agents = known_agents
        self.identity = identity
        self.tracker = tracker
        self.state = state
        self.escalator = escalator
        self.clock = clock

    @property
    def known_agents(self) -> KnownAgents:
        return self._known_agents if self._known_agents is not None else self.compiled.known_agents

    def reads_shared_signals(self, facts: RequestFacts) -> bool:
        """True when deciding `facts` may wait on the shared store for its session's signals
        (a browser-like visitor this worker has not seen lately): decide it off the event loop."""
        user_agent = facts.user_agent
        return (
            self.tracker is not None
            and bool(user_agent)
            and looks_like_browser(user_agent)
            and self.tracker.signals_stale(facts)
        )

    # -- identification ---------------------------------------------------------------------

    def _identify(
        self, facts: RequestFacts, policy: Policy, now: datetime, signals: dict[str, Any]
    ) -> tuple[str, str | None, Any, Any]:
        """(visitor class, agent name, signature check or None, bot score or None)."""
        check: Any = None
        if self.identity is not None and (
            facts.header("signature") is not None or facts.header("signature-input") is not None
        ):
            check = self.identity.verify(facts, policy=policy, now=now)
            signals["signature"] = {
                "status": check.status,
                "code": check.code,
                "keyid": check.keyid,
                "owner": check.owner,
                "agent": check.agent,
                "reason": check.reason or None,
                "covered": list(check.covered),
                "registered": check.registered,
                "attributable": check.attributable,
            }
            if check.header is not None:
                signals["signature"]["header"] = check.header
            if not check.attributable:
                # Unverifiable (an unknown key, headers that do not parse, no accepted tag): it
                # says nothing about the sender, so the request goes on exactly as if unsigned
                # (the Web Bot Auth draft's "unverified" outcome). Only a failure of a registered
                # key tells that a known agent is broken, and that is refused below.
                signals["signature"]["ignored"] = True
                check = None
        user_agent = facts.user_agent
        known = self.known_agents.match(user_agent) if user_agent else None
        if known is not None:
            signals["declared"] = {
                "name": known.name,
                "operator": known.operator,
                "category": known.category,
            }
        if check is not None and check.status == "valid":
            visitor = "first-party-agent" if check.owner == PLATFORM_OWNER else "verified-agent"
            return visitor, check.owner, check, None
        if known is not None:
            # A name is a claim: without a valid signature it is recorded as unverified.
            signals["claim"] = "unverified"
            return known.visitor_class, known.name, check, None
        if not user_agent:
            signals["user_agent"] = "missing"
            return "automation", None, check, None
        if not looks_like_browser(user_agent):
            signals["user_agent"] = "not a browser"
            return "automation", None, check, None
        score = None
        if self.tracker is not None:
            score = self.tracker.observe_and_score(
                facts, now=now.timestamp(), bands=policy.bot_score, browser_ua=True
            )
            signals["bot_score"] = {
                "score": score.score,
                "band": score.band,
                "reasons": list(score.reasons),
            }
        if check is not None and check.status == "invalid":
            # Browsers do not sign; a registered key's broken signature behind a browser user
            # agent is a tool.
            signals["suspected"] = "invalid signature with a browser user agent"
            return "suspected-agent", None, check, score
        if score is not None and score.score < policy.bot_score.likely_automated_below:
            return "suspected-agent", None, check, score
        return "human", None, check, score

    # -- the decision -------------------------------------------------------------------------

    def decide(self, facts: RequestFacts) -> Verdict:
        """The decision for one request; never raises (identification errors use `on_error`)."""
        compiled = self.compiled
        policy = compiled.policy
        now = self.clock()
        signals: dict[str, Any] = {}
        method = normalize_method(facts.method)
        try:
            visitor, agent, check, score = self._identify(facts, policy, now, signals)
        except Exception as exc:
            log.exception("gate identification failed on %s %s", facts.method, facts.path)
            return self._on_error(facts, compiled, method, exc)
        seen = signals.get("signature")
        code = seen["code"] if seen is not None else None
        if seen is not None and "header" in seen and facts.header("signature-input") is not None:
            # RFC 9421 headers that do not parse are the sender's bug, told as such; a lone
            # `Signature` of some other scheme stays on the ordinary path.
            return self._unparsable(facts, compiled, method, visitor, agent, signals, seen)
        rule = compiled.rule_for(visitor, facts.route_class, method)
        action: str = rule.action
        rule_id, reason = rule.id, rule.reason
        extra: list[tuple[str, str]] = []
        if action in ("allow", "pay") and rule.rate_limited and visitor in compiled.rate_limits:
            limit = compiled.rate_limits[visitor]
            count = self._hit(visitor, agent, check, facts, limit.per_seconds)
            if count is not None:
                extra.extend(rate_limit_headers(visitor, limit, count, now.timestamp()))
            if count is not None and count > limit.requests:
                action = "throttle"
                rule_id = f"rate-limit-{visitor}"
                reason = (
                    f"Visitors classed {visitor} may send at most {limit.requests} requests "
                    f"per {limit.per_seconds} s."
                )
                signals["rate"] = {"count": count, "limit": limit.requests}
                extra.append(("Retry-After", str(limit.per_seconds)))
        elif action == "throttle":
            extra.append(("Retry-After", str(rule.retry_after_s)))
        detail = ""
        if action == "pay":
            action, detail = self._pay(facts, compiled, check, extra, signals)
        if action != "allow" and not detail:
            key = (action, visitor, facts.route_class, method, rule_id)
            detail = compiled.details.get(key, "")
            if not detail:
                # Depends only on the policy and the key, so it is worked out once per policy.
                detail = self._detail(action, visitor, facts.route_class, method, rule, reason)
                compiled.details[key] = detail
        route = facts.route_class
        if action != "allow" and self._signature_would_admit(visitor, route, method, action):
            extra.append(("Accept-Signature", accept_signature(policy, pay=action == "pay")))
        effective = "allow" if compiled.observe else action
        verdict = Verdict(
            action=action,
            effective=effective,
            rule_id=rule_id,
            reason=reason,
            detail=detail,
            visitor_class=visitor,
            route_class=facts.route_class,
            method=method,
            signals=signals,
            bot_score=score.score if score is not None else None,
            agent=agent,
            extra_headers=tuple(extra),
            policy_name=compiled.name,
            policy_version=compiled.version,
            signature_code=code,
        )
        if visitor in ("suspected-agent", "automation") and not compiled.observe:
            # Observe mode refuses nothing, and a warning or a suspension would be a refusal.
            self._escalate(facts, verdict, score, policy, now)
        return verdict

    def _signature_would_admit(self, visitor: str, route: str, method: str, action: str) -> bool:
        """Whether a valid signature from a registered key would turn this refusal around."""
        if action == "pay":
            return True  # only signed requests can pay
        if action == "throttle" or visitor in ("verified-agent", "first-party-agent"):
            return False
        return self.compiled.rule_for("verified-agent", route, method).action in ("allow", "pay")

    def _unparsable(
        self,
        facts: RequestFacts,
        compiled: CompiledPolicy,
        method: str,
        visitor: str,
        agent: str | None,
        signals: dict[str, Any],
        seen: dict[str, Any],
    ) -> Verdict:
        header = seen["header"]
        return Verdict(
            action="block",
            effective="allow" if compiled.observe else "block",
            rule_id=UNPARSABLE_SIGNATURE_RULE,
            reason=f"The {header} header does not parse.",
            detail=f"{seen['reason']} Fix the {header} header and send the request again; "
            "POST /api/v1/signature/explain shows what the gate reads.",
            visitor_class=visitor,
            route_class=facts.route_class,
            method=method,
            signals=signals,
            agent=agent,
            policy_name=compiled.name,
            policy_version=compiled.version,
            signature_code=seen["code"],
            problem_status=400,
            type_slug="signature-unparsable",
            problem_title=f"The {header} header does not parse",
        )

    def _hit(
        self, visitor: str, agent: str | None, check: Any, facts: RequestFacts, window_s: int
    ) -> int | None:
        if self.state is None:
            return None
        who = (check.keyid if check is not None and check.keyid else None) or agent or ""
        count: int = self.state.hit(f"rl:{visitor}:{who}:{facts.client_ip or '-'}", window_s)
        return count

    def _pay(
        self,
        facts: RequestFacts,
        compiled: CompiledPolicy,
        check: Any,
        extra: list[tuple[str, str]],
        signals: dict[str, Any],
    ) -> tuple[str, str]:
        price = compiled.price
        assert price is not None  # the policy model requires crawl_price for pay rules
        amount, currency = price
        quoted = format_price(amount, currency)
        exact = parse_price(facts.header("crawler-exact-price"))
        most = parse_price(facts.header("crawler-max-price"))
        offered = exact or most
        signed = check is not None and check.status == "valid"
        # A price header counts only when the signature covers it: otherwise anyone holding an
        # intercepted signed request could add a price to it and crawl at the signer's expense.
        uncovered = [
            name
            for name in ("crawler-exact-price", "crawler-max-price")
            if facts.header(name) is not None and not (signed and check.covers(name))
        ]
        if offered is not None and signed and uncovered:
            extra.append(("crawler-price", quoted))
            return "pay", (
                f"This page costs {quoted}, and the price you accept must be signed: add "
                f"'{uncovered[0]}' to the covered components in Signature-Input (next to "
                f"@authority, @method and @path) and sign again."
            )
        if offered is not None and signed:
            offer, offer_currency = offered
            same_currency = offer_currency in (None, currency)
            covers = offer == amount if exact is not None else offer >= amount
            if same_currency and covers:
                extra.append(("crawler-charged", quoted))
                signals["charged"] = quoted
                return "allow", ""
            extra.append(("crawler-price", quoted))
            return "pay", (
                f"This page costs {quoted}; the price you accepted does not cover it. Send "
                f"'crawler-exact-price: {quoted}' or a 'crawler-max-price' of at least {quoted}."
            )
        extra.append(("crawler-price", quoted))
        if offered is not None:
            return "pay", (
                f"This page costs {quoted}, and only signed requests can pay: {SIGN_HOW}, and "
                f"keep 'crawler-exact-price: {quoted}' in the signed request."
            )
        return "pay", (
            f"Crawling this page costs {quoted} per request. To pay, {SIGN_HOW}, and send "
            f"'crawler-exact-price: {quoted}' (or a 'crawler-max-price' of at least {quoted})."
        )

    def _detail(
        self, action: str, visitor: str, route: str, method: str, rule: AnyRule, reason: str
    ) -> str:
        """The rule's reason plus what would let the visitor in, as the policy actually says."""
        if action == "throttle":
            return f"{reason} Wait for the time in Retry-After, then send requests more slowly."
        compiled = self.compiled
        admitted = [
            c
            for c in VISITOR_CLASSES
            if compiled.rule_for(c, route, method).action in ("allow", "pay")
        ]
        if visitor == "suspected-agent" and "human" in admitted:
            remedy = (
                "If you are a person, use an ordinary browser with JavaScript enabled and let the "
                "page load fully; automated browsers are not let in here"
            )
            if "verified-agent" in admitted:
                remedy += f". If you are an agent, {SIGN_HOW}"
        elif visitor != "verified-agent" and "verified-agent" in admitted:
            remedy = f"To be let in, {SIGN_HOW}"
        elif visitor == "verified-agent" and admitted:
            remedy = (
                "Your signature is valid, but this policy admits only "
                + ", ".join(admitted)
                + " visitors here"
            )
        elif admitted:
            remedy = (
                "Only "
                + ", ".join(admitted)
                + " visitors are let in here, whatever an outside agent signs; "
                "see /robots.txt for what crawlers may fetch"
            )
        else:
            remedy = "Nobody is let in here under the current policy"
        return f"{reason} {remedy}."

    def _escalate(
        self, facts: RequestFacts, verdict: Verdict, score: Any, policy: Policy, now: datetime
    ) -> None:
        visitor, signals = verdict.visitor_class, verdict.signals
        if visitor == "suspected-agent" and self.tracker is not None:
            try:
                self.tracker.flag(facts)
            except Exception:
                log.exception("could not flag a suspected session")
        if self.escalator is None:
            return
        reasons = list(score.reasons) if score is not None else []
        user_agent = signals.get("user_agent")
        if reasons:
            reason = "; ".join(reasons)
        elif user_agent == "missing":
            reason = "no User-Agent header"
        elif user_agent == "not a browser":
            reason = f"User-Agent {facts.user_agent[:60]!r}, which names no registered agent"
        else:
            reason = "behaviour scored as automated"
        try:
            self.escalator.record(
                facts,
                visitor_class=visitor,
                reason=reason,
                thresholds=policy.escalation,
                now=now,
                signals=signals,
                policy=verdict.policy_name,
                ordering=self._ordering(),
            )
        except Exception:
            log.exception("could not record an escalation strike")

    def _ordering(self) -> tuple[str, ...]:
        """The visitor classes the active policy lets place an order (POST on checkout)."""
        compiled = self.compiled
        return tuple(
            c
            for c in VISITOR_CLASSES
            if compiled.rule_for(c, "checkout", "POST").action in ("allow", "pay")
        )

    def _on_error(
        self, facts: RequestFacts, compiled: CompiledPolicy, method: str, exc: Exception
    ) -> Verdict:
        action = compiled.policy.on_error.get(facts.route_class, "block")  # type: ignore[call-overload]
        detail = (
            "The store could not identify this request and refuses it to be safe; try again in a "
            "moment."
        )
        effective = "allow" if compiled.observe else action
        return Verdict(
            action=action,
            effective=effective,
            rule_id="on-error",
            reason=f"Identification failed ({type(exc).__name__}); on_error decides.",
            detail=detail,
            visitor_class=UNIDENTIFIED,
            route_class=facts.route_class,
            method=method,
            signals={"error": type(exc).__name__},
            policy_name=compiled.name,
            policy_version=compiled.version,
        )
