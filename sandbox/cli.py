"""The `sandbox` command line: serve the platform, seed it, run scenarios and agents."""

from __future__ import annotations

import errno
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from sandbox.commands import accounts, agent, eval, policy, probe, prune, run, workshop
from sandbox.network import WILDCARDS, is_loopback, serving_urls

if TYPE_CHECKING:
    from marketplace.catalog.text_index import ProductIndex
    from marketplace.core.settings import Settings

app = typer.Typer(
    name="sandbox",
    help="Agentic-commerce sandbox: a closed shopping platform, its own agent, and outside agents."
    "\n\nEvery command reads the SANDBOX_* settings (e.g. SANDBOX_DATABASE_URL, SANDBOX_POLICY).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print a CLI error that names what to fix, and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def prepare_database(products: int | None = None, seed: int | None = None) -> str:
    """Migrate the configured database and seed it when it is empty; returns its URL."""
    from marketplace.core.db import Database
    from marketplace.core.migrate import is_empty, upgrade
    from marketplace.core.settings import get_settings

    settings = get_settings()
    url = settings.resolved_database_url
    upgrade(url)
    if is_empty(url):
        from marketplace.catalog.seed import seed_catalog
        from sandbox.persona import load_personas
        from sandbox.seeding import seed_personas

        database = Database(url)
        try:
            now = datetime.now(UTC)
            n = products or settings.catalog_size
            console.print(f"Seeding an empty store: {n:,} products and the personas ...")
            seed_catalog(database, products=n, seed=seed or settings.seed, now=now, progress=True)
            seed_personas(database, load_personas(), seed=seed or settings.seed, now=now)
            console.print("Building the search index ...")
            search_index(settings, url).catch_up(database)
        finally:
            database.dispose()
    return url


def search_index(settings: Settings, url: str) -> ProductIndex:
    """The store's search index, where the server will look for it."""
    from marketplace.catalog.text_index import ProductIndex, index_location

    return ProductIndex(
        index_location(url, configured=settings.search_index_dir, data_dir=settings.data_dir)
    )


def port_problem(host: str, port: int) -> str | None:
    """Why the store could not listen on `host`:`port`, or None when it can."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by a server that just stopped is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is already in use (another store?): stop it, or "
                    f"choose another port with --port {port + 1}"
                )
            return f"cannot listen on {host}:{port} ({exc.strerror}): check --host and --port"
    return None


def default_secrets_exposed(host: str) -> str | None:
    """Why the store may not listen on `host`: a non-loopback address while the admin token or
    the secret key still has its published default; None when it may."""
    from marketplace.core.settings import Settings, get_settings

    if is_loopback(host):
        return None
    settings = get_settings()
    defaults = [
        f"SANDBOX_{name.upper()}"
        for name in ("admin_token", "secret_key")
        if getattr(settings, name) == Settings.model_fields[name].default
    ]
    if not defaults:
        return None
    named = " and ".join(defaults)
    verb = "has its published default" if len(defaults) == 1 else "have their published defaults"
    return (
        f"--host {host} lets other machines reach the store, but {named} still {verb}: anyone "
        "could open the dashboard or forge sessions. Set "
        + " and ".join(f"{d}=<a long random value>" for d in defaults)
        + " (e.g. `export SANDBOX_ADMIN_TOKEN=\"$(python -c 'import secrets; "
        "print(secrets.token_urlsafe(24))')\"`), or serve on 127.0.0.1"
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    policy_name: Annotated[
        str | None, typer.Option("--policy", help="A preset name or a YAML policy file.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
) -> None:
    """Migrate and (when empty) seed the database, then serve the store, API and dashboard.

    X-Forwarded-For and X-Forwarded-Proto are believed only from the peers listed in
    SANDBOX_TRUSTED_PROXIES (none by default). Listening beyond this machine (e.g. --host
    0.0.0.0 for a workshop) needs SANDBOX_ADMIN_TOKEN and SANDBOX_SECRET_KEY set to values of
    your own; the store then prints its addresses on the local network.

    Example: sandbox serve --port 8000 --policy open
    """
    import uvicorn

    from marketplace.core.server import PROTOCOL_PATH
    from sandbox.liveserver import proxy_options

    if policy_name:
        os.environ["SANDBOX_POLICY"] = policy_name
    from marketplace.core.settings import get_settings

    get_settings.cache_clear()
    exposed = default_secrets_exposed(host)
    if exposed:
        fail(exposed)
    problem = port_problem(host, port)
    if problem:
        fail(problem)
    try:
        trusted_proxies = get_settings().trusted_proxies
        prepare_database()
    except Exception as exc:
        fail(f"could not prepare the database: {exc}")
    urls = serving_urls(host, port)
    console.print(f"Serving the store at [bold]{urls[0]}[/] (Ctrl+C to stop)")
    for url in urls[1:]:
        console.print(f"  on the network: [bold]{url}[/]  (dashboard: {url}dashboard)")
    if host in WILDCARDS and len(urls) == 1:
        console.print("  no network address found: only this machine can reach the store")
    uvicorn.run(
        "marketplace.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        **proxy_options(trusted_proxies),
        http=PROTOCOL_PATH,  # bounds the request head; the limit comes from the settings
    )


@app.command()
def seed(
    products: Annotated[int, typer.Option(min=1, max=5_000_000, help="Catalog size.")] = 2000,
    seed_value: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    reset: Annotated[
        bool, typer.Option(help="Drop every table first (orders and accounts included).")
    ] = False,
    ucp_fixture: Annotated[
        Path | None,
        typer.Option(
            "--ucp-fixture",
            metavar="DIR",
            help="Also load a UCP test shop from DIR (the UCP conformance suite's CSV files, "
            "e.g. test_data/flower_shop): its products join the catalog; its discounts, "
            "promotions, shipping rates, customers, addresses and payment instruments serve "
            "the protocol checkouts. Works on a store that already has a catalog.",
        ),
    ] = None,
) -> None:
    """Create (or with --reset, replace) the catalog and the personas, and build the search index.

    Example: sandbox seed --products 100000 --reset

    Example: sandbox seed --ucp-fixture ../shared/reference/ucp-conformance/test_data/flower_shop
    """
    from marketplace.core.migrate import downgrade_to_base, is_empty
    from marketplace.core.settings import get_settings

    url = get_settings().resolved_database_url
    if reset:
        downgrade_to_base(url)
    if ucp_fixture is not None:
        load_ucp_fixture(ucp_fixture, products=products, seed=seed_value)
        return
    if not reset and not is_empty(url):
        fail(
            f"the database at {url} already has a catalog; add --reset to replace it "
            "(this deletes accounts and orders too)"
        )
    prepare_database(products=products, seed=seed_value)
    console.print(f"[green]Seeded {products:,} products.[/]")


def load_ucp_fixture(folder: Path, *, products: int, seed: int | None) -> None:
    """Migrate (and seed an empty store), then load the UCP test shop in `folder`."""
    from marketplace.core.db import Database
    from marketplace.protocols.checkout.fixture import FixtureError, load_fixture

    if not folder.is_dir():
        fail(f"--ucp-fixture {folder}: no such folder (give the folder that holds products.csv)")
    url = prepare_database(products=products, seed=seed)
    database = Database(url)
    try:
        with database.session() as session:
            counts = load_fixture(session, folder, now=datetime.now(UTC))
    except FixtureError as exc:
        fail(f"--ucp-fixture: {exc}; nothing was loaded")
    finally:
        database.dispose()
    console.print(f"[green]Loaded the UCP test shop {folder.name}:[/] {counts.summary()}.")


for module in (policy, run, agent, probe, eval, workshop, accounts, prune):
    module.register(app)


def main() -> None:
    """Entry point of the `sandbox` script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

__all__ = ["app", "fail", "main", "prepare_database"]
