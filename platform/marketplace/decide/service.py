"""Help Me Decide: the offer, and the top, budget and premium picks with their reasons."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from marketplace.catalog import taxonomy
from marketplace.catalog.models import Category
from marketplace.core.errors import Conflict, NotFound
from marketplace.decide import candidates as cands
from marketplace.decide import reasons as rs
from marketplace.decide import snapshot
from marketplace.decide.config import DecideConfig
from marketplace.decide.constraints import Constraint, relax_constraints, revealed_constraints
from marketplace.decide.domain import AttrSpec, ProductFacts, ShopperSignal
from marketplace.decide.picks import choose_picks
from marketplace.decide.pool import CategoryPool, Rows
from marketplace.decide.profile import learn_profile
from marketplace.decide.ranking import Scored, score_rows
from marketplace.decide.schemas import Evidence, OfferOut, Pick, PickProduct, RecommendationOut
from marketplace.decide.signals import (
    HistoryRow,
    category_signal,
    load_facts,
    load_history,
    offered_by_counts,
    trigger_category,
    view_counts,
    with_queued_views,
)
from marketplace.decide.summary import summarize


def attr_specs(slug: str, products: Sequence[ProductFacts] = ()) -> tuple[AttrSpec, ...]:
    """The taxonomy's attribute specs, or (for a category it does not know) ones inferred."""
    try:
        known = taxonomy.attribute_specs(slug)
    except ValueError:
        return infer_specs(products)
    return tuple(
        AttrSpec(s.key, s.label, s.kind, s.unit, s.better, tuple(s.choices)) for s in known
    )


def infer_specs(products: Sequence[ProductFacts]) -> tuple[AttrSpec, ...]:
    """Attribute specs read off the values themselves: yes/no, numbers, or choices."""
    kinds: dict[str, str] = {}
    for p in products:
        for key, value in p.attributes.items():
            kind = (
                "bool"
                if isinstance(value, bool)
                else "float"
                if isinstance(value, int | float)
                else "choice"
            )
            kinds.setdefault(key, kind)
    out = []
    for key in sorted(kinds):
        label = key.replace("_", " ").capitalize()
        if kinds[key] == "choice":
            values = sorted({str(p.attributes[key]) for p in products if key in p.attributes})
            out.append(AttrSpec(key, label, "choice", None, None, tuple(values)))
        else:
            out.append(AttrSpec(key, label, kinds[key], None, None))  # type: ignore[arg-type]
    return tuple(out)


def category_noun(slug: str, name: str) -> str:
    """The plural listing noun, lower-cased: `tents`, `running shoes`, `headphones`."""
    try:
        noun = taxonomy.category_spec(slug).noun
    except ValueError:
        noun = name
    noun = noun if noun.endswith("s") else noun + "s"
    return rs.lower_label(noun) if " " not in noun else noun.lower()


def category_words(slug: str, name: str) -> list[str]:
    """Words that mean the category in a search: `tent`, `running shoes`, `headphones`."""
    words = {slug.replace("-", " "), name.lower()}
    with contextlib.suppress(ValueError):
        words.add(taxonomy.category_spec(slug).noun.lower())
    singular = {w[:-1] for w in words if w.endswith("s") and not w.endswith("ss")}
    return sorted(words | singular)


# --- the offer ----------------------------------------------------------------------------


def _history(
    session: Session,
    *,
    account_id: int | None,
    session_key: str | None,
    now: datetime,
    config: DecideConfig,
) -> list[HistoryRow]:
    days = max(config.history_window_days, config.trigger_window_hours / 24)
    return load_history(
        session,
        account_id=account_id,
        session_key=session_key,
        since=now - timedelta(days=days),
    )


def offered_category(
    session: Session,
    *,
    account_id: int | None,
    session_key: str | None,
    now: datetime,
    config: DecideConfig,
    queued: Iterable[Mapping[str, Any]] = (),
) -> str | None:
    """The category Help Me Decide is offered for right now, or None (no button to show).

    `queued` are history rows not written yet (the write-behind's): their views count too."""
    # Only the views in the trigger's window count; the database counts them per category.
    since = now - timedelta(hours=config.trigger_window_hours)
    counts = view_counts(session, account_id=account_id, session_key=session_key, since=since)
    if queued:
        counts = with_queued_views(
            session, counts, queued, account_id=account_id, session_key=session_key, since=since
        )
    return offered_by_counts(counts, min_viewed=config.min_viewed_products)


