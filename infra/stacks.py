"""The stacks: one for each region, and the edge stack that holds the client-facing name.

The primary's stack owns what exists once (the global write table, the user pool, the
page-token secret and the client-token secret, each replicated or referenced by the
others); every region's stack holds its projections, API, authorizer, resolvers, stream
consumer, route and alarms. The functions name the secrets and read them at run time
from their own region's replica, so a rotation reaches every region and no region keeps
a deploy-time copy.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import outputs
from infra.api import SCHEMA_FILE, GraphqlApi, UserDirectory
from infra.authorizer import ClientTokenAuthorizer
from infra.config import (
    CLIENT_TOKEN_LENGTH,
    CLIENT_TOKEN_SECRET,
    EDGE_REGION,
    PAGE_TOKEN_SECRET,
    DeploymentConfig,
)
from infra.health import HeartbeatWriter, ReadCanary
from infra.nag import acknowledge
from infra.observability import Alarms
from infra.projections import StreamConsumer
from infra.resolvers import Resolvers
from infra.routing import EdgeRouting, RegionalRoute
from infra.tables import ProjectionTable, ReplicaStream, WriteTable
from projections import keys

# projections.settings.PAGE_TOKEN_SECRET_VARIABLE; infra may not import it, so
# tests/infra checks that the names agree.
PAGE_TOKEN_SECRET_VARIABLE = "GATEWAY_PAGE_TOKEN_SECRET"
# How long each region trusts its cached copy of the control record.
CONTROL_CACHE_MS = "5000"


class SharedResources(Construct):
    """What the deployment has once, in the primary's region."""

    def __init__(self, scope: Construct, construct_id: str, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.write_table = WriteTable(self, "WriteTable", config).table
        directory = UserDirectory(self, "Users", config)
        self.users = directory.pool
        self.storefront = directory.client
        # Signs the nextToken of every connection; the same in every region, so a page
        # token from one region works in another.
        self.token_secret = secretsmanager.Secret(
            self,
            "TokenSecret",
            secret_name=config.resource_name(PAGE_TOKEN_SECRET),
            description="Signs GraphQL page tokens (nextToken) in every region.",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=48, exclude_punctuation=True
            ),
            replica_regions=[
                secretsmanager.ReplicaRegion(region=region) for region in config.replicas
            ],
        )
        acknowledge(
            self.token_secret,
            "AwsSolutions::AwsSolutions-SMG4",
            "The page-token key is rotated by hand (docs/deploy.md); the resolvers accept "
            "the previous value too, so no nextToken a client holds stops working.",
        )
        # The public client tokens anonymous reads use, the same in every region:
        # {"tokens": "<generated>"}, or a list of tokens while one is rotated.
        self.client_token_secret = secretsmanager.Secret(
            self,
            "ClientTokens",
            secret_name=config.resource_name(CLIENT_TOKEN_SECRET),
            description="The public client tokens that authorize anonymous reads in every "
            'region: {"tokens": "<token>"} or {"tokens": ["<new>", "<old>"]}.',
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",
                generate_string_key="tokens",
                password_length=CLIENT_TOKEN_LENGTH,
                exclude_punctuation=True,
                include_space=False,
            ),
            replica_regions=[
                secretsmanager.ReplicaRegion(region=region) for region in config.replicas
            ],
        )
        acknowledge(
            self.client_token_secret,
            "AwsSolutions::AwsSolutions-SMG4",
            "The client token is public (front ends ship it); it is rotated by hand with "
            "an overlap (docs/deploy.md), as clients must be updated between the steps.",
        )


