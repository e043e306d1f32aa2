"""GraphQL execution as AppSync does it: every root field is a direct Lambda invocation.

The executor parses, checks the limits and validates against the deployable SDL (with
AppSync's own declarations prepended), checks each root field's auth directives, builds
the direct-resolver event AppSync would send (:mod:`emulator.appsync.lambda_events`), and shapes
errors in AppSync's style.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    default_field_resolver,
    execute,
    parse,
    validate,
)

from domain.errors import GatewayError, InternalFailure, LimitExceeded, Unauthorized
from emulator.appsync import scalars
from emulator.appsync.auth import API_KEY, AWS_IAM, AWS_LAMBDA, COGNITO, Caller
from emulator.appsync.lambda_events import appsync_event
from emulator.appsync.limits import Limits
from resolvers.freshness import Offload, run_inline

logger = logging.getLogger("gateway.executor")

# The deployed API's default mode (infra.api): the public client token.
DEFAULT_AUTH_MODE = AWS_LAMBDA
# Each directive AppSync reads, and the mode it allows. No local caller is ever API_KEY
# (the deployment has no API key, docs/decisions.md), but the schema gate reads old
# schemas that name it.
_MODE_DIRECTIVES = {
    "aws_api_key": API_KEY,
    "aws_lambda": AWS_LAMBDA,
    "aws_iam": AWS_IAM,
    "aws_cognito_user_pools": COGNITO,
}

Invoke = Callable[[dict[str, Any]], Any]
# The resolver Lambda's own default (GATEWAY_MIN_VERSION_WAIT_MS).
DEFAULT_WAIT_BUDGET_S = 1.0


def load_schema(schema_file: Path | None = None) -> GraphQLSchema:
    """The API's schema as AppSync sees it: its own declarations, then ours."""
    prelude = resources.files("schema").joinpath("appsync.graphql").read_text()
    sdl = (
        schema_file.read_text()
        if schema_file is not None
        else resources.files("schema").joinpath("schema.graphql").read_text()
    )
    schema = build_schema(prelude + "\n" + sdl)
    scalars.install(schema)
    return schema


@dataclass
class Outcome:
    """An answer, what it published (``(mutation name, payload)`` for each publish), and
    its HTTP status: 429 when the rate limit refused it, as AppSync throttles."""

    response: dict[str, Any]
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200


