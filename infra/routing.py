"""One name for every client, answered by the nearest healthy region.

AppSync's own custom domains are CloudFront distributions, and one name can belong to
only one of them; so the gateway uses the CloudFront pattern AWS documents for
multi-region AppSync (docs/decisions.md): one distribution holds the name, and a
Lambda@Edge function picks the origin per request by resolving a Route 53 name that
has a latency record, with a health check, for each region.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Fn, Stack
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from constructs import Construct

from infra import edge
from infra.config import DeploymentConfig
from infra.edge import origin_request
from infra.nag import acknowledge
from infra.observability import BASIC_EXECUTION_ROLE

EDGE_CODE = edge.CODE
# Route 53 answers from the latency record for this long; failover waits at most this
# plus the health check's detection time.
ORIGIN_TTL = Duration.seconds(30)
EDGE_RUNTIME = lambda_.Runtime.PYTHON_3_13


def hosted_zone(scope: Construct, config: DeploymentConfig) -> route53.IHostedZone:
    return route53.HostedZone.from_hosted_zone_attributes(
        scope,
        "Zone",
        hosted_zone_id=config.hosted_zone_id,
        zone_name=config.hosted_zone_name.rstrip("."),
    )


def origin_name(config: DeploymentConfig) -> str:
    """The name whose latency records say which region serves a client."""
    return origin_request.ORIGIN_PREFIX + config.domain_name


class RegionalRoute(Construct):
    """This region's latency record for the origin name, guarded by its health check.

    The record's health check is healthy only while every one of ``health_alarms`` is
    OK: Route 53 follows one alarm per check, so each alarm gets a check of its own and
    a calculated check requires all of them. The stack passes AppSync's 5XX answers
    (:meth:`infra.observability.Alarms.server_errors`) and the read canary
    (:meth:`infra.observability.Alarms.read_canary`), which also sees errors in an HTTP
    200 and a region that answers nothing. An alarm's first minutes without data keep
    the check's last known status (healthy at creation), so a new region takes clients.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: DeploymentConfig,
        api: appsync.GraphqlApi,
        health_alarms: Sequence[cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        self.alarm_checks = [
            route53.CfnHealthCheck(
                self,
                f"{alarm.node.id}Check",
                health_check_config=route53.CfnHealthCheck.HealthCheckConfigProperty(
                    type="CLOUDWATCH_METRIC",
                    alarm_identifier=route53.CfnHealthCheck.AlarmIdentifierProperty(
                        name=alarm.alarm_name, region=region
                    ),
                    insufficient_data_health_status="LastKnownStatus",
                ),
            )
            for alarm in health_alarms
        ]
        self.health_check = route53.CfnHealthCheck(
            self,
            "HealthCheck",
            health_check_config=route53.CfnHealthCheck.HealthCheckConfigProperty(
                type="CALCULATED",
                child_health_checks=[check.attr_health_check_id for check in self.alarm_checks],
                health_threshold=len(self.alarm_checks),
            ),
        )
        api_host = Fn.select(2, Fn.split("/", api.graphql_url))
        self.record = route53.CnameRecord(
            self,
            "Latency",
            zone=hosted_zone(self, config),
            record_name=origin_name(config),
            domain_name=api_host,
            region=region,
            set_identifier=region,
            health_check=route53.HealthCheck.from_health_check_id(
                self, "Check", self.health_check.attr_health_check_id
            ),
            ttl=ORIGIN_TTL,
        )


class EdgeRouting(Construct):
    """The client-facing name: certificate, distribution, Lambda@Edge and alias records.

    Lives in us-east-1, where CloudFront takes its certificates and edge functions.
    """

    def __init__(self, scope: Construct, construct_id: str, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        zone = hosted_zone(self, config)
        self.certificate = acm.Certificate(
            self,
            "Certificate",
            domain_name=config.domain_name,
            validation=acm.CertificateValidation.from_dns(zone),
        )
        self.origin_router = cloudfront.experimental.EdgeFunction(
            self,
            "OriginRouter",
            runtime=EDGE_RUNTIME,
            handler=edge.HANDLER,
            code=lambda_.Code.from_asset(str(EDGE_CODE), exclude=["__pycache__", "*.pyc"]),
            memory_size=128,
            timeout=Duration.seconds(5),
        )
        acknowledge(
            self.origin_router,
            "AwsSolutions::AwsSolutions-L1",
            "Lambda@Edge takes Python runtimes later than Lambda does; this is the newest "
            "it accepts.",
        )
        acknowledge(
            self.origin_router,
            BASIC_EXECUTION_ROLE,
            "The AWS managed basic execution role only lets the function write its own logs.",
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{config.resource_name('gateway')}: the nearest healthy region",
            domain_names=[config.domain_name],
            certificate=self.certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_ALL,
            default_behavior=cloudfront.BehaviorOptions(
                # Replaced per request by the origin router; never reached as it is.
                origin=origins.HttpOrigin(
                    origin_name(config),
                    protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                ),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER,
                edge_lambdas=[
                    cloudfront.EdgeLambda(
                        function_version=self.origin_router.current_version,
                        event_type=cloudfront.LambdaEdgeEventType.ORIGIN_REQUEST,
                    )
                ],
            ),
        )
        alias = route53.RecordTarget.from_alias(targets.CloudFrontTarget(self.distribution))
        route53.ARecord(self, "Alias", zone=zone, record_name=config.domain_name, target=alias)
        route53.AaaaRecord(
            self, "AliasIpv6", zone=zone, record_name=config.domain_name, target=alias
        )
        acknowledge(
            self.distribution,
            "AwsSolutions::AwsSolutions-CFR1",
            "The API serves clients in every country; no geo restriction.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions::AwsSolutions-CFR2",
            "AppSync's own limits and auth guard each region; a WAF web ACL is an "
            "operator's choice per stage (docs/deploy.md).",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions::AwsSolutions-CFR3",
            "Nothing is cached; AppSync's field logs record every request in the region "
            "that answers it.",
        )
