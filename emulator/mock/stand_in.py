"""Mock mode, ``gateway dev --mock``: the schema answers before the back end exists.

* ``missing`` (``--mock``): a root field no resolver answers yet gets generated data,
  and so does every field a resolver's answer lacks (a field just added to a type).
  Everything else is answered as always.
* ``all`` (``--mock all``): every field gets generated data; nothing is written.

A :class:`MockLambda` stands in front of each region's resolver Lambda, so the
executor still checks every auth directive first, as it would on AppSync; the owner
rules inside the resolvers apply only where a resolver runs. Subscriptions hear of
nothing that is not written, so :func:`emit` pushes a generated event on demand,
through the same fan-out the publish mutations use, shaped to match each subscriber's
filter.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from graphql import GraphQLObjectType, GraphQLSchema

from emulator.mock.data import MockData, place
from resolvers.bootstrap import build_app, build_services

if TYPE_CHECKING:
    from emulator.region import RegionRuntime
    from projections.settings import Settings

MISSING = "missing"
ALL = "all"
MODES = (MISSING, ALL)

Invoke = Callable[[dict[str, Any]], Any]


class UnknownSubscription(ValueError):
    """An emit named no subscription field of the schema; the message lists them."""


def answered_fields(settings: Settings) -> frozenset[str]:
    """``Type.field`` of every field the resolver Lambda has a resolver for."""
    app = build_app(build_services(settings))
    # powertools keeps its registries private; the contract tests read them the same way.
    registries = (
        app._resolver_registry,
        app._batch_resolver_registry,
        app._async_batch_resolver_registry,
    )
    return frozenset(address for registry in registries for address in registry.resolvers)


class MockLambda:
    """Answers with generated data where mock mode says so, else asks ``resolver``."""

    def __init__(
        self,
        resolver: Invoke,
        schema: GraphQLSchema,
        data: MockData,
        mode: str,
        answered: frozenset[str],
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mock mode must be one of {', '.join(MODES)}, not {mode!r}")
        self._resolver = resolver
        self._schema = schema
        self._data = data
        self._mode = mode
        self._answered = answered

    def mocks(self, type_name: str, field_name: str) -> bool:
        """Whether this root field is answered with generated data."""
        return self._mode == ALL or f"{type_name}.{field_name}" not in self._answered

    async def __call__(self, event: dict[str, Any]) -> Any:
        info = event["info"]
        parent, field_name = info["parentTypeName"], info["fieldName"]
        root = self._schema.get_type(parent)
        assert isinstance(root, GraphQLObjectType)  # the executor only asks for root fields
        definition = root.fields[field_name]
        arguments = event.get("arguments") or {}
        key = place(parent, field_name, arguments)
        if not self.mocks(parent, field_name):  # only in MISSING mode
            answer = self._resolver(event)
            if inspect.isawaitable(answer):  # gateway dev's Lambda; fakes answer at once
                answer = await answer
            return self._data.fill(definition.type, answer, key)
        if parent == "Subscription":
            return None  # a subscription's resolver only decides whether it may start
        first = arguments.get("first")
        items = min(first, 20) if isinstance(first, int) and first > 0 else None
        return self._data.value(definition.type, key, overrides(arguments), items)


def overrides(arguments: dict[str, Any]) -> dict[str, Any]:
    """What a call says about its answer: ``product(id: X)`` is product X,
    ``updateProduct(input: {name: N, expectedVersion: V})`` is named N at version V+1."""
    given = {name: value for name, value in arguments.items() if name != "input"}
    written = arguments.get("input")
    if isinstance(written, dict):
        given.update(written)
        if isinstance(written.get("expectedVersion"), int):
            given["version"] = written["expectedVersion"] + 1
    return given


def install(regions: Sequence[RegionRuntime], mode: str, seed: int) -> MockData:
    """Put a :class:`MockLambda` in front of every region's resolver Lambda."""
    data = MockData(seed)
    answered = answered_fields(regions[0].settings) if mode == MISSING else frozenset()
    for region in regions:
        schema = region.executor.schema
        region.resolver_lambda = MockLambda(region.resolver_lambda, schema, data, mode, answered)
    return data


async def emit(
    regions: Sequence[RegionRuntime],
    data: MockData,
    subscription: str,
    fields: dict[str, Any],
    serial: int,
) -> dict[str, Any]:
    """Push a generated change to the subscribers of ``subscription`` in ``regions``.

    One event for each distinct filter among the active subscriptions (so each
    subscriber hears one that matches it), or one event when nobody listens; ``fields``
    set fields of every event. Returns the events and how many subscribers were told.

    Raises
    ------
    UnknownSubscription
        ``subscription`` is not a Subscription field bound to a publish mutation.
    """
    executor = regions[0].executor
    root = executor.schema.subscription_type
    bound = [
        mutation
        for mutation, listeners in executor.subscribed_mutations.items()
        if subscription in listeners
    ]
    if root is None or subscription not in root.fields or not bound:
        known = ", ".join(sorted(root.fields)) if root else "none"
        raise UnknownSubscription(f"no subscription {subscription!r}; the schema has {known}")
    filters: dict[str, dict[str, Any]] = {}
    for region in regions:
        for arguments in region.subscriptions.filters(subscription):
            filters.setdefault(json.dumps(arguments, sort_keys=True), arguments)
    events, delivered = [], 0
    for index, arguments in enumerate(filters.values() or [{}]):
        key = f"emit.{subscription}#{serial}.{index}"
        payload = data.value(root.fields[subscription].type, key, {**arguments, **fields})
        for region in regions:
            delivered += await region.subscriptions.publish(bound[0], payload)
        events.append(payload)
    return {
        "subscription": subscription,
        "mutation": bound[0],
        "events": events,
        "delivered": delivered,
    }