class Executor:
    """Runs operations for one region, as AppSync does.

    The fields of a query run at once (AppSync resolves them in parallel); a mutation's
    run one after the other. Every request gets one read-your-writes deadline,
    ``wait_budget_s`` from its start, and each invocation's event says how much of it is
    left (:mod:`emulator.appsync.lambda_events`). Cancelling :meth:`execute` (the client went
    away) cancels the invocations under way and starts no more.

    Parameters
    ----------
    invoke
        Calls the region's resolver Lambda with one AppSync event; it may return an
        awaitable (``gateway dev``'s Lambda does) or a value (fakes).
    offload
        Runs the CPU-bound steps (parsing, limits, validation) off the event loop: the
        region's threads in ``gateway dev``.
    wait_budget_s
        The read-your-writes budget of one request: the region's ``minVersion`` wait.
    clock
        Monotonic seconds; tests pass their own.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        invoke: Invoke,
        limits: Limits | None = None,
        *,
        offload: Offload[Any] = run_inline,
        wait_budget_s: float = DEFAULT_WAIT_BUDGET_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.schema = schema
        self._invoke = invoke
        self.limits = limits or Limits()
        self._offload = offload
        self._wait_budget_s = wait_budget_s
        self._clock = clock
        self.subscribed_mutations = subscribed_mutations(schema)
        self._roots = {root for root in (schema.query_type, schema.mutation_type) if root}

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        caller: Caller,
    ) -> Outcome:
        prepared = await self._offload(
            functools.partial(self._prepare, query, operation_name, caller)
        )
        if isinstance(prepared, Outcome):
            return prepared
        document, operation = prepared
        request = _Request(caller, self._clock() + self._wait_budget_s)
        result = execute(
            self.schema,
            document,
            variable_values=variables,
            operation_name=operation_name,
            context_value=request,
            field_resolver=self._resolve_field,
        )
        if inspect.isawaitable(result):
            result = await result
        response: dict[str, Any] = {"data": result.data}
        if result.errors:
            response["errors"] = [format_error(error) for error in result.errors]
        return Outcome(response, self._publications(operation, result.data))

    def _prepare(
        self, query: str, operation_name: str | None, caller: Caller
    ) -> tuple[DocumentNode, OperationDefinitionNode | None] | Outcome:
        """The parsed, checked and validated document, or the answer refusing it."""
        try:
            self.limits.check_size(query)
            document = parse(query)
            # Before validation, which can take quadratic time; a refused request
            # costs its sender nothing from the rate bucket.
            cost = self.limits.check_document(document, operation_name)
        except GraphQLError as error:
            return Outcome({"data": None, "errors": [format_error(error)]})
        except LimitExceeded as error:
            return Outcome({"data": None, "errors": [_limit_error(error)]})
        try:
            self.limits.check_rate(caller.credential, cost)
        except LimitExceeded as error:
            return Outcome({"data": None, "errors": [_limit_error(error)]}, status=429)
        errors = validate(self.schema, document)
        if errors:
            return Outcome({"data": None, "errors": [format_error(error) for error in errors]})
        operation = _operation(document, operation_name)
        if operation is not None and operation.operation == OperationType.SUBSCRIPTION:
            message = "Subscriptions are served over WebSocket on this same path."
            return Outcome({"data": None, "errors": [_error(message, "ValidationError")]})
        return document, operation

    def _publications(
        self, operation: OperationDefinitionNode | None, data: dict[str, Any] | None
    ) -> list[tuple[str, dict[str, Any]]]:
        if operation is None or operation.operation != OperationType.MUTATION or not data:
            return []
        published = []
        for selection in operation.selection_set.selections:
            if not isinstance(selection, FieldNode):
                continue
            name = selection.name.value
            payload = data.get(selection.alias.value if selection.alias else name)
            if name in self.subscribed_mutations and isinstance(payload, dict):
                published.append((name, payload))
        return published

    def _resolve_field(self, source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Any:
        # The schema is shared by every region, so resolution is chosen here, per
        # executor, instead of being stored on the schema's fields.
        parent = info.parent_type
        request: _Request = info.context
        if request.caller.denies(parent.name, info.field_name):
            # A Lambda authorizer's deniedFields: null, whatever a resolver would say.
            raise Unauthorized(f"Not Authorized to access {info.field_name} on type {parent.name}")
        if parent not in self._roots:
            return default_field_resolver(source, info, **arguments)
        if not allowed(request.caller, parent.fields[info.field_name], parent):
            raise Unauthorized(f"Not Authorized to access {info.field_name} on type {parent.name}")
        wait_ms_left = max(0, round((request.wait_until - self._clock()) * 1000))
        return self._invoke(appsync_event(info, arguments, request.caller, wait_ms_left))


class _Request(NamedTuple):
    """What every field of one request shares: who asks, and when its read-your-writes
    budget ends (``clock`` seconds)."""

    caller: Caller
    wait_until: float


def auth_modes(root_field: GraphQLField, parent: GraphQLObjectType) -> dict[str, set[str] | None]:
    """The modes allowed on a field, each with the Cognito groups it needs (None: any).

    AppSync's precedence: the field's own directives, else its type's, else the
    API's default mode.
    """
    for node in (root_field.ast_node, parent.ast_node):
        modes: dict[str, set[str] | None] = {}
        for directive in (node.directives if node else ()) or ():
            mode = _MODE_DIRECTIVES.get(directive.name.value)
            if mode is None:
                continue
            groups = _groups_argument(directive)
            modes[mode] = groups
        if modes:
            return modes
    return {DEFAULT_AUTH_MODE: None}


def allowed(caller: Caller, root_field: GraphQLField, parent: GraphQLObjectType) -> bool:
    """Whether the caller's mode (and, for Cognito, its groups) may use the field."""
    modes = auth_modes(root_field, parent)
    if caller.mode not in modes:
        return False
    needed = modes[caller.mode]
    if needed is None:
        return True
    groups = (caller.identity or {}).get("groups") or []
    return bool(needed.intersection(groups))


def _groups_argument(directive: Any) -> set[str] | None:
    for argument in directive.arguments or ():
        if argument.name.value == "cognito_groups":
            return {value.value for value in getattr(argument.value, "values", ())}
    return None


def subscribed_mutations(schema: GraphQLSchema) -> dict[str, list[str]]:
    """Mutation name -> the subscription fields whose ``@aws_subscribe`` names it."""
    bound: dict[str, list[str]] = {}
    subscription = schema.subscription_type
    for name, sub_field in (subscription.fields if subscription else {}).items():
        for directive in (sub_field.ast_node.directives if sub_field.ast_node else ()) or ():
            if directive.name.value != "aws_subscribe":
                continue
            for argument in directive.arguments:
                for value in getattr(argument.value, "values", ()):
                    bound.setdefault(value.value, []).append(name)
    return bound


def format_error(error: GraphQLError) -> dict[str, Any]:
    """One error in AppSync's shape; internal failures are logged, never shown."""
    original = error.original_error
    if isinstance(original, GatewayError):
        error_type, message, info = type(original).__name__, original.message, original.info
    elif original is not None and not isinstance(original, GraphQLError):
        logger.error("resolver invocation failed", exc_info=original)
        internal = InternalFailure()
        error_type, message, info = type(internal).__name__, internal.message, None
    else:
        # Parse and validation errors, and bad variable values (which graphql-core
        # wraps in a second GraphQLError): the client's mistake, in its own words.
        error_type, message, info = "ValidationError", error.message, None
    return {
        "path": error.path,
        "data": None,
        "errorType": error_type,
        "errorInfo": info,
        "locations": [
            {"line": location.line, "column": location.column, "sourceName": None}
            for location in error.locations or ()
        ],
        "message": message,
    }


def _error(message: str, error_type: str) -> dict[str, Any]:
    return {
        "path": None,
        "data": None,
        "errorType": error_type,
        "errorInfo": None,
        "locations": [],
        "message": message,
    }


def _limit_error(error: LimitExceeded) -> dict[str, Any]:
    return {**_error(error.message, "LimitExceeded"), "errorInfo": error.info}


def _operation(document: Any, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    for operation in operations:
        if operation_name is None or (operation.name and operation.name.value == operation_name):
            return operation
    return None
