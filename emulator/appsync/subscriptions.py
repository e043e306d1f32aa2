"""Subscriptions as AppSync defines them: bound to mutations, filtered by arguments.

* A subscription hears a ``publish*`` mutation named in its ``@aws_subscribe``.
* Each argument the subscriber gave must equal the payload's field of the same name;
  an omitted argument matches everything, an explicit null matches only null.
* The payload is the mutation's selection; the subscriber gets its own selection of
  it, and a field the mutation did not select comes back null.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values

from domain.errors import Unauthorized, ValidationError
from emulator.appsync.auth import Caller
from emulator.appsync.executor import allowed
from emulator.appsync.lambda_events import field_event
from emulator.appsync.limits import Limits
from emulator.appsync.subscriber_sockets import SubscriberSockets
from resolvers.freshness import Offload, run_inline

Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Subscription:
    """One active subscription: what it listens to, how it filters, how it answers."""

    key: int
    field_name: str
    response_key: str
    arguments: dict[str, Any]
    selection_set: SelectionSetNode | None
    fragments: dict[str, FragmentDefinitionNode]
    type_name: str
    send: Send

    def matches(self, payload: dict[str, Any]) -> bool:
        return all(payload.get(name) == value for name, value in self.arguments.items())

    def message(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The subscriber's own selection of the published payload."""
        typed = {**payload, "__typename": self.type_name}
        return {self.response_key: select(typed, self.selection_set, self.fragments)}


class _Start(NamedTuple):
    """A subscription start that passed every check: what its resolver is sent, and
    what the subscription keeps."""

    root: str
    node: FieldNode
    arguments: dict[str, Any]
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    type_name: str


class Subscriptions:
    """Every subscription of one region, and the fan-out of its publish mutations."""

    def __init__(
        self,
        schema: GraphQLSchema,
        bound: dict[str, list[str]],
        limits: Limits | None = None,
        invoke: Callable[[dict[str, Any]], Any] | None = None,
        *,
        offload: Offload[Any] = run_inline,
    ) -> None:
        self._schema = schema
        # Runs the checks (parsing, validation) off the event loop.
        self._offload = offload
        self._bound = bound
        self.limits = limits or Limits()
        # The resolver Lambda; AppSync runs a subscription's own resolver at start, so
        # it can refuse. Without one (in unit tests), nothing runs at start.
        self._invoke = invoke
        self._active: dict[int, Subscription] = {}
        self._keys = itertools.count(1)
        self.sockets = SubscriberSockets(self.limits)

    def __len__(self) -> int:
        return len(self._active)

    @property
    def connections(self) -> int:
        """Subscriber sockets: open and acknowledged, subscribed or not yet."""
        return self.sockets.subscribers

    async def drop_all(self, code: int, reason: str) -> int:
        """Close every subscriber socket of the region (a ``disconnect`` fault); the
        clients must reconnect and subscribe again. Returns how many were closed."""
        return await self.sockets.drop_all(code, reason)

    async def subscribe(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        caller: Caller,
        send: Send,
    ) -> Subscription:
        """Check and register a subscription operation, after its own resolver (run as
        AppSync runs it at start) lets it.

        Raises
        ------
        graphql.GraphQLError
            The document does not parse or validate.
        ValidationError
            It is not a subscription to exactly one field.
        Unauthorized
            The caller's mode is not allowed on the field, or its resolver refused.
        LimitExceeded
            The document is too large, runs too many resolvers or is too deep (all
            decided before validation), or the credential is over its rate.
        """
        start = await self._offload(
            functools.partial(self._checked, query, variables, operation_name, caller)
        )
        if self._invoke is not None:
            answer = self._invoke(
                field_event(
                    start.root,
                    start.node,
                    start.arguments,
                    caller,
                    start.fragments,
                    start.variables,
                )
            )
            if inspect.isawaitable(answer):
                await answer
        node = start.node
        subscription = Subscription(
            key=next(self._keys),
            field_name=node.name.value,
            response_key=node.alias.value if node.alias else node.name.value,
            arguments=start.arguments,
            selection_set=node.selection_set,
            fragments=start.fragments,
            type_name=start.type_name,
            send=send,
        )
        self._active[subscription.key] = subscription
        return subscription

    def _checked(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        caller: Caller,
    ) -> _Start:
        """The subscription ``query`` asks for, once every check passed (see
        :meth:`subscribe`); blocking, so it runs on the region's threads."""
        self.limits.check_size(query)
        document = parse(query)
        cost = self.limits.check_document(document, operation_name)
        self.limits.check_rate(caller.credential, cost)
        errors = validate(self._schema, document)
        if errors:
            raise errors[0]
        operations = [
            node
            for node in document.definitions
            if isinstance(node, OperationDefinitionNode)
            and (operation_name is None or (node.name and node.name.value == operation_name))
        ]
        if len(operations) != 1 or operations[0].operation != OperationType.SUBSCRIPTION:
            raise ValidationError("Send exactly one subscription operation.")
        operation = operations[0]
        fields = [
            node for node in operation.selection_set.selections if isinstance(node, FieldNode)
        ]
        if len(fields) != 1:
            raise ValidationError("A subscription selects exactly one field.")
        node = fields[0]
        root = self._schema.subscription_type
        assert root is not None  # validation passed, so the schema has one
        definition = root.fields[node.name.value]
        if not allowed(caller, definition, root) or caller.denies(root.name, node.name.value):
            raise Unauthorized(f"Not Authorized to access {node.name.value} on type Subscription")
        coerced = get_variable_values(
            self._schema, operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):
            raise coerced[0]
        fragments = {
            item.name.value: item
            for item in document.definitions
            if isinstance(item, FragmentDefinitionNode)
        }
        return _Start(
            root=root.name,
            node=node,
            arguments=get_argument_values(definition, node, coerced),
            fragments=fragments,
            variables=dict(coerced.coerced),
            type_name=str(get_named_type(definition.type)),
        )

    def filters(self, field_name: str) -> list[dict[str, Any]]:
        """The arguments of each active subscription to ``field_name``: what a payload
        must match to reach it."""
        return [s.arguments for s in self._active.values() if s.field_name == field_name]

    def unsubscribe(self, subscription: Subscription) -> None:
        self._active.pop(subscription.key, None)

    async def publish(self, mutation: str, payload: dict[str, Any]) -> int:
        """Send ``payload`` to every matching subscriber; return how many were told."""
        fields = set(self._bound.get(mutation, ()))
        targets = [
            subscription
            for subscription in list(self._active.values())
            if subscription.field_name in fields and subscription.matches(payload)
        ]
        await asyncio.gather(
            *(target.send(target.message(payload)) for target in targets),
            return_exceptions=True,
        )
        return len(targets)


def select(
    value: Any,
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
) -> Any:
    """Pick a selection out of a plain value; what is missing is null."""
    if selection_set is None or value is None:
        return value
    if isinstance(value, list):
        return [select(item, selection_set, fragments) for item in value]
    picked: dict[str, Any] = {}
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            key = selection.alias.value if selection.alias else selection.name.value
            inner = value.get(selection.name.value) if isinstance(value, dict) else None
            picked[key] = select(inner, selection.selection_set, fragments)
        elif isinstance(selection, InlineFragmentNode):
            picked.update(select(value, selection.selection_set, fragments))
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            picked.update(select(value, fragments[selection.name.value].selection_set, fragments))
    return picked
