"""Shared gate state: nonces, counters, session signals and the active policy across workers."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from marketplace.core import tick
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.shared import database_store as store_module
from marketplace.core.shared import nonce_file
from marketplace.core.shared import state as state_module
from marketplace.core.shared.database_store import DatabaseStore
from marketplace.core.shared.session_signals import SessionSignals
from marketplace.core.shared.state import SharedState, create_shared_state
from tests.marketplace.gate import _identity_db
from tests.support.redis import find_redis_server, redis_server

# Fixtures shared with the other identity tests.
migrated_url = _identity_db.migrated_url
gate_database = _identity_db.gate_database

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
T = NOW.timestamp()
REPO = Path(__file__).resolve().parents[3]


def make_state(database: Database, clock: FrozenClock) -> SharedState:
    return SharedState(DatabaseStore(database.engine), clock=clock, background=False)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


def test_nonce_is_refused_the_second_time_across_instances(gate_database, clock):
    a, b = make_state(gate_database, clock), make_state(gate_database, clock)
    assert a.nonce_seen("k1:n1", 60) is False
    assert b.nonce_seen("k1:n1", 60) is True
    assert a.nonce_seen("k1:n1", 60) is True
    assert b.nonce_seen("k1:n2", 60) is False


def test_expired_nonce_may_be_claimed_again(gate_database, clock):
    state = make_state(gate_database, clock)
    assert state.nonce_seen("k:n", 10) is False
    clock.advance(seconds=11)
    assert state.nonce_seen("k:n", 10) is False
    assert state.nonce_seen("k:n", 10) is True


def test_a_claim_leaves_the_nonce_file_unlocked(gate_database, clock):
    """Each claim is its own committed transaction: another worker can write at once."""
    store = DatabaseStore(gate_database.engine)
    try:
        if store.nonce_engine is store.engine:
            pytest.skip("nonces live in the platform database on this backend")
        other = sqlite3.connect(store.nonce_engine.url.database, timeout=0, isolation_level=None)
        try:
            for key in ("fresh", "fresh"):  # a first claim, then a replay (no row returned)
                store.claim_nonce(key, T, 60)
                other.execute("BEGIN IMMEDIATE")  # fails at once if the claim held the lock
                count = other.execute("SELECT count(*) FROM gate_nonces").fetchone()[0]
                other.execute("ROLLBACK")
                assert count == 1
        finally:
            other.close()
    finally:
        store.close()


def test_a_claim_on_a_broken_connection_raises_and_the_next_reconnects(gate_database, clock):
    """A claim on a broken connection raises (on_error decides); the next one reconnects."""
    store = DatabaseStore(gate_database.engine)
    try:
        if store.nonce_engine is store.engine:
            pytest.skip("nonces live in the platform database on this backend")
        assert store.claim_nonce("k:a", T, 60) is True
        store._claim_conn.dbapi_connection.close()  # the connection dies under the store
        with pytest.raises(sqlite3.ProgrammingError):
            store.claim_nonce("k:b", T, 60)
        assert store.claim_nonce("k:b", T, 60) is True
        assert store.claim_nonce("k:a", T, 60) is False
    finally:
        store.close()


def test_nonce_log_is_copied_back_off_the_claim_path(gate_database, clock, monkeypatch):
    """Claims never checkpoint themselves; a thread of the store does, and bounds the log."""
    monkeypatch.setattr(store_module, "NONCE_CHECKPOINT_EVERY", 3)
    store = DatabaseStore(gate_database.engine)
    try:
        if store.nonce_engine is store.engine:
            pytest.skip("nonces live in the platform database on this backend")
        for i in range(3):
            assert store.claim_nonce(f"k:{i}", T, 60) is True
        claim_conn = store._claim_conn.dbapi_connection
        assert claim_conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        checkpointer = store._checkpointer
        assert checkpointer is not None  # woken by the third claim
        pages = checkpointer.checkpoint()
        for _ in range(100):
            if pages >= 0:
                break
            # -1: the store's own checkpoint (woken by the third claim) was running; one at a time.
            time.sleep(0.02)
            pages = checkpointer.checkpoint()
        assert pages > 0
        # Past the bound, the checkpoint makes the next claim start the log over.
        monkeypatch.setattr(nonce_file, "NONCE_WAL_RESTART_FRAMES", 1)
        assert checkpointer.checkpoint() >= pages
        assert store.claim_nonce("k:next", T, 60) is True
        other = sqlite3.connect(store.nonce_engine.url.database, isolation_level=None)
        try:
            for _ in range(100):
                # busy: the store's own checkpoint thread (woken by the claim) holds it right now.
                busy, log_pages, copied = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if not busy:
                    break
                time.sleep(0.02)
        finally:
            other.close()
        assert (busy, copied) == (0, log_pages)
        assert 0 < log_pages < pages
        assert store.claim_nonce("k:0", T, 60) is False  # nothing was lost on the way
    finally:
        store.close()
    assert not checkpointer._thread.is_alive()


def test_counters_add_up_across_instances_after_a_flush(gate_database, clock):
    a, b = make_state(gate_database, clock), make_state(gate_database, clock)
    assert [a.hit("ip:1", 60) for _ in range(3)] == [1, 2, 3]
    assert b.hit("ip:1", 60) == 1  # b has not seen a's counts yet: write-behind
    a.flush()
    b.flush()
    assert b.hit("ip:1", 60) == 5
    b.flush()
    a.flush()  # a re-reads the counter although it counted nothing since its last flush
    assert a.hit("ip:1", 60) == 6
    assert a.hit("ip:2", 60) == 1


class _FailsOnce(DatabaseStore):
    """A store whose first write of counts and signals fails, as a database that blinks."""

    failed = False

    def add_counts(self, deltas, expires, also_read=()):
        if not self.failed:
            self.failed = True
            raise OSError("the database blinked")
        return super().add_counts(deltas, expires, also_read)


def test_a_failed_flush_keeps_its_counts_and_signals_for_the_next(gate_database, clock):
    a = SharedState(_FailsOnce(gate_database.engine), clock=clock, background=False)
    a.hit("ip:9", 60)
    a.update_session_signals("s9", SessionSignals(pages=1, first_seen=T, last_seen=T))
    with pytest.raises(OSError, match="blinked"):
        a.flush()
    a.hit("ip:9", 60)
    a.flush()
    b = make_state(gate_database, clock)
    b.hit("ip:9", 60)
    b.get_session_signals("s9")
    b.flush()
    assert b.hit("ip:9", 60) == 4  # a's two, after the failure, and b's two
    assert b.get_session_signals("s9").pages == 1


def test_counters_start_over_in_a_new_window(gate_database, clock):
    state = make_state(gate_database, clock)
    for _ in range(4):
        state.hit("b", 10)
    state.flush()
    clock.advance(seconds=10)
    assert state.hit("b", 10) == 1


def test_session_signals_merge_across_instances(gate_database, clock):
    a, b = make_state(gate_database, clock), make_state(gate_database, clock)
    t = NOW.timestamp()
    a.update_session_signals("s1", SessionSignals(first_seen=t, last_seen=t, pages=1))
    b.update_session_signals(
        "s1", SessionSignals(first_seen=t - 5, last_seen=t + 3, assets=2, first_checkout=t + 1)
    )
    a.flush()
    b.flush()
    a.get_session_signals("s1")  # a read asks for a fresh copy on the next tick
    a.flush()
    for state in (a, b):
        merged = state.get_session_signals("s1")
        assert merged.pages == 1
        assert merged.assets == 2
        assert merged.first_seen == t - 5
        assert merged.last_seen == t + 3
        assert merged.first_checkout == t + 1


def test_first_sight_of_a_session_reads_the_store(gate_database, clock):
    a, b = make_state(gate_database, clock), make_state(gate_database, clock)
    a.update_session_signals("s2", SessionSignals(pages=4, first_seen=T, last_seen=T + 1))
    a.flush()
    assert b.session_signals_stale("s2")
    assert b.get_session_signals("s2").pages == 4  # what `a` recorded, without waiting a tick
    assert not b.session_signals_stale("s2")


def test_a_session_back_from_other_workers_is_read_again(gate_database, clock, monkeypatch):
    monkeypatch.setattr(state_module, "SIGNALS_FRESH_S", 0.05)
    a, b = make_state(gate_database, clock), make_state(gate_database, clock)
    b.add_session_signals("s4", SessionSignals(assets=1, first_seen=T, last_seen=T))
    assert b.get_session_signals("s4").views == 0
    b.flush()  # `b` knows the session now
    a.update_session_signals("s4", SessionSignals(views=3, first_seen=T, last_seen=T + 1))
    a.flush()
    time.sleep(0.06)  # the session spent a while on `a`
    merged = b.get_session_signals("s4")
    assert (merged.views, merged.assets) == (3, 1)


def test_a_failing_store_leaves_the_local_view(gate_database, clock, monkeypatch):
    state = make_state(gate_database, clock)
    state.add_session_signals("s5", SessionSignals(pages=1, first_seen=T, last_seen=T))
    calls = []

    def broken(ids):  # type: ignore[no-untyped-def]
        calls.append(ids)
        raise OSError("store down")

    monkeypatch.setattr(state.store, "fetch_signals", broken)
    assert state.get_session_signals("s5").pages == 1
    assert state.get_session_signals("s6").pages == 0
    assert len(calls) == 1  # no second wait on a store that just failed


def test_policy_switch_is_seen_by_another_instance(gate_database, clock):
    a, b = make_state(gate_database, clock), make_state(gate_database, clock)
    assert a.get_active_policy() == (0, None)
    assert b.get_active_policy() == (0, None)
    version = a.set_active_policy("name: open\n")
    assert version == 1
    assert a.get_active_policy() == (1, "name: open\n")
    b.flush()
    assert b.get_active_policy() == (1, "name: open\n")
    assert b.set_active_policy("name: closed\n") == 2


def test_partner_version_is_shared(gate_database, clock):
    a, b = make_state(gate_database, clock), make_state(gate_database, clock)
    assert b.partners_version() == 0
    a.bump_partners_version()
    b.flush()
    assert b.partners_version() == 1


def test_close_flushes_pending_writes(gate_database, clock):
    a = make_state(gate_database, clock)
    a.hit("closing", 60)
    a.update_session_signals("s3", SessionSignals(pages=2, first_seen=T, last_seen=T))
    a.close()
    b = make_state(gate_database, clock)
    assert b.hit("closing", 60) == 1
    b.flush()
    assert b.hit("closing", 60) == 3
    b.get_session_signals("s3")
    b.flush()
    assert b.get_session_signals("s3").pages == 2


def test_background_tick_runs_without_help(gate_database, clock):
    a = create_shared_state(gate_database, clock=clock, flush_interval_s=0.05)
    b = create_shared_state(gate_database, clock=clock, flush_interval_s=0.05)
    try:
        b.get_active_policy()
        a.set_active_policy("name: observe\n")
        deadline = time.monotonic() + 1.0
        while b.get_active_policy()[0] != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert b.get_active_policy() == (1, "name: observe\n")
    finally:
        a.close()
        b.close()


def test_a_switch_made_while_the_tick_slept_is_in_force_at_the_next_read(
    gate_database, clock, monkeypatch
):
    monkeypatch.setattr(tick, "IDLE_STOP_S", 0.1)
    a = make_state(gate_database, clock)
    b = create_shared_state(gate_database, clock=clock, flush_interval_s=0.02)
    try:
        assert b.get_active_policy() == (0, None)
        deadline = time.monotonic() + 5.0
        while _ticking() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _ticking(), "the idle tick should have stopped"
        a.set_active_policy("name: open\n")
        # No tick has polled since the switch: the read itself must fetch the new version.
        assert b.get_active_policy() == (1, "name: open\n")
    finally:
        b.close()


def _ticking() -> bool:
    return any(t.name == "shared-state" and t.is_alive() for t in threading.enumerate())


def test_purge_drops_expired_rows_and_old_sessions(gate_database, clock):
    store = DatabaseStore(gate_database.engine)
    assert store.claim_nonce("old", T, 1) is True
    store.merge_signals({"old": SessionSignals(pages=1, first_seen=T, last_seen=T)})
    store.merge_signals({"new": SessionSignals(pages=1, first_seen=T, last_seen=T + 86_400)})
    store.purge(T + 86_400 + 5)
    assert set(store.fetch_signals(["old", "new"])) == {"new"}
    assert store.claim_nonce("old", T + 5, 1) is True


# --- Two real worker processes ------------------------------------------------------------

_WORKER = textwrap.dedent(
    """
    import json, sys, time
    from marketplace.core.db import Database
    from marketplace.core.shared.state import create_shared_state

    url, role = sys.argv[1], sys.argv[2]
    state = create_shared_state(Database(url), flush_interval_s=0.2)
    state.get_active_policy()
    print("ready", flush=True)
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "set":
            print(json.dumps({"version": state.set_active_policy(arg)}), flush=True)
        elif cmd == "wait":
            start = time.monotonic()
            while state.get_active_policy()[1] != arg and time.monotonic() - start < 5:
                time.sleep(0.01)
            print(json.dumps({"policy": state.get_active_policy()[1],
                              "waited": time.monotonic() - start}), flush=True)
        elif cmd == "nonce":
            print(json.dumps({"seen": state.nonce_seen(arg, 60)}), flush=True)
        elif cmd == "quit":
            state.close()
            break
    """
)


class Worker:
    def __init__(self, url: str, role: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)])}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER, url, role],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.readline() == "ready"

    def readline(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def ask(self, line: str) -> dict[str, object]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer: dict[str, object] = json.loads(self.readline())
        return answer

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=10)


def test_two_worker_processes_share_policy_and_nonces(migrated_url):
    one, two = Worker(migrated_url, "one"), Worker(migrated_url, "two")
    try:
        assert one.ask("set policy-open")["version"] == 1
        seen = two.ask("wait policy-open")
        assert seen["policy"] == "policy-open"
        assert float(seen["waited"]) < 1.0  # type: ignore[arg-type]
        assert one.ask("nonce key:abc")["seen"] is False
        assert two.ask("nonce key:abc")["seen"] is True
        assert two.ask("nonce key:def")["seen"] is False
        assert one.ask("nonce key:def")["seen"] is True
    finally:
        one.stop()
        two.stop()


# --- Redis --------------------------------------------------------------------------------


@pytest.fixture
def redis_url(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = find_redis_server()
    if server is None:
        from tests.conftest import skip_or_fail

        skip_or_fail("redis", "redis-server is not installed: `apt-get install redis-server`")
    with redis_server(tmp_path, str(server)) as url:
        yield url


def test_redis_store_shares_state(redis_url, tmp_path, clock):
    database = Database(f"sqlite:///{tmp_path / 'unused.db'}")
    a = create_shared_state(database, redis_url=redis_url, clock=clock, background=False)
    b = create_shared_state(database, redis_url=redis_url, clock=clock, background=False)
    try:
        assert a.nonce_seen("r:n", 60) is False
        assert b.nonce_seen("r:n", 60) is True
        a.hit("x", 60)
        a.hit("x", 60)
        a.flush()
        assert b.hit("x", 60) == 1
        b.flush()
        assert b.hit("x", 60) == 4
        t = NOW.timestamp()
        a.update_session_signals("s", SessionSignals(pages=2, first_seen=t, last_seen=t))
        b.update_session_signals("s", SessionSignals(assets=1, first_seen=t - 1, last_seen=t + 1))
        a.flush()
        b.flush()
        a.get_session_signals("s")
        a.flush()
        merged = a.get_session_signals("s")
        assert (merged.pages, merged.assets, merged.first_seen) == (2, 1, t - 1)
        assert a.set_active_policy("p") == 1
        b.flush()
        assert b.get_active_policy() == (1, "p")
    finally:
        a.close()
        b.close()
        database.dispose()
