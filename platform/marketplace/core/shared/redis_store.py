"""Shared state in Redis, when `SANDBOX_REDIS_URL` is set."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import redis

from marketplace.core.shared.session_signals import (
    MAX_FIELDS,
    MIN_FIELDS,
    SUM_FIELDS,
    SessionSignals,
)
from marketplace.core.shared.store import PARTNERS_KEY, POLICY_KEY, SIGNAL_RETENTION_S

_REDIS_MERGE = """
for i, name in ipairs(ARGV) do
  if i % 3 == 1 then
    local op, value = ARGV[i + 1], ARGV[i + 2]
    if op == 'sum' then
      redis.call('HINCRBY', KEYS[1], name, value)
    else
      local current = redis.call('HGET', KEYS[1], name)
      if (not current) or (op == 'min' and tonumber(value) < tonumber(current))
         or (op == 'max' and tonumber(value) > tonumber(current)) then
        redis.call('HSET', KEYS[1], name, value)
      end
    end
  end
end
redis.call('EXPIRE', KEYS[1], tonumber(KEYS[2]))
return 1
"""


class RedisStore:
    """Shared state in Redis: nonces with SET NX, counters with INCRBY, signals in hashes."""

    prefix = "sandbox:gate:"

    def __init__(self, url: str) -> None:

        self.redis = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2.0)
        self._merge = self.redis.register_script(_REDIS_MERGE)

    def claim_nonce(self, key: str, now: float, ttl_s: float) -> bool:
        ttl_ms = max(1000, int(ttl_s * 1000))
        return bool(self.redis.set(f"{self.prefix}nonce:{key}", "1", nx=True, px=ttl_ms))

    def add_counts(
        self,
        deltas: dict[tuple[str, int], int],
        expires: dict[tuple[str, int], float],
        also_read: Iterable[tuple[str, int]] = (),
    ) -> dict[tuple[str, int], int]:
        keys = sorted(deltas)
        extra = sorted(set(also_read) - set(deltas))
        if not keys and not extra:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for bucket, window in keys:
            name = f"{self.prefix}count:{bucket}:{window}"
            pipe.incrby(name, deltas[(bucket, window)])
            pipe.expire(name, max(1, int(expires[(bucket, window)] - window)))
        for bucket, window in extra:
            pipe.get(f"{self.prefix}count:{bucket}:{window}")
        results = pipe.execute()
        totals = {key: int(results[2 * i]) for i, key in enumerate(keys)}
        offset = 2 * len(keys)
        for i, key in enumerate(extra):
            value = results[offset + i]
            if value is not None:
                totals[key] = int(value)
        return totals

    def merge_signals(self, deltas: dict[str, SessionSignals]) -> dict[str, SessionSignals]:
        for sid, delta in deltas.items():
            args: list[Any] = []
            for name in SUM_FIELDS:
                if getattr(delta, name):
                    args += [name, "sum", str(getattr(delta, name))]
            for name in MIN_FIELDS:
                if getattr(delta, name) is not None:
                    args += [name, "min", repr(float(getattr(delta, name)))]
            for name in MAX_FIELDS:
                if getattr(delta, name) is not None:
                    args += [name, "max", repr(float(getattr(delta, name)))]
            self._merge(keys=[f"{self.prefix}signals:{sid}", str(SIGNAL_RETENTION_S)], args=args)
        return self.fetch_signals(list(deltas))

    def fetch_signals(self, ids: Sequence[str]) -> dict[str, SessionSignals]:
        if not ids:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for sid in ids:
            pipe.hgetall(f"{self.prefix}signals:{sid}")
        out: dict[str, SessionSignals] = {}
        for sid, raw in zip(ids, pipe.execute(), strict=True):
            if raw:
                values: dict[str, Any] = {}
                for name in SUM_FIELDS:
                    values[name] = int(raw.get(name, 0))
                for name in (*MIN_FIELDS, *MAX_FIELDS):
                    values[name] = float(raw[name]) if name in raw else None
                out[sid] = SessionSignals(**values)
        return out

    def read_versions(self) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=False)
        names = (POLICY_KEY, PARTNERS_KEY)
        for name in names:
            pipe.hget(f"{self.prefix}kv:{name}", "version")
        return {n: int(v) for n, v in zip(names, pipe.execute(), strict=True) if v is not None}

    def read_value(self, name: str) -> tuple[int, str | None]:
        raw = self.redis.hgetall(f"{self.prefix}kv:{name}")
        if not raw:
            return 0, None
        value = raw.get("value")
        return int(raw.get("version", 0)), str(value) if value is not None else None

    def write_value(self, name: str, value: str | None, now: datetime) -> int:
        key = f"{self.prefix}kv:{name}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(key, "version", 1)
        if value is None:
            pipe.hdel(key, "value")
        else:
            pipe.hset(key, "value", value)
        return int(pipe.execute()[0])

    def purge(self, now: float) -> None:
        return None  # Redis expires keys itself

    def close(self) -> None:
        self.redis.close()
