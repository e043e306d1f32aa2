"""EventBridge's scheduled rules, locally: each region's health functions on a timer.

On AWS a rule invokes each region's read canary and heartbeat writer every minute
(``infra/health.py``). ``gateway dev`` runs the same code for each region, in-process,
every ``interval_s`` (``--health-interval-s``; a test makes it short), each function on
a thread of its own, so a probe held up by an injected fault delays nothing else: the
canary is bounded by its own timeout (at most one interval), as the rule's next run
would not wait for a slow one either. The first runs happen at once.

Each canary verdict goes to ``on_verdict`` (the global endpoint's health checks) and out
as the canary's metric, into the region's figures. A heartbeat that cannot be written
(its region is out) is what the alarms are for; a line says so when it starts failing
and when it works again, not at every run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from projections import heartbeat
from projections.observability import EmfSink, Observability
from projections.settings import Settings
from resolvers.canary import SERVICE as CANARY_SERVICE
from resolvers.canary import CanarySettings, Verdict, build_canary

logger = logging.getLogger("gateway.schedules")


@dataclass(frozen=True)
class ScheduledRegion:
    """What one region's health functions need: the canary's settings (as its
    environment gives them on AWS), the region's settings (its tables, its client-token
    secret), and its figures' sink."""

    settings: Settings
    canary: CanarySettings
    emf_sink: EmfSink

    @property
    def name(self) -> str:
        return self.settings.region


class HealthSchedule:
    """Every region's canary and heartbeat writer, every ``interval_s``, until stopped."""

    def __init__(
        self,
        regions: Sequence[ScheduledRegion],
        interval_s: float,
        on_verdict: Callable[[str, Verdict], None],
    ) -> None:
        self.interval_s = interval_s
        self._regions = list(regions)
        self._on_verdict = on_verdict
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for region in self._regions:
            observability = Observability(
                CANARY_SERVICE,
                region=region.name,
                namespace=region.settings.metrics_namespace,
                emf_sink=region.emf_sink,
            )
            self._every_interval(f"canary-{region.name}", self._canary(region, observability))
            self._every_interval(f"heartbeat-{region.name}", self._heartbeat(region))

    def stop(self) -> None:
        """No further runs; a run under way finishes on its own (its thread is a daemon)."""
        self._stopped.set()
        for thread in self._threads:
            thread.join(timeout=0.5)

    def _every_interval(self, name: str, run: Callable[[], None]) -> None:
        def loop() -> None:
            while not self._stopped.is_set():
                run()
                self._stopped.wait(self.interval_s)

        thread = threading.Thread(target=loop, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _canary(self, region: ScheduledRegion, observability: Observability) -> Callable[[], None]:
        # A probe never outlives its interval: the next run is due then.
        settings = region.canary._replace(timeout_s=min(region.canary.timeout_s, self.interval_s))
        canary = build_canary(settings, region.settings)

        def run() -> None:
            verdict = canary.run()
            if self._stopped.is_set():
                return  # gateway dev is stopping: its regions stop answering on purpose
            observability.canary(verdict.healthy, verdict.latency_ms, verdict.reason)
            self._on_verdict(region.name, verdict)

        return run

    def _heartbeat(self, region: ScheduledRegion) -> Callable[[], None]:
        settings = region.settings
        client = settings.dynamodb(settings.region)
        failing = False

        def run() -> None:
            nonlocal failing
            try:
                heartbeat.beat(client, settings.write_table, settings.region)
            except (BotoCoreError, ClientError) as error:
                if not failing and not self._stopped.is_set():
                    logger.warning("%s: the heartbeat cannot be written (%s)", region.name, error)
                failing = True
                return
            if failing:
                logger.warning("%s: the heartbeat is written again", region.name)
            failing = False

        return run