class RegionStack(Stack):
    """Everything one region runs."""

    def __init__(
        self,
        scope: Construct,
        config: DeploymentConfig,
        region: str,
        *,
        shared: SharedResources | None = None,
        users: cognito.IUserPool | None = None,
    ) -> None:
        super().__init__(
            scope,
            outputs.region_stack(config.stage, region),
            env=Environment(region=region),
            cross_region_references=True,
            description=f"gateway {config.stage}: the {region} region",
        )
        is_primary = region == config.primary
        if is_primary:
            shared = SharedResources(self, "Shared", config)
            users = shared.users
        if users is None:
            raise ValueError(f"{region}: a replica stack needs the primary's user pool")
        self.shared = shared
        write_table = config.resource_name(keys.WRITE_TABLE)
        projections = ProjectionTable(self, "Projections", config).table
        environment = {
            "GATEWAY_PRIMARY_REGION": config.primary,
            "GATEWAY_WRITE_TABLE": write_table,
            "GATEWAY_PROJECTION_TABLE": projections.table_name,
            "GATEWAY_CONTROL_CACHE_MS": CONTROL_CACHE_MS,
            # Every region reads its peers' copies of the control record too.
            "GATEWAY_REGIONS": ",".join(config.regions),
        }
        client_tokens = self._secret(
            shared.client_token_secret if shared else None, CLIENT_TOKEN_SECRET, config
        )
        self.authorizer = ClientTokenAuthorizer(self, "Authorizer", config, secret=client_tokens)
        self.api = GraphqlApi(self, "Api", config, users, self.authorizer.mode).api
        token_secret = self._secret(
            shared.token_secret if shared else None, PAGE_TOKEN_SECRET, config
        )
        self.resolvers = Resolvers(
            self,
            "Resolvers",
            config,
            api=self.api,
            schema_file=SCHEMA_FILE,
            projections=projections,
            environment={
                **environment,
                PAGE_TOKEN_SECRET_VARIABLE: config.resource_name(PAGE_TOKEN_SECRET),
            },
        )
        token_secret.grant_read(self.resolvers.function)
        if isinstance(token_secret, secretsmanager.Secret):
            self.resolvers.function.node.add_dependency(token_secret)
        if shared is not None and is_primary:
            stream_arn = shared.write_table.table_stream_arn
            if stream_arn is None:
                raise ValueError("the write table must have a stream")
        else:
            stream_arn = ReplicaStream(self, "WriteStream", write_table).stream_arn
        self.consumer = StreamConsumer(
            self,
            "StreamConsumer",
            config,
            stream_arn=stream_arn,
            api=self.api,
            projections=projections,
            publish_fields=self.resolvers.plan.publish_fields,
            environment=environment,
        )
        alarms = Alarms(self, "Alarms", config)
        self.canary = ReadCanary(self, "ReadCanary", config, self.api, client_tokens)
        self.heartbeat = HeartbeatWriter(self, "Heartbeat", config, write_table)
        health = [alarms.server_errors(self.api), alarms.read_canary()]
        self.route = RegionalRoute(self, "Route", config, self.api, health)
        for source in config.regions:
            alarms.heartbeat_age(source)
        alarms.projection_lag(self.consumer.function)
        dead_letter_alarm = alarms.dead_letters(self.consumer.dead_letters)
        alarms.resolver_errors(self.resolvers.function)
        for other in config.regions:
            if other != region:
                alarms.replication_latency(write_table, other)
        api = self.api.node.default_child
        assert isinstance(api, appsync.CfnGraphQLApi)
        self._output_names(
            {
                outputs.STAGE: config.stage,
                outputs.REGION: region,
                outputs.PRIMARY_REGION: config.primary,
                outputs.REGIONS: ",".join(config.regions),
                outputs.WRITE_TABLE: write_table,
                outputs.WRITE_STREAM_ARN: stream_arn,
                outputs.PROJECTION_TABLE: projections.table_name,
                outputs.DEAD_LETTER_QUEUE_URL: self.consumer.dead_letters.queue_url,
                outputs.GRAPHQL_URL: self.api.graphql_url,
                outputs.REALTIME_URL: api.attr_realtime_url,
                outputs.API_ID: self.api.api_id,
                outputs.STREAM_CONSUMER: self.consumer.function.function_name,
                outputs.ALARM_TOPIC_ARN: alarms.topic.topic_arn,
                outputs.DEAD_LETTER_ALARM: dead_letter_alarm.alarm_name,
                outputs.USER_POOL_ID: users.user_pool_id,
                # Holds the public client token: the Authorization of anonymous reads.
                outputs.CLIENT_TOKEN_SECRET: config.resource_name(CLIENT_TOKEN_SECRET),
            }
        )
        if shared is not None:
            # The app client lives with the pool, in the primary's stack only.
            self._output_names({outputs.USER_POOL_CLIENT_ID: shared.storefront.user_pool_client_id})

    def _output_names(self, values: dict[str, str]) -> None:
        """What `gateway --stage` reads to find this region (:mod:`infra.outputs`)."""
        for name, value in values.items():
            CfnOutput(self, name, value=value)

    def _secret(
        self, owned: secretsmanager.Secret | None, base: str, config: DeploymentConfig
    ) -> secretsmanager.ISecret:
        """A shared secret as this region sees it: the primary's own, or a replica's name."""
        if owned is not None:
            return owned
        return secretsmanager.Secret.from_secret_name_v2(
            self, f"{base.title().replace('-', '')}Replica", config.resource_name(base)
        )


class EdgeStack(Stack):
    """The client-facing name; CloudFront needs it in us-east-1."""

    def __init__(self, scope: Construct, config: DeploymentConfig) -> None:
        super().__init__(
            scope,
            outputs.edge_stack(config.stage),
            env=Environment(region=EDGE_REGION),
            description=f"gateway {config.stage}: {config.domain_name} for every region",
        )
        self.routing = EdgeRouting(self, "Routing", config)
        CfnOutput(self, outputs.PUBLIC_URL, value=f"https://{config.domain_name}/graphql")
        CfnOutput(
            self,
            outputs.PUBLIC_REALTIME_URL,
            value=f"wss://{config.domain_name}/graphql/realtime",
        )


def build_stacks(scope: Construct, config: DeploymentConfig) -> list[Stack]:
    """Every stack of the deployment, the primary's first; replicas depend on it."""
    primary = RegionStack(scope, config, config.primary)
    assert primary.shared is not None
    stacks: list[Stack] = [primary]
    for region in config.replicas:
        replica = RegionStack(scope, config, region, users=primary.shared.users)
        replica.add_stack_dependency(
            primary, "the write table's replica and the secret exist first"
        )
        stacks.append(replica)
    edge = EdgeStack(scope, config)
    for stack in stacks:
        edge.add_stack_dependency(stack, "the regions' latency records exist first")
    stacks.append(edge)
    return stacks
