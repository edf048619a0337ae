"""Scenario files: who visits the platform, under which policy, and what the run should show."""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from marketplace.core.yamlfile import load_yaml_file, load_yaml_text
from marketplace.gate.policy.model import PRESET_NAMES, PolicyError, load_policy

AGENT_NAMES = (
    "polite-crawler",
    "rogue-crawler",
    "stealth-crawler",
    "declared-shopper",
    "disguised-browser",
    "signed-partner",
    "protocol-shopper",
    "protocol-shopper-mcp",
)
SHOPPING_AGENTS = (
    "signed-partner",
    "declared-shopper",
    "disguised-browser",
    "protocol-shopper",
    "protocol-shopper-mcp",
)
# Agents with a key of their own, registered with the admin token when a scenario runs them.
SIGNED_AGENTS = ("signed-partner", "protocol-shopper", "protocol-shopper-mcp")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogSpec(_Strict):
    products: int = Field(default=600, ge=50, le=200_000, description="Catalog size for the run.")


class ShopperSpec(_Strict):
    count: int = Field(
        default=6,
        ge=0,
        le=500,
        description="Simulated shoppers, one shopping journey each: each has a need (a category, "
        "a budget and hidden preferences) and either browses the store or delegates.",
    )
    personas: list[str] = Field(
        default_factory=list, description="Persona keys to draw from; empty means all of them."
    )
    buy_probability: float = Field(
        default=0.6, ge=0, le=1, description="A browsing shopper buys rather than leaves."
    )
    use_help_me_decide: bool = Field(
        default=True, description="Ask Help Me Decide when the store offers it."
    )
    follow_help_me_decide: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A shopper who asked Help Me Decide buys its top pick rather than choosing "
        "among what they saw themselves.",
    )


class FirstPartySpec(_Strict):
    sessions: int = Field(
        default=2,
        ge=0,
        le=8,
        description="Journeys through the platform's own assistant, one per seeded persona "
        "(whose private history it reads).",
    )


class DelegationSpec(_Strict):
    """Shoppers who hand their need to an outside agent acting for them."""

    share: float = Field(
        default=0.0, ge=0, le=1, description="Share of the shoppers who delegate to an agent."
    )
    agents: dict[str, float] = Field(
        default_factory=lambda: {"signed-partner": 1.0},
        description="Which outside agents they delegate to, with relative weights.",
    )

    @field_validator("agents")
    @classmethod
    def _shopping_agents(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [name for name in value if name not in SHOPPING_AGENTS]
        if unknown:
            raise ValueError(
                f"{', '.join(map(repr, unknown))} cannot shop for anyone; "
                f"choose from {', '.join(SHOPPING_AGENTS)}"
            )
        if any(weight < 0 for weight in value.values()) or not sum(value.values()) > 0:
            raise ValueError("weights must be zero or more, and at least one above zero")
        return value


class FallbackSpec(_Strict):
    """What a shopper does when the gate refuses the agent acting for them."""

    to_store: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="Comes to the store and shops there; otherwise buys elsewhere (a lost sale).",
    )


class AdsSpec(_Strict):
    click_rate: float = Field(
        default=0.12,
        ge=0,
        le=1,
        description="Chance that a person clicks a sponsored listing they see (agents never do).",
    )


class AgentSpec(_Strict):
    name: str = Field(description=f"One of: {', '.join(AGENT_NAMES)}.")
    count: int = Field(default=1, ge=1, le=50)
    stealth: int = Field(default=0, ge=0, le=1, description="disguised-browser only.")
    pages: int = Field(default=20, ge=1, le=500, description="Crawlers: pages to try.")

    @field_validator("name")
    @classmethod
    def _known_agent(cls, value: str) -> str:
        if value not in AGENT_NAMES:
            raise ValueError(f"unknown agent {value!r}; choose one of {', '.join(AGENT_NAMES)}")
        return value


class Expectation(_Strict):
    metric: str = Field(
        description="A dotted path into the run's metrics, e.g. orders.by_channel.human."
    )
    op: Literal[">=", "<=", "==", ">", "<", "!="] = ">="
    value: float


class PopulationSpec(_Strict):
    shoppers: ShopperSpec = Field(default_factory=ShopperSpec)
    first_party: FirstPartySpec = Field(default_factory=FirstPartySpec)
    agents: list[AgentSpec] = Field(default_factory=list)


def _known_policy(spec: str | None) -> str | None:
    """A preset name or a policy file that loads; otherwise the reason, as a field error."""
    if spec is None:
        return spec
    try:
        load_policy(spec)
    except PolicyError as exc:
        close = difflib.get_close_matches(spec, PRESET_NAMES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"{exc.first.message}.{hint}") from exc
    return spec


PolicySpec = Annotated[str, AfterValidator(_known_policy)]


class Variant(_Strict):
    """One arm of a comparison: the same population under another policy or knob."""

    name: str = Field(min_length=1, max_length=80)
    policy: PolicySpec | None = None
    house_brand_boost: float | None = Field(default=None, ge=0, le=2)
    delegation_share: float | None = Field(default=None, ge=0, le=1)


class Scenario(_Strict):
    name: str = Field(min_length=1, max_length=80)
    title: str = ""
    description: str = ""
    policy: PolicySpec = Field(default="closed", description="A preset name or a policy YAML path.")
    house_brand_boost: float = Field(default=0.0, ge=0, le=2)
    seed: int = 42
    catalog: CatalogSpec = Field(default_factory=CatalogSpec)
    population: PopulationSpec = Field(default_factory=PopulationSpec)
    delegation: DelegationSpec = Field(default_factory=DelegationSpec)
    fallback: FallbackSpec = Field(default_factory=FallbackSpec)
    ads: AdsSpec = Field(default_factory=AdsSpec)
    variants: list[Variant] = Field(
        default_factory=list,
        max_length=8,
        description="Run the scenario once per variant and report them side by side.",
    )
    expect: list[Expectation] = Field(default_factory=list)

    def expand(self) -> list[Scenario]:
        """The runs this scenario stands for: itself, or one per variant."""
        if not self.variants:
            return [self]
        runs = []
        for variant in self.variants:
            changes: dict[str, object] = {"name": f"{self.name}/{variant.name}", "variants": []}
            if variant.policy is not None:
                changes["policy"] = variant.policy
            if variant.house_brand_boost is not None:
                changes["house_brand_boost"] = variant.house_brand_boost
            if variant.delegation_share is not None:
                changes["delegation"] = self.delegation.model_copy(
                    update={"share": variant.delegation_share}
                )
            runs.append(self.model_copy(update=changes))
        return runs


BUILTIN_PACKAGE = "sandbox.scenarios"


def builtin_names() -> list[str]:
    """The names of the scenarios shipped with the sandbox."""
    folder = resources.files(BUILTIN_PACKAGE)
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a scenario file by path (errors name the line and field)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_yaml_file(path, Scenario)
    if name_or_path not in builtin_names():
        known = ", ".join(builtin_names())
        raise FileNotFoundError(
            f"no scenario called {name_or_path!r}: use a built-in one ({known}) or a YAML file path"
        )
    text = resources.files(BUILTIN_PACKAGE).joinpath(f"{name_or_path}.yaml").read_text("utf-8")
    return load_yaml_text(text, Scenario, f"{name_or_path}.yaml")
