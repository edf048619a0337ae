"""Tables that fit the terminal: a wide table when there is room, a narrow layout otherwise."""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


def fits(console: Console, table: Table) -> bool:
    """Whether `table` fits `console` without squeezing its columns."""
    unbounded = console.options.update_width(1_000_000)
    return Measurement.get(console, unbounded, table).maximum <= console.width


def print_fitting(console: Console, wide: Table, narrow: Table) -> None:
    """Print `wide` when the terminal has room for it, else `narrow`."""
    console.print(wide if fits(console, wide) else narrow)
