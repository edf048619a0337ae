"""The policy model: what a policy file may say, validated strictly, plus the shipped presets.

A policy names visitor classes and route classes from fixed vocabularies (so a typo is an error, not
a rule that silently never matches), lists rules that are tried in order (first match wins), and
ends with a default rule. `extends: PRESET` starts from a preset and replaces its top-level keys.
"""

from __future__ import annotations

import re
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from marketplace.core.yamlfile import (
    FieldProblem,
    YamlModelError,
    line_of,
    load_yaml_text,
    problem_message,
)
from marketplace.gate.policy.folding import fold
from marketplace.gate.policy.known_agents import CATEGORIES, default_known_agents
from marketplace.gate.published_keys import published_test_key, refusal

# The visitor classes, most trusted first. Documented in docs/policy.md; the decision table's rows.
VisitorClass = Literal[
    "first-party-agent",  # valid Web Bot Auth signature with the platform's own key
    "verified-agent",  # valid signature with a registered partner key
    "human",  # a browser whose behaviour looks human
    "search-engine",  # a classic search crawler by its declared user agent
    "declared-crawler",  # an AI training or AI search crawler by its declared user agent
    "declared-agent",  # a user-triggered AI assistant or agentic browser that says what it is
    "automation",  # generic HTTP tools, headless browsers, unknown non-browser clients
    "suspected-agent",  # a browser user agent whose behaviour (bot score) looks automated
]
RouteClass = Literal[
    "catalog",
    "search",
    "product",
    "account",
    "cart",
    "checkout",
    "assistant",
    "admin",
    "assets",
    "well-known",
    "robots",
    "protocol-catalog",
    "protocol-checkout",
    "other",
]
# HEAD is folded into GET before matching; anything unusual is matched as OTHER.
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"]
VISITOR_CLASSES: tuple[str, ...] = get_args(VisitorClass)
ROUTE_CLASSES: tuple[str, ...] = get_args(RouteClass)
METHODS: tuple[str, ...] = get_args(Method)
ACTIONS: tuple[str, ...] = ("allow", "block", "challenge", "throttle", "pay")
# Web Bot Auth profiles a policy may accept (gate/identity/profiles.py says what each requires).
SignatureProfile = Literal["ietf", "legacy", "visa-tap"]
# The same vocabularies with "*" for "every one"; one Literal each, so errors list the choices once.
VisitorPattern = Literal[
    "*",
    "first-party-agent",
    "verified-agent",
    "human",
    "search-engine",
    "declared-crawler",
    "declared-agent",
    "automation",
    "suspected-agent",
]
RoutePattern = Literal[
    "*",
    "catalog",
    "search",
    "product",
    "account",
    "cart",
    "checkout",
    "assistant",
    "admin",
    "assets",
    "well-known",
    "robots",
    "protocol-catalog",
    "protocol-checkout",
    "other",
]
MethodPattern = Literal["*", "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"]
Action = Literal["allow", "block", "challenge", "throttle", "pay"]

AgentCategory = Literal[
    "training-crawler",
    "ai-search-crawler",
    "ai-assistant",
    "ai-agent",
    "search-engine",
    "automation",
]
assert get_args(AgentCategory) == CATEGORIES  # one vocabulary with the shipped registry

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

PRESET_NAMES: tuple[str, ...] = ("closed", "open", "pay-per-crawl", "partner-only", "observe")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _all_methods() -> list[MethodPattern]:
    return ["*"]


class Rule(_Strict):
    """Visitor classes x route classes x methods -> action; `*` stands for all of a kind."""

    id: str = Field(pattern=RULE_ID_PATTERN)
    visitors: list[VisitorPattern] = Field(min_length=1)
    routes: list[RoutePattern] = Field(min_length=1)
    methods: list[MethodPattern] = Field(default_factory=_all_methods, min_length=1)
    action: Action
    reason: str = Field(min_length=3, max_length=300)
    # Whether the visitor class's rate limit applies when this rule allows (or charges).
    rate_limited: bool = True
    # For `throttle`: what Retry-After says.
    retry_after_s: int = Field(default=60, ge=1, le=86_400)


