"""What the gate knows about one request, gathered once before any decision.

Everything the identification steps (signatures, registry, behaviour) read comes from here, so they
never touch the ASGI scope and the decision can be replayed from a logged `RequestFacts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestFacts:
    """One request as the gate sees it, after normalisation.

    `path` is the normalised path the policy matches; `raw_path` is what arrived on the wire (the
    signature base uses `raw_path` and `query`, since the signer signed those bytes).
    `headers` keeps every value of every header, names lower-cased, in arrival order.
    `session_id` is the session cookie value, opaque to the gate (it is only a grouping key).
    """

    method: str
    path: str
    raw_path: str
    query: str
    authority: str
    scheme: str
    headers: tuple[tuple[str, str], ...]
    client_ip: str | None
    session_id: str | None
    route_class: str
    is_asset: bool
    # Built lazily from `headers`; not part of equality so two facts compare by content only.
    _index: dict[str, str] = field(default_factory=dict, compare=False, repr=False, hash=False)

    def header(self, name: str) -> str | None:
        """The value of header `name` (case-insensitive); repeated headers joined by ", "."""
        index = self._index
        if not index and self.headers:
            for key, value in self.headers:
                index[key] = f"{index[key]}, {value}" if key in index else value
        return index.get(name.lower())

    def header_values(self, name: str) -> list[str]:
        """Every value of header `name`, in arrival order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key == wanted]

    @property
    def user_agent(self) -> str:
        return self.header("user-agent") or ""
