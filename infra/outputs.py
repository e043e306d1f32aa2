"""The stacks' names and outputs: what an operator's tools read to find a deployment.

``gateway failover``, ``dlq``, ``projections rebuild``, ``status`` and ``smoke`` take
``--stage NAME`` and read these outputs from CloudFormation (DescribeStacks of each
region's stack, and of the edge stack); ``gateway dev`` writes the same names for each
local region into its state file. So the tools find the tables, queues and endpoints
of either through one vocabulary, and infra declares nothing a tool does not read.

Stdlib only: the operator's command imports it without the CDK.
"""

from __future__ import annotations

# Every region's stack.
STAGE = "Stage"
REGION = "Region"
# The region that takes writes at first; the control record can name another since.
PRIMARY_REGION = "PrimaryRegion"
# Every region of the deployment, comma-separated, the primary first.
REGIONS = "Regions"
WRITE_TABLE = "WriteTableName"
# This region's replica's stream: what its stream consumer reads, and where a dead
# letter's records are read again from.
WRITE_STREAM_ARN = "WriteStreamArn"
PROJECTION_TABLE = "ProjectionTableName"
DEAD_LETTER_QUEUE_URL = "DeadLetterQueueUrl"
GRAPHQL_URL = "GraphqlUrl"
REALTIME_URL = "RealtimeUrl"
API_ID = "ApiId"
STREAM_CONSUMER = "StreamConsumerFunctionName"
ALARM_TOPIC_ARN = "AlarmTopicArn"
# The alarm `gateway smoke` sets off, to see CloudWatch reach the alarm topic.
DEAD_LETTER_ALARM = "DeadLetterAlarmName"
USER_POOL_ID = "UserPoolId"
# Read when present: the app client people sign in through (`gateway smoke --username`).
USER_POOL_CLIENT_ID = "UserPoolClientId"
# The secret holding the public client token anonymous readers send (the smoke reads it).
CLIENT_TOKEN_SECRET = "ClientTokenSecret"

# What a tool cannot work without, in every region's stack.
REQUIRED = (
    REGION,
    PRIMARY_REGION,
    REGIONS,
    WRITE_TABLE,
    PROJECTION_TABLE,
    DEAD_LETTER_QUEUE_URL,
    GRAPHQL_URL,
)

# The edge stack (us-east-1): the one public name, over HTTPS and WebSocket.
PUBLIC_URL = "Url"
PUBLIC_REALTIME_URL = "RealtimeUrl"


def region_stack(stage: str, region: str) -> str:
    """The name of a region's stack, the same in the CDK app and in the tools."""
    return f"Gateway-{stage}-{region}"


def edge_stack(stage: str) -> str:
    """The name of the stack holding the client-facing name (always in us-east-1)."""
    return f"Gateway-{stage}-edge"
