"""Reading a shopper's message: which category, which pick, which price limit.

Used by the scripted brain (the offline default) to decide which tool to call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from marketplace.catalog.taxonomy import CATEGORIES
from marketplace.decide.stopwords import STOPWORDS

IntentKind = Literal["decide", "add", "history", "search", "cart", "help"]
Role = Literal["top", "budget", "premium"]

# Everyday words for the store's categories, besides their own names.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "headphones": ("headphone", "earbuds", "earbud", "headset", "earphones"),
    "running-shoes": ("running shoe", "runners", "sneakers", "trainers"),
    "tents": ("tent",),
    "coffee-makers": ("coffee", "espresso machine", "espresso maker", "coffee machine"),
    "laptops": ("laptop", "notebook computer"),
    "backpacks": ("backpack", "rucksack", "daypack"),
    "office-chairs": ("office chair", "desk chair", "chair"),
    "blenders": ("blender",),
    "vacuum-cleaners": ("vacuum", "vacuum cleaner", "hoover"),
    "monitors": ("monitor", "display", "screen"),
    "kids-toys": ("toy", "toys", "kids toy", "gift for a kid"),
    "phone-cases": ("phone case", "case", "cases"),
}


def _category_phrases() -> list[tuple[str, str]]:
    phrases: list[tuple[str, str]] = []
    for spec in CATEGORIES:
        words = {spec.slug.replace("-", " "), spec.name.lower(), spec.noun.lower()}
        words.update(SYNONYMS.get(spec.slug, ()))
        phrases.extend((w.replace("'", ""), spec.slug) for w in words)
    # Longest first, so "running shoes" wins over "shoes" and "phone case" over "case".
    return sorted(phrases, key=lambda p: -len(p[0]))


_PHRASES = _category_phrases()
_PRICE = re.compile(r"(?:under|below|less than|at most|max|up to|within|<)\s*\$?\s*(\d+(?:\.\d+)?)")
_PRODUCT_ID = re.compile(r"(?:product|item|#|id)\s*#?\s*(\d+)")
_QUANTITY = re.compile(r"\b(\d+|two|three|four|five)\s+(?:of (?:them|it)|units?|pieces?|x)\b")
_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5}


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    text: str
    category: str | None = None
    role: Role | None = None
    product_id: int | None = None
    quantity: int = 1
    max_price: float | None = None


def find_category(text: str) -> str | None:
    lowered = " " + re.sub(r"[^a-z0-9 ]+", " ", text.lower().replace("'", "")) + " "
    for phrase, slug in _PHRASES:
        if f" {phrase} " in lowered:
            return slug
    return None


def _role(text: str) -> Role | None:
    if re.search(r"\b(budget|cheap(er|est)?|less expensive|value)\b", text):
        return "budget"
    if re.search(r"\b(premium|upgrade|best of the best|high[- ]end|luxury)\b", text):
        return "premium"
    if re.search(r"\b(top|first|recommended|main|it|that|this|your) ?(pick|one|choice)?\b", text):
        return "top"
    return None


def read(text: str) -> Intent:
    """The intent of one message (deterministic, no model)."""
    lowered = text.lower().strip()
    price = _PRICE.search(lowered)
    max_price = float(price.group(1)) if price else None
    category = find_category(lowered)
    asking = re.search(r"\b(which|should i|help me|what should|recommend)\b", lowered)
    wants_add = re.search(r"\b(add|put)\b", lowered) or re.search(
        r"\b(buy|order|get me)\s+(the|that|this|it|one|product|item|\d)", lowered
    )
    if wants_add and not asking:
        product = _PRODUCT_ID.search(lowered)
        qty_match = _QUANTITY.search(lowered)
        quantity = 1
        if qty_match:
            word = qty_match.group(1)
            quantity = int(word) if word.isdigit() else _NUMBERS[word]
        return Intent(
            "add",
            text,
            category=category,
            role=None if product else (_role(lowered) or "top"),
            product_id=int(product.group(1)) if product else None,
            quantity=max(1, min(quantity, 99)),
        )
    if re.search(r"\b(my cart|in my basket|what.?s in (my )?cart)\b", lowered):
        return Intent("cart", text)
    if re.search(
        r"\b(history|what did i|what have i|i (looked|viewed|searched)|recently viewed)\b",
        lowered,
    ):
        return Intent("history", text)
    if re.search(
        r"\b(help me|choose|decide|pick|recommend|which .* (should|to) (i )?buy|what should i"
        r" (buy|get)|best)\b",
        lowered,
    ):
        return Intent("decide", text, category=category, max_price=max_price)
    if re.search(r"\b(search|find|show me|look for|looking for|do you have)\b", lowered):
        return Intent("search", text, category=category, max_price=max_price)
    if category is not None:
        return Intent("decide", text, category=category, max_price=max_price)
    return Intent("help", text)


def search_words(text: str, category: str | None) -> str:
    """The words of a message worth searching for: no filler, no price phrase, no category."""
    lowered = _PRICE.sub(" ", text.lower())
    if category:
        for phrase, slug in _PHRASES:
            if slug == category:
                lowered = re.sub(rf"\b{re.escape(phrase)}\b", " ", lowered)
    words = [
        w for w in re.findall(r"[a-z0-9\-]+", lowered) if w not in STOPWORDS and not w.isdigit()
    ]
    return " ".join(words)
