"""A policy compiled once into lookup tables: route classes by a segment trie, rules by a dict.

Deciding then costs one trie walk and one dict lookup, whatever the number of rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from marketplace.gate.normalize import has_query_param
from marketplace.gate.policy.known_agents import KnownAgent, KnownAgents, default_known_agents
from marketplace.gate.policy.model import (
    METHODS,
    ROUTE_CLASSES,
    VISITOR_CLASSES,
    DefaultRule,
    Policy,
    RateLimit,
    Rule,
)

AnyRule = Rule | DefaultRule
# Route classes of paths up to this long are remembered, at most CACHED_ROUTES of them (a few
# MiB); product ids make the set of paths unbounded, and a longer path is simply walked again.
CACHED_PATH_CHARS = 256
CACHED_ROUTES = 16_384


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    star: _Node | None = None
    # (route class, required query parameter or None)
    terminals: list[tuple[str, str | None]] = field(default_factory=list)


class RouteMatcher:
    """Maps a canonical path (and query) to its route class; the longest pattern wins."""

    def __init__(self, routes: dict[str, list[str]]) -> None:
        self._root = _Node()
        self._home: str | None = None
        self.query_params: set[str] = set()
        self._cache: dict[tuple[str, frozenset[str]], str] = {}
        for route_class, patterns in routes.items():
            for pattern in patterns:
                path, _, param = pattern.lower().partition("?")
                segments = [s for s in path.split("/") if s]
                if not segments:
                    self._home = route_class  # "/" matches the home page only
                    continue
                node = self._root
                for segment in segments:
                    if segment == "*":
                        node.star = node.star or _Node()
                        node = node.star
                    else:
                        node = node.children.setdefault(segment, _Node())
                node.terminals.append((route_class, param or None))
                if param:
                    self.query_params.add(param)

    def match(self, path: str, query: str = "") -> str:
        """The route class of `path` (canonical form), `other` when no pattern covers it."""
        present = (
            frozenset(p for p in self.query_params if has_query_param(query, p))
            if query and self.query_params
            else frozenset()
        )
        if len(path) > CACHED_PATH_CHARS:
            return self._walk(path, present)
        key = (path, present)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._walk(path, present)
            if len(self._cache) >= CACHED_ROUTES:
                self._cache.clear()  # a full reset is cheap and rare
            self._cache[key] = cached
        return cached

    def _walk(self, path: str, present: frozenset[str]) -> str:
        if path == "/":
            return self._home or "other"
        segments = path[1:].split("/")
        best: tuple[int, int, int] = (-1, -1, -1)
        best_class = "other"
        stack: list[tuple[_Node, int, int]] = [(self._root, 0, 0)]
        while stack:
            node, depth, literal = stack.pop()
            for route_class, param in node.terminals:
                if param is not None and param not in present:
                    continue
                score = (depth, literal, 1 if param else 0)
                if score > best:
                    best, best_class = score, route_class
            if depth < len(segments):
                child = node.children.get(segments[depth])
                if child is not None:
                    stack.append((child, depth + 1, literal + 1))
                if node.star is not None:
                    stack.append((node.star, depth + 1, literal))
        return best_class


class CompiledPolicy:
    """A validated policy with its decision table precomputed for every class, route and method."""

    def __init__(self, policy: Policy, *, version: int = 0, source: str = "") -> None:
        self.policy = policy
        self.version = version
        self.source = source
        self.routes = RouteMatcher({str(k): v for k, v in policy.routes.items()})
        self.observe = policy.mode == "observe"
        self.rate_limits: dict[str, RateLimit] = {str(k): v for k, v in policy.rate_limits.items()}
        # The shipped registry plus the policy's own agents, compiled once per policy.
        self.known_agents: KnownAgents = default_known_agents().with_extra(
            [KnownAgent(a.name, a.operator, a.category, tuple(a.aliases)) for a in policy.agents]
        )
        self.rules_by_id: dict[str, AnyRule] = {r.id: r for r in policy.rules}
        self.rules_by_id[policy.default.id] = policy.default
        # Refusal sentences by (action, visitor, route, method, rule id), filled on first use.
        self.details: dict[tuple[str, str, str, str, str], str] = {}
        self._table: dict[tuple[str, str, str], AnyRule] = {}
        for visitor in VISITOR_CLASSES:
            for route in ROUTE_CLASSES:
                for method in METHODS:
                    self._table[(visitor, route, method)] = self._first_match(
                        visitor, route, method
                    )

    def _first_match(self, visitor: str, route: str, method: str) -> AnyRule:
        for rule in self.policy.rules:
            if (
                ("*" in rule.visitors or visitor in rule.visitors)
                and ("*" in rule.routes or route in rule.routes)
                and ("*" in rule.methods or method in rule.methods)
            ):
                return rule
        return self.policy.default

    def rule_for(self, visitor: str, route: str, method: str) -> AnyRule:
        """The rule that decides for this visitor class, route class and (normalised) method."""
        return self._table.get((visitor, route, method)) or self.policy.default

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def price(self) -> tuple[Decimal, str] | None:
        price = self.policy.crawl_price
        return (price.amount, price.currency) if price else None


def format_price(amount: Decimal, currency: str) -> str:
    """`USD 0.01`, the form of the crawler-price headers."""
    text = format(amount.normalize(), "f")
    if "." not in text or len(text.split(".")[1]) < 2:
        text = f"{amount:.2f}"
    return f"{currency} {text}"
