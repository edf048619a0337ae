"""Reasons: short, concrete, true sentences, each built from numbers it carries as evidence.

Every reason keeps the data it was written from (`Reason.data`), so a test or a curious agent
developer can check each number in the sentence against the catalog and the shopper's history.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from marketplace.decide.domain import AttrSpec, ProductFacts, ShopperSignal
from marketplace.decide.profile import CategoryStats, LearnedProfile, Preference, value_number
from marketplace.decide.ranking import Scored

MAX_REASONS = 4


@dataclass(frozen=True)
class Reason:
    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


def num(value: float) -> str:
    """A number as reasons print it: no trailing zeros, thousands separated."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def money(value: float) -> str:
    return f"${value:,.2f}"


def stars(value: float) -> str:
    return f"{value:.1f}"


def lower_label(label: str) -> str:
    """`Noise cancelling` -> `noise cancelling`, but `USB-C` stays `USB-C`."""
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def bool_phrase(label: str) -> str:
    """A yes/no attribute's label for a sentence: `Educational (STEM)` -> `educational`."""
    return lower_label(label.split(" (")[0].strip())


def is_adjective(phrase: str) -> bool:
    """`wireless`, `waterproof`, `freestanding`, `battery powered` read as adjectives."""
    last = phrase.split()[-1].lower()
    single = " " not in phrase
    return last.endswith("ed") or (
        single and last.endswith(("less", "proof", "ing", "al", "able", "ible"))
    )


def with_unit(value: float, spec: AttrSpec) -> str:
    return f"{num(value)} {spec.unit}" if spec.unit else num(value)


def shown(product: ProductFacts, spec: AttrSpec) -> str:
    """An attribute value as a reason shows it: `30 h`, `4-season`, `Core 7`."""
    if spec.kind == "choice":
        return str(product.attributes.get(spec.key))
    number = product.number(spec.key)
    return with_unit(number, spec) if number is not None else "unknown"


def evidence_value(product: ProductFacts, spec: AttrSpec) -> Any:
    return product.attributes.get(spec.key)


def _viewed(signal: ShopperSignal) -> list[ProductFacts]:
    return [i.product for i in signal.interactions if i.views > 0]


def quality_reason(p: ProductFacts) -> Reason:
    if p.review_count == 0:
        return Reason("quality", "Not rated yet: no reviews so far", {"review_count": 0})
    return Reason(
        "quality",
        f"{stars(p.rating)} stars from {p.review_count:,} ratings",
        {"rating": round(p.rating, 1), "review_count": p.review_count},
    )


def _preference_reason(
    pref: Preference, p: ProductFacts, signal: ShopperSignal, stats: CategoryStats, noun: str
) -> Reason | None:
    spec = pref.spec
    raw = p.attributes.get(spec.key)
    viewed = _viewed(signal)
    label = lower_label(spec.label)
    if pref.kind == "bool" and pref.personal:
        if raw is not pref.preferred:
            return None
        k = sum(1 for v in viewed if v.attributes.get(spec.key) is pref.preferred)
        n = sum(1 for v in viewed if v.attributes.get(spec.key) is not None)
        if k < 2:
            return None
        plain = bool_phrase(spec.label)
        if is_adjective(plain):
            text = (
                f"You viewed {k} {plain} {noun}; this one is {plain} too"
                if pref.preferred
                else f"{k} of the {n} {noun} you viewed were not {plain}, and neither is this one"
            )
        else:
            text = (
                f"You viewed {k} {noun} with {plain}; this one has it too"
                if pref.preferred
                else f"{k} of the {n} {noun} you viewed had no {plain}, and neither does this one"
            )
        return Reason(
            "attribute",
            text,
            {"attribute": spec.key, "value": pref.preferred, "viewed_matching": k, "viewed": n},
        )
    if pref.kind == "choice":
        if str(raw) != str(pref.preferred):
            return None
        k = sum(1 for v in viewed if str(v.attributes.get(spec.key)) == str(pref.preferred))
        n = sum(1 for v in viewed if v.attributes.get(spec.key) is not None)
        if k < 2:
            return None
        return Reason(
            "attribute",
            f"{k} of the {n} {noun} you viewed were {raw}, like this one",
            {"attribute": spec.key, "value": raw, "viewed_matching": k, "viewed": n},
        )
    number = value_number(p, spec)
    if number is None:
        return None
    if pref.kind == "directed":
        beaten = (
            stats.below(spec.key, number) if pref.preferred > 0 else stats.above(spec.key, number)
        )
        share = math.floor(100 * beaten / stats.size) if stats.size else 0
        if share < 50:
            return None
        word = "more" if pref.preferred > 0 else "less"
        if spec.kind == "choice":
            text = f"{spec.label} {shown(p, spec)}: better than {share}% of in-stock {noun}"
        else:
            text = f"{shown(p, spec)} {label}: {word} than {share}% of in-stock {noun}"
        return Reason(
            "attribute",
            text,
            {
                "attribute": spec.key,
                "value": evidence_value(p, spec),
                "share_beaten": share,
                "size": stats.size,
                "better": "higher" if pref.preferred > 0 else "lower",
            },
        )
    if pref.kind == "target":
        k = sum(1 for v in viewed if v.number(spec.key) == number)
        n = sum(1 for v in viewed if v.number(spec.key) is not None)
        if k < 2:
            return None
        return Reason(
            "attribute",
            f"{spec.label} {with_unit(number, spec)}, the same as {k} of the {n} {noun} you viewed",
            {"attribute": spec.key, "value": number, "viewed_matching": k, "viewed": n},
        )
    return None


