"""The application state: every long-lived object of one app, built once by `create_app`.

Each domain's `deps.py` hands its part to routes through a typed dependency; nothing is created
on first use. The domain types are imported for type checking only, so `core` stays below the
domains at run time (an import-linter contract).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp

from marketplace.core.clock import Clock
from marketplace.core.db import Database
from marketplace.core.security import CookieSigner
from marketplace.core.settings import Settings
from marketplace.core.shared.state import SharedState

if TYPE_CHECKING:
    from marketplace.accounts.anonymous import AnonymousTokens
    from marketplace.accounts.service import LoginHook
    from marketplace.accounts.throttle import LoginThrottle
    from marketplace.catalog.adids import ImpressionIds
    from marketplace.catalog.service import WriteQueue
    from marketplace.catalog.slates import SponsoredSlates
    from marketplace.catalog.text_index import ProductIndex
    from marketplace.decide.assistant.memory import ConversationMemory
    from marketplace.decide.config import DecideConfig
    from marketplace.decide.snapshot import SnapshotRefresher
    from marketplace.gate.identity.layer import Identity
    from marketplace.gate.runtime import GateRuntime
    from marketplace.protocols.acp.deps import AcpState
    from marketplace.protocols.state import ProtocolState

# One database queue per event loop: an asyncio primitive belongs to the loop it first waited
# in, and one app can be served by several loops over its life (e.g. successive test clients).
DatabaseTurns = WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]


@dataclass(eq=False)
class AppState:
    """What `create_app` built; `decide_config` may be replaced (a teaching knob in tests)."""

    settings: Settings
    db: Database
    clock: Clock
    cookie_signer: CookieSigner
    shared_state: SharedState
    anonymous_tokens: AnonymousTokens
    login_throttle: LoginThrottle
    login_hooks: tuple[LoginHook, ...]
    identity: Identity
    gate: GateRuntime
    decide_config: DecideConfig
    assistant_memory: ConversationMemory
    acp: AcpState
    protocols: ProtocolState
    decide_snapshots: SnapshotRefresher
    product_index: ProductIndex
    impression_ids: ImpressionIds
    sponsored_slates: SponsoredSlates
    write_queue: WriteQueue
    shutdown_hooks: list[Callable[[], object]] = field(default_factory=list)
    database_turns: DatabaseTurns = field(default_factory=WeakKeyDictionary)

    def __repr__(self) -> str:
        return f"AppState(store={self.settings.store_name!r}, db={self.db.dialect})"


def state_of(app: ASGIApp) -> AppState:
    """The state `create_app` attached to `app`."""
    state: AppState = app.state.platform  # type: ignore[attr-defined]
    return state


def request_state(connection: HTTPConnection) -> AppState:
    """The app's state, for a request (or websocket) being served."""
    return state_of(connection.app)
