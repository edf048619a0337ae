"""The registry of known agents: who says what in their User-Agent, and what kind of agent that is.

All names compile into one case-insensitive regular expression. A name matches only as a whole
token: not preceded by a letter, digit, `_` or `-` and not followed by a letter, digit or `_`,
which is also how robots.txt parsers (RFC 9309, protego) match product tokens. When several names
match, the longest wins ("Applebot-Extended" over "Applebot"), as in robots.txt group selection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml

Category = Literal[
    "training-crawler",
    "ai-search-crawler",
    "ai-assistant",
    "ai-agent",
    "search-engine",
    "automation",
]
CATEGORIES: tuple[str, ...] = (
    "training-crawler",
    "ai-search-crawler",
    "ai-assistant",
    "ai-agent",
    "search-engine",
    "automation",
)
# The visitor class a declared (unsigned) name puts a visitor in.
CLASS_OF_CATEGORY: dict[str, str] = {
    "training-crawler": "declared-crawler",
    "ai-search-crawler": "declared-crawler",
    "ai-assistant": "declared-agent",
    "ai-agent": "declared-agent",
    "search-engine": "search-engine",
    "automation": "automation",
}
AI_CATEGORIES = frozenset({"training-crawler", "ai-search-crawler", "ai-assistant", "ai-agent"})

# What ordinary browsers put in their user agent; a visitor without any of these is not a browser.
_BROWSER = re.compile(
    r"^Mozilla/5\.0 \(.+\) (?:AppleWebKit/[\d.]+ \(KHTML, like Gecko\)|Gecko/\d+)", re.ASCII
)


@dataclass(frozen=True)
class KnownAgent:
    """One registry entry: a user-agent token, its operator and its category."""

    name: str
    operator: str
    category: str
    aliases: tuple[str, ...] = ()

    @property
    def visitor_class(self) -> str:
        return CLASS_OF_CATEGORY[self.category]

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every token this agent may send or be addressed by in robots.txt."""
        return (self.name, *self.aliases)


class KnownAgents:
    """Known agents, compiled once; `match` is cached per user agent string."""

    def __init__(self, agents: list[KnownAgent]) -> None:
        self.agents = agents
        self._by_token: dict[str, KnownAgent] = {}
        for agent in agents:
            for token in agent.tokens:
                key = token.lower()
                if key in self._by_token:
                    raise ValueError(f"registry token {token!r} is listed twice")
                self._by_token[key] = agent
        tokens = sorted(self._by_token, key=len, reverse=True)
        alternation = "|".join(re.escape(t) for t in tokens)
        self._pattern = re.compile(
            rf"(?<![A-Za-z0-9_-])(?:{alternation})(?![A-Za-z0-9_])", re.IGNORECASE
        )
        self.match = lru_cache(maxsize=4096)(self._match)

    def _match(self, user_agent: str) -> KnownAgent | None:
        best: str | None = None
        for found in self._pattern.finditer(user_agent):
            text = found.group(0)
            if best is None or len(text) > len(best):
                best = text
        return self._by_token[best.lower()] if best is not None else None

    def by_name(self, name: str) -> KnownAgent | None:
        return self._by_token.get(name.lower())

    def of_category(self, *categories: str) -> list[KnownAgent]:
        return [a for a in self.agents if a.category in categories]


def looks_like_browser(user_agent: str) -> bool:
    """True for the user agent shape of Chrome, Firefox, Safari, Edge, Opera, Samsung and kin."""
    return bool(_BROWSER.match(user_agent))


def _load() -> KnownAgents:
    text = (
        resources.files("marketplace.gate.policy.data")
        .joinpath("known_agents.yaml")
        .read_text("utf-8")
    )
    data = yaml.safe_load(text)
    agents = []
    for entry in data["agents"]:
        category = entry["category"]
        if category not in CATEGORIES:
            raise ValueError(f"registry entry {entry['name']!r} has unknown category {category!r}")
        agents.append(
            KnownAgent(
                name=str(entry["name"]),
                operator=str(entry["operator"]),
                category=category,
                aliases=tuple(str(a) for a in entry.get("aliases", ())),
            )
        )
    return KnownAgents(agents)


@lru_cache(maxsize=1)
def default_known_agents() -> KnownAgents:
    """The shipped registry, loaded once per process."""
    return _load()
