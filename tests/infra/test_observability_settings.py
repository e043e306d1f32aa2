"""What the stack tells the Lambdas about metrics and tracing is what the runtime reads."""

from __future__ import annotations

import pytest

from infra.observability import METRICS_NAMESPACE, powertools_environment
from projections.settings import DEFAULT_METRICS_NAMESPACE, Settings
from tests.infra.conftest import TWO_REGIONS


@pytest.mark.parametrize("xray", [False, True])
def test_the_runtime_traces_exactly_when_the_deployment_turns_x_ray_on(xray: bool) -> None:
    """GIVEN a deployment with gateway:xray off or on WHEN a Lambda parses the Powertools
    environment the stack gives it THEN it builds a Tracer only when X-Ray is on, and
    names its metrics in the deployment's namespace."""
    environment = powertools_environment(TWO_REGIONS._replace(xray=xray), "gateway-resolvers")

    settings = Settings.from_env({**environment, "AWS_REGION": "us-east-1"})

    assert settings.tracing is xray
    assert settings.metrics_namespace == METRICS_NAMESPACE


def test_gateway_dev_names_its_metrics_in_the_deployments_namespace() -> None:
    """GIVEN gateway dev, which sets no Powertools variable WHEN its Lambdas emit EMF THEN
    the namespace is the deployed one, so `gateway status` and CloudWatch agree."""
    assert DEFAULT_METRICS_NAMESPACE == METRICS_NAMESPACE
