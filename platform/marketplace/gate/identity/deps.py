"""The identity layer's parts for routes: the layer itself and its behaviour tracker."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from marketplace.core.appstate import request_state
from marketplace.gate.identity.behaviour import BehaviourTracker
from marketplace.gate.identity.layer import Identity


async def get_identity(request: Request) -> Identity:
    return request_state(request).identity


async def get_tracker(request: Request) -> BehaviourTracker:
    return request_state(request).identity.tracker


IdentityDep = Annotated[Identity, Depends(get_identity)]
TrackerDep = Annotated[BehaviourTracker, Depends(get_tracker)]
