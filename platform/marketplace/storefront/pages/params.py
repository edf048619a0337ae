"""Parameters that pages of more than one domain take."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

ProductIdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]  # 64-bit: larger ids overflow the driver
