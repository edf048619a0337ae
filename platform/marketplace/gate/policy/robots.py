"""robots.txt (RFC 9309) generated from the active policy, so it says what the gate does.

Every registry agent, and every agent the policy declares (`agents`), is listed under the group of
its visitor class; a group allows exactly the route classes where the policy would let an unsigned
request of that class fetch a page with GET (`allow`, or `pay`: a priced page is on offer, not
forbidden). Patterns are written so that they match what the gate's route matcher matches: `/cart`
becomes `/cart$` and `/cart/`, so `/cartoon` is not caught by accident.
"""

from __future__ import annotations

from marketplace.gate.policy.compiled import CompiledPolicy, format_price
from marketplace.gate.policy.known_agents import KnownAgents
from marketplace.gate.policy.model import ROUTE_CLASSES

# Classes a robots.txt group can address: those identified by the user agent they declare.
DECLARED_CLASSES = ("search-engine", "declared-crawler", "declared-agent", "automation")
# Route classes robots.txt never restricts: robots.txt itself and the key directory.
ALWAYS_OPEN = ("robots",)
# Where the active policy's rules are published (route class `robots` in the default routes).
PUBLIC_RULES_PATH = "/api/v1/policy/public"


def admits(compiled: CompiledPolicy, visitor_class: str, route_class: str) -> bool:
    """Whether robots.txt should allow this class to fetch pages of this route class."""
    return compiled.rule_for(visitor_class, route_class, "GET").action in ("allow", "pay")


def _robots_patterns(pattern: str) -> list[str]:
    path, _, param = pattern.partition("?")
    if param:
        return [f"{path}?{param}=", f"{path}?*&{param}="]
    if path == "/":
        return ["/$"]
    if "*" in path:
        return [path]  # "/products/*": any page below /products/
    return [f"{path}$", f"{path}/"]


def _group_rules(compiled: CompiledPolicy, visitor_class: str) -> list[str]:
    routes = compiled.policy.routes
    allowed = {rc for rc in ROUTE_CLASSES if admits(compiled, visitor_class, rc)}
    allowed.update(ALWAYS_OPEN)
    lines: list[str] = []
    if "other" in allowed:
        # Open by default; close the route classes this class may not fetch, and re-open only
        # what lies below a closed pattern (e.g. /products/* under a closed /products/).
        closed: list[str] = []
        for route_class in ROUTE_CLASSES:
            if route_class not in allowed:
                for pattern in routes.get(route_class, []):  # type: ignore[call-overload]
                    closed.extend(_robots_patterns(pattern))
        lines.extend(f"Disallow: {p}" for p in closed)
        prefixes = [c.rstrip("$*") for c in closed]
        for route_class in ROUTE_CLASSES:
            if route_class in allowed and route_class != "other":
                for pattern in routes.get(route_class, []):  # type: ignore[call-overload]
                    lines.extend(
                        f"Allow: {p}"
                        for p in _robots_patterns(pattern)
                        if any(p.startswith(prefix) and p != prefix for prefix in prefixes)
                    )
    else:
        lines.append("Disallow: /")
        for route_class in ROUTE_CLASSES:
            if route_class in allowed and route_class != "other":
                for pattern in routes.get(route_class, []):  # type: ignore[call-overload]
                    lines.extend(f"Allow: {p}" for p in _robots_patterns(pattern))
    return lines


def render_robots(
    compiled: CompiledPolicy, registry: KnownAgents | None = None, *, base_url: str = ""
) -> str:
    """The robots.txt text for a compiled policy; `registry` defaults to the policy's own (the
    shipped agents plus those the policy declares)."""
    registry = registry or compiled.known_agents
    policy = compiled.policy
    out = [
        f"# robots.txt of this store, generated from its policy {policy.name!r} "
        f"(version {compiled.version}).",
        "# The gate enforces the same rules: a request this file disallows is refused (403).",
        "# Agents that sign with Web Bot Auth using a registered partner key are classed",
        "# verified-agent and decided by the policy.",
        f"# The rules, rate limits and prices, for every visitor: {base_url}{PUBLIC_RULES_PATH}",
    ]
    if compiled.observe:
        # Nothing is refused in observe mode, so robots.txt asks nothing of crawlers either: it
        # says what the gate does, and the decision log shows what the policy would refuse.
        out += [
            "# Observe mode: every visitor is identified and logged, nothing is refused.",
            "",
            "User-agent: *",
            "Allow: /",
            "",
        ]
        return "\n".join(out)
    if compiled.price is not None:
        out.append(
            "# Pages marked allowed for crawlers may be priced: unsigned requests get 402 with "
            f"crawler-price ({format_price(*compiled.price)})."
        )
    out.append("")
    for visitor_class in DECLARED_CLASSES:
        agents = [a for a in registry.agents if a.visitor_class == visitor_class]
        if not agents:
            continue
        out.append(f"# {visitor_class}: {len(agents)} known agents")
        for agent in agents:
            out.extend(f"User-agent: {token}" for token in agent.tokens)
        out.extend(_group_rules(compiled, visitor_class))
        limit = compiled.rate_limits.get(visitor_class)
        if limit is not None:
            delay = max(1, round(limit.per_seconds / limit.requests))
            out.append(f"Crawl-delay: {delay}")
        out.append("")
    # Anyone else: an unknown non-browser client is classed automation by the gate.
    out.append("User-agent: *")
    out.extend(_group_rules(compiled, "automation"))
    out.append("")
    return "\n".join(out)
