"""The application factory: one platform instance per call, fully configured."""

from __future__ import annotations

import gc
import hashlib
import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic.warnings import UnsupportedFieldAttributeWarning

from marketplace.accounts.anonymous import AnonymousTokens
from marketplace.accounts.cookies import SessionCookieMiddleware
from marketplace.accounts.gate_hooks import account_resolver, owner_resolver, status_setter
from marketplace.accounts.routes import router as accounts_router
from marketplace.accounts.throttle import LoginThrottle
from marketplace.admin import workshop
from marketplace.admin.dashboard import router as dashboard_router
from marketplace.admin.retention import build_retention
from marketplace.admin.routes import router as admin_router
from marketplace.cart.routes import router as cart_router
from marketplace.catalog.adids import ImpressionIds
from marketplace.catalog.routes import router as catalog_router
from marketplace.catalog.service import WriteQueue
from marketplace.catalog.slates import SponsoredSlates
from marketplace.catalog.text_index import ProductIndex, index_location
from marketplace.core import cookies
from marketplace.core.apidocs import install_api_docs
from marketplace.core.appstate import AppState
from marketplace.core.bounds import Limits, RequestBounds
from marketplace.core.clock import Clock, system_clock
from marketplace.core.db import Database
from marketplace.core.errors import document_problems, install_error_handlers
from marketplace.core.problem_pages import router as problems_router
from marketplace.core.security import CookieSigner
from marketplace.core.settings import Settings, get_settings
from marketplace.core.shared.state import create_shared_state
from marketplace.decide.assistant.memory import ConversationMemory
from marketplace.decide.config import DecideConfig, load_decide_config
from marketplace.decide.refresh import build_refresher
from marketplace.decide.routes import router as decide_router
from marketplace.gate.identity.layer import build_identity
from marketplace.gate.identity.routes import router as identity_router
from marketplace.gate.middleware import GateMiddleware
from marketplace.gate.partner_routes import router as partner_router
from marketplace.gate.routes import router as gate_router
from marketplace.gate.runtime import build_gate_runtime
from marketplace.history.routes import router as history_router
from marketplace.history.service import claim_anonymous_history
from marketplace.orders.routes import router as orders_router
from marketplace.protocols.acp.deps import AcpState
from marketplace.protocols.acp.errors import install_acp_errors
from marketplace.protocols.acp.routes import router as acp_router
from marketplace.protocols.acp.webhook_routes import router as acp_webhook_router
from marketplace.protocols.acp.webhooks import OrderEventSender
from marketplace.protocols.checkout.service import CheckoutCore
from marketplace.protocols.state import ProtocolState
from marketplace.protocols.ucp.mcp_tools import McpDoor
from marketplace.protocols.ucp.routes import discovery_router as ucp_discovery_router
from marketplace.protocols.ucp.routes import router as ucp_router
from marketplace.protocols.ucp.routes import simulation_router as ucp_simulation_router
from marketplace.protocols.ucp.views import MCP_PATH
from marketplace.protocols.webhooks import OrderWebhooks, detached_signer
from marketplace.storefront.pages.accounts import router as accounts_pages_router
from marketplace.storefront.pages.cart import router as cart_pages_router
from marketplace.storefront.pages.catalog import router as catalog_pages_router
from marketplace.storefront.pages.decide import router as decide_pages_router
from marketplace.storefront.pages.history import router as history_pages_router
from marketplace.storefront.pages.orders import router as orders_pages_router

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "storefront" / "static"

API_DESCRIPTION = """
A mock marketplace ("Nile") with a policy gate in front of every route.

Every response carries the gate's answer in `X-Policy-Decision`, `X-Policy-Rule` and
`X-Visitor-Class`; the rules are public at `GET /api/v1/policy/public`. Visitor classes with a
rate limit get `RateLimit-Policy` and `RateLimit` on every answer. Errors are
`application/problem+json` (RFC 9457) with a `detail` sentence that says what to change; each
`type` (`/problems/<slug>`) is a page that explains it; a 422 lists at most 20 problems (`errors`)
and counts the rest (`errors_not_listed`). Lists are
`{"items": [...], "total": N, "page": P, "page_size": S}`. Send the session cookie (`nile_session`)
at most once: a request carrying it twice is refused with 400.

Requests are bounded before the gate sees them: request line and headers 16 KiB (431), body 1 MiB
(413), JSON bodies at most 32 levels deep with at most 10,000 members and items (413); the
store's operator can change each (`SANDBOX_MAX_*`).
"""


