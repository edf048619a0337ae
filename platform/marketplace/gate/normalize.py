"""Request normalisation: one canonical path and method, so no URL trick walks around a rule.

The gate matches the canonical form, which is deliberately broader than what the router accepts:
anything the router could possibly send to the cart is classed as cart, and oddities that the router
would answer with 404 are classed like the path they imitate (and refused like it).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote

# Enough for any honest client (which encodes once); a path still changing after this many rounds
# is treated as its last decoded form, which is what a too-eager decoder downstream would see.
MAX_DECODE_ROUNDS = 6
MAX_PATH_CHARS = 4096
# Paths up to this long are remembered (at most CACHED_PATHS of them, a few MiB); longer ones,
# which no page links to, are worked out each time, so no request can fill memory with its path.
CACHED_PATH_CHARS = 256
CACHED_PATHS = 8192

# Headers and parameters some frameworks honour to change the method. The gate decides on the
# method on the wire and removes the headers, so nothing behind it can change its mind.
METHOD_OVERRIDE_HEADERS = frozenset(
    {"x-http-method-override", "x-http-method", "x-method-override"}
)

_KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A path that is already canonical: lower-case segments that neither start nor end with a dot.
_SIMPLE = re.compile(r"/|(?:/[a-z0-9_~-](?:[a-z0-9_.~-]*[a-z0-9_~-])?)+")
_CONTROL = dict.fromkeys([*range(0x20), 0x7F])


def normalize_method(method: str) -> str:
    """HEAD is GET for the policy; unknown methods are matched as OTHER."""
    upper = method.upper()
    if upper == "HEAD":
        return "GET"
    return upper if upper in _KNOWN_METHODS else "OTHER"


def normalize_path(raw: str) -> str:
    """The canonical form of a request path (see the module docstring)."""
    if len(raw) <= CACHED_PATH_CHARS:
        return _normalize_cached(raw)
    return _normalize(raw)


def _normalize(raw: str) -> str:
    if _SIMPLE.fullmatch(raw):
        return raw
    path = raw[:MAX_PATH_CHARS]
    # Decode until stable, %2f included: a double-encoded "%252e%252e" ends up as "..".
    for _ in range(MAX_DECODE_ROUNDS):
        if "%" not in path:
            break
        decoded = unquote(path, errors="replace")
        if not decoded.isascii():
            # Folded inside the loop: "%6３" only becomes the escape "%63" after NFKC, and the
            # canonical form must not hide an escape a later decoder would still resolve.
            decoded = unicodedata.normalize("NFKC", decoded)
        if decoded == path:
            break
        path = decoded
    path = path.translate(_CONTROL).replace("\\", "/")
    if not path.isascii():
        # Fullwidth and other compatibility forms fold to ASCII ("／ｃａｒｔ" -> "/cart").
        path = unicodedata.normalize("NFKC", path)
    path = path.lower()
    segments: list[str] = []
    for part in path.split("/"):
        segment = part.split(";", 1)[0]  # matrix parameters: /cart;jsessionid=1
        if segment == "..":
            if segments:
                segments.pop()
            continue
        # Trailing dots and spaces are dropped by some servers ("cart." is "cart" on IIS).
        segment = segment.strip(" ").rstrip(". ")
        if segment:
            segments.append(segment)
    return "/" + "/".join(segments)


_normalize_cached = lru_cache(maxsize=CACHED_PATHS)(_normalize)


def has_query_param(query: str, name: str) -> bool:
    """True when the query string carries a non-empty `name` (names compared in lower case)."""
    if not query:
        return False
    for pair in query.replace(";", "&").split("&"):
        key, sep, value = pair.partition("=")
        if sep and value and unquote(key).strip().lower() == name:
            return True
    return False
