"""Hard constraints the shopper revealed in words: "wireless", "4-person", "under $200".

A search word only becomes a constraint when it names an attribute of the category (its label, a
choice value, or a number with the attribute's unit) or a price limit; other words only count as
soft search-term matches in scoring.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from marketplace.decide.domain import AttrSpec, ProductFacts, SearchSignal

S = TypeVar("S", bound=Sized)
Op = Literal[
    "is", "is_not", "in", "min", "max", "eq", "max_price", "min_price", "min_rating", "brand"
]
# Words of an attribute key too generic to name the attribute on their own.
_GENERIC_WORDS = frozenset(
    [
        "built",
        "filter",
        "support",
        "rating",
        "life",
        "size",
        "time",
        "timer",
        "parts",
        "safe",
        "with",
        "power",
        "level",
        "type",
    ]
)

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
NEGATORS = ("no", "non", "not", "without")
_BELOW = ("under", "below", "less than", "cheaper than", "at most", "max", "up to", "within")
_ABOVE = ("over", "above", "more than", "at least", "min", "from")
_NUMBER = r"(\d+(?:\.\d+)?)"


@dataclass(frozen=True)
class Constraint:
    """One hard rule a candidate must satisfy, with the words it came from."""

    op: Op
    key: str | None
    value: Any
    source: str
    label: str
    unit: str | None = None

    @property
    def reads(self) -> str:
        """The product field the rule looks at: `price`, `rating`, `brand` or `attributes.<key>`."""
        if self.op in ("max_price", "min_price"):
            return "price"
        if self.op == "min_rating":
            return "rating"
        if self.op == "brand":
            return "brand"
        return f"attributes.{self.key}"

    def admits(self, product: ProductFacts) -> bool:
        if self.op == "max_price":
            return product.price <= float(self.value) + 1e-9
        if self.op == "min_price":
            return product.price >= float(self.value) - 1e-9
        if self.op == "min_rating":
            return product.rating >= float(self.value) - 1e-9
        if self.op == "brand":
            return product.brand.lower() == str(self.value).lower()
        assert self.key is not None
        raw = product.attributes.get(self.key)
        if self.op == "is":
            return raw is True
        if self.op == "is_not":
            return raw is False
        if self.op == "in":
            return isinstance(raw, str) and raw.lower() in {str(v).lower() for v in self.value}
        number = product.number(self.key)
        if number is None:
            return False
        if self.op == "min":
            return number >= float(self.value) - 1e-9
        if self.op == "max":
            return number <= float(self.value) + 1e-9
        # "a 30 L backpack" means about 30 L; stepped values (tent capacity) stay exact.
        return abs(number - float(self.value)) <= 0.1 * abs(float(self.value)) + 1e-9

    def describe(self) -> str:
        """A short phrase for notes and reasons, e.g. `wireless` or `at most $200.00`."""
        if self.op == "max_price":
            return f"price at most ${float(self.value):,.2f}"
        if self.op == "min_price":
            return f"price at least ${float(self.value):,.2f}"
        if self.op == "min_rating":
            return f"rating at least {float(self.value):g} stars"
        if self.op == "brand":
            return f"brand {self.value}"
        if self.op == "is":
            return f"{self.label.lower()}: yes"
        if self.op == "is_not":
            return f"{self.label.lower()}: no"
        if self.op == "in":
            return f"{self.label.lower()}: " + " or ".join(str(v) for v in self.value)
        word = {"min": "at least ", "max": "at most ", "eq": ""}[self.op]
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.label.lower()} {word}{_fmt(float(self.value))}{unit}"


def _fmt(value: float) -> str:
    return f"{value:g}"


def _phrase_pattern(text: str) -> str:
    """A regex for a label or value that tolerates `-`, `_` or spaces and US/UK doubled l."""
    words = _WORD.findall(text.lower().replace("_", " ").replace("-", " "))
    parts = [re.escape(w).replace("ll", "ll?") for w in words]
    return r"\b" + r"[\s\-_]*".join(parts) + r"\b" if parts else r"(?!)"


def _unit_pattern(unit: str) -> str:
    unit = unit.strip().lower()
    variants = {re.escape(unit), re.escape(unit) + "s", re.escape(unit) + "es"}
    if len(unit) > 3 and unit.endswith("s"):
        variants.add(re.escape(unit[:-1]))  # "4-person", "8 year old"
    aliases = {
        "in": ["inch", "inches", '"'],
        "h": ["hr", "hrs", "hour", "hours"],
        "hours": ["h", "hr", "hrs", "hour"],
        "person": ["people", "persons", "man", "p"],
        "persons": ["person", "people", "man", "p"],
        "people": ["person", "persons"],
        "l": ["liter", "liters", "litre", "litres"],
        "kg": ["kilo", "kilos", "kilogram", "kilograms"],
        "w": ["watt", "watts"],
        "gb": ["gig", "gigs"],
        "mp": ["megapixel", "megapixels"],
    }
    variants.update(re.escape(a) for a in aliases.get(unit, []))
    return "(?:" + "|".join(sorted(variants, key=len, reverse=True)) + ")"


def _preceded_by(text: str, start: int, words: Sequence[str]) -> bool:
    before = text[max(0, start - 16) : start].strip()
    return any(before.endswith(w) for w in words)


def _bool_patterns(spec: AttrSpec) -> list[str]:
    """The label, the key, and each distinctive word of the key ("hepa" for `hepa_filter`)."""
    patterns = [_phrase_pattern(spec.label), _phrase_pattern(spec.key)]
    words = spec.key.split("_")
    if len(words) > 1:
        patterns += [_phrase_pattern(w) for w in words if len(w) >= 4 and w not in _GENERIC_WORDS]
    return patterns


def parse_query(
    query: str, specs: Sequence[AttrSpec], brands: Sequence[str] = ()
) -> list[Constraint]:
    """The hard constraints named by one query's words (attribute names, values, price limits)."""
    text = " " + query.lower().replace("\u2013", "-").replace("\u2014", "-") + " "
    found: list[Constraint] = []
    used: list[tuple[int, int]] = []

    def overlaps(span: tuple[int, int]) -> bool:
        return any(span[0] < end and start < span[1] for start, end in used)

    # Numbers with an attribute's unit first, so "under 2 kg" is a weight, not a price.
    for spec in specs:
        if not spec.numeric or not spec.unit:
            continue
        pattern = _NUMBER + r"\s*-?\s*" + _unit_pattern(spec.unit) + r"(?![a-z])"
        for match in re.finditer(pattern, text):
            if overlaps(match.span()):
                continue
            value = float(match.group(1))
            if _preceded_by(text, match.start(), _BELOW):
                op: Op = "max"
            elif _preceded_by(text, match.start(), _ABOVE):
                op = "min"
            else:
                op = {"higher": "min", "lower": "max"}.get(spec.better or "", "eq")  # type: ignore[assignment]
            used.append(match.span())
            found.append(
                Constraint(op, spec.key, value, match.group(0).strip(), spec.label, spec.unit)
            )
    price = re.compile(
        r"(under|below|less than|cheaper than|at most|max|up to|within|over|above|more than"
        r"|at least|min)\s*(\$)?\s*" + _NUMBER + r"(?!\s*-?\s*[a-z%])"
    )
    for match in price.finditer(text):
        if overlaps(match.span()):
            continue
        word, dollar, number = match.group(1), match.group(2), float(match.group(3))
        below = word in _BELOW
        if not below and not dollar:
            continue  # "over 20" without a $ is too ambiguous to be a price
        used.append(match.span())
        found.append(
            Constraint(
                "max_price" if below else "min_price", None, number, match.group(0).strip(), "price"
            )
        )
    for spec in specs:
        if spec.kind == "bool":
            matches = (m for pattern in _bool_patterns(spec) for m in re.finditer(pattern, text))
            for match in matches:
                if overlaps(match.span()):
                    continue
                negated = _preceded_by(text, match.start(), NEGATORS) or text[
                    max(0, match.start() - 4) : match.start()
                ].endswith("non-")
                used.append(match.span())
                found.append(
                    Constraint(
                        "is_not" if negated else "is",
                        spec.key,
                        not negated,
                        match.group(0),
                        spec.label,
                    )
                )
                break
        elif spec.kind == "choice":
            values = []
            sources = []
            for choice in sorted(spec.choices, key=len, reverse=True):
                hit = re.search(_phrase_pattern(choice), text)
                if hit and not overlaps(hit.span()):
                    used.append(hit.span())
                    values.append(choice)
                    sources.append(hit.group(0))
            if values:
                found.append(
                    Constraint("in", spec.key, tuple(values), " ".join(sources), spec.label)
                )
    for brand in brands:
        named = re.search(_phrase_pattern(brand), text)
        if named and not overlaps(named.span()):
            used.append(named.span())
            found.append(Constraint("brand", None, brand, named.group(0), "brand"))
            break
    return found


