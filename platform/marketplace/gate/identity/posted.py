"""Small JSON bodies that browsers post to the gate's own routes: the beacon, a challenge answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def parse_posted(raw: bytes, model: type[M], max_bytes: int) -> M | None:
    """`raw` as a `model`, or None when it is too long or not one: these routes never argue."""
    if len(raw) > max_bytes:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, Mapping):
        return None
    try:
        return model.model_validate(data)
    except ValidationError:
        return None
