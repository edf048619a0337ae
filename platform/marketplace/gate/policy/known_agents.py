"""The registry of known agents: who says what in their User-Agent, and what kind of agent that is.

Only the first `MAX_USER_AGENT_CHARS` characters of a user agent are read, folded (see `folding`:
NFKC, invisible characters removed, case folded, UTS #39 confusables mapped to their skeleton), and
matched against the folded names, compiled once into one regular expression shaped as a trie. A
name matches only as a whole token: not preceded and not followed by a letter or digit, much as
robots.txt parsers (RFC 9309, protego) match product tokens, except that `-` and `_` around a name
separate it too (`-GPTBot`, `GPTBot_`). When several names match, the longest wins
("Applebot-Extended" over "Applebot"), as in robots.txt group selection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml

from marketplace.gate.policy.folding import MAX_USER_AGENT_CHARS, fold, wire_text

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


def _trie_pattern(words: list[str]) -> str:
    """One regular expression for `words` as a trie: the engine follows one branch per character
    instead of trying every word at every position."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        ends_here = "" in node
        body = branches[0] if len(branches) == 1 and not ends_here else f"(?:{'|'.join(branches)})"
        return body + "?" if ends_here else body

    return emit(root)


class KnownAgents:
    """Known agents, compiled once; `match` is cached per user agent (its bounded prefix).

    The cache holds at most `CACHE_SIZE` entries of at most `MAX_USER_AGENT_CHARS` characters.
    """

    CACHE_SIZE = 4096

    def __init__(self, agents: list[KnownAgent]) -> None:
        self.agents = agents
        self._by_token: dict[str, KnownAgent] = {}
        self._by_folded: dict[str, KnownAgent] = {}
        for agent in agents:
            for token in agent.tokens:
                key = token.lower()
                if key in self._by_token:
                    raise ValueError(f"registry token {token!r} is listed twice")
                self._by_token[key] = agent
                folded = fold(token)
                other = self._by_folded.setdefault(folded, agent)
                if other is not agent:
                    raise ValueError(
                        f"registry tokens of {other.name!r} and {agent.name!r} fold to the same "
                        f"{folded!r}; they cannot be told apart"
                    )
        words = sorted(self._by_folded)
        self._pattern = re.compile(rf"(?<![a-z0-9])(?:{_trie_pattern(words)})(?![a-z0-9])")
        self._cached_match = lru_cache(maxsize=self.CACHE_SIZE)(self._match)

    def match(self, user_agent: str) -> KnownAgent | None:
        """The agent whose name the user agent declares (read up to its bounded prefix)."""
        cut = len(user_agent) > MAX_USER_AGENT_CHARS
        return self._cached_match(user_agent[:MAX_USER_AGENT_CHARS], cut)

    def _match(self, user_agent: str, cut: bool) -> KnownAgent | None:
        best: str | None = None
        for found in self._pattern.finditer(fold(wire_text(user_agent, cut=cut))):
            text = found.group(0)
            if best is None or len(text) > len(best):
                best = text
        return self._by_folded[best] if best is not None else None

    def by_folded(self, folded: str) -> KnownAgent | None:
        """The agent one of whose tokens folds to `folded` (see `folding.fold`)."""
        return self._by_folded.get(folded)

    def with_extra(self, extra: list[KnownAgent]) -> KnownAgents:
        """These agents plus `extra` (a policy's own), compiled into one matcher."""
        return KnownAgents([*self.agents, *extra]) if extra else self

    def by_name(self, name: str) -> KnownAgent | None:
        return self._by_token.get(name.lower())

    def of_category(self, *categories: str) -> list[KnownAgent]:
        return [a for a in self.agents if a.category in categories]


def looks_like_browser(user_agent: str) -> bool:
    """True for the user agent shape of Chrome, Firefox, Safari, Edge, Opera, Samsung and kin."""
    return bool(_BROWSER.match(user_agent[:MAX_USER_AGENT_CHARS]))


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
