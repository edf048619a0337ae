"""The HTTP layer: gate answers parsed, identities sent, pacing seeded, signing on demand."""

from __future__ import annotations

import email.utils
import time

import httpx

from shopbots.client import AgentClient
from shopbots.gate import parse_answer, parse_parts, parse_retry_after
from shopbots.identity import BROWSER_UAS, GPTBOT_UA, Identity
from shopbots.signing import WebBotAuthSigner
from shopbots.timing import TimingPolicy


def test_problem_json_refusal_is_parsed() -> None:
    response = httpx.Response(
        403,
        headers={
            "x-policy-decision": "block",
            "x-policy-rule": "closed.ai-agents",
            "x-visitor-class": "declared-crawler",
            "content-type": "application/problem+json",
        },
        json={"title": "Refused", "detail": "AI crawlers may not read this store."},
    )
    answer = parse_answer(response)
    assert answer.refused
    assert answer.decision == "block"
    assert answer.rule == "closed.ai-agents"
    assert answer.visitor_class == "declared-crawler"
    assert answer.reason == "AI crawlers may not read this store."
    assert answer.summary() == "403 block by closed.ai-agents (declared-crawler)"


def test_html_refusal_payment_and_throttle() -> None:
    html = "<html><title>Not for robots</title><h1>No</h1><p>Use the <b>API</b> &amp; sign.</p>"
    answer = parse_parts(403, {"Content-Type": "text/html", "X-Policy-Decision": "challenge"}, html)
    assert answer.title == "Not for robots"
    assert answer.reason == "Use the API & sign."
    paid = parse_parts(402, {"x-policy-decision": "pay", "crawler-price": "USD 0.01"}, "")
    assert paid.refused
    assert paid.crawler_price == "USD 0.01"
    throttled = parse_parts(429, {"x-policy-decision": "throttle", "retry-after": "7"}, "")
    assert throttled.retry_after == 7.0
    assert "retry after 7s" in throttled.summary()
    allowed = parse_parts(200, {"x-policy-decision": "allow"}, "")
    assert allowed.ok
    assert not allowed.refused
    # A 403 from a route (not the gate) with decision allow is not a gate refusal.
    assert not parse_parts(403, {"x-policy-decision": "allow"}, "").refused


def test_retry_after_as_http_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = parse_retry_after(later)
    assert seconds is not None
    assert 25 <= seconds <= 31
    assert parse_retry_after("soon") is None


def test_client_sends_identity_rotates_and_records() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"x-policy-decision": "allow"}, json={})

    identity = Identity("s", BROWSER_UAS[0], rotate=BROWSER_UAS, seed=3)
    steps = []
    client = AgentClient(
        "http://shop.test",
        identity,
        transport=httpx.MockTransport(handler),
        on_step=steps.append,
    )
    for _ in range(6):
        client.get("/products/1")
    agents = [r.headers["user-agent"] for r in seen]
    assert set(agents) <= set(BROWSER_UAS)
    assert len(set(agents)) > 1
    # The same seed gives the same rotation.
    again = Identity("s", BROWSER_UAS[0], rotate=BROWSER_UAS, seed=3)
    assert [again.next_user_agent() for _ in range(6)] == agents
    assert len(steps) == 6
    assert steps[0].answer.decision == "allow"


def test_connection_failure_is_an_answer_not_a_crash() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = AgentClient(
        "http://shop.test", Identity("x", GPTBOT_UA), transport=httpx.MockTransport(handler)
    )
    exchange = client.get("/")
    assert exchange.answer.status == 0
    assert "failed" in (exchange.answer.reason or "")


def test_sign_only_when_asked() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    client = AgentClient(
        "http://shop.test",
        Identity("c", GPTBOT_UA),
        signer=WebBotAuthSigner(),
        sign_all=False,
        transport=httpx.MockTransport(handler),
    )
    client.get("/a")
    client.get("/b", sign=True)
    assert "signature" not in seen[0].headers
    assert "signature" in seen[1].headers
    assert client.steps[1].signed


def test_every_redirect_hop_is_signed_afresh_and_the_answer_says_where_from() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/checkout":
            return httpx.Response(303, headers={"location": "/login?next=%2Fcheckout"})
        if request.url.path == "/old":
            return httpx.Response(307, headers={"location": "/checkout"})
        return httpx.Response(200, headers={"x-policy-decision": "allow"})

    signer = WebBotAuthSigner(signature_agent="https://agent.example/keys")
    client = AgentClient(
        "http://shop.test",
        Identity("c", GPTBOT_UA),
        signer=signer,
        transport=httpx.MockTransport(handler),
    )
    exchange = client.post("/old", json={"x": 1})
    assert exchange.answer.status == 200
    assert [r.url.path for r in seen] == ["/old", "/checkout", "/login"]
    assert [r.method for r in seen] == ["POST", "POST", "GET"]
    nonces = [r.headers["signature-input"].split('nonce="')[1].split('"')[0] for r in seen]
    assert len(set(nonces)) == 3
    assert all(len(n) == 86 for n in nonces)  # 64 random bytes, unpadded base64url
    assert all(r.headers["signature-agent"] == 'sig1="https://agent.example/keys"' for r in seen)
    step = client.steps[-1]
    assert (step.path, step.answered_path, step.redirects) == ("/old", "/login?next=%2Fcheckout", 2)


def test_timing_policies_are_seeded_and_capped() -> None:
    slept: list[float] = []
    polite = TimingPolicy("polite", delay_s=2.0, sleep=slept.append)
    polite.before_request()
    assert slept == [2.0]
    first = TimingPolicy("random", seed=5, sleep=lambda s: None)
    second = TimingPolicy("random", seed=5, sleep=lambda s: None)
    assert [first.next_delay() for _ in range(5)] == [second.next_delay() for _ in range(5)]
    assert all(0.2 <= d <= 1.5 for d in [first.next_delay() for _ in range(20)])
    capped = TimingPolicy("none", max_wait_s=3, sleep=slept.append)
    assert capped.wait(100) == 3
    assert capped.waited_s == 3
    assert TimingPolicy("none").next_delay() == 0.0
