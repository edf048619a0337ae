"""The cast of outside agents, each a mission, an identity, a set of tools and a goal.

`run_agent(name, options)` wires one together, runs the agent loop and judges the outcome from what
the tools recorded (pages actually fetched, orders actually placed), never from the brain's words.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage

from shopbots.brains import CHARACTERS, Mission, make_brain
from shopbots.client import AgentClient, Step, StepListener
from shopbots.gate import GateAnswer, parse_answer
from shopbots.identity import (
    BROWSER_HEADERS,
    BROWSER_UAS,
    CHATGPT_USER_UA,
    CHROME_UA,
    GPTBOT_UA,
    PARTNER_UA,
    PROTOCOL_UA,
    Identity,
)
from shopbots.loop import run_loop
from shopbots.protocol import run_protocol_shopper
from shopbots.signing import WebBotAuthSigner
from shopbots.timing import TimingKind, TimingPolicy
from shopbots.tools import Record, ToolContext, build_http_tools

if TYPE_CHECKING:
    from playwright.sync_api import Browser

PARTNER_DIRECTORY = "https://partner.example/.well-known/http-message-signatures-directory"


@dataclass(frozen=True)
class AgentSpec:
    """One member of the roster."""

    name: str
    summary: str
    goal: str
    user_agent: str
    shops: bool
    # Shopping agents that log in as the shopper need the shopper's password; protocol agents
    # buy through a checkout session instead and only name the buyer.
    logs_in: bool = True


ROSTER: dict[str, AgentSpec] = {
    spec.name: spec
    for spec in (
        AgentSpec(
            "polite-crawler",
            "declared AI training crawler (GPTBot); reads robots.txt and obeys it, slowly",
            "fetch N product pages",
            GPTBOT_UA,
            shops=False,
        ),
        AgentSpec(
            "rogue-crawler",
            "the same declared crawler, ignoring robots.txt; tries the JSON API when refused",
            "fetch N product pages",
            GPTBOT_UA,
            shops=False,
        ),
        AgentSpec(
            "stealth-crawler",
            "undeclared crawler: rotated browser user agents, random delays, no page assets",
            "fetch N product pages",
            "(rotated browser user agents)",
            shops=False,
        ),
        AgentSpec(
            "declared-shopper",
            "declared user-triggered shopping assistant (ChatGPT-User); logs in with the "
            "shopper's password and buys through the JSON API",
            "place an order",
            CHATGPT_USER_UA,
            shops=True,
        ),
        AgentSpec(
            "disguised-browser",
            "headless Chromium posing as Chrome; logs in, searches, checks out through the HTML "
            "pages (stealth 0: plain automation; 1: hides navigator.webdriver, human-like input)",
            "place an order",
            CHROME_UA,
            shops=True,
        ),
        AgentSpec(
            "signed-partner",
            "partner agent signing every request with Web Bot Auth (Ed25519), acting for a "
            "logged-in shopper",
            "place an order",
            PARTNER_UA,
            shops=True,
        ),
        AgentSpec(
            "protocol-shopper",
            "signed agent that buys through UCP: reads /.well-known/ucp, opens a checkout "
            "session on its REST endpoint, ships and pays with the simulated handler",
            "place an order",
            PROTOCOL_UA,
            shops=True,
            logs_in=False,
        ),
        AgentSpec(
            "protocol-shopper-mcp",
            "the same purchase through the MCP endpoint the UCP profile names (the official "
            "mcp SDK client over Streamable HTTP), signed",
            "place an order",
            PROTOCOL_UA,
            shops=True,
            logs_in=False,
        ),
    )
}
PROTOCOL_AGENTS = ("protocol-shopper", "protocol-shopper-mcp")

NoteListener = Callable[[str], None]


@dataclass
class RunOptions:
    """Everything `sandbox agent NAME` can set."""

    target: str
    email: str | None = None
    password: str | None = None
    product: str | None = None
    # The shopper's stated need, for a shopping agent given words rather than a product id.
    category: str | None = None
    budget: float | None = None
    seed: int = 0
    pages: int = 5
    stealth: int = 0
    admin_token: str | None = None
    key_file: Path | None = None
    # The name its key is registered under; default: the agent's own name.
    partner_name: str | None = None
    llm: str | None = None
    max_turns: int = 60
    # Skip real pauses (tests, quick demos); the pauses are still computed and reported.
    fast: bool = False
    max_wait_s: float = 10.0
    chromium: str | None = None
    browser: Browser | None = None
    browser_pace: float = 1.0
    transport: httpx.BaseTransport | None = None
    brain: BaseChatModel | None = None
    on_step: StepListener | None = None
    on_thought: Callable[[AIMessage], None] | None = None
    on_note: NoteListener | None = None


@dataclass
class AgentRun:
    """How a run went: whether the goal was met, what the brain said, and every gate answer."""

    agent: str
    succeeded: bool
    outcome: str
    final: str
    steps: list[Step] = field(default_factory=list)
    record: Record = field(default_factory=Record)
    turns: int = 0

    @property
    def first_refusal(self) -> GateAnswer | None:
        return self.record.first_refusal

    def as_dict(self) -> dict[str, Any]:
        refusal = self.first_refusal
        return {
            "agent": self.agent,
            "succeeded": self.succeeded,
            "outcome": self.outcome,
            "final": self.final,
            "requests": len(self.steps),
            "refused_by": refusal.rule if refusal else None,
            "refused_as": refusal.visitor_class if refusal else None,
        }


def mission_for(name: str, options: RunOptions) -> Mission:
    """The mission of roster agent `name` under `options`."""
    product_id = options.product if options.product and options.product.isdigit() else None
    query = options.product if options.product and not product_id else None
    return Mission(
        agent=name,
        character=name,
        email=options.email,
        password=options.password,
        product_id=product_id,
        query=query,
        category=options.category,
        budget=options.budget,
        pages=options.pages,
        browser=name == "disguised-browser",
    )


def _no_sleep(_seconds: float) -> None:
    """`--fast`: the pause is computed and reported, but not taken."""


def _timing(kind: TimingKind, options: RunOptions, **kwargs: Any) -> TimingPolicy:
    return TimingPolicy(
        kind=kind,
        seed=options.seed,
        sleep=_no_sleep if options.fast else time.sleep,
        max_wait_s=options.max_wait_s,
        **kwargs,
    )


def build_client(name: str, options: RunOptions) -> AgentClient:
    """The HTTP client with roster agent `name`'s identity, key and pace."""
    note = options.on_note or (lambda _text: None)
    signer: WebBotAuthSigner | None = None
    sign_all = True
    if name in ("polite-crawler", "rogue-crawler"):
        identity = Identity(name, GPTBOT_UA, {"accept": "text/html,application/json;q=0.9"})
        timing = _timing("polite" if name == "polite-crawler" else "none", options, delay_s=1.0)
        if name == "polite-crawler":
            # A key of its own lets it accept a crawl price; only those requests are signed.
            signer = WebBotAuthSigner()
            sign_all = False
    elif name == "stealth-crawler":
        identity = Identity(
            name, BROWSER_UAS[0], dict(BROWSER_HEADERS), rotate=BROWSER_UAS, seed=options.seed
        )
        timing = _timing("random", options, jitter_s=(0.3, 1.6))
    elif name == "declared-shopper":
        identity = Identity(name, CHATGPT_USER_UA, {"accept": "application/json"})
        timing = _timing("none", options)
    elif name == "signed-partner" or name in PROTOCOL_AGENTS:
        identity = Identity(name, ROSTER[name].user_agent, {"accept": "application/json"})
        timing = _timing("none", options)
        if options.key_file is not None:
            signer = WebBotAuthSigner.load_or_create(
                options.key_file, signature_agent=PARTNER_DIRECTORY
            )
            note(f"signing key: {options.key_file} (keyid {signer.keyid})")
        else:
            signer = WebBotAuthSigner(signature_agent=PARTNER_DIRECTORY)
            note(f"signing with a fresh key (keyid {signer.keyid})")
    else:
        raise KeyError(f"no HTTP client for {name!r}")
    return AgentClient(
        options.target,
        identity,
        signer=signer,
        sign_all=sign_all,
        timing=timing,
        transport=options.transport,
        on_step=options.on_step,
    )


