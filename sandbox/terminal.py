"""Tables that fit the terminal: a wide table when there is room, a narrow layout otherwise."""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


def fits(console: Console, table: Table) -> bool:
    """Whether `table` fits `console` without squeezing its columns."""
    unbounded = console.options.update_width(1_000_000)
    return Measurement.get(console, unbounded, table).maximum <= console.width


def print_fitting(wide: Table, narrow: Table) -> None:
    """Print `wide` when the terminal has room for it, else `narrow`.

    The console is made here, not at import: its width is read from the terminal (or COLUMNS)
    when it is built, and the terminal may have changed since the module was imported.
    """
    console = Console()
    console.print(wide if fits(console, wide) else narrow)
