"""Help Me Decide's request dependencies, shared by its JSON endpoints and the store's pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from marketplace.decide.config import DecideConfig, get_decide_config


def decide_config(request: Request) -> DecideConfig:
    """The app's Help Me Decide config (`app.state.decide_config`), else the environment's."""
    config = getattr(request.app.state, "decide_config", None)
    return config if isinstance(config, DecideConfig) else get_decide_config()


DecideConfigDep = Annotated[DecideConfig, Depends(decide_config)]
