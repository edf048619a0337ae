"""The gate's answer to one request, parsed from the response into one structured value."""

from __future__ import annotations

import email.utils
import html
import json
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import httpx

REFUSAL_STATUSES = {402, 403, 429}
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_PARAGRAPH = re.compile(r"<p[^>]*>(.*?)</p>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class GateAnswer:
    """What the gate said: the status, its decision and rule, and what the visitor can do next."""

    status: int
    decision: str | None
    rule: str | None
    visitor_class: str | None
    reason: str | None
    title: str | None = None
    retry_after: float | None = None
    crawler_price: str | None = None
    crawler_charged: str | None = None
    problem: dict[str, Any] | None = None
    # Under observe mode the gate lets everything through and says in X-Policy-Observed-Action
    # what enforcement would have decided.
    observed_action: str | None = None

    @property
    def decision_text(self) -> str:
        """The decision, and what enforcement would have decided when that differs: `allow
        (would block)`."""
        decision = self.decision or "-"
        if self.observed_action and self.observed_action != self.decision:
            return f"{decision} (would {self.observed_action})"
        return decision

    @property
    def refused(self) -> bool:
        """True when the gate (not the route) turned the request away."""
        if self.decision is not None:
            return self.decision != "allow" and self.status in REFUSAL_STATUSES
        return self.status in REFUSAL_STATUSES

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400

    def summary(self) -> str:
        """One line: `403 block by closed.ai-agents (declared-agent)`."""
        parts = [str(self.status), self.decision_text]
        if self.rule:
            parts.append(f"by {self.rule}")
        if self.visitor_class:
            parts.append(f"({self.visitor_class})")
        if self.retry_after is not None:
            parts.append(f"retry after {self.retry_after:g}s")
        if self.crawler_price:
            parts.append(f"price {self.crawler_price}")
        if self.crawler_charged:
            parts.append(f"charged {self.crawler_charged}")
        return " ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["refused"] = self.refused
        return {key: value for key, value in data.items() if value is not None}


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait, from either form RFC 9110 allows (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _html_reason(text: str) -> tuple[str | None, str | None]:
    def clean(fragment: str) -> str:
        return " ".join(html.unescape(_TAG.sub(" ", fragment)).split())

    title_match = _TITLE.search(text)
    title = clean(title_match.group(1)) if title_match else None
    for match in _PARAGRAPH.finditer(text):
        sentence = clean(match.group(1))
        if sentence:
            return title, sentence
    return title, None


def parse_answer(response: httpx.Response) -> GateAnswer:
    """Read the gate headers, and for refusals the problem+json or HTML page behind them."""
    body = response.text if response.status_code >= 400 else ""
    return parse_parts(response.status_code, response.headers, body)


def parse_parts(status: int, headers: Mapping[str, str], body: str) -> GateAnswer:
    """`parse_answer` for any HTTP stack (httpx, Playwright): status, headers (any case), body."""
    lowered = {key.lower(): value for key, value in headers.items()}
    problem: dict[str, Any] | None = None
    title = reason = None
    content_type = lowered.get("content-type", "")
    if status >= 400:
        if "json" in content_type:
            try:
                parsed = json.loads(body) if body else None
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                problem = parsed
                title = _str(parsed.get("title"))
                reason = _str(parsed.get("detail"))
        elif "html" in content_type:
            title, reason = _html_reason(body)
    problem_rule = _str(problem.get("rule")) if problem else None
    problem_class = _str(problem.get("visitor_class") or problem.get("class")) if problem else None
    return GateAnswer(
        status=status,
        decision=lowered.get("x-policy-decision"),
        rule=lowered.get("x-policy-rule") or problem_rule,
        visitor_class=lowered.get("x-visitor-class") or problem_class,
        reason=reason,
        title=title,
        retry_after=parse_retry_after(lowered.get("retry-after")),
        crawler_price=lowered.get("crawler-price"),
        crawler_charged=lowered.get("crawler-charged"),
        problem=problem,
        observed_action=lowered.get("x-policy-observed-action"),
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