def _personal_reasons(
    s: Scored, profile: LearnedProfile, signal: ShopperSignal, stats: CategoryStats, noun: str
) -> list[Reason]:
    ordered = sorted(profile.preferences, key=lambda p: (-p.importance, p.spec.key))
    out = []
    for pref in ordered:
        reason = _preference_reason(pref, s.product, signal, stats, noun)
        if reason is not None:
            out.append(reason)
    return out


def _price_reason(p: ProductFacts, signal: ShopperSignal, noun: str) -> Reason | None:
    prices = [v.price for v in _viewed(signal)]
    if len(prices) < 2:
        return None
    lo, hi = min(prices), max(prices)
    if lo <= p.price <= hi:
        return Reason(
            "price",
            f"{money(p.price)}, within the {money(lo)} to {money(hi)} range of the {noun} "
            "you viewed",
            {"price": p.price, "viewed_min_price": lo, "viewed_max_price": hi},
        )
    if p.price < lo:
        return Reason(
            "price",
            f"{money(p.price)}, less than any of the {noun} you viewed (from {money(lo)})",
            {"price": p.price, "viewed_min_price": lo},
        )
    return None


def _search_reason(s: Scored, profile: LearnedProfile) -> Reason | None:
    if not s.matched_terms or not profile.terms:
        return None
    if 2 * len(s.matched_terms) < len(profile.terms):
        return None  # matching one word in four says little
    k, n = len(s.matched_terms), len(profile.terms)
    words = ", ".join(f'"{t}"' for t in s.matched_terms)
    if k == n:
        text = f"Matches what you searched for: {words}"
    else:
        text = f"Matches {k} of the {n} words you searched for: {words}"
    return Reason(
        "search",
        text,
        {
            "matched": list(s.matched_terms),
            "terms": list(profile.terms),
            "matched_count": k,
            "term_count": n,
        },
    )


def _brand_reason(p: ProductFacts, signal: ShopperSignal, noun: str) -> Reason | None:
    bought = signal.brands_bought.get(p.brand, 0)
    if bought:
        times = "once" if bought == 1 else f"{bought} times"
        return Reason(
            "brand",
            f"From {p.brand}, a brand you have bought {times} before",
            {"brand": p.brand, "purchases": bought},
        )
    k = sum(1 for v in _viewed(signal) if v.brand == p.brand)
    if k >= 2:
        return Reason(
            "brand",
            f"From {p.brand}, like {k} of the {noun} you viewed",
            {"brand": p.brand, "viewed_matching": k},
        )
    return None


def _interest_reason(p: ProductFacts, signal: ShopperSignal) -> Reason | None:
    views = next((i.views for i in signal.interactions if i.product.id == p.id), 0)
    if views < 2:
        return None
    return Reason(
        "interest",
        f"You came back to this one: viewed {views} times",
        {"product_id": p.id, "views": views},
    )


def _co_view_reason(p: ProductFacts, co_viewers: int, noun: str) -> Reason | None:
    if co_viewers < 2:
        return None
    return Reason(
        "co_view",
        f"Also viewed by {co_viewers} shoppers who viewed the same {noun} as you",
        {"co_viewers": co_viewers},
    )


def _house_reason(p: ProductFacts, boost: float) -> Reason | None:
    if not boost or not p.is_house_brand:
        return None
    return Reason(
        "house_brand",
        f"{p.brand} is the store's own brand, which this store's settings favour "
        f"(+{num(boost)} to the score)",
        {"brand": p.brand, "house_brand_boost": boost},
    )


