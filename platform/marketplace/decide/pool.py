"""A category's in-stock products as columns, so scoring judges each distinct value once."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import contains
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from marketplace.decide.domain import AttrSpec, ProductFacts
from marketplace.decide.profile import CategoryStats, category_stats, number_of, tokens

# Rows of a pool (positions in `products`), a yes/no per row and a number per row or value.
Rows = NDArray[np.intp]
Mask = NDArray[np.bool_]
Floats = NDArray[np.float64]
A = TypeVar("A", bound="np.ndarray[Any, Any]")
# Search terms come from shoppers: a pool remembers the rows of at most this many (terms that
# match nothing cost a few dozen bytes each, and matches are bounded by the catalog's words).
REMEMBERED_TERMS = 4096


def product_text_tokens(product: ProductFacts, specs: Sequence[AttrSpec]) -> set[str]:
    """Words a search term can match: title, brand and the attribute names and values."""
    words = [product.title, product.brand]
    for spec in specs:
        raw = product.attributes.get(spec.key)
        if raw is True:
            words.append(spec.label)
            words.append(spec.key.replace("_", " "))
        elif isinstance(raw, str):
            words.append(raw)
        elif raw is not None and not isinstance(raw, bool) and spec.unit:
            words.append(f"{raw:g}{spec.unit}" if isinstance(raw, float) else f"{raw}{spec.unit}")
    out: set[str] = set()
    for w in words:
        toks = tokens(w.replace("-", " "))
        out.update(toks)
        out.add("".join(toks))  # "noise-cancelling" also matches "noisecancelling"
    return out


@dataclass(frozen=True)
class _Column:
    """One field of every product, as an index into its distinct values."""

    codes: NDArray[np.intp]
    values: list[Any]
    first: list[int]  # a row holding each distinct value, to judge it on


def _intern(values: Sequence[Any]) -> _Column:
    index: dict[Any, int] = {}
    distinct: list[Any] = []
    first: list[int] = []
    codes: list[int] = []
    for row, value in enumerate(values):
        # The type is part of the key: True, 1 and 1.0 are equal in a dict but not to scoring.
        try:
            key: Any = (value.__class__, value)
            code = index.get(key)
        except TypeError:  # a list or mapping: compare by its text
            key = (value.__class__, repr(value))
            code = index.get(key)
        if code is None:
            code = index[key] = len(distinct)
            distinct.append(value)
            first.append(row)
        codes.append(code)
    return _Column(_frozen(np.array(codes, dtype=np.intp)), distinct, first)


def _frozen(array: A) -> A:
    # Shared between threads: nothing may change a cached array in place.
    array.setflags(write=False)
    return array


def present(codes: NDArray[np.intp], size: int) -> NDArray[np.intp]:
    """The distinct codes among `codes` (each below `size`), ascending: a count, not a sort."""
    return np.flatnonzero(np.bincount(codes, minlength=size))


class CategoryPool:
    """A category's in-stock products and what scoring reads from them, worked out once.

    Values are kept column by column, as codes into each column's distinct values, so a preference,
    a price fit or a constraint is judged once per distinct value rather than once per product,
    and the per-product arithmetic runs in numpy over whole columns (elementwise, in the same
    order of operations as plain floats, so every score is the same to the last bit). Columns are
    filled on first use; filling one twice from two threads gives the same result, so a pool can
    be shared.
    """

    def __init__(
        self,
        products: Sequence[ProductFacts],
        specs: Sequence[AttrSpec],
        *,
        stats: CategoryStats | None = None,
        tokens: Mapping[int, tuple[str, ...]] | None = None,
    ) -> None:
        self.products: tuple[ProductFacts, ...] = tuple(products)
        self.specs: tuple[AttrSpec, ...] = tuple(specs)
        self.stats = stats if stats is not None else category_stats(self.products, self.specs)
        self.ids = [p.id for p in self.products]
        self.id_array = _frozen(np.array(self.ids, dtype=np.int64))
        self.price_array = _frozen(np.array([p.price for p in self.products], dtype=np.float64))
        self.row_of = {pid: row for row, pid in enumerate(self.ids)}
        # Longest first, so "Nile Basics" is found before a brand called "Nile".
        self.brands = sorted({p.brand for p in self.products}, key=lambda b: (-len(b), b))
        self._columns: dict[str, _Column] = {}
        known = tokens or {}
        self._tokens: list[tuple[str, ...] | None] = [known.get(pid) for pid in self.ids]
        self._term_rows: dict[str, Rows] = {}
        self._derived: dict[Hashable, Floats] = {}
        self._stock_derived: dict[Hashable, Floats] = {}

    def __len__(self) -> int:
        return len(self.products)

    def facts(self, product_id: int) -> ProductFacts | None:
        """The product's facts as this copy holds them, or None (not in it)."""
        row = self.row_of.get(product_id)
        return None if row is None else self.products[row]

    def all_rows(self) -> Rows:
        return np.arange(len(self.products), dtype=np.intp)

    def with_products(self, products: Sequence[ProductFacts]) -> CategoryPool:
        """The same products in the same order with new stock counts; the rest is kept."""
        products = tuple(products)
        if [p.id for p in products] != self.ids:
            raise ValueError("with_products takes the same products in the same order")
        clone = copy.copy(self)
        clone.products = products
        clone._columns = {k: v for k, v in self._columns.items() if k != "stock"}
        clone._derived = dict(self._derived)
        clone._stock_derived = {}
        return clone

    def column(self, field_name: str) -> _Column:
        """`price`, `rating`, `brand`, `stock`, or `attributes.<key>`, interned."""
        found = self._columns.get(field_name)
        if found is None:
            if field_name.startswith("attributes."):
                key = field_name.removeprefix("attributes.")
                values = [p.attributes.get(key) for p in self.products]
            else:
                values = [getattr(p, field_name) for p in self.products]
            found = self._columns[field_name] = _intern(values)
        return found

    def prime(self) -> None:
        """Fill every column a ranking reads now (the refresher does it in the background), so
        the first shopper's request after a read does not."""
        for name in ("price", "rating", "brand", "stock"):
            self.column(name)
        self.price_percentiles()
        for spec in self.specs:
            self.column(f"attributes.{spec.key}")
            self.percentiles(spec)  # and `numbers`

    def tokens(self, rows: Sequence[int]) -> list[tuple[str, ...]]:
        """The words a search term can match (see `product_text_tokens`), for each of `rows`.

        Tuples, not sets: tuples of strings drop out of the garbage collector's sight, and a
        worker keeps tens of thousands of them.
        """
        known = self._tokens
        for row in [r for r in rows if known[r] is None]:
            known[row] = tuple(sorted(product_text_tokens(self.products[row], self.specs)))
        return [known[r] for r in rows]  # type: ignore[misc]

    def rows_matching(self, term: str) -> Rows:
        """The rows whose words include `term` (ascending), found once per term."""
        found = self._term_rows.get(term)
        if found is None:
            every = range(len(self.products))
            found = _frozen(
                np.fromiter(
                    compress(every, map(contains, self.tokens(every), repeat(term))),
                    dtype=np.intp,
                )
            )
            if len(self._term_rows) >= REMEMBERED_TERMS:
                self._term_rows.clear()
            self._term_rows[term] = found
        return found

    def known_tokens(self) -> dict[int, tuple[str, ...]]:
        """Token lists worked out so far, by product id (a rebuilt pool can start from them)."""
        return {pid: t for pid, t in zip(self.ids, self._tokens, strict=True) if t is not None}

    def derived(
        self,
        key: Hashable,
        compute: Callable[[], Sequence[float] | Floats],
        *,
        reads_stock: bool = False,
    ) -> Floats:
        """A number per product (or per distinct value of a column), worked out by `compute`
        once per `key`.

        One that `reads_stock` is worked out again after `with_products`; the others are kept.
        """
        cache = self._stock_derived if reads_stock else self._derived
        found = cache.get(key)
        if found is None:
            found = cache[key] = _frozen(np.array(compute(), dtype=np.float64))
        return found

    def price_percentiles(self) -> Floats:
        """Each distinct price's place in the category (`CategoryStats.price_percentile`)."""
        values = self.column("price").values
        return self.derived(
            ("price percentile",), lambda: [self.stats.price_percentile(v) for v in values]
        )

    def numbers(self, spec: AttrSpec) -> Floats:
        """Each distinct value of `spec` as `number_of` says, NaN for a value that is no number."""
        values = self.column(f"attributes.{spec.key}").values

        def compute() -> list[float]:
            numbers = (number_of(raw, spec) for raw in values)
            return [math.nan if number is None else number for number in numbers]

        return self.derived(("number", spec), compute)

    def percentiles(self, spec: AttrSpec) -> Floats:
        """Each distinct value's percentile of `spec` in the category (`CategoryStats.percentile`
        of its `number_of`), NaN for a value that is no number."""

        def compute() -> list[float]:
            percentile = self.stats.percentile
            return [
                number if math.isnan(number) else percentile(spec.key, number)
                for number in self.numbers(spec).tolist()
            ]

        return self.derived(("percentile", spec), compute)

    def judged(self, field_name: str, judge: Callable[[Any, int], float], rows: Rows) -> Floats:
        """`judge(value, a row holding it)` for each of `rows`, once per distinct value."""
        col = self.column(field_name)
        codes = col.codes[rows]
        table = np.zeros(len(col.values), dtype=np.float64)
        for code in present(codes, len(col.values)).tolist():
            table[code] = judge(col.values[code], col.first[code])
        return table[codes]

    def keep(self, field_name: str, admits: Callable[[Any, int], bool], rows: Rows) -> Rows:
        """The rows whose value `admits(value, a row holding it)`, once per distinct value."""
        col = self.column(field_name)
        table = np.array(
            [admits(value, row) for value, row in zip(col.values, col.first, strict=True)],
            dtype=np.bool_,
        )
        return rows[table[col.codes[rows]]]