def register_partner(
    client: AgentClient, options: RunOptions, note: NoteListener, *, name: str | None = None
) -> GateAnswer | None:
    """With the admin token, register the agent's public key as a workshop organiser would."""
    signer = client.signer
    assert signer is not None
    jwk = dict(signer.jwk)
    name = options.partner_name or name or "signed-partner"
    if not options.admin_token:
        note(
            "no admin token: not registering. Ask the platform's admin to register this key "
            "(POST /api/v1/partners), then run again with the same key file:\n"
            + json.dumps({"name": name, "jwk": jwk}, indent=2)
        )
        return None
    with httpx.Client(
        base_url=client.base_url,
        headers={"authorization": f"Bearer {options.admin_token}", "user-agent": PARTNER_UA},
        transport=options.transport,
        timeout=15,
    ) as admin:
        body = {"name": name, "jwk": jwk}
        response = admin.post("/api/v1/partners", json=body)
        if response.status_code == 409:
            # Same name, older key (a fresh key per run): replace it.
            admin.delete(f"/api/v1/partners/{name}")
            response = admin.post("/api/v1/partners", json=body)
    answer = parse_answer(response)
    if answer.ok:
        note(f"registered {name!r} with keyid {signer.keyid}")
    else:
        note(
            f"registering the partner key failed: {answer.status} "
            f"{answer.reason or response.text[:200]}; going on unverified"
        )
    return answer