def _window_phrase(hours: float) -> str:
    if hours % 24 == 0:
        days = int(hours // 24)
        return "the last day" if days == 1 else f"the last {days} days"
    return f"the last {hours:g} hours"


def offer(
    session: Session,
    *,
    account_id: int | None,
    session_key: str | None,
    now: datetime,
    config: DecideConfig,
) -> OfferOut:
    """Whether to show the Help Me Decide button, and what the shopper still has to do."""
    rows = _history(session, account_id=account_id, session_key=session_key, now=now, config=config)
    slug, counts = trigger_category(
        rows,
        now=now,
        min_viewed=config.min_viewed_products,
        window_hours=config.trigger_window_hours,
    )
    needed = config.min_viewed_products
    window = _window_phrase(config.trigger_window_hours)
    if slug is not None:
        message = (
            f"You viewed {counts[slug]} products in {slug} in {window}: "
            "ask Help Me Decide for a pick."
        )
        return OfferOut(
            offered=True,
            category=slug,
            viewed=counts[slug],
            needed=needed,
            window_hours=config.trigger_window_hours,
            viewed_by_category=counts,
            message=message,
        )
    best = max(counts.items(), key=lambda kv: (kv[1], kv[0]), default=(None, 0))
    return OfferOut(
        offered=False,
        category=None,
        viewed=best[1],
        needed=needed,
        window_hours=config.trigger_window_hours,
        viewed_by_category=counts,
        message=_not_enough_sentence(best[0], best[1], needed, window),
    )


def _not_enough_sentence(slug: str | None, viewed: int, needed: int, window: str) -> str:
    if slug is None:
        return (
            f"View at least {needed} products of one category first (none viewed in {window}); "
            "then Help Me Decide can pick one for you."
        )
    return (
        f"View at least {needed - viewed} more product(s) in {slug} first (you viewed {viewed} "
        f"of the {needed} needed in {window}); then ask again."
    )


class NotEnoughSignal(Conflict):
    type_slug = "not-enough-signal"
    title = "Not enough to go on yet"


# --- the decision -------------------------------------------------------------------------


def _product_out(p: ProductFacts) -> PickProduct:
    return PickProduct(
        id=p.id,
        title=p.title,
        price=p.price,
        rating=p.rating,
        review_count=p.review_count,
        brand=p.brand,
        category=p.category,
        stock=p.stock,
        attributes=dict(p.attributes),
        url=f"/products/{p.id}",
    )


def _pick(s: Scored, reasons: list[rs.Reason]) -> Pick:
    factors = dict(s.factors)
    factors["total"] = round(s.total, 4)
    return Pick(
        product=_product_out(s.product),
        reasons=[r.text for r in reasons],
        factors=factors,
        evidence=[Evidence(kind=r.kind, text=r.text, data=r.data) for r in reasons],
    )


def _facts_for_wording(name: str, picks: dict[str, Pick | None]) -> dict[str, Any]:
    out: dict[str, Any] = {"category_name": name}
    for role, pick in picks.items():
        out[role] = (
            None
            if pick is None
            else {
                "title": pick.product.title,
                "price": pick.product.price,
                "brand": pick.product.brand,
                "reasons": pick.reasons,
            }
        )
    return out


def decide(
    session: Session,
    *,
    account_id: int | None,
    session_key: str | None,
    now: datetime,
    category: str | None = None,
    request_text: str | None = None,
    require_views: bool = True,
    config: DecideConfig,
    llm: str = "scripted",
) -> RecommendationOut:
    """The top, budget and premium picks for this shopper, with their reasons.

    `request_text` is what the shopper asked the assistant ("headphones under $200"); it counts as
    their newest search. With `require_views` (the HTTP endpoint), the shopper must have viewed
    enough products of the category first; the assistant passes False when the shopper named the
    category and what they want in words.
    """
    rows = _history(session, account_id=account_id, session_key=session_key, now=now, config=config)
    needed = config.min_viewed_products
    window = _window_phrase(config.trigger_window_hours)
    triggered, counts = trigger_category(
        rows, now=now, min_viewed=needed, window_hours=config.trigger_window_hours
    )
    slug = category or triggered
    if slug is None:
        best = max(counts.items(), key=lambda kv: (kv[1], kv[0]), default=(None, 0))
        raise NotEnoughSignal(
            _not_enough_sentence(best[0], best[1], needed, window),
            viewed_by_category=counts,
            needed=needed,
        )
    cat = cands.category_row(session, slug)
    if cat is None:
        raise NotFound(
            f"There is no category '{slug}'. Use one of: "
            f"{', '.join(cands.all_category_slugs(session))}.",
            type_slug="unknown-category",
        )
    if require_views and counts.get(slug, 0) < needed:
        raise NotEnoughSignal(
            _not_enough_sentence(slug, counts.get(slug, 0), needed, window),
            viewed_by_category=counts,
            needed=needed,
        )

    def specs_for(products: Sequence[ProductFacts]) -> tuple[AttrSpec, ...]:
        return attr_specs(slug, products)

    pool = snapshot.category_pool(
        session, cat, specs_for=specs_for, ttl=config.snapshot_ttl_seconds
    )
    noun = category_noun(slug, cat.name)
    words = category_words(slug, cat.name)
    signal = category_signal(
        session,
        rows,
        slug,
        category_words=words,
        extra_queries=[request_text] if request_text else [],
        now=now,
        known=pool.facts,
    )
    co = cands.co_view(
        session,
        seeds=signal.product_ids,
        category=cat,
        exclude_account_id=account_id,
        since=now - timedelta(days=config.history_window_days),
        limit=config.co_view_neighbours,
    )

    def rank(pool: CategoryPool) -> Ranked:
        if not len(pool):
            raise Conflict(
                f"Nothing in {cat.name} is in stock right now; try again later or pick another "
                "category.",
                type_slug="nothing-in-stock",
            )
        return rank_pool(
            pool,
            signal,
            config,
            noun=noun,
            category_words=words,
            co_view=co.similarity,
            co_viewers=co.co_viewers,
            limit=config.max_candidates,
        )

    ranked = rank(pool)
    checked = _as_they_are_now(session, ranked, pool, config)
    if checked is None:
        # A pick sold out or changed since this worker read the category: read it again.
        snapshot.forget(session, cat.id)
        pool = snapshot.category_pool(
            session, cat, specs_for=specs_for, ttl=config.snapshot_ttl_seconds
        )
        ranked = rank(pool)
    else:
        ranked = checked
    notes = list(ranked.notes)
    summary, wording_note = summarize(
        _facts_for_wording(
            cat.name, {"top": ranked.top, "budget": ranked.budget, "premium": ranked.premium}
        ),
        llm,
    )
    if wording_note:
        notes.append(wording_note)
    weights = {k: float(v) for k, v in config.weights.model_dump().items()}
    return RecommendationOut(
        category=slug,
        category_name=cat.name,
        top_pick=ranked.top,
        budget_pick=ranked.budget,
        premium_pick=ranked.premium,
        notes=notes,
        summary=summary,
        constraints=ranked.constraints,
        compared=ranked.compared,
        weights=weights,
    )


def prepare(session: Session, *, now: datetime, config: DecideConfig) -> None:
    """Run the statements of an ask once, matching nothing, so that the first shopper's ask in
    this process compiles none of them (the app does it as it warms its category copies)."""
    _history(session, account_id=0, session_key=None, now=now, config=config)
    load_facts(session, [0])
    snapshot.catalog_version(session)
    cands.category_row(session, "")
    # Nobody dealt with product 0: only the first co-view statement runs, as in most asks.
    cands.co_view(
        session,
        seeds=[0],
        category=Category(slug="", name=""),
        exclude_account_id=0,
        since=now,
        limit=1,
    )


@dataclass(frozen=True)
class Ranked:
    top: Pick
    budget: Pick | None
    premium: Pick | None
    notes: list[str]
    constraints: list[str]
    compared: int


def rank_and_pick(
    products: Sequence[ProductFacts],
    signal: ShopperSignal,
    specs: Sequence[AttrSpec],
    config: DecideConfig,
    *,
    category: str,
    noun: str,
    category_words: Sequence[str] = (),
    co_view: Mapping[int, float] | None = None,
    co_viewers: Mapping[int, int] | None = None,
) -> Ranked:
    """The pure core: from the category's products and the shopper's signal to three picks.

    Only in-stock products of `category` are ever considered, whatever `products` holds.
    """
    pool = [p for p in products if p.category == category and p.stock > 0]
    if not pool:
        raise Conflict(
            f"Nothing in {category} is in stock right now; try again later or pick another "
            "category.",
            type_slug="nothing-in-stock",
        )
    return rank_pool(
        CategoryPool(pool, specs),
        signal,
        config,
        noun=noun,
        category_words=category_words,
        co_view=co_view,
        co_viewers=co_viewers,
    )


def _admitted(pool: CategoryPool, constraints: Sequence[Constraint]) -> Rows:
    """Rows of the pool that meet every constraint (each judged once per distinct value)."""
    rows = pool.all_rows()
    for c in constraints:
        rows = pool.keep(c.reads, lambda _v, row, c=c: c.admits(pool.products[row]), rows)  # type: ignore[misc]
    return rows


def rank_pool(
    pool: CategoryPool,
    signal: ShopperSignal,
    config: DecideConfig,
    *,
    noun: str,
    category_words: Sequence[str] = (),
    co_view: Mapping[int, float] | None = None,
    co_viewers: Mapping[int, int] | None = None,
    limit: int | None = None,
) -> Ranked:
    """Three picks from a category's in-stock products (`pool`, most reviewed first).

    The shopper's hard constraints are applied to the whole category; of the products meeting
    them, the first `limit` are scored, plus any co-viewed ones further down.
    """
    co_view = co_view or {}
    co_viewers = co_viewers or {}
    specs = pool.specs
    stats = pool.stats
    constraints = revealed_constraints(signal.searches, specs, brands=pool.brands)

    kept, applied, relaxed = relax_constraints(
        constraints,
        minimum=config.min_candidates_after_constraints,
        select=lambda active: _admitted(pool, active),
    )
    profile = learn_profile(
        signal,
        specs,
        stats,
        category_words=category_words,
        constraint_words=[c.source for c in applied if c.op not in ("brand",)],
    )
    notes: list[str] = []
    if applied:
        notes.append(
            f"Only {noun} that match your searches ({'; '.join(c.describe() for c in applied)}):"
            f" {len(kept):,} of {len(pool):,} in stock."
        )
    for c in relaxed:
        notes.append(
            f'Relaxed "{c.source}" ({c.describe()}): too few in-stock {noun} meet it together '
            "with your other wishes."
        )
    if not len(kept):
        kept = pool.all_rows()
    if limit is not None and len(kept) > limit:
        # The cut keeps the most reviewed; co-viewed products it left out come back.
        rest = kept[limit:]
        kept = np.concatenate(
            (kept[:limit], rest[np.isin(pool.id_array[rest], list(co_view))] if co_view else [])
        ).astype(np.intp)

    ranking = score_rows(pool, kept, profile, config, co_view=co_view)
    picks = choose_picks(ranking, profile, config, noun)
    top = _pick(
        picks.top,
        rs.top_reasons(
            picks.top,
            profile,
            signal,
            stats,
            noun,
            co_viewers=co_viewers.get(picks.top.product.id, 0),
            house_brand_boost=config.weights.house_brand_boost,
            compared=len(ranking),
        ),
    )
    budget = (
        _pick(
            picks.budget, rs.budget_reasons(picks.budget, picks.top, profile, signal, stats, noun)
        )
        if picks.budget
        else None
    )
    premium = (
        _pick(
            picks.premium,
            rs.premium_reasons(picks.premium, picks.top, profile, signal, stats, noun),
        )
        if picks.premium
        else None
    )
    if picks.budget_note:
        notes.append(picks.budget_note)
    if picks.premium_note:
        notes.append(picks.premium_note)
    if config.weights.house_brand_boost:
        notes.append(
            f"This store favours its own brand, {taxonomy.HOUSE_BRAND}: +"
            f"{config.weights.house_brand_boost:g} to its score (the house_brand factor)."
        )
    return Ranked(
        top=top,
        budget=budget,
        premium=premium,
        notes=notes,
        constraints=[c.describe() for c in applied],
        compared=len(ranking),
    )


def _as_they_are_now(
    session: Session, ranked: Ranked, pool: CategoryPool, config: DecideConfig
) -> Ranked | None:
    """The picks with their stock read just now, or None when one changed in a way that counts.

    Stock alone changes nothing while it stays in the same availability band; anything else
    (sold out, a new price) means the worker's copy of the category is out of date.
    """
    picks = [p for p in (ranked.top, ranked.budget, ranked.premium) if p is not None]
    fresh = load_facts(session, [p.product.id for p in picks])
    low = config.low_stock
    for pick in picks:
        old, new = pool.products[pool.row_of[pick.product.id]], fresh.get(pick.product.id)
        if (
            new is None
            or new.stock <= 0
            or dataclasses.replace(old, stock=new.stock) != new
            or min(1.0, old.stock / low) != min(1.0, new.stock / low)
        ):
            return None

    def now_in_stock(pick: Pick | None) -> Pick | None:
        if pick is None:
            return None
        product = pick.product.model_copy(update={"stock": fresh[pick.product.id].stock})
        return pick.model_copy(update={"product": product})

    top = now_in_stock(ranked.top)
    assert top is not None
    return dataclasses.replace(
        ranked, top=top, budget=now_in_stock(ranked.budget), premium=now_in_stock(ranked.premium)
    )
