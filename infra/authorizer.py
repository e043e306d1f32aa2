"""The region's Lambda authorizer: the public client token, the same in every region.

Mirrors ``resolvers/authorizer.py``. AppSync generates an API key's value per API, so
a key cannot follow a client that latency or a failover sends to another region; this
authorizer instead checks the token against one secret, created once in the primary
and replicated to every region, which each region's function reads from its own
replica at run time.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import bundle
from infra.config import (
    CLIENT_TOKEN_CACHE_S,
    CLIENT_TOKEN_PATTERN,
    CLIENT_TOKEN_SECRET,
    DeploymentConfig,
)
from infra.observability import gateway_function

SERVICE = "gateway-authorizer"
# The runtime reads it in projections.settings (CLIENT_TOKEN_SECRET_VARIABLE); infra may
# not import that module, so tests/infra checks that the two names agree.
SECRET_VARIABLE = "GATEWAY_CLIENT_TOKEN_SECRET"


class ClientTokenAuthorizer(Construct):
    """The authorizer function, its right to read the token secret, and the API's
    AWS_LAMBDA mode that calls it.

    Parameters
    ----------
    secret
        This region's view of the client-token secret: the secret itself in the
        primary (the function is then created after it), its replica by name elsewhere.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: DeploymentConfig,
        *,
        secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function: lambda_.Function = gateway_function(
            self,
            "Function",
            config,
            handler=bundle.AUTHORIZER_HANDLER,
            service=SERVICE,
            # By name: the same in every region, and no token of another stack's.
            environment={SECRET_VARIABLE: config.resource_name(CLIENT_TOKEN_SECRET)},
            # AppSync gives an authorizer 10 s; a cold secret read takes well under 1.
            timeout=Duration.seconds(5),
        )
        secret.grant_read(self.function)
        if isinstance(secret, secretsmanager.Secret):
            self.function.node.add_dependency(secret)
        self.mode = appsync.AuthorizationMode(
            authorization_type=appsync.AuthorizationType.LAMBDA,
            lambda_authorizer_config=appsync.LambdaAuthorizerConfig(
                handler=self.function,
                results_cache_ttl=Duration.seconds(CLIENT_TOKEN_CACHE_S),
                validation_regex=CLIENT_TOKEN_PATTERN,
            ),
        )
