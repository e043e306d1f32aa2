"""One client-facing name: latency records per region, and the edge stack in us-east-1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk.assertions import Template

from infra.edge import origin_request
from infra.observability import CANARY_SUCCESS, METRICS_NAMESPACE
from infra.routing import origin_name
from tests.infra.conftest import Synthesized
from tests.infra.test_templates import FUNCTION, resources, the_one

RECORD_SET = "AWS::Route53::RecordSet"
HEALTH_CHECK = "AWS::Route53::HealthCheck"
# CloudFront takes certificates and Lambda@Edge functions from this region only.
CLOUDFRONT_REGION = "us-east-1"
EDGE_HANDLER = f"{Path(origin_request.__file__).stem}.{origin_request.handler.__name__}"


def _stack_regions(synthesized: Synthesized) -> dict[str, str]:
    """Each stack's region, as the cloud assembly will deploy it."""
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    return {
        artifact["properties"].get("stackName", name): artifact["environment"].rsplit("/", 1)[1]
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def _alarm(template: Template, properties: dict[str, Any]) -> str:
    alarm, _ = the_one(template, "AWS::CloudWatch::Alarm", properties)
    return alarm


def test_every_region_health_check_needs_its_server_errors_and_its_read_canary_ok(
    synthesized: Synthesized,
) -> None:
    """GIVEN a region whose API answers with server errors, or whose read canary fails
    (errors in an HTTP 200, or no answer) WHEN either alarm fires THEN the health check
    guarding its latency record turns unhealthy: a calculated check that needs both of
    its children, each a CloudWatch-metric check on one of those alarms in that region."""
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        api, _ = the_one(template, "AWS::AppSync::GraphQLApi")
        server_errors = _alarm(
            template,
            {
                "Namespace": "AWS/AppSync",
                "MetricName": "5XXError",
                "Dimensions": [{"Name": "GraphQLAPIId", "Value": {"Fn::GetAtt": [api, "ApiId"]}}],
            },
        )
        canary = _alarm(template, {"Namespace": METRICS_NAMESPACE, "MetricName": CANARY_SUCCESS})
        checks = resources(template, HEALTH_CHECK)
        calculated, parent = the_one(
            template, HEALTH_CHECK, {"HealthCheckConfig": {"Type": "CALCULATED"}}
        )
        children = parent["Properties"]["HealthCheckConfig"]["ChildHealthChecks"]
        followed = {
            checks[child["Fn::GetAtt"][0]]["Properties"]["HealthCheckConfig"]["AlarmIdentifier"][
                "Name"
            ]["Ref"]
            for child in children
        }
        _, record = the_one(template, RECORD_SET)

        assert len(checks) == 3, region
        assert followed == {server_errors, canary}, region
        assert parent["Properties"]["HealthCheckConfig"]["HealthThreshold"] == len(children)
        for child in children:
            config = checks[child["Fn::GetAtt"][0]]["Properties"]["HealthCheckConfig"]
            assert config["Type"] == "CLOUDWATCH_METRIC", region
            assert config["AlarmIdentifier"]["Region"] == region
        assert record["Properties"]["HealthCheckId"] == {
            "Fn::GetAtt": [calculated, "HealthCheckId"]
        }, region


def test_every_region_has_a_guarded_latency_record_for_the_origin_name(
    synthesized: Synthesized,
) -> None:
    """GIVEN the origin router resolves the origin name WHEN synthesized THEN each region has
    a latency CNAME for it, to its own AppSync host, guarded by its health check, with a set
    identifier no other region uses."""
    config = synthesized.config
    identifiers = []
    for region in config.regions:
        template = synthesized.region(region)
        api, _ = the_one(template, "AWS::AppSync::GraphQLApi")
        check, _ = the_one(template, HEALTH_CHECK, {"HealthCheckConfig": {"Type": "CALCULATED"}})
        _, record = the_one(template, RECORD_SET)
        properties = record["Properties"]

        assert properties["Type"] == "CNAME", region
        assert properties["Name"] == origin_name(config) + ".", region
        assert properties["HostedZoneId"] == config.hosted_zone_id, region
        assert properties["Region"] == region, region
        assert properties["HealthCheckId"] == {"Fn::GetAtt": [check, "HealthCheckId"]}, region
        assert properties["ResourceRecords"] == [
            {"Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": [api, "GraphQLUrl"]}]}]}
        ], region
        identifiers.append(properties["SetIdentifier"])
    assert origin_name(config) == origin_request.ORIGIN_PREFIX + config.domain_name
    assert len(set(identifiers)) == len(config.regions)


