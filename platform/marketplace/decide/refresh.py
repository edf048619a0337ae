"""The app's background refresher of Help Me Decide's category copies (see `snapshot`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from marketplace.core.db import Database
from marketplace.decide import candidates as cands
from marketplace.decide import ranking, snapshot
from marketplace.decide.config import DecideConfig
from marketplace.decide.domain import AttrSpec, ProductFacts
from marketplace.decide.service import attr_specs


def build_refresher(db: Database, config: DecideConfig) -> snapshot.SnapshotRefresher:
    """A refresher that reads a category on the database's reader (never the write lock)."""

    def read(slug: str) -> None:
        def specs_for(products: Sequence[ProductFacts]) -> tuple[AttrSpec, ...]:
            return attr_specs(slug, products)

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
        wanted = [s.strip() for s in config.warm_categories.split(",") if s.strip()]
        if wanted != ["*"]:
            return wanted
        with db.reader() as connection, Session(bind=connection) as session:
            return cands.all_category_slugs(session)

    return snapshot.SnapshotRefresher(db.engine, read, warm=warm)
