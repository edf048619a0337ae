"""What every actor reports back, and an HTTP client that keeps the gate's answers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from shopbots.gate import GateAnswer, parse_answer


@dataclass
class ActorResult:
    """One actor's view of the run: its requests, the gate's answers, what it achieved."""

    name: str
    kind: str  # "human" | "first-party" | "agent"
    persona: str | None = None
    requests: int = 0
    allowed: int = 0
    refused: int = 0
    classes: Counter[str] = field(default_factory=Counter)
    refusal_rules: Counter[str] = field(default_factory=Counter)
    # Marketplace order ids; a protocol order (UCP, MCP) by its public id (`ord_...`).
    orders: list[int | str] = field(default_factory=list)
    refused_order_attempts: int = 0
    pages_crawled: int = 0
    pages_refused: int = 0
    purchases: list[int] = field(default_factory=list)
    hmd_used: bool = False
    hmd_top_pick: int | None = None
    hmd_category: str | None = None
    # What a person at the store went through: pages read, ads seen and clicked.
    pages_read: int = 0
    impressions_seen: int = 0
    ad_clicks: int = 0
    succeeded: bool = False
    outcome: str = ""
    error: str | None = None
    seconds: float = 0.0

    def note(self, answer: GateAnswer) -> None:
        """Count one gate answer."""
        self.requests += 1
        if answer.visitor_class:
            self.classes[answer.visitor_class] += 1
        if answer.refused:
            self.refused += 1
            self.refusal_rules[answer.rule or "?"] += 1
        else:
            self.allowed += 1

    @property
    def visitor_class(self) -> str:
        """The class the gate gave this actor most often."""
        return self.classes.most_common(1)[0][0] if self.classes else "-"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "persona": self.persona,
            "visitor_class": self.visitor_class,
            "classes": dict(self.classes),
            "requests": self.requests,
            "allowed": self.allowed,
            "refused": self.refused,
            "top_rule": self.refusal_rules.most_common(1)[0][0] if self.refusal_rules else None,
            "orders": len(self.orders),
            "refused_order_attempts": self.refused_order_attempts,
            "pages_crawled": self.pages_crawled,
            "pages_refused": self.pages_refused,
            "hmd_used": self.hmd_used,
            "succeeded": self.succeeded,
            "outcome": self.outcome,
            "error": self.error,
            "seconds": round(self.seconds, 1),
        }


class RecordingClient:
    """An httpx client whose every response is parsed into a gate answer and counted."""

    def __init__(self, base_url: str, result: ActorResult, **kwargs: Any) -> None:
        self.result = result
        self.http = httpx.Client(base_url=base_url, timeout=30.0, follow_redirects=False, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, GateAnswer]:
        response = self.http.request(method, path, **kwargs)
        answer = parse_answer(response)
        self.result.note(answer)
        return response, answer

    def follow(self, response: httpx.Response) -> tuple[httpx.Response, GateAnswer] | None:
        """Follow one redirect the way a browser does after a form post (303 -> GET)."""
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            return None
        return self.request("GET", location)

    def close(self) -> None:
        self.http.close()
