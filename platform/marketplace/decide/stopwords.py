"""The words Help Me Decide ignores in what a shopper types: one list for scoring and the assistant.

It starts from the catalog search's own stopwords (read-only, so a word search drops is dropped
here too) and adds the words of shopping requests that name no product feature: "best", "cheap",
"help me choose", "under", "please" and the like. Negations stay ("no", "not"): "not wireless" is
a constraint, and the assistant's searches must keep saying so. Price phrases ("under $200") are
read as constraints before these words are dropped.
"""

from __future__ import annotations

from marketplace.catalog.query import STOPWORDS as SEARCH_STOPWORDS
from marketplace.decide.constraints import NEGATORS

# fmt: off
_REQUEST_WORDS = frozenset(
    {
        # asking and wanting
        "buy", "choose", "could", "decide", "do", "find", "get", "help", "look", "looking",
        "need", "pick", "please", "search", "show", "want", "would", "can",
        # praise and vague size words
        "any", "best", "good", "great", "new", "some", "top",
        # price words (the limits themselves become constraints)
        "above", "below", "cheap", "cheapest", "dollars", "least", "less", "more", "most", "over",
        "price", "priced", "under", "up", "usd",
    }
)
# fmt: on

STOPWORDS: frozenset[str] = (SEARCH_STOPWORDS - frozenset(NEGATORS)) | _REQUEST_WORDS