def filter_constraints(filters: Mapping[str, Any]) -> list[Constraint]:
    """Constraints from a search's explicit filters (price range, minimum rating)."""
    found: list[Constraint] = []
    for key, op in (
        ("max_price", "max_price"),
        ("min_price", "min_price"),
        ("min_rating", "min_rating"),
    ):
        value = filters.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            label = "price" if "price" in key else "rating"
            found.append(Constraint(op, None, float(value), f"{key}={value:g}", label))  # type: ignore[arg-type]
    return found


def _slot(constraint: Constraint) -> tuple[str, str | None]:
    if constraint.op in ("max_price", "min_price", "min_rating", "brand"):
        return (constraint.op, None)
    if constraint.op in ("is", "is_not"):
        return ("bool", constraint.key)
    return (constraint.op if constraint.op != "in" else "choice", constraint.key)


def revealed_constraints(
    searches: Iterable[SearchSignal],
    specs: Sequence[AttrSpec],
    *,
    brands: Sequence[str] = (),
    limit: int = 3,
) -> list[Constraint]:
    """Constraints from the shopper's latest searches; a newer search overrides an older one."""
    ordered = sorted(
        searches, key=lambda s: s.at.timestamp() if s.at else float("inf"), reverse=True
    )[:limit]
    chosen: dict[tuple[str, str | None], Constraint] = {}
    for search in ordered:  # newest first: keep the first constraint seen for each slot
        parsed = parse_query(search.query, specs, brands)
        for constraint in [*parsed, *filter_constraints(search.filters)]:
            chosen.setdefault(_slot(constraint), constraint)
    return list(chosen.values())


