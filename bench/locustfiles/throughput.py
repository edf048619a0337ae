"""Closed-loop load on one URL pattern, as fast as the server answers (bench.throughput)."""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, task

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PATH = os.environ.get("BENCH_PATH", "/")
PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "1"))
ACCEPT = os.environ.get("BENCH_ACCEPT", "application/json")


class Reader(FastHttpUser):
    """No think time: each user sends its next request when the last one is answered."""

    def on_start(self) -> None:
        self.rng = random.Random(id(self))

    @task
    def read(self) -> None:
        path = PATH.replace("{id}", str(self.rng.randint(1, PRODUCTS)))
        name = PATH.replace("{id}", "[id]")
        self.client.get(path, name=name, headers={"user-agent": CHROME, "accept": ACCEPT})