class DefaultRule(_Strict):
    """The rule that decides when no other rule matches."""

    id: str = Field(default="default", pattern=RULE_ID_PATTERN)
    action: Action = "block"
    reason: str = Field(
        default="No rule of this policy lets this kind of visitor in here.",
        min_length=3,
        max_length=300,
    )
    rate_limited: bool = True
    retry_after_s: int = Field(default=60, ge=1, le=86_400)


class RateLimit(_Strict):
    """At most `requests` requests per `per_seconds` for one visitor of a class."""

    requests: int = Field(ge=1, le=1_000_000)
    per_seconds: int = Field(ge=1, le=86_400)


class CrawlPrice(_Strict):
    """What one crawled page costs under a `pay` rule (headers `crawler-price: USD 0.01`)."""

    amount: Decimal = Field(gt=0, le=1000, max_digits=12, decimal_places=6)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class BotScoreThresholds(_Strict):
    """Bands of the 1 (automated) .. 99 (human) bot score, in the manner of commercial managers."""

    # At or below: band "automated".
    automated_at_most: int = Field(default=1, ge=1, le=98)
    # Below: band "likely-automated"; a browser-looking visitor here is classed suspected-agent.
    likely_automated_below: int = Field(default=30, ge=2, le=99)

    @model_validator(mode="after")
    def _ordered(self) -> BotScoreThresholds:
        if self.automated_at_most >= self.likely_automated_below:
            raise ValueError("automated_at_most must be lower than likely_automated_below")
        return self

    def band(self, score: int) -> str:
        """The band name of a score."""
        if score <= self.automated_at_most:
            return "automated"
        if score < self.likely_automated_below:
            return "likely-automated"
        return "likely-human"


class SignatureSettings(_Strict):
    """Bounds on Web Bot Auth signatures, and the signature profiles accepted."""

    max_clock_skew_s: int = Field(default=60, ge=0, le=3600)
    max_validity_s: int = Field(default=3600, ge=1, le=7 * 86_400)
    # ietf: the IETF draft (Signature-Agent a dictionary); legacy: Signature-Agent a bare string;
    # visa-tap: Visa's Trusted Agent Protocol tags, a nonce, at most 8 minutes. docs/policy.md.
    profiles: tuple[SignatureProfile, ...] = Field(
        default=("ietf", "legacy"), min_length=1, max_length=len(get_args(SignatureProfile))
    )

    @field_validator("profiles")
    @classmethod
    def _distinct(cls, profiles: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(profiles)) != len(profiles):
            raise ValueError("list each signature profile once")
        return profiles


