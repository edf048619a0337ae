"""Every problem `type` the platform answers with, explained: the one source of /problems/<slug>.

The entries are data, in core/data/problem_types.yaml, grouped by the part of the store that
raises them.

A problem's `type` is `/problems/<slug>` (core/errors.py); clients branch on it, and a person who
follows it reads what happened and what to do. A test collects every slug the code raises and
fails when one is missing here, so a new kind of error cannot ship without its page.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

PROBLEMS_PATH = "/problems"


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: what a client branches on and what a person reads."""

    slug: str
    title: str
    status: int | None  # None: the status varies; the problem's own `status` says which
    when: str
    what_to_do: str

    @property
    def uri(self) -> str:
        return f"{PROBLEMS_PATH}/{self.slug}"


def _load() -> dict[str, ProblemType]:
    data = resources.files("marketplace.core.data")
    text = data.joinpath("problem_types.yaml").read_text("utf-8")
    entries: dict[str, dict[str, Any]] = yaml.safe_load(text)
    return {
        slug: ProblemType(
            slug=slug,
            title=str(entry["title"]),
            status=None if entry["status"] is None else int(entry["status"]),
            when=str(entry["when"]),
            what_to_do=str(entry["what_to_do"]),
        )
        for slug, entry in entries.items()
    }


PROBLEM_TYPES: dict[str, ProblemType] = _load()
