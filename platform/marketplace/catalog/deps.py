"""The catalog's parts for routes: this process's block of ad impression ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from marketplace.catalog.adids import ImpressionIds
from marketplace.core.appstate import request_state


async def impression_ids(request: Request) -> ImpressionIds:
    return request_state(request).impression_ids


ImpressionIdsDep = Annotated[ImpressionIds, Depends(impression_ids)]