# Which constraints give way first when together they leave too few products.
_RELAX_ORDER: dict[str, int] = {
    "eq": 0,
    "min": 1,
    "max": 1,
    "min_rating": 2,
    "brand": 2,
    "in": 3,
    "is_not": 4,
    "is": 4,
    "min_price": 5,
    "max_price": 6,
}


def apply_constraints(
    products: Sequence[ProductFacts], constraints: Sequence[Constraint], *, minimum: int
) -> tuple[list[ProductFacts], list[Constraint], list[Constraint]]:
    """Products meeting the constraints, relaxing the least decisive ones below `minimum`.

    Returns (kept products, constraints applied, constraints relaxed).
    """
    return relax_constraints(
        constraints,
        minimum=minimum,
        select=lambda active: [p for p in products if all(c.admits(p) for c in active)],
    )


def relax_constraints(
    constraints: Sequence[Constraint],
    *,
    minimum: int,
    select: Callable[[Sequence[Constraint]], S],
) -> tuple[S, list[Constraint], list[Constraint]]:
    """What `select` keeps under the constraints, dropping the least decisive below `minimum`."""
    active = sorted(constraints, key=lambda c: _RELAX_ORDER[c.op], reverse=True)
    relaxed: list[Constraint] = []
    while True:
        kept = select(active)
        if len(kept) >= minimum or not active:
            return kept, active, relaxed
        relaxed.append(active.pop())
