"""What a product search asks for and what it answers: the words, the filters, the sort, a page.

Shared by the search index (words) and the SQL listing (filters alone), so both read one
description of a query. User input never reaches a query language as syntax: `search_terms`
reduces it to plain word tokens first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SortKey = Literal["relevance", "price_asc", "price_desc", "rating", "popularity", "newest"]
SORT_KEYS: tuple[str, ...] = (
    "relevance",
    "price_asc",
    "price_desc",
    "rating",
    "popularity",
    "newest",
)

MAX_TERMS = 8
MAX_TERM_LENGTH = 40

# Words that carry no meaning in a product query; the index ignores them too.
# fmt: off
STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "i",
        "in", "into", "is", "it", "its", "me", "my", "no", "nor", "not", "of", "on", "or", "our",
        "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this",
        "those", "to", "too", "was", "we", "were", "what", "when", "where", "which", "while", "who",
        "whom", "why", "will", "with", "you", "your",
    }
)
# fmt: on

# Letters and digits only: quotes, `*`, `^`, `:`, parentheses and the like never get through.
_WORD = re.compile(r"[^\W_]+")

# Relevance pages are cut from the best RANK_WINDOW matches (or deeper, for a deep page); the
# sponsored slots of a query with words are auctioned among them.
RANK_WINDOW = 300


def search_terms(q: str | None) -> tuple[str, ...]:
    """The searchable words of a user query, lower-cased, stopwords and duplicates removed."""
    if not q:
        return ()
    terms: list[str] = []
    for word in _WORD.findall(q.lower()):
        if word in STOPWORDS or len(word) > MAX_TERM_LENGTH or word in terms:
            continue
        terms.append(word)
        if len(terms) == MAX_TERMS:
            break
    return tuple(terms)


@dataclass(frozen=True)
class ProductFilter:
    """What a search matches: words (all of them, or any with `any_term`) and the filters."""

    terms: tuple[str, ...] = ()
    any_term: bool = False
    category_id: int | None = None
    min_price: float | None = None
    max_price: float | None = None
    min_rating: float | None = None


@dataclass(frozen=True)
class Hits:
    """One page of matching product ids in order, and how many products match in all (exact).

    `ranked` holds the best matches by relevance, best first, for a query with
    words; the sponsored slots are auctioned among them.
    """

    ids: list[int]
    total: int
    ranked: tuple[int, ...] | None = None
