"""What one browsing session did, in a form every worker can add to without coordination.

A new signal is one field on `SessionSignals`, one entry in `MERGE`, and one column of
`GateSessionSignal` (with its migration); both stores and the merge read the lists below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple


class SessionSignals(NamedTuple):
    """What one session did, as counts and first/last moments (Unix seconds).

    Every field merges without coordination (sums, minima, maxima), so each worker records its
    share and the store adds them up. A named tuple, because merging runs on every request.
    """

    first_seen: float | None = None
    last_seen: float | None = None
    requests: int = 0
    pages: int = 0  # HTML pages fetched
    assets: int = 0  # /static/ files fetched
    views: int = 0  # product or catalog views, page or API
    beacons: int = 0
    webdriver_beacons: int = 0  # beacons that reported navigator.webdriver
    pointer_events: int = 0
    key_events: int = 0
    first_interaction_ms: float | None = None  # page load → first pointer/key event
    first_checkout: float | None = None  # first cart/checkout/order request
    flagged: int = 0  # requests scored as automated
    challenges_passed: int = 0  # challenge pages whose script proved a browser ran it

    def merged(self, o: SessionSignals) -> SessionSignals:
        return _merge(self, o)

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


MergeKind = Literal["sum", "min", "max"]

MERGE: dict[str, MergeKind] = {
    "first_seen": "min",
    "last_seen": "max",
    "requests": "sum",
    "pages": "sum",
    "assets": "sum",
    "views": "sum",
    "beacons": "sum",
    "webdriver_beacons": "sum",
    "pointer_events": "sum",
    "key_events": "sum",
    "first_interaction_ms": "min",
    "first_checkout": "min",
    "flagged": "sum",
    "challenges_passed": "sum",
}
if set(MERGE) != set(SessionSignals._fields):
    raise RuntimeError("every SessionSignals field needs exactly one entry in MERGE")

SUM_FIELDS = tuple(name for name, kind in MERGE.items() if kind == "sum")
MIN_FIELDS = tuple(name for name, kind in MERGE.items() if kind == "min")
MAX_FIELDS = tuple(name for name, kind in MERGE.items() if kind == "max")


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _compile_merge() -> Callable[[SessionSignals, SessionSignals], SessionSignals]:
    """The merge, spelled out field by field once, as a generic loop per call would cost more."""
    terms = {
        "sum": "a.{0} + b.{0}",
        "min": "_min(a.{0}, b.{0})",
        "max": "_max(a.{0}, b.{0})",
    }
    body = ", ".join(terms[MERGE[name]].format(name) for name in SessionSignals._fields)
    source = f"def merge(a, b):\n    return SessionSignals({body})\n"
    namespace: dict[str, Any] = {"SessionSignals": SessionSignals, "_min": _min, "_max": _max}
    exec(compile(source, "<session-signals-merge>", "exec"), namespace)  # noqa: S102
    merge: Callable[[SessionSignals, SessionSignals], SessionSignals] = namespace["merge"]
    return merge


_merge = _compile_merge()

EMPTY_SIGNALS = SessionSignals()
