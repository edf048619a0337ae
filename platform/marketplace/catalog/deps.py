"""The catalog's parts for routes: the search index, this process's block of ad impression ids
and its lists of each category's highest bidders."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from marketplace.catalog.adids import ImpressionIds
from marketplace.catalog.service import WriteQueue
from marketplace.catalog.slates import SponsoredSlates
from marketplace.catalog.text_index import ProductIndex
from marketplace.core.appstate import request_state


async def product_index(request: Request) -> ProductIndex:
    return request_state(request).product_index


async def impression_ids(request: Request) -> ImpressionIds:
    return request_state(request).impression_ids


async def sponsored_slates(request: Request) -> SponsoredSlates:
    return request_state(request).sponsored_slates


async def write_queue(request: Request) -> WriteQueue:
    return request_state(request).write_queue


ProductIndexDep = Annotated[ProductIndex, Depends(product_index)]
ImpressionIdsDep = Annotated[ImpressionIds, Depends(impression_ids)]
SponsoredSlatesDep = Annotated[SponsoredSlates, Depends(sponsored_slates)]
WriteQueueDep = Annotated[WriteQueue, Depends(write_queue)]
