"""The app's background refresher of Help Me Decide's category copies (see `snapshot`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from marketplace.core.clock import Clock, system_clock
from marketplace.core.db import Database
from marketplace.decide import candidates as cands
from marketplace.decide import ranking, service, snapshot
from marketplace.decide.config import DecideConfig
from marketplace.decide.domain import AttrSpec, ProductFacts

log = logging.getLogger(__name__)


def build_refresher(
    db: Database, config: DecideConfig, clock: Clock = system_clock
) -> snapshot.SnapshotRefresher:
    """A refresher that reads a category on the database's reader (never the write lock).

    Warming also runs an ask's statements once on the app's own engine (whose compiled
    statements requests reuse), so the first ask compiles none."""

    def read(slug: str) -> None:
        def specs_for(products: Sequence[ProductFacts]) -> tuple[AttrSpec, ...]:
            return service.attr_specs(slug, products)

        with db.reader() as connection, Session(bind=connection) as session:
            category = cands.category_row(session, slug)
            if category is not None:
                pool = snapshot.reload(
                    session,
                    category,
                    specs_for=specs_for,
                    ttl=config.snapshot_ttl_seconds,
                    engine=db.engine,
                )
                pool.prime()
                ranking.prime(pool, config)

    def warm() -> list[str]:
        try:
            with db.session() as session:
                service.prepare(session, now=clock(), config=config)
        except SQLAlchemyError as exc:  # only the first ask is slower: the app still starts
            log.warning("Help Me Decide's statements not prepared: %s", exc)
        wanted = [s.strip() for s in config.warm_categories.split(",") if s.strip()]
        if wanted != ["*"]:
            return wanted
        with db.reader() as connection, Session(bind=connection) as session:
            return cands.all_category_slugs(session)

    return snapshot.SnapshotRefresher(db.engine, read, warm=warm)