def _ignore_fastapi_parameter_alias_warnings() -> None:
    """Silence pydantic's "'alias' ... has no effect" warning about FastAPI's own parameters.

    FastAPI gives every query, header and body parameter an alias (its name) and builds the
    fields of an included router on the first request that reaches it, inside
    `warnings.catch_warnings()` that ignores this kind of warning. Before Python 3.14
    `catch_warnings` is not thread-safe: when another thread enters and leaves one at the same
    time (langchain does, building the assistant's and the shop bots' tools), FastAPI's filter
    is undone and the warning is printed although nothing is wrong. The filter is set before
    the app serves, so every thread's saved filter list includes it.
    """
    warnings.filterwarnings(
        "ignore",
        message=r"The 'alias' attribute with value '[^']*' was provided to the `Field\(\)`",
        category=UnsupportedFieldAttributeWarning,
        module=r"pydantic\._internal\._generate_schema",
    )


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Clock = system_clock,
    decide_config: DecideConfig | None = None,
) -> FastAPI:
    """Build the platform app; the database must already be migrated (`sandbox serve` does it).

    Raises PolicyError when SANDBOX_POLICY names no preset or an invalid file.
    """
    settings = settings or get_settings()
    _ignore_fastapi_parameter_alias_warnings()
    cookies.install()
    db = database or Database(settings.resolved_database_url)
    state = build_state(settings, db, clock, decide_config or load_decide_config())
    if database is None:
        state.shutdown_hooks.append(db.dispose)
    else:  # someone else's database: write what this app queued, leave it open
        state.shutdown_hooks.append(db.write_behind.flush)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Before serving: no shopper's first request pays for reading a whole category, or
        # for bringing the search index up to date with the catalog.
        await anyio.to_thread.run_sync(state.product_index.catch_up, db)
        await anyio.to_thread.run_sync(state.decide_snapshots.warm)
        try:
            async with state.protocols.mcp.running():
                yield
        finally:
            for hook in state.shutdown_hooks:
                hook()

    app = FastAPI(
        title=f"{settings.store_name} marketplace API",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        # Served by install_api_docs from the installed package instead of a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.platform = state

    install_error_handlers(app)
    install_acp_errors(app)
    document_problems(app)

    @app.get("/healthz", tags=["operations"], summary="Liveness check")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for router in (
        identity_router,
        accounts_router,
        catalog_router,
        cart_router,
        orders_router,
        ucp_discovery_router,
        ucp_router,
        history_router,
        decide_router,
        gate_router,
        partner_router,
        problems_router,
        admin_router,
        dashboard_router,
        catalog_pages_router,
        decide_pages_router,
        history_pages_router,
        accounts_pages_router,
        cart_pages_router,
        orders_pages_router,
        acp_router,
        acp_webhook_router,
    ):
        app.include_router(router)
    app.router.routes.append(state.protocols.mcp.endpoint())
    if state.protocols.simulation_secret:  # no secret: the endpoints do not exist (404)
        app.include_router(ucp_simulation_router)
    install_api_docs(app)  # before /static, which would otherwise take its asset paths
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.add_middleware(
        SessionCookieMiddleware,
        max_age_s=settings.session_max_age_s,
        secure=settings.secure_cookies,
    )
    app.add_middleware(cookies.DuplicateCookieGuard)
    # Last, so the policy gate is the outermost layer and decides every request before routing.
    app.add_middleware(GateMiddleware, runtime=state.gate)
    # ...and only requests within bounds reach it: added last, this layer is the outermost.
    app.add_middleware(
        RequestBounds,
        limits=Limits(
            header_bytes=settings.max_header_bytes,
            body_bytes=settings.max_body_bytes,
            json_depth=settings.max_json_depth,
            json_members=settings.max_json_members,
        ),
    )
    return app


def create_served_app() -> FastAPI:
    """The app as `sandbox serve` runs it, once per worker process, from the environment.

    Everything built up to here (the libraries, the app, its tables) lives as long as the
    process, so it is moved out of the garbage collector's sight: otherwise a full collection,
    which any request may set off, walks all of it and holds the event loop while it does.
    """
    app = create_app()
    gc.collect()
    gc.freeze()
    return app


def build_state(
    settings: Settings, db: Database, clock: Clock, decide_config: DecideConfig
) -> AppState:
    """Every long-lived object of one app, each built once, in dependency order.

    The shutdown hooks run in order: the decision log and the shared state write what they
    queued before the database is closed.
    """
    cookie_signer = CookieSigner(settings.secret_key, settings.session_max_age_s)
    anonymous_tokens = AnonymousTokens()
    shared_state = create_shared_state(db, redis_url=settings.redis_url, clock=clock)
    identity = build_identity(
        settings,
        db,
        shared_state,
        resolve_account=account_resolver(db, cookie_signer, clock, anonymous_tokens),
        resolve_owner=owner_resolver(db, cookie_signer, clock),
        set_account_status=status_setter(db),
        may_suspend=workshop.suspension_guard(db),
    )
    retention = build_retention(
        settings, db, clock, learning_window_days=decide_config.history_window_days
    )
    gate = build_gate_runtime(settings, db, identity, clock, housekeeping=retention.maybe_prune)
    product_index = ProductIndex(
        index_location(db.url, configured=settings.search_index_dir, data_dir=settings.data_dir)
    )
    core = CheckoutCore(currency=settings.currency)
    protocols = ProtocolState(
        core=core,
        mcp=McpDoor(db=db, index=product_index, core=core, clock=clock, path=MCP_PATH),
        webhooks=OrderWebhooks(
            timeout_s=settings.protocol_webhook_timeout_s,
            sign=detached_signer(identity.signing_key, identity.keyid),
        ),
        simulation_secret=settings.ucp_simulation_secret or None,
        signing_keys=[
            {**jwk, "kid": identity.keyid, "use": "sig", "alg": "EdDSA"}
            for jwk in identity.directory()["keys"]
        ],
    )
    acp = AcpState(
        core=protocols.core,
        events=OrderEventSender(attempts=settings.acp_webhook_attempts),
        webhook_url=settings.acp_webhook_url,
        webhook_secret=settings.acp_webhook_secret
        or hashlib.sha256(f"acp-webhook:{settings.secret_key}".encode()).hexdigest(),
    )
    decide_snapshots = build_refresher(db, decide_config, clock)
    impression_ids = ImpressionIds(db.engine)
    return AppState(
        settings=settings,
        db=db,
        clock=clock,
        cookie_signer=cookie_signer,
        shared_state=shared_state,
        anonymous_tokens=anonymous_tokens,
        login_throttle=LoginThrottle(shared_state),
        login_hooks=(claim_anonymous_history,),
        identity=identity,
        gate=gate,
        decide_config=decide_config,
        assistant_memory=ConversationMemory(
            max_conversations=settings.assistant_max_conversations,
            max_turns=settings.assistant_max_turns,
            ttl_s=settings.assistant_ttl_s,
            clock=clock,
        ),
        protocols=protocols,
        acp=acp,
        decide_snapshots=decide_snapshots,
        product_index=product_index,
        impression_ids=impression_ids,
        sponsored_slates=SponsoredSlates(),
        write_queue=WriteQueue(db.write_behind, impression_ids),
        shutdown_hooks=[
            decide_snapshots.close,
            gate.close,
            shared_state.close,
            protocols.webhooks.close,
            acp.events.close,
        ],
    )