def test_edge_stack_deploys_to_us_east_1_whatever_the_primary(synthesized: Synthesized) -> None:
    """GIVEN any primary WHEN synthesized THEN the edge stack deploys to us-east-1, where
    CloudFront takes certificates and edge functions, and each region stack to its region."""
    config = synthesized.config
    regions = _stack_regions(synthesized)

    assert regions[f"Gateway-{config.stage}-edge"] == CLOUDFRONT_REGION
    for region in config.regions:
        assert regions[config.stack_name(region)] == region


def test_edge_distribution_serves_the_domain_over_https_through_the_origin_router(
    synthesized: Synthesized,
) -> None:
    """GIVEN the client-facing name WHEN synthesized THEN one distribution answers it over
    HTTPS only, with the domain's certificate, caches nothing, and runs the origin router on
    every origin request."""
    config = synthesized.config
    edge = synthesized.edge
    certificate, _ = the_one(edge, "AWS::CertificateManager::Certificate")
    router, _ = the_one(edge, FUNCTION, {"Handler": EDGE_HANDLER})
    version, _ = the_one(edge, "AWS::Lambda::Version", {"FunctionName": {"Ref": router}})
    _, distribution = the_one(edge, "AWS::CloudFront::Distribution")
    settings = distribution["Properties"]["DistributionConfig"]
    behavior = settings["DefaultCacheBehavior"]

    assert settings["Aliases"] == [config.domain_name]
    assert settings["ViewerCertificate"]["AcmCertificateArn"] == {"Ref": certificate}
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert behavior["CachePolicyId"] == cloudfront.CachePolicy.CACHING_DISABLED.cache_policy_id
    assert behavior["LambdaFunctionAssociations"] == [
        {"EventType": "origin-request", "LambdaFunctionARN": {"Ref": version}}
    ]
    assert [origin["DomainName"] for origin in settings["Origins"]] == [origin_name(config)]


def test_edge_function_may_run_at_the_edge(synthesized: Synthesized) -> None:
    """GIVEN Lambda@Edge replicas assume the function's role WHEN synthesized THEN the role
    trusts edgelambda.amazonaws.com, or CloudFront refuses the association."""
    edge = synthesized.edge
    _, router = the_one(edge, FUNCTION, {"Handler": EDGE_HANDLER})
    role = resources(edge, "AWS::IAM::Role")[router["Properties"]["Role"]["Fn::GetAtt"][0]]

    principals = {
        statement["Principal"]["Service"]
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    }
    assert "edgelambda.amazonaws.com" in principals


def test_edge_certificate_is_dns_validated_in_the_hosted_zone(synthesized: Synthesized) -> None:
    """GIVEN the hosted zone WHEN synthesized THEN the domain's certificate validates by DNS
    in that zone, so it issues with no one clicking an email."""
    config = synthesized.config
    synthesized.edge.has_resource_properties(
        "AWS::CertificateManager::Certificate",
        {
            "DomainName": config.domain_name,
            "ValidationMethod": "DNS",
            "DomainValidationOptions": [
                {"DomainName": config.domain_name, "HostedZoneId": config.hosted_zone_id}
            ],
        },
    )


def test_edge_alias_records_send_the_domain_to_the_distribution(synthesized: Synthesized) -> None:
    """GIVEN IPv4 and IPv6 clients WHEN synthesized THEN the domain has an A and an AAAA
    alias record, both to the distribution."""
    config = synthesized.config
    edge = synthesized.edge
    distribution, _ = the_one(edge, "AWS::CloudFront::Distribution")
    aliases = {
        record["Properties"]["Type"]: record["Properties"]
        for record in resources(edge, RECORD_SET, {"Name": config.domain_name + "."}).values()
    }

    assert sorted(aliases) == ["A", "AAAA"]
    for kind, record in aliases.items():
        assert record["HostedZoneId"] == config.hosted_zone_id, kind
        assert record["AliasTarget"]["DNSName"] == {"Fn::GetAtt": [distribution, "DomainName"]}, (
            kind
        )
