"""The seeded shoppers: public accounts and stated intents, and their hidden preferences.

Each persona is an ordinary account on the platform (email, password, name) whose searches, views,
cart changes and past orders are seeded into the platform's history (`sandbox.seeding`). Its
`PreferenceProfile` lives only here, on the harness side: the platform never stores or serves it.
`sandbox.utility` turns a profile into the ground truth that the Help Me Decide evaluation and
the simulated shoppers score products with.

The personas themselves are data, in `sandbox/personas/personas.yaml`; `load_personas()` reads
and checks them (against the store's categories and attributes too), and whoever needs them
passes the result on.

All personas share the password `persona-pass-1`, e.g.
`sandbox agent NAME --as student@personas.nile.test --password persona-pass-1`.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from marketplace.catalog.taxonomy import AttributeSpec, category_spec
from marketplace.core.yamlfile import load_yaml_file, load_yaml_text

PERSONA_PASSWORD = "persona-pass-1"  # noqa: S105 - the documented password of the demo accounts
PERSONA_DOMAIN = "personas.nile.test"

BUILTIN_PACKAGE = "sandbox.personas"
BUILTIN_FILE = "personas.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AttributePreference(_Strict):
    """How much one attribute matters, and which value is wanted.

    Without a `target` the attribute's own direction applies (more battery is better, less
    weight is better; for a yes/no feature, having it). With a `target` the closer the better:
    a choice or yes/no value must match, a number is scored by its distance over the range.
    A negative weight turns the preference around (e.g. a persona who avoids a feature).
    """

    weight: float
    target: str | float | bool | None = None

    def target_problem(self, spec: AttributeSpec) -> str | None:
        """Why `target` cannot be a value of `spec`, or None when it can."""
        target = self.target
        if target is None:
            return None
        if spec.kind == "choice":
            if target in spec.choices:
                return None
            return f"target {target!r} is not one of {', '.join(spec.choices)}"
        if spec.kind == "bool":
            return None if isinstance(target, bool) else f"target {target!r} is not true or false"
        if isinstance(target, (str, bool)):
            return f"target {target!r} is not a number"
        return None


def _known_category(slug: str) -> str:
    category_spec(slug)  # a ValueError naming the valid categories otherwise
    return slug


class PreferenceProfile(_Strict):
    """What a persona really wants; hidden from the platform.

    `price_sensitivity` and `quality_sensitivity` run from 0 (indifferent) to 1 (decisive);
    `brand_loyalty` is the bonus a favourite brand earns, `brand_aversion` the malus of an
    avoided one; `budgets` is the price per category the persona has in mind.
    """

    attribute_weights: Mapping[str, Mapping[str, AttributePreference]]
    price_sensitivity: float = Field(ge=0, le=1)
    quality_sensitivity: float = Field(ge=0, le=1)
    budgets: Mapping[str, float]
    favourite_brands: tuple[str, ...] = ()
    brand_loyalty: float = Field(default=0.0, ge=0)
    avoided_brands: tuple[str, ...] = ()
    brand_aversion: float = Field(default=0.0, ge=0)

    @field_validator("attribute_weights")
    @classmethod
    def _known_attributes(
        cls, value: Mapping[str, Mapping[str, AttributePreference]]
    ) -> Mapping[str, Mapping[str, AttributePreference]]:
        for slug, prefs in value.items():
            specs = {spec.key: spec for spec in category_spec(slug).attributes}
            for key, pref in prefs.items():
                spec = specs.get(key)
                if spec is None:
                    raise ValueError(
                        f"{slug} has no attribute {key!r}; its attributes: {', '.join(specs)}"
                    )
                problem = pref.target_problem(spec)
                if problem is not None:
                    raise ValueError(f"{slug}.{key}: {problem}")
        return value

    @field_validator("budgets")
    @classmethod
    def _positive_budgets(cls, value: Mapping[str, float]) -> Mapping[str, float]:
        for slug, budget in value.items():
            _known_category(slug)
            if not budget > 0:
                raise ValueError(f"the budget for {slug} must be above 0, not {budget}")
        return value


class Persona(_Strict):
    """A seeded shopper: the public account and stated intent, plus the hidden profile."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=40)
    name: str = Field(min_length=1)
    summary: str
    # Category slugs, the one being decided on right now first.
    interests: tuple[str, ...] = Field(min_length=1)
    # Category slug -> what the persona types into search.
    queries: Mapping[str, str]
    profile: PreferenceProfile = Field(repr=False)
    orders: int = Field(default=2, ge=0, le=20)  # past orders to seed

    @field_validator("interests")
    @classmethod
    def _known_interests(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("each category may be listed once")
        return tuple(_known_category(slug) for slug in value)

    @field_validator("queries")
    @classmethod
    def _known_queries(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        for slug in value:
            _known_category(slug)
        return value

    @property
    def email(self) -> str:
        return f"{self.key}@{PERSONA_DOMAIN}"

    @property
    def password(self) -> str:
        return PERSONA_PASSWORD

    @property
    def main_category(self) -> str:
        return self.interests[0]

    def query_for(self, category_slug: str) -> str:
        return self.queries.get(category_slug, category_spec(category_slug).name.lower())


class Personas(_Strict):
    """The personas of one file, in the file's order; found by key or by email."""

    members: tuple[Persona, ...] = Field(alias="personas")

    @model_validator(mode="after")
    def _distinct_keys(self) -> Personas:
        # Checked here, not as the field's minimum length: that would be reported beside (and
        # after) any problem inside one persona.
        if not self.members:
            raise ValueError("list at least one persona")
        keys = [p.key for p in self.members]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"persona keys must be distinct; repeated: {', '.join(repeated)}")
        return self

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.members]

    def find(self, email_or_key: str) -> Persona:
        """The persona with this key (`student`) or email (`student@personas.nile.test`)."""
        wanted = email_or_key.strip().lower()
        for candidate in self.members:
            if wanted in (candidate.key, candidate.email):
                return candidate
        raise KeyError(
            f"no persona {email_or_key!r}; known personas: {', '.join(self.keys)} "
            f"(or their emails, KEY@{PERSONA_DOMAIN})"
        )

    def is_persona_email(self, email: str) -> bool:
        wanted = email.strip().lower()
        return any(candidate.email == wanted for candidate in self.members)


def load_personas(path: Path | None = None) -> Personas:
    """The built-in personas, or those of the YAML file at `path` (errors name line and field)."""
    if path is not None:
        return load_yaml_file(path, Personas)
    text = resources.files(BUILTIN_PACKAGE).joinpath(BUILTIN_FILE).read_text("utf-8")
    return load_yaml_text(text, Personas, f"{BUILTIN_PACKAGE.replace('.', '/')}/{BUILTIN_FILE}")


__all__ = [
    "PERSONA_DOMAIN",
    "PERSONA_PASSWORD",
    "AttributePreference",
    "Persona",
    "Personas",
    "PreferenceProfile",
    "load_personas",
]
