"""The gate of one app: the judge, the active policy (switchable at runtime), log and metrics.

A policy switched through any worker is written to the shared state; every worker compares the
shared version with its own at most every `POLL_INTERVAL_S` and recompiles when it changed. The
version check is a memory read (the shared state polls the store in the background), so requests
do not wait on the database for it.

A (re)start applies the configured policy (SANDBOX_POLICY): versions stored before the app was
built are the baseline, and only switches made after it are adopted. So `sandbox serve --policy
open` serves `open` even if an earlier run switched the same database to `closed`; the workers of
one server, built together, share the baseline and follow every switch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from marketplace.core.clock import Clock
from marketplace.core.db import Database
from marketplace.core.settings import Settings
from marketplace.core.shared.state import SharedState
from marketplace.gate.decisionlog import DecisionLog
from marketplace.gate.identity.layer import Identity
from marketplace.gate.judge import Judge
from marketplace.gate.metrics import GateMetrics
from marketplace.gate.policy.compiled import CompiledPolicy
from marketplace.gate.policy.model import (
    PRESET_NAMES,
    Policy,
    load_policy_text,
    preset_text,
    resolve_policy_source,
)

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.5


class GateRuntime:
    """Holds what the middleware and the admin routes share."""

    def __init__(
        self,
        judge: Judge,
        *,
        decision_log: DecisionLog | None,
        metrics: GateMetrics,
        state: Any,
        startup_text: str,
        startup_source: str,
        baseline_version: int = 0,
    ) -> None:
        self.judge = judge
        self.decision_log = decision_log
        self.metrics = metrics
        self.state = state
        self.startup_text = startup_text
        self.startup_source = startup_source
        self.active_text = startup_text
        self.active_source = startup_source
        self.baseline_version = baseline_version
        self._next_poll = 0.0
        self._lock = threading.Lock()

    @classmethod
    def load_startup(cls, spec: str) -> tuple[CompiledPolicy, str, str]:
        """Compile the configured policy (SANDBOX_POLICY); raises PolicyError when invalid."""
        text, source = resolve_policy_source(spec)
        policy = load_policy_text(text, source)
        return CompiledPolicy(policy, version=0, source=source), text, source

    def rule_reasons(self) -> dict[str, str]:
        """Rule id -> the sentence the active policy gives for it."""
        return {rule_id: rule.reason for rule_id, rule in self.compiled.rules_by_id.items()}

    def close(self) -> None:
        """Write what the decision log still queues (a clean shutdown)."""
        if self.decision_log is not None:
            self.decision_log.close()

    @property
    def compiled(self) -> CompiledPolicy:
        return self.judge.compiled

    def maybe_refresh(self) -> None:
        """Pick up a policy switched through another worker (checked at most every 0.5 s)."""
        now = time.monotonic()
        if now < self._next_poll or self.state is None:
            return
        self._next_poll = now + POLL_INTERVAL_S
        try:
            version, text = self.state.get_active_policy()
        except Exception:
            log.exception("could not read the shared policy version; keeping the current policy")
            return
        if version <= self.baseline_version or version == self.compiled.version:
            return
        self._apply(version, text)

    def _apply(self, version: int, text: str | None) -> None:
        with self._lock:
            if version <= self.baseline_version or version == self.compiled.version:
                return
            source = self.startup_source if text is None else f"runtime v{version}"
            try:
                policy = load_policy_text(text or self.startup_text, source)
            except ValueError:
                # Only validated policies are stored; a bad one (edited by hand) is ignored loudly.
                log.exception(
                    "shared policy version %s is invalid; keeping the current one", version
                )
                self.judge.compiled = CompiledPolicy(
                    self.compiled.policy, version=version, source=self.compiled.source
                )
                return
            self.judge.compiled = CompiledPolicy(policy, version=version, source=source)
            self.active_text = text or self.startup_text
            self.active_source = source
            log.info("gate policy %s (version %s) is now active", policy.name, version)

    def switch(self, *, preset: str | None = None, yaml_text: str | None = None) -> Policy:
        """Validate and activate a policy in every worker; raises PolicyError, changing nothing."""
        if preset is not None:
            text = preset_text(preset)
            source = f"preset {preset}"
        elif yaml_text is not None:
            text, source = yaml_text, "request body"
        else:
            raise ValueError("give a preset name or YAML text")
        policy = load_policy_text(text, source)
        if self.state is not None:
            version = int(self.state.set_active_policy(text))
        else:
            version = self.compiled.version + 1
        with self._lock:
            self.judge.compiled = CompiledPolicy(policy, version=version, source=source)
            self.active_text = text
            self.active_source = source
        return policy


def stored_policy_version(state: SharedState) -> int:
    """The shared policy version now, read from the store without starting its background tick."""
    try:
        versions: dict[str, int] = state.store.read_versions()
    except Exception:  # an unmigrated or unreachable store: nothing was switched there yet
        log.warning("could not read the shared policy version; starting from 0", exc_info=True)
        return 0
    return int(versions.get("policy", 0))


def build_gate_runtime(
    settings: Settings,
    database: Database,
    identity: Identity,
    clock: Clock,
    *,
    housekeeping: Callable[[], object] | None = None,
) -> GateRuntime:
    """The gate of one app, with the policy SANDBOX_POLICY names (PolicyError when invalid).

    `housekeeping` runs on the decision log's background tick (e.g. pruning old rows).
    """
    compiled, text, source = GateRuntime.load_startup(settings.policy)
    baseline = stored_policy_version(identity.state)
    judge = Judge(
        CompiledPolicy(compiled.policy, version=baseline, source=source),
        identity=identity,
        tracker=identity.tracker,
        state=identity.state,
        escalator=identity.escalator,
        clock=clock,
    )
    return GateRuntime(
        judge,
        decision_log=DecisionLog(
            database,
            resolve_account=identity.escalator.resolve_account,
            housekeeping=housekeeping,
        ),
        metrics=GateMetrics(),
        state=identity.state,
        startup_text=text,
        startup_source=source,
        baseline_version=baseline,
    )


__all__ = ["PRESET_NAMES", "GateRuntime", "build_gate_runtime"]
