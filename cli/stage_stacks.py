"""A deployed stage, found through CloudFormation: its stacks' outputs say where
everything is.

``Gateway-<stage>-<region>`` is looked up in a first region; its ``Regions`` output
names the others, whose stacks are read in turn, and the edge stack
(``Gateway-<stage>-edge``, in us-east-1) names the public URL. The output names are
:mod:`infra.outputs`', the same infra declares.
"""

from __future__ import annotations

from collections.abc import Sequence

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from cli.targets import RegionResources, Target, TargetError, client_config
from infra import outputs as names

# The edge stack's region: CloudFront takes its certificate and function only there.
EDGE_REGION = "us-east-1"


def stage_target(session: boto3.Session, stage: str, starts: Sequence[str | None]) -> Target:
    """A deployed stage, found through its stacks' outputs.

    Its stack is looked up in each of ``starts`` in turn until one is found; that
    region's outputs name the others. Another region's stack that cannot be read is
    left out, with why (:attr:`Target.unreadable`).

    Raises
    ------
    TargetError
        No region to start from, no credentials, or a stack that is missing or lacks
        an output the tools need.
    """
    candidates = list(dict.fromkeys(region for region in starts if region))
    if not candidates:
        raise TargetError(
            f"where is stage {stage}? name one of its regions with --region, or set a "
            "region in the AWS profile"
        )
    start, first = _first_stack(session, stage, candidates)
    regions = [name.strip() for name in first.get(names.REGIONS, "").split(",") if name.strip()]
    if start not in regions:
        raise TargetError(
            f"{names.region_stack(stage, start)} does not list its own region in its "
            f"{names.REGIONS} output; deploy the stage again with this version of infra/"
        )
    resources: dict[str, RegionResources] = {}
    unreadable: dict[str, str] = {}
    for region in regions:
        stack = names.region_stack(stage, region)
        try:
            found = first if region == start else _stack_outputs(session, stack, region)
            resources[region] = RegionResources.from_outputs(found, f"stack {stack} ({region})")
        except TargetError as error:
            if region == start:
                raise
            unreadable[region] = str(error)
    try:
        edge = _stack_outputs(session, names.edge_stack(stage), EDGE_REGION, required=False)
    except TargetError:  # the public name is for the smoke alone; it says what is missing
        edge = {}
    named = session.profile_name not in (None, "default")
    profile = f", profile {session.profile_name}" if named else ""
    return Target(
        description=f"stage {stage}{profile}",
        primary=first[names.PRIMARY_REGION],
        regions=tuple(regions),
        resources=resources,
        session=session,
        config=client_config(connect_timeout=3, read_timeout=10),
        public_url=edge.get(names.PUBLIC_URL),
        public_realtime_url=edge.get(names.PUBLIC_REALTIME_URL),
        unreadable=unreadable,
    )


def _first_stack(
    session: boto3.Session, stage: str, candidates: list[str]
) -> tuple[str, dict[str, str]]:
    """The first of ``candidates`` whose stack can be read, and its outputs."""
    failure = TargetError(f"stage {stage} was not found")
    for region in candidates:
        try:
            return region, _stack_outputs(session, names.region_stack(stage, region), region)
        except TargetError as error:
            failure = error
    raise failure


def _stack_outputs(
    session: boto3.Session, stack: str, region: str, *, required: bool = True
) -> dict[str, str]:
    """A stack's outputs by name; {} for a missing stack that is not ``required``."""
    client = session.client("cloudformation", region_name=region, config=client_config(3, 10, 2))
    try:
        described = client.describe_stacks(StackName=stack)["Stacks"]
    except NoCredentialsError:
        raise TargetError(
            "no AWS credentials: pass --profile, or sign in (aws sso login, or the "
            "AWS_* environment variables)"
        ) from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        # CloudFormation has no error code of its own for a missing stack.
        if code == "ValidationError" and "does not exist" in message:
            if not required:
                return {}
            raise TargetError(
                f"no stack {stack} in {region}: is the stage deployed there (`cdk deploy`)?"
            ) from None
        raise TargetError(f"cannot read stack {stack} in {region} ({code})") from None
    except BotoCoreError as error:
        raise TargetError(f"cannot reach CloudFormation in {region}: {error}") from None
    return {
        output["OutputKey"]: output["OutputValue"]
        for stack_description in described
        for output in stack_description.get("Outputs", [])
    }