class EscalationSettings(_Strict):
    """Terms-of-service escalation for accounts whose sessions are flagged as agent-driven."""

    warn_after: int = Field(default=1, ge=1, le=1000)
    suspend_after: int = Field(default=3, ge=1, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> EscalationSettings:
        if self.suspend_after < self.warn_after:
            raise ValueError("suspend_after must be at least warn_after")
        return self


class PartnerKey(_Strict):
    """A registered outside agent: one Ed25519 JWK (`jwk`) or a JWK set (`jwks: {keys: [...]}`)."""

    name: str = Field(pattern=NAME_PATTERN)
    jwk: dict[str, Any] | None = None
    jwks: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> PartnerKey:
        if (self.jwk is None) == (self.jwks is None):
            raise ValueError("give exactly one of 'jwk' (one key) or 'jwks' ({keys: [...]})")
        for key in self.keys():
            if not isinstance(key, dict):
                raise ValueError("every key must be a JWK object")
            if key.get("kty") != "OKP" or key.get("crv") != "Ed25519" or not key.get("x"):
                raise ValueError(
                    "every key must be an Ed25519 public JWK (kty OKP, crv Ed25519, x)"
                )
            if "d" in key:
                raise ValueError("this JWK contains a private key ('d'); give the public key only")
            where = published_test_key(key.get("x"))
            if where is not None:
                raise ValueError(refusal(where))
        return self

    def keys(self) -> list[dict[str, Any]]:
        """The partner's public JWKs, whichever form the file used."""
        if self.jwk is not None:
            return [self.jwk]
        found = (self.jwks or {}).get("keys")
        if not isinstance(found, list) or not found:
            raise ValueError("'jwks' must be {keys: [...]} with at least one key")
        return list(found)


class PartnerSettings(_Strict):
    """The partners whose keys the policy trusts, and whether agents may register their own.

    Written either as this mapping or, as before, as the bare list of `registered` partners.
    """

    # Test mode: an agent registers and rotates its own keys by signing with them
    # (POST /api/v1/partners, .../keys), without the admin token.
    self_service: bool = False
    registered: list[PartnerKey] = Field(default_factory=list, max_length=1000)


# A product token as user agents write them ("MyShoppingAgent", "Brightbot 1.0"): 3 to 64
# letters, digits, spaces, '.', '_' or '-', starting and ending with a letter or digit.
AGENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{1,62}[A-Za-z0-9]$"
# Words every browser's user agent carries: an agent named so would class every shopper.
_BROWSER_WORDS = frozenset(
    fold(w) for w in ("Mozilla", "AppleWebKit", "KHTML", "like Gecko", "Gecko", "Chrome", "Safari")
)


class DeclaredAgent(_Strict):
    """An agent the policy adds to the shipped registry (gate/policy/data/known_agents.yaml):
    a visitor whose user agent names it is classed by `category`, as registry agents are."""

    name: str = Field(pattern=AGENT_NAME_PATTERN)
    operator: str = Field(min_length=1, max_length=100)
    category: AgentCategory = "ai-agent"
    aliases: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("aliases")
    @classmethod
    def _token_aliases(cls, aliases: list[str]) -> list[str]:
        for alias in aliases:
            if not re.match(AGENT_NAME_PATTERN, alias):
                raise ValueError(
                    f"alias {alias!r} must be 3 to 64 letters, digits, spaces, '.', '_' or '-', "
                    "starting and ending with a letter or digit"
                )
        return aliases

    @model_validator(mode="after")
    def _new_names(self) -> DeclaredAgent:
        shipped = default_known_agents()
        for token in self.tokens():
            folded = fold(token)
            if folded in _BROWSER_WORDS:
                raise ValueError(
                    f"{token!r} is in every browser's user agent; name the agent by its own token"
                )
            known = shipped.by_folded(folded)
            if known is not None:
                raise ValueError(
                    f"{token!r} is in the shipped registry already ({known.name}, "
                    f"{known.operator}, {known.category}); a policy adds new names only"
                )
        return self

    def tokens(self) -> list[str]:
        return [self.name, *self.aliases]


def _default_routes() -> dict[RouteClass, list[str]]:
    # `*` matches one path segment; a pattern also covers every path below it; `?q` needs a
    # non-empty query parameter `q`; "/" alone matches only the home page. The longest match wins.
    return {
        # The rules themselves: robots.txt, the public policy, the problem type pages, and the
        # signature debugger, which every agent must reach to learn why it is refused.
        "robots": ["/robots.txt", "/api/v1/policy/public", "/problems", "/api/v1/signature"],
        # Key directories, and partner keys: an agent registering its own key (self-service,
        # in test-mode policies) is not verified yet, whatever class it falls in.
        "well-known": ["/.well-known", "/api/v1/partners"],
        "assets": ["/static", "/favicon.ico"],
        "catalog": ["/", "/products", "/categories", "/api/v1/products", "/api/v1/categories"],
        "search": ["/search", "/api/v1/products?q", "/api/v1/search"],
        "product": ["/products/*", "/api/v1/products/*"],
        "account": [
            "/login",
            "/logout",
            "/register",
            "/account",
            "/api/v1/accounts",
            "/api/v1/sessions",
            "/api/v1/me",
        ],
        "cart": ["/cart", "/api/v1/cart"],
        "checkout": ["/checkout", "/orders", "/api/v1/orders"],
        "assistant": [
            "/help-me-decide",
            "/assistant",
            "/api/v1/help-me-decide",
            "/api/v1/assistant",
        ],
        "admin": [
            "/dashboard",
            "/admin",
            "/api/v1/admin",
            "/api/v1/policy",
            "/api/v1/decisions",
        ],
        # The commerce protocols' doors (UCP, ACP, MCP): discovery and catalog reads, and the
        # checkout and order writes. MCP's one path is classed per JSON-RPC call (gate/doors.py):
        # a catalog tool or a listing is protocol-catalog, any other tool protocol-checkout.
        "protocol-catalog": [
            "/.well-known/ucp",
            "/ucp/v1/.well-known",
            "/ucp/v1/docs",
            "/ucp/v1/catalog",
            "/ucp/v1/products",
        ],
        "protocol-checkout": ["/ucp", "/checkout_sessions", "/mcp"],
    }


def _default_on_error() -> dict[RouteClass, Literal["allow", "block"]]:
    # When identification itself fails: reading stays open, money and accounts fail closed.
    closed = {"account", "cart", "checkout", "assistant", "protocol-checkout"}
    return {rc: ("block" if rc in closed else "allow") for rc in get_args(RouteClass)}


class Policy(_Strict):
    """A complete gate policy."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=2000)
    # observe: compute, log and announce every decision, refuse nothing.
    mode: Literal["enforce", "observe"] = "enforce"
    routes: dict[RouteClass, list[str]] = Field(default_factory=_default_routes)
    rules: list[Rule] = Field(default_factory=list, max_length=500)
    default: DefaultRule = Field(default_factory=DefaultRule)
    rate_limits: dict[VisitorClass, RateLimit] = Field(default_factory=dict)
    bot_score: BotScoreThresholds = Field(default_factory=BotScoreThresholds)
    crawl_price: CrawlPrice | None = None
    partners: PartnerSettings = Field(default_factory=PartnerSettings)
    # Agents added to the shipped registry for this policy (classed like registry agents).
    agents: list[DeclaredAgent] = Field(default_factory=list, max_length=100)
    signatures: SignatureSettings = Field(default_factory=SignatureSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    on_error: dict[RouteClass, Literal["allow", "block"]] = Field(default_factory=_default_on_error)

    @field_validator("routes")
    @classmethod
    def _valid_patterns(cls, routes: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[str, str] = {}
        for route_class, patterns in routes.items():
            for pattern in patterns:
                path = pattern.split("?", 1)[0]
                if not path.startswith("/") or "//" in path or len(pattern) > 200:
                    raise ValueError(
                        f"route pattern {pattern!r} of {route_class!r} must be an absolute path "
                        "like /api/v1/cart (at most 200 characters)"
                    )
                key = pattern.lower().rstrip("/") or "/"
                if key in seen and seen[key] != route_class:
                    raise ValueError(
                        f"route pattern {pattern!r} is listed under both {seen[key]!r} and "
                        f"{route_class!r}"
                    )
                seen[key] = route_class
        return routes

    @field_validator("partners", mode="before")
    @classmethod
    def _partner_list(cls, value: Any) -> Any:
        # The bare list form: the registered partners, no self-service.
        return {"registered": value} if isinstance(value, list) else value

    @field_validator("agents")
    @classmethod
    def _distinct_agents(cls, agents: list[DeclaredAgent]) -> list[DeclaredAgent]:
        seen: dict[str, str] = {}
        for agent in agents:
            for token in agent.tokens():
                folded = fold(token)
                if folded in seen:
                    other = seen[folded]
                    raise ValueError(
                        f"{token!r} of {agent.name!r} reads the same as a token of {other!r} "
                        "(case and look-alike characters are folded); list each name once"
                    )
                seen[folded] = agent.name
        return agents

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        ids = [rule.id for rule in self.rules] + [self.default.id]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rule ids must be unique; repeated: {', '.join(duplicates)}")
        pays = any(r.action == "pay" for r in self.rules) or self.default.action == "pay"
        if pays and self.crawl_price is None:
            raise ValueError("a rule uses action 'pay', so crawl_price must be set")
        names = [p.name for p in self.partners.registered]
        if len(set(names)) != len(names):
            raise ValueError("partner names must be unique")
        return self


# --- Loading ------------------------------------------------------------------------------


class PolicyError(ValueError):
    """A policy that cannot be used; `problems` name the field, the line and the reason."""

    def __init__(self, source: str, problems: list[FieldProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source} is not a valid policy:\n{lines}")

    @property
    def first(self) -> FieldProblem:
        return self.problems[0]


def preset_text(name: str) -> str:
    """The YAML text of a shipped preset."""
    if name not in PRESET_NAMES:
        raise PolicyError(
            name,
            [
                FieldProblem(
                    "(policy)",
                    None,
                    f"there is no preset called {name!r}; presets: {', '.join(PRESET_NAMES)}",
                )
            ],
        )
    return (
        resources.files("marketplace.gate.policy.presets")
        .joinpath(f"{name}.yaml")
        .read_text("utf-8")
    )


def load_policy_text(text: str, source: str = "<policy>") -> Policy:
    """Validate policy YAML; `extends: PRESET` starts from a preset. Raises PolicyError."""
    try:
        # Size, depth, aliases and syntax are checked before anything is built from the text.
        load_yaml_text(text, _Envelope, source)
    except YamlModelError as exc:
        raise PolicyError(source, exc.problems) from exc
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    assert root is not None  # load_yaml_text refused empty documents
    data: dict[str, Any] = yaml.safe_load(text)
    base_name = data.pop("extends", None)
    merged = data
    if base_name is not None:
        if not isinstance(base_name, str) or base_name not in PRESET_NAMES:
            raise PolicyError(
                source,
                [
                    FieldProblem(
                        "extends",
                        line_of(root, ("extends",)),
                        f"must name a preset: {', '.join(PRESET_NAMES)}",
                    )
                ],
            )
        base = yaml.safe_load(preset_text(base_name))
        base.pop("extends", None)  # presets extend at most one level
        merged = {**base, **data}
        if isinstance(data.get("partners"), list) and isinstance(base.get("partners"), dict):
            # A list of partner keys keeps the preset's other partner settings (self_service).
            merged["partners"] = {**base["partners"], "registered": data["partners"]}
    try:
        return Policy.model_validate(merged)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            if loc[:2] == ("partners", "registered") and isinstance(data.get("partners"), list):
                loc = ("partners", *loc[2:])  # the file wrote the bare list form
            field = ".".join(str(p) for p in loc) or "(policy)"
            line = line_of(root, loc) if loc and loc[0] in data else None
            problems.append(FieldProblem(field, line, problem_message(err)))
        raise PolicyError(source, problems) from exc


class _Envelope(BaseModel):
    """Any mapping: used only for the safety checks of the YAML loader."""

    model_config = ConfigDict(extra="allow")


def load_policy_file(path: Path) -> Policy:
    """Read and validate a policy file; unreadable files are reported like invalid ones."""
    try:
        if path.stat().st_size > 1_000_000:
            raise PolicyError(
                str(path),
                [FieldProblem("(document)", None, "the file is larger than 1000000 bytes")],
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(str(path), [FieldProblem("(file)", None, str(exc))]) from exc
    return load_policy_text(text, str(path))


def resolve_policy_source(spec: str) -> tuple[str, str]:
    """(YAML text, source label) for a preset name or a file path, as SANDBOX_POLICY gives it."""
    if spec in PRESET_NAMES:
        return preset_text(spec), f"preset {spec}"
    path = Path(spec)
    if not path.exists():
        raise PolicyError(
            spec,
            [
                FieldProblem(
                    "(policy)",
                    None,
                    f"{spec!r} is neither a preset ({', '.join(PRESET_NAMES)}) nor an existing "
                    "YAML file",
                )
            ],
        )
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(str(path), [FieldProblem("(file)", None, str(exc))]) from exc


def load_policy(spec: str) -> Policy:
    """A preset by name or a policy file by path."""
    text, source = resolve_policy_source(spec)
    return load_policy_text(text, source)
