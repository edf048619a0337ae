"""The decision engine with stand-in identity, behaviour and state; identification, on_error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from marketplace.gate.facts import RequestFacts
from marketplace.gate.judge import Judge, parse_price
from marketplace.gate.policy.compiled import CompiledPolicy
from marketplace.gate.policy.model import load_policy, load_policy_text

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@dataclass
class Check:
    status: str
    keyid: str | None = "kid"
    owner: str | None = None
    agent: str | None = None
    reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    code: str = "verified"
    registered: bool = True
    covered: tuple[str, ...] = ("@authority",)
    header: str | None = None

    @property
    def attributable(self) -> bool:
        return self.status == "valid" or (self.status == "invalid" and self.registered)


class Identity:
    def __init__(self, check: Check | Exception) -> None:
        self.check = check

    def verify(self, facts: RequestFacts, *, policy: Any, now: Any) -> Check:
        if isinstance(self.check, Exception):
            raise self.check
        return self.check


@dataclass
class Score:
    score: int
    band: str = "x"
    reasons: tuple[str, ...] = ("because",)


class Tracker:
    def __init__(self, score: int) -> None:
        self.score = score
        self.flagged = 0

    def observe_and_score(self, facts: RequestFacts, **_: Any) -> Score:
        return Score(self.score)

    def flag(self, facts: RequestFacts) -> None:
        self.flagged += 1


class State:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def hit(self, bucket: str, window_s: int) -> int:
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        return self.counts[bucket]


def facts(
    route_class: str = "product",
    user_agent: str = CHROME,
    signed: bool = False,
    method: str = "GET",
) -> RequestFacts:
    headers = [("user-agent", user_agent)]
    if signed:
        headers += [("signature", "sig1=:AA==:"), ("signature-input", "sig1=()")]
    return RequestFacts(
        method=method,
        path="/x",
        raw_path="/x",
        query="",
        authority="shop.test",
        scheme="http",
        headers=tuple(headers),
        client_ip="203.0.113.1",
        session_id="cookie",
        route_class=route_class,
        is_asset=False,
    )


def engine(policy: str = "closed", **kwargs: Any) -> Judge:
    return Judge(CompiledPolicy(load_policy(policy)), **kwargs)


def test_platform_signature_is_first_party_whatever_the_user_agent() -> None:
    gate = engine(identity=Identity(Check("valid", owner="platform")))
    decision = gate.decide(facts("checkout", user_agent="GPTBot/1.0", signed=True))
    assert decision.visitor_class == "first-party-agent"
    assert decision.effective == "allow"
    assert decision.signals["declared"]["name"] == "GPTBot"


def test_partner_signature_is_verified_agent() -> None:
    gate = engine(identity=Identity(Check("valid", owner="acme")))
    decision = gate.decide(facts("checkout", signed=True, method="POST"))
    assert (decision.visitor_class, decision.action, decision.agent) == (
        "verified-agent",
        "block",
        "acme",
    )
    assert "admits only" in decision.detail


def test_no_user_agent_no_cookie_nothing_makes_first_party() -> None:
    decision = engine().decide(facts("checkout", user_agent="Nile-HelpMeDecide/1.0 platform"))
    assert decision.visitor_class == "automation"


def test_low_bot_score_makes_a_browser_a_suspected_agent() -> None:
    tracker = Tracker(score=12)
    decision = engine(tracker=tracker).decide(facts("cart", method="POST"))
    assert decision.visitor_class == "suspected-agent"
    assert decision.action == "challenge"
    assert decision.bot_score == 12
    assert tracker.flagged == 1
    human = engine(tracker=Tracker(score=70)).decide(facts("cart", method="POST"))
    assert (human.visitor_class, human.action) == ("human", "allow")


@pytest.mark.parametrize(("route_class", "action"), [("cart", "block"), ("catalog", "allow")])
def test_identification_failure_uses_on_error(route_class: str, action: str) -> None:
    gate = engine(identity=Identity(RuntimeError("store down")))
    decision = gate.decide(facts(route_class, signed=True))
    assert decision.rule_id == "on-error"
    assert decision.visitor_class == "unidentified"
    assert decision.effective == action


def test_rate_limit_turns_allow_into_throttle() -> None:
    policy = load_policy_text(
        "extends: open\nname: t\nrate_limits:\n  automation: {requests: 2, per_seconds: 10}\n"
    )
    gate = Judge(CompiledPolicy(policy), state=State())
    actions = [gate.decide(facts("catalog", user_agent="curl/8")).effective for _ in range(3)]
    assert actions == ["allow", "allow", "throttle"]
    last = gate.decide(facts("catalog", user_agent="curl/8"))
    assert ("Retry-After", "10") in last.extra_headers


def test_observe_mode_computes_but_never_refuses() -> None:
    decision = engine("observe").decide(facts("product", user_agent="GPTBot/1.0"))
    assert (decision.action, decision.effective, decision.status) == ("block", "allow", 200)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("USD 0.01", ("0.01", "USD")), ("0.02", ("0.02", None)), ("lots", None), (None, None)],
)
def test_price_headers(text: str | None, parsed: tuple[str, str | None] | None) -> None:
    result = parse_price(text)
    if parsed is None:
        assert result is None
    else:
        assert result is not None
        assert (str(result[0]), result[1]) == parsed


def test_an_unverifiable_signature_leaves_a_browser_on_its_ordinary_path() -> None:
    """An unknown key says nothing about the sender: classed exactly as the request unsigned."""
    unknown = Check("invalid", keyid="stranger", code="unknown-key", registered=False)
    signed = engine(identity=Identity(unknown), tracker=Tracker(score=70))
    decision = signed.decide(facts("cart", signed=True, method="POST"))
    unsigned = engine(tracker=Tracker(score=70)).decide(facts("cart", method="POST"))
    assert (decision.visitor_class, decision.action, decision.rule_id) == (
        unsigned.visitor_class,
        unsigned.action,
        unsigned.rule_id,
    )
    assert decision.visitor_class == "human"
    assert decision.signals["signature"]["code"] == "unknown-key"
    assert decision.signals["signature"]["ignored"] is True


def test_a_registered_keys_failure_behind_a_browser_is_still_refused() -> None:
    broken = Check("invalid", keyid="acme-key", owner="acme", code="expired", registered=True)
    gate = engine(identity=Identity(broken), tracker=Tracker(score=70))
    decision = gate.decide(facts("cart", signed=True, method="POST"))
    assert (decision.visitor_class, decision.action) == ("suspected-agent", "challenge")
    assert "ignored" not in decision.signals["signature"]


def test_an_unverifiable_keyid_opens_no_rate_limit_bucket_of_its_own() -> None:
    policy = load_policy_text(
        "extends: open\nname: rl\nrate_limits:\n  automation: {requests: 2, per_seconds: 60}\n"
    )
    state = State()
    answers = []
    for n in range(3):
        stranger = Check("invalid", keyid=f"fresh-{n}", code="unknown-key", registered=False)
        gate = Judge(CompiledPolicy(policy), identity=Identity(stranger), state=state)
        answers.append(gate.decide(facts("catalog", user_agent="curl/8", signed=True)).action)
    assert answers == ["allow", "allow", "throttle"]