def _judge(
    spec: AgentSpec, record: Record, steps: list[Step], options: RunOptions
) -> tuple[bool, str]:
    refusal = record.first_refusal
    refused = f"refused: {refusal.summary()}" if refusal else None
    failed = [step for step in steps if not step.answer.ok]
    last_error = f"last error: {failed[-1].answer.summary()}" if failed else None
    if spec.shops:
        if record.orders:
            return True, f"ordered (order {record.orders[0].get('id', '?')})"
        return False, refused or last_error or "no order placed"
    pages = len(record.product_pages) + len(record.products_viewed)
    crawled = f"crawled {pages}/{options.pages} product pages"
    if pages >= options.pages:
        paid = f", paid {len(record.payments)}" if record.payments else ""
        return True, f"{crawled}{paid}"
    if refused:
        return False, f"{crawled}; {refused}"
    if record.robots_disallowed or record.robots_skipped:
        return False, f"{crawled}; robots.txt disallows it"
    return False, f"{crawled}; {last_error}" if last_error else crawled


def run_agent(name: str, options: RunOptions) -> AgentRun:
    """Run roster agent `name` against `options.target` and judge whether it met its goal."""
    spec = ROSTER.get(name)
    if spec is None:
        raise KeyError(f"unknown agent {name!r}; choose one of: {', '.join(ROSTER)}")
    if spec.shops and spec.logs_in and not (options.email and options.password):
        raise ValueError(f"{name} acts for a shopper: give --as EMAIL and --password")
    note = options.on_note or (lambda _text: None)
    if name in PROTOCOL_AGENTS:
        return _run_protocol_agent(spec, options, note)
    mission = mission_for(name, options)
    brain = options.brain or make_brain(mission, seed=options.seed, llm=options.llm)
    system = CHARACTERS[name]
    if name == "disguised-browser":
        from shopbots.browser import BrowserAgent, build_browser_tools

        agent = BrowserAgent(
            options.target,
            stealth=options.stealth,
            seed=options.seed,
            executable_path=options.chromium,
            on_step=options.on_step,
            pace=options.browser_pace,
        )
        agent.start(options.browser)
        try:
            loop = run_loop(
                brain,
                build_browser_tools(agent),
                system=system,
                task=mission.prompt(),
                max_turns=options.max_turns,
                on_thought=options.on_thought,
            )
        finally:
            agent.close()
        record, steps = agent.record, agent.steps
    else:
        client = build_client(name, options)
        try:
            if name == "signed-partner":
                register_partner(client, options, note, name=name)
            elif name == "polite-crawler" and options.admin_token:
                # Its key is only good for paying once the platform knows it.
                register_partner(client, options, note, name=name)
            context = ToolContext(client, max_wait_s=options.max_wait_s)
            loop = run_loop(
                brain,
                build_http_tools(context),
                system=system,
                task=mission.prompt(),
                max_turns=options.max_turns,
                on_thought=options.on_thought,
            )
        finally:
            client.close()
        record, steps = context.record, client.steps
    succeeded, outcome = _judge(spec, record, steps, options)
    return AgentRun(
        agent=name,
        succeeded=succeeded,
        outcome=outcome,
        final=loop.final,
        steps=steps,
        record=record,
        turns=loop.turns,
    )


def _run_protocol_agent(spec: AgentSpec, options: RunOptions, note: NoteListener) -> AgentRun:
    """A protocol shopper: no brain to steer, a fixed protocol flow (shopbots/protocol.py)."""
    client = build_client(spec.name, options)
    try:
        register_partner(client, options, note, name=spec.name)
        via = "mcp" if spec.name.endswith("-mcp") else "ucp"
        record, final = run_protocol_shopper(
            client, via=via, product=options.product, email=options.email
        )
    finally:
        client.close()
    succeeded, outcome = _judge(spec, record, client.steps, options)
    return AgentRun(
        agent=spec.name,
        succeeded=succeeded,
        outcome=outcome,
        final=final,
        steps=client.steps,
        record=record,
    )
