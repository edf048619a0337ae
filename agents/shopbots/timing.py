"""How an agent paces itself: politely, at random, or not at all. Seeded, so runs repeat."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

TimingKind = Literal["none", "polite", "random"]


@dataclass
class TimingPolicy:
    """`polite`: a fixed delay (raised to robots.txt's crawl-delay); `random`: uniform in range."""

    kind: TimingKind = "none"
    delay_s: float = 1.0
    jitter_s: tuple[float, float] = (0.2, 1.5)
    seed: int = 0
    # Tests and `--fast` runs pass a sleeper that records instead of waiting.
    sleep: Callable[[float], None] = time.sleep
    max_wait_s: float = 30.0
    _rng: random.Random = field(init=False, repr=False)
    waited_s: float = 0.0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def next_delay(self) -> float:
        """The pause before the next request under this policy."""
        if self.kind == "polite":
            return self.delay_s
        if self.kind == "random":
            low, high = self.jitter_s
            return self._rng.uniform(low, high)
        return 0.0

    def before_request(self) -> float:
        return self.wait(self.next_delay())

    def wait(self, seconds: float) -> float:
        """Pause for `seconds` (capped at `max_wait_s`); returns the time actually waited."""
        seconds = max(0.0, min(seconds, self.max_wait_s))
        if seconds:
            self.sleep(seconds)
            self.waited_s += seconds
        return seconds
