"""The faults injected into one local deployment, switched on and off at run time.

``gateway chaos`` and the admin endpoint add and clear them; the parts of the emulator
that play AWS consult them:

* ``outage`` (region, ``mode`` fail | hang): the local cloud answers that region's
  DynamoDB and Streams calls with HTTP 503, or holds them (:mod:`emulator.chaos.gate`);
* ``throttle`` (region, ``rate``): that fraction of the region's table reads and writes
  get ProvisionedThroughputExceeded, spread evenly, so a run is reproducible;
* ``replication-pause`` and ``replication-lag`` (``lagMs``): the global-table stand-in
  holds every change, or holds it ``lagMs`` (:class:`emulator.cloud.streams.Replicator`);
* ``crash`` (region, ``match``, ``times``): the stream handler invocation raises for a
  batch holding a record whose ``pk`` contains ``match`` (``*``: any record), as a
  crashing Lambda would (:class:`emulator.cloud.streams.StreamPoller`);
* ``lost-reply`` (region, ``times``): that region applies each table write, then its
  reply is lost: the caller times out, as when an answer never comes back, and cannot
  tell whether the write landed (:mod:`emulator.chaos.gate`); with ``times``, that many
  replies are lost, then the fault is off;
* ``disconnect`` (region or all): a one-shot action, closing subscriber sockets; it is
  never stored.

A region has at most one outage, one throttle and one lost reply, and the deployment at
most one replication pause and one lag: adding another replaces it (a pause is kept,
with its id). Crashes add up. Stdlib only.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

OUTAGE = "outage"
THROTTLE = "throttle"
REPLICATION_PAUSE = "replication-pause"
REPLICATION_LAG = "replication-lag"
CRASH = "crash"
LOST_REPLY = "lost-reply"
DISCONNECT = "disconnect"
KINDS = (OUTAGE, THROTTLE, REPLICATION_PAUSE, REPLICATION_LAG, CRASH, LOST_REPLY, DISCONNECT)
FAIL, HANG = "fail", "hang"
MATCH_ALL = "*"
MAX_LAG_MS = 3_600_000
MAX_TIMES = 1_000_000
MAX_MATCH_CHARS = 256

# The fields each kind takes (``kind`` aside), and which of them it needs.
_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    OUTAGE: ({"region", "mode"}, {"region"}),
    THROTTLE: ({"region", "rate"}, {"region", "rate"}),
    REPLICATION_PAUSE: (set(), set()),
    REPLICATION_LAG: ({"lagMs"}, {"lagMs"}),
    CRASH: ({"region", "match", "times"}, {"region", "match"}),
    LOST_REPLY: ({"region", "times"}, {"region"}),
    DISCONNECT: ({"region"}, set()),
}


class BadFault(ValueError):
    """A fault description that cannot be applied; the message says what to fix."""


@dataclass(frozen=True)
class FaultSpec:
    """What to inject, as a client asked for it (JSON: ``kind`` plus the kind's fields)."""

    kind: str
    region: str | None = None
    mode: str | None = None
    rate: float | None = None
    lag_ms: int | None = None
    match: str | None = None
    times: int | None = None

    @classmethod
    def from_json(cls, body: object, regions: Sequence[str]) -> FaultSpec:
        """Validate a request body against the deployment's regions.

        Raises
        ------
        BadFault
            Not an object, an unknown kind or field, a missing field, a region this
            deployment does not run, or a value out of range.
        """
        if not isinstance(body, dict):
            raise BadFault("the body must be a JSON object with a 'kind'")
        kind = body.get("kind")
        if not isinstance(kind, str) or kind not in _FIELDS:
            raise BadFault(f"'kind' must be one of: {', '.join(KINDS)}")
        allowed, required = _FIELDS[kind]
        unknown = sorted(str(name) for name in body if name != "kind" and name not in allowed)
        if unknown:
            takes = ", ".join(sorted(allowed)) or "nothing else"
            raise BadFault(f"{kind} does not take {unknown[0]!r} (it takes: {takes})")
        missing = sorted(required - set(body))
        if missing:
            raise BadFault(f"{kind} needs {missing[0]!r}")
        return cls(
            kind=kind,
            region=_region(body.get("region"), regions) if "region" in body else None,
            mode=_choice(body.get("mode", FAIL), "mode", (FAIL, HANG)) if kind == OUTAGE else None,
            rate=_rate(body["rate"]) if "rate" in body else None,
            lag_ms=_whole(body["lagMs"], "lagMs", 0, MAX_LAG_MS) if "lagMs" in body else None,
            match=_match(body["match"]) if "match" in body else None,
            times=_whole(body["times"], "times", 1, MAX_TIMES) if "times" in body else None,
        )

    def to_json(self) -> dict[str, Any]:
        fields = {
            "kind": self.kind,
            "region": self.region,
            "mode": self.mode,
            "rate": self.rate,
            "lagMs": self.lag_ms,
            "match": self.match,
            "times": self.times,
        }
        return {name: value for name, value in fields.items() if value is not None}


@dataclass(frozen=True)
class Fault:
    """An active fault. For a crash or a lost reply with ``times``, ``spec.times`` is what
    is left."""

    id: str
    spec: FaultSpec
    started_at: float

    @property
    def kind(self) -> str:
        return self.spec.kind

    def to_json(self) -> dict[str, Any]:
        started = datetime.fromtimestamp(self.started_at, UTC)
        return {
            "id": self.id,
            **self.spec.to_json(),
            "startedAt": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }


class FaultRegistry:
    """Every active fault of one deployment; safe to use from any thread.

    Parameters
    ----------
    clock
        Wall-clock seconds, for ``started_at``; tests pass their own.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._faults: dict[str, Fault] = {}
        self._ids = itertools.count(1)
        # Requests each throttle has seen, by fault id: the throttle's only state.
        self._throttle_counts: dict[str, int] = {}
        self._held = 0

    def add(self, spec: FaultSpec) -> Fault:
        """Switch a fault on; see the module docstring for what replaces what."""
        if spec.kind == DISCONNECT:
            raise BadFault("disconnect is an action, not a fault that stays on")
        with self._changed:
            if spec.kind == REPLICATION_PAUSE:
                for fault in self._faults.values():
                    if fault.kind == REPLICATION_PAUSE:
                        return fault
            if spec.kind in (OUTAGE, THROTTLE, LOST_REPLY, REPLICATION_LAG):
                for fault in list(self._faults.values()):
                    if fault.kind == spec.kind and fault.spec.region == spec.region:
                        self._remove(fault.id)
            fault = Fault(f"{spec.kind}-{next(self._ids)}", spec, self._clock())
            self._faults[fault.id] = fault
            self._throttle_counts[fault.id] = 0
            self._changed.notify_all()
            return fault

    def active(self) -> list[Fault]:
        """The active faults, oldest first."""
        with self._changed:
            return sorted(self._faults.values(), key=lambda fault: fault.started_at)

    def clear(self, fault_id: str) -> Fault | None:
        """Switch one fault off; the fault, or None when no such fault is on."""
        with self._changed:
            fault = self._remove(fault_id)
            self._changed.notify_all()
            return fault

    def clear_all(self) -> list[Fault]:
        """Switch every fault off; those that were on."""
        with self._changed:
            cleared = [self._remove(fault_id) for fault_id in list(self._faults)]
            self._changed.notify_all()
            return [fault for fault in cleared if fault is not None]

    def outage(self, region: str) -> Fault | None:
        with self._changed:
            return self._find(OUTAGE, region)

    def throttles(self, region: str) -> bool:
        """Whether this request to ``region`` is throttled; counts it.

        Request n of a throttle at rate r is refused when floor(n r) moves past
        floor((n - 1) r): exactly r of every run of requests, evenly spread, the same
        on every run.
        """
        with self._changed:
            fault = self._find(THROTTLE, region)
            if fault is None or fault.spec.rate is None:
                return False
            rate = Fraction(fault.spec.rate).limit_denominator(1_000_000)
            count = self._throttle_counts[fault.id] = self._throttle_counts[fault.id] + 1
            return math.floor(count * rate) > math.floor((count - 1) * rate)

    def replication_paused(self) -> bool:
        with self._changed:
            return self._find(REPLICATION_PAUSE, None) is not None

    def replication_lag_ms(self, configured: int) -> int:
        """The lag a ``replication-lag`` fault sets, else the deployment's own."""
        with self._changed:
            fault = self._find(REPLICATION_LAG, None)
        return configured if fault is None or fault.spec.lag_ms is None else fault.spec.lag_ms

    def crash(self, region: str, partition_keys: Iterable[str]) -> Fault | None:
        """The crash fault that makes this invocation fail, if any; counts it down.

        A crash whose ``times`` runs out is switched off by itself.
        """
        keys = list(partition_keys)
        with self._changed:
            for fault in list(self._faults.values()):
                match = fault.spec.match
                if fault.kind != CRASH or fault.spec.region != region or match is None:
                    continue
                if not any(match == MATCH_ALL or match in key for key in keys):
                    continue
                self._count_down(fault)
                return fault
            return None

    def lost_reply(self, region: str) -> Fault | None:
        """The lost reply on in ``region``, if any, without counting it."""
        with self._changed:
            return self._find(LOST_REPLY, region)

    def lose_reply(self, region: str) -> Fault | None:
        """The lost reply that takes this applied write's answer, if any; counts it down.

        A lost reply whose ``times`` runs out is switched off by itself.
        """
        with self._changed:
            fault = self._find(LOST_REPLY, region)
            if fault is not None:
                self._count_down(fault)
            return fault

    def hold(self, fault: Fault, cap_s: float) -> None:
        """Wait while ``fault`` is on, at most ``cap_s``: what a hung call goes through."""
        deadline = time.monotonic() + cap_s
        with self._changed:
            self._held += 1
            try:
                while fault.id in self._faults:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    self._changed.wait(left)
            finally:
                self._held -= 1

    @property
    def held(self) -> int:
        """Calls an outage holds right now."""
        with self._changed:
            return self._held

    def _find(self, kind: str, region: str | None) -> Fault | None:
        for fault in self._faults.values():
            if fault.kind == kind and fault.spec.region == region:
                return fault
        return None

    def _count_down(self, fault: Fault) -> None:
        """One use of a fault with ``times``: the last one switches it off."""
        times = fault.spec.times
        if times is None:
            return
        if times <= 1:
            self._remove(fault.id)
        else:
            spec = dataclasses.replace(fault.spec, times=times - 1)
            self._faults[fault.id] = dataclasses.replace(fault, spec=spec)
        self._changed.notify_all()

    def _remove(self, fault_id: str) -> Fault | None:
        self._throttle_counts.pop(fault_id, None)
        return self._faults.pop(fault_id, None)


def _region(value: object, regions: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in regions:
        raise BadFault(f"'region' must be one of this deployment's: {', '.join(regions)}")
    return value


def _choice(value: object, name: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise BadFault(f"{name!r} must be one of: {', '.join(choices)}")
    return value


def _rate(value: object) -> float:
    # bool is an int to Python, never a rate to a person.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadFault("'rate' must be a number greater than 0 and at most 1")
    if not (math.isfinite(value) and 0 < value <= 1):
        raise BadFault(f"'rate' must be greater than 0 and at most 1; got {value}")
    return float(value)


def _whole(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadFault(f"{name!r} must be a whole number from {low} to {high}")
    if not low <= value <= high:
        raise BadFault(f"{name!r} must be from {low} to {high}; got {value}")
    return value


def _match(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_MATCH_CHARS:
        raise BadFault(
            f"'match' must be a non-empty string of at most {MAX_MATCH_CHARS} characters "
            f"(a part of a record's pk, such as ORDER#<id>, or {MATCH_ALL} for every record)"
        )
    return value
