"""The AppSync API of one region, built from the committed ``schema/schema.graphql``.

Auth modes follow DESIGN.md: the public client token by default (AWS_LAMBDA, through
:mod:`infra.authorizer`: one token for every region), a Cognito user pool with the
``customers`` and ``staff`` groups, and IAM for the stream handler's publish mutations.
There is no API key: AppSync generates each key's value per API, so no key could be
the credential that works in every region.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import bundle
from infra.config import DeploymentConfig
from infra.nag import acknowledge
from infra.observability import BASIC_EXECUTION_ROLE, gateway_function

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema" / "schema.graphql"
USER_GROUPS = ("customers", "staff")
# The app client front ends sign in through (Amplify's userPoolClientId).
STOREFRONT_CLIENT = "gateway-storefront"
SIGN_UP_SERVICE = "gateway-sign-up"
# ID and access tokens last an hour (Cognito's default); a refresh token 30 days.
TOKEN_MINUTES = 60
REFRESH_DAYS = 30
# The construct id CDK gives its log-retention singleton in every stack.
LOG_RETENTION_PROVIDER = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"


class UserDirectory(Construct):
    """The one Cognito user pool behind every region's API, and how people get into it.

    It lives in the primary's stack; every API names it with its region, so a token
    signed in one region is accepted in all of them. Shoppers sign themselves up through
    the storefront's app client and confirm their email with a code; the post-confirmation
    trigger (``resolvers/sign_up.py``) then puts them in ``customers``. Staff are added
    to ``staff`` by an administrator (docs/deploy.md).
    """

    def __init__(self, scope: Construct, construct_id: str, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.sign_up: lambda_.Function = gateway_function(
            self,
            "SignUp",
            config,
            handler=bundle.SIGN_UP_HANDLER,
            service=SIGN_UP_SERVICE,
            environment={},
            # Cognito waits 5 s for a trigger, then fails the confirmation.
            timeout=Duration.seconds(5),
        )
        self.pool = cognito.UserPool(
            self,
            "Pool",
            user_pool_name=config.resource_name("gateway-users"),
            # Shoppers sign themselves up; Cognito verifies the email with a code, then
            # the trigger makes the confirmed user a customer. Staff are added by hand.
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            user_verification=cognito.UserVerificationConfig(
                email_style=cognito.VerificationEmailStyle.CODE
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            lambda_triggers=cognito.UserPoolTriggers(post_confirmation=self.sign_up),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.pool,
            "AwsSolutions::AwsSolutions-COG2",
            "Shoppers sign in from the storefront; MFA is offered (TOTP) and not forced.",
        )
        for group in USER_GROUPS:
            cognito.CfnUserPoolGroup(
                self, f"Group{group.title()}", user_pool_id=self.pool.user_pool_id, group_name=group
            )
        # A policy of its own, not the role's default one: the function must exist before
        # the pool that calls it, and the pool before a statement that names it.
        iam.Policy(
            self,
            "SignUpGroups",
            roles=[self.sign_up.role] if self.sign_up.role else [],
            statements=[
                iam.PolicyStatement(
                    actions=["cognito-idp:AdminAddUserToGroup"],
                    resources=[self.pool.user_pool_arn],
                )
            ],
        )
        self.client = self.pool.add_client(
            "Storefront",
            user_pool_client_name=config.resource_name(STOREFRONT_CLIENT),
            # It runs in browsers and apps, which cannot keep a secret.
            generate_secret=False,
            # SRP for Amplify; passwords over TLS for the AWS CLI and scripts, which
            # cannot do SRP; refresh is always on.
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            id_token_validity=Duration.minutes(TOKEN_MINUTES),
            access_token_validity=Duration.minutes(TOKEN_MINUTES),
            refresh_token_validity=Duration.days(REFRESH_DAYS),
            # No hosted UI: without this, CDK adds OAuth flows to https://example.com.
            disable_o_auth=True,
        )


class GraphqlApi(Construct):
    """The region's GraphQL endpoint, schema and auth; resolvers attach to ``api``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: DeploymentConfig,
        user_pool: cognito.IUserPool,
        public_access: appsync.AuthorizationMode,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = appsync.GraphqlApi(
            self,
            "Api",
            name=config.resource_name("gateway"),
            definition=appsync.Definition.from_file(str(SCHEMA_FILE)),
            authorization_config=appsync.AuthorizationConfig(
                # A field without a directive is as open as the public token makes it;
                # tests/contract/test_auth_table.py pins every root field's modes.
                default_authorization=public_access,
                additional_authorization_modes=[
                    appsync.AuthorizationMode(
                        authorization_type=appsync.AuthorizationType.USER_POOL,
                        user_pool_config=appsync.UserPoolConfig(user_pool=user_pool),
                    ),
                    appsync.AuthorizationMode(authorization_type=appsync.AuthorizationType.IAM),
                ],
            ),
            log_config=appsync.LogConfig(
                field_log_level=appsync.FieldLogLevel(config.api_log_level),
                exclude_verbose_content=True,
                retention=logs.RetentionDays.ONE_MONTH,
            ),
            xray_enabled=config.xray,
            # Refused with LimitExceeded before any resolver runs; gateway dev enforces
            # the same values (infra.config.ApiLimits).
            resolver_count_limit=config.api_limits.resolver_count,
            query_depth_limit=config.api_limits.query_depth,
        )
        # CDK sets the API log group's retention with its own singleton function.
        retention = Stack.of(self).node.find_child(LOG_RETENTION_PROVIDER)
        acknowledge(
            retention,
            BASIC_EXECUTION_ROLE,
            "CDK's log-retention function only sets the retention of the API's log group.",
        )
        acknowledge(
            retention,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "CDK's log-retention function names log groups only at deploy time.",
        )
        acknowledge(
            self.api,
            "AwsSolutions::AwsSolutions-ASC3",
            "Verbose content would log request headers (JWTs, client tokens) and customers' "
            "data; field logs at gateway:apiLogLevel stay on without it.",
        )
        acknowledge(
            self.api,
            "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "service-role/AWSAppSyncPushToCloudWatchLogs]",
            "AppSync's managed logging role only writes the API's own logs.",
        )
