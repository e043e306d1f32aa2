"""cdk-nag's AwsSolutions rules, and the one way this app acknowledges a finding.

Every acknowledgment sits beside the resource it excuses and says why.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept ``rule``'s finding on ``construct`` (and its children), for ``reason``."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