def top_reasons(
    s: Scored,
    profile: LearnedProfile,
    signal: ShopperSignal,
    stats: CategoryStats,
    noun: str,
    *,
    co_viewers: int = 0,
    house_brand_boost: float = 0.0,
    compared: int = 0,
) -> list[Reason]:
    """Two to four reasons for the top pick, the most personal first."""
    p = s.product
    personal = _personal_reasons(s, profile, signal, stats, noun)
    ordered: list[Reason | None] = [
        _house_reason(p, house_brand_boost),
        *personal[:2],
        quality_reason(p),
        _interest_reason(p, signal),
        _search_reason(s, profile),
        _price_reason(p, signal, noun),
        _brand_reason(p, signal, noun),
        _co_view_reason(p, co_viewers, noun),
        *personal[2:],
    ]
    reasons = [r for r in ordered if r is not None][:MAX_REASONS]
    if len(reasons) < 2:
        reasons.append(
            Reason(
                "overall",
                f"The best overall score of the {compared:,} in-stock {noun} compared",
                {"compared": compared},
            )
        )
    return reasons


def _tradeoffs(
    pick: ProductFacts, top: ProductFacts, profile: LearnedProfile, *, worse: bool
) -> list[Reason]:
    """Where `pick` is worse (or, with worse=False, better) than the top pick."""
    out: list[Reason] = []
    prefs = sorted(
        (p for p in profile.preferences if p.kind in ("bool", "directed")),
        key=lambda p: (-p.importance, p.spec.key),
    )
    for pref in prefs:
        spec = pref.spec
        label = lower_label(spec.label)
        if pref.kind == "bool":
            a = pick.attributes.get(spec.key) is pref.preferred
            b = top.attributes.get(spec.key) is pref.preferred
            if a == b or (a > b) == worse:
                continue
            has = pick.attributes.get(spec.key) is True
            plain = bool_phrase(spec.label)
            if is_adjective(plain):
                what = plain if has else f"not {plain}"
            else:
                what = f"with {plain}" if has else f"no {plain}"
            text = f"{'Trade-off' if worse else 'Upgrade'}: {what}, unlike the top pick"
            out.append(Reason("tradeoff" if worse else "upgrade", text, {"attribute": spec.key}))
            continue
        va, vb = value_number(pick, spec), value_number(top, spec)
        if va is None or vb is None or va == vb:
            continue
        better = (va - vb) * pref.preferred > 0
        if better == worse:
            continue
        text = (
            f"{'Trade-off' if worse else 'Upgrade'}: {shown(pick, spec)} {label} vs "
            f"{shown(top, spec)} on the top pick"
        )
        out.append(
            Reason(
                "tradeoff" if worse else "upgrade",
                text,
                {
                    "attribute": spec.key,
                    "value": evidence_value(pick, spec),
                    "top_value": evidence_value(top, spec),
                },
            )
        )
    return out


def budget_reasons(
    s: Scored,
    top: Scored,
    profile: LearnedProfile,
    signal: ShopperSignal,
    stats: CategoryStats,
    noun: str,
) -> list[Reason]:
    p, t = s.product, top.product
    share = round(100 * (t.price - p.price) / t.price)
    reasons: list[Reason] = [
        Reason(
            "price",
            f"{share}% cheaper than the top pick ({money(p.price)} vs {money(t.price)})",
            {"price": p.price, "top_price": t.price, "percent_cheaper": share},
        )
    ]
    losses = _tradeoffs(p, t, profile, worse=True)
    if losses:
        reasons.append(losses[0])
    reasons.append(quality_reason(p))
    personal = _personal_reasons(s, profile, signal, stats, noun)
    if personal and len(reasons) < MAX_REASONS:
        reasons.append(personal[0])
    return reasons[:MAX_REASONS]


def premium_reasons(
    s: Scored,
    top: Scored,
    profile: LearnedProfile,
    signal: ShopperSignal,
    stats: CategoryStats,
    noun: str,
) -> list[Reason]:
    p, t = s.product, top.product
    extra = round(p.price - t.price, 2)
    reasons: list[Reason] = [
        Reason(
            "price",
            f"{money(extra)} more than the top pick ({money(p.price)} vs {money(t.price)})",
            {"price": p.price, "top_price": t.price, "price_difference": extra},
        )
    ]
    gains = _tradeoffs(p, t, profile, worse=False)
    reasons.extend(gains[:1])
    if round(p.rating, 1) > round(t.rating, 1):
        reasons.append(
            Reason(
                "quality",
                f"{stars(p.rating)} stars from {p.review_count:,} ratings, vs "
                f"{stars(t.rating)} for the top pick",
                {
                    "rating": round(p.rating, 1),
                    "review_count": p.review_count,
                    "top_rating": round(t.rating, 1),
                },
            )
        )
    else:
        reasons.append(quality_reason(p))
    reasons.extend(gains[1:2])
    if len(reasons) < MAX_REASONS:
        personal = _personal_reasons(s, profile, signal, stats, noun)
        reasons.extend(personal[:1])
    return reasons[:MAX_REASONS]


def summary_facts(reasons: Sequence[Reason]) -> list[str]:
    return [r.text for r in reasons]
