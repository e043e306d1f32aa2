"""Synthesized deployments of 2 and 3 regions, built once per test session.

A synth takes seconds, so every test reads the same cloud assemblies; each test gets
``Template`` objects by stack name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template

from infra.app import build_app
from infra.config import DeploymentConfig


def deployment(*regions: str, stage: str = "test") -> DeploymentConfig:
    return DeploymentConfig(
        stage=stage,
        primary=regions[0],
        replicas=tuple(regions[1:]),
        domain_name="api.shop.example.com",
        hosted_zone_id="Z0TESTZONE00000000000",
        hosted_zone_name="shop.example.com",
    ).checked()


class Synthesized(NamedTuple):
    config: DeploymentConfig
    outdir: Path
    templates: dict[str, Template]

    def region(self, region: str) -> Template:
        return self.templates[self.config.stack_name(region)]

    @property
    def edge(self) -> Template:
        return self.templates[f"Gateway-{self.config.stage}-edge"]

    def template_files(self) -> list[Path]:
        return sorted(self.outdir.glob("*.template.json"))


def _synthesize(config: DeploymentConfig, outdir: Path) -> Synthesized:
    app = build_app(config, str(outdir))
    assembly = app.synth()
    templates = {stack.stack_name: Template.from_json(stack.template) for stack in assembly.stacks}
    return Synthesized(config, outdir, templates)


TWO_REGIONS = deployment("us-east-1", "eu-west-1")
THREE_REGIONS = deployment("eu-west-1", "us-west-2", "ap-southeast-2")


@pytest.fixture(scope="session")
def two_regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield _synthesize(TWO_REGIONS, tmp_path_factory.mktemp("cdk2"))


@pytest.fixture(scope="session")
def three_regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield _synthesize(THREE_REGIONS, tmp_path_factory.mktemp("cdk3"))


@pytest.fixture(scope="session", params=["two", "three"])
def synthesized(
    request: pytest.FixtureRequest, two_regions: Synthesized, three_regions: Synthesized
) -> Synthesized:
    """Each test that takes this runs for 2 regions and for 3."""
    return two_regions if request.param == "two" else three_regions
