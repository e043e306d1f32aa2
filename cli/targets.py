"""Where a deployment is, and the clients that reach it: a running ``gateway dev``, or a
deployed stage.

The operator's commands (``failover``, ``dlq``, ``projections rebuild``, ``status``,
``smoke``) work on a :class:`Target`, so the same code runs against both. Both are
described by the stacks' outputs (:mod:`infra.outputs`): a stage's come from
CloudFormation (:mod:`cli.stage_stacks`), a local one's from the state file ``gateway
dev`` writes (:func:`local_target`); the command line says which
(:mod:`cli.target_args`). Only the clients differ: the local ones sign with the local
key pair and call the local cloud; a stage's use the AWS profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from emulator.statefile import RunningDev
from infra import outputs as names


class TargetError(Exception):
    """The deployment cannot be found or reached; the message says what to do."""


class BadRequest(TargetError):
    """The command line asks for what cannot be: a usage error."""


class UnknownRegion(BadRequest):
    """A region the deployment does not have was named."""


class RegionResources(NamedTuple):
    """One region's resources, by the names its stack outputs."""

    region: str
    write_table: str
    projection_table: str
    graphql_url: str
    # None only for a gateway dev that keeps its dead letters in its own table.
    dead_letter_queue_url: str | None
    write_stream_arn: str | None = None
    realtime_url: str | None = None
    stream_consumer: str | None = None
    alarm_topic_arn: str | None = None
    dead_letter_alarm: str | None = None
    user_pool_id: str | None = None
    user_pool_client_id: str | None = None
    client_token_secret: str | None = None

    @classmethod
    def from_outputs(
        cls, values: Mapping[str, str], where: str, required: Sequence[str] = names.REQUIRED
    ) -> RegionResources:
        """The resources ``values`` name.

        Raises
        ------
        TargetError
            An output the tools need is missing: the stack predates it.
        """
        missing = [name for name in required if not values.get(name)]
        if missing:
            raise TargetError(
                f"{where} has no output {', '.join(missing)}: deploy the stage again with "
                "this version of infra/ (`cdk deploy`)"
            )
        return cls(
            region=values[names.REGION],
            write_table=values[names.WRITE_TABLE],
            projection_table=values[names.PROJECTION_TABLE],
            graphql_url=values[names.GRAPHQL_URL],
            dead_letter_queue_url=values.get(names.DEAD_LETTER_QUEUE_URL) or None,
            write_stream_arn=values.get(names.WRITE_STREAM_ARN) or None,
            realtime_url=values.get(names.REALTIME_URL) or None,
            stream_consumer=values.get(names.STREAM_CONSUMER) or None,
            alarm_topic_arn=values.get(names.ALARM_TOPIC_ARN) or None,
            dead_letter_alarm=values.get(names.DEAD_LETTER_ALARM) or None,
            user_pool_id=values.get(names.USER_POOL_ID) or None,
            user_pool_client_id=values.get(names.USER_POOL_CLIENT_ID) or None,
            client_token_secret=values.get(names.CLIENT_TOKEN_SECRET) or None,
        )


@dataclass(frozen=True)
class Target:
    """A deployment, and how to reach it.

    Attributes
    ----------
    description
        What it is, for people: ``gateway dev (state in .gateway)``, ``stage prod``.
    primary
        The deployment's first primary; the control record may name another since.
    regions
        Every region of the deployment, the primary first.
    resources
        Each region's resources, for every region whose stack could be read.
    unreadable
        Why each other region's stack could not be read: a failover must still reach
        the regions that answer while one is lost.
    public_url, public_realtime_url
        The one public name, for HTTP and for subscriptions (None: none is known).
    local, state_dir
        The running ``gateway dev`` and its state directory, for what only the emulator
        knows (and its signing key); None for a stage.
    """

    description: str
    primary: str
    regions: tuple[str, ...]
    resources: Mapping[str, RegionResources]
    session: boto3.Session
    config: Config
    endpoint_url: str | None = None
    public_url: str | None = None
    public_realtime_url: str | None = None
    local: RunningDev | None = None
    state_dir: Path | None = None
    unreadable: Mapping[str, str] = field(default_factory=dict)

    @property
    def write_table(self) -> str:
        """The write table's name: a global table, named alike in every region."""
        return next(iter(self.resources.values())).write_table

    @property
    def is_local(self) -> bool:
        return self.local is not None

    def select(self, region: str | None) -> list[str]:
        """``[region]``, or every region when None.

        Raises
        ------
        UnknownRegion
            ``region`` is not one of the deployment's.
        TargetError
            A region asked for has a stack that cannot be read.
        """
        if region is not None and region not in self.regions:
            raise UnknownRegion(f"unknown region {region}; {self._has()}")
        chosen = list(self.regions) if region is None else [region]
        for name in chosen:
            if name in self.unreadable:
                raise TargetError(f"{name} cannot be used: {self.unreadable[name]}")
        return chosen

    def client(self, service: str, region: str) -> Any:
        """A client for ``service`` in ``region`` of this deployment."""
        session: Any = self.session  # the stubs type each service by its literal name
        return session.client(
            service, region_name=region, endpoint_url=self.endpoint_url, config=self.config
        )

    def dynamodb(self, region: str) -> Any:
        return self.client("dynamodb", region)

    def credentials(self) -> Any:
        """What this target's clients sign with (SigV4 for the publish mutations too)."""
        return self.session.get_credentials()

    def _has(self) -> str:
        return f"{self.description} has {', '.join(self.regions)}"


def local_target(running: RunningDev, state_dir: Path) -> Target:
    """A running ``gateway dev``: its clients sign with its key pair, at its cloud.

    Its public endpoint is where DESIGN.md puts the global one: on the port after the
    regions' (``port + number of regions``).
    """
    credentials = running.credentials
    session = boto3.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        region_name=running.regions[0],
    )
    resources = {
        region: RegionResources.from_outputs(
            running.outputs_for(region),
            f"gateway dev's {region}",
            # Until gateway dev sends dead letters to the template's queue, it keeps
            # them in a table of its own, and says so by naming no queue.
            [name for name in names.REQUIRED if name != names.DEAD_LETTER_QUEUE_URL],
        )
        for region in running.regions
    }
    first = urlsplit(running.urls[0])
    host = first.netloc.rsplit(":", 1)[0]
    public = f"{first.scheme}://{host}:{(first.port or 80) + len(running.regions)}"
    realtime = public.replace("http", "ws", 1)
    return Target(
        description=f"gateway dev (state in {state_dir})",
        primary=running.regions[0],
        regions=tuple(running.regions),
        resources=resources,
        session=session,
        # As the Lambdas' own clients locally: a hung region holds a command for seconds.
        config=client_config(connect_timeout=1, read_timeout=2),
        endpoint_url=running.endpoint_url,
        public_url=f"{public}/graphql",
        public_realtime_url=f"{realtime}/graphql/realtime",
        local=running,
        state_dir=state_dir,
    )


def client_config(connect_timeout: float, read_timeout: float, attempts: int = 3) -> Config:
    """Bounded waits: a region that hangs holds a command for seconds, not minutes."""
    return Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": attempts, "mode": "standard"},
        # moto serves streams only without the account in the endpoint; AWS either way.
        account_id_endpoint_mode="disabled",
    )
