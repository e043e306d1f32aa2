"""Customer registration, through the command handlers, against the in-memory write store."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from domain.commands import RegisterCustomer
from domain.customers import Customer
from domain.errors import ValidationError
from domain.handlers import Dependencies, handle

from .fakes import FakeWriteStore, SequentialIds, StepClock

ANA = RegisterCustomer(email="ana@example.com", name="Ana Lima", customer_id="ana")


@pytest.fixture
def store() -> FakeWriteStore:
    return FakeWriteStore()


@pytest.fixture
def deps(store: FakeWriteStore) -> Dependencies:
    return Dependencies(
        store=store,
        clock=StepClock(),
        ids=SequentialIds("customer"),
        correlation_id="c-1",
        pause=lambda seconds: None,
    )


def snapshot(store: FakeWriteStore) -> tuple[dict[Any, Any], list[dict[str, Any]], int]:
    return copy.deepcopy(store.items), copy.deepcopy(store.events), store.commits


def test_register_with_own_id_keeps_that_id(deps: Dependencies, store: FakeWriteStore) -> None:
    """GIVEN an empty store WHEN Ana registers herself with her own id
    THEN the customer is stored under that id at version 1, with one CustomerRegistered."""
    customer = handle(ANA, deps)

    assert (customer.id, customer.email, customer.name, customer.version) == (
        "ana",
        "ana@example.com",
        "Ana Lima",
        1,
    )
    assert Customer.from_data(store.load("CUSTOMER", "ana") or {}) == customer
    assert [(item["eventType"], item["aggregateId"], item["version"]) for item in store.events] == [
        ("CustomerRegistered", "ana", 1)
    ]
    assert store.events[0]["data"]["customer"] == customer.to_data()


def test_register_without_id_gets_an_assigned_one(
    deps: Dependencies, store: FakeWriteStore
) -> None:
    """GIVEN no id in the command WHEN a customer registers
    THEN the id comes from the id source and the customer can be read back by it."""
    customer = handle(RegisterCustomer(email="bo@example.com", name="Bo"), deps)

    assert customer.id == "customer-1"
    assert (store.load("CUSTOMER", "customer-1") or {})["email"] == "bo@example.com"
    assert customer.created_at == "2024-05-01T12:00:00.000Z"


def test_register_trims_the_name(deps: Dependencies) -> None:
    """GIVEN a name with surrounding spaces WHEN registered THEN the trimmed name is kept."""
    customer = handle(RegisterCustomer(email="cy@example.com", name="  Cy  "), deps)

    assert customer.name == "Cy"


@pytest.mark.parametrize(
    "email",
    [
        "ana.example.com",  # no @
        "ana lima@example.com",  # a space inside
        "ana@exa mple.com",
        "a@b.co\n",  # a trailing newline
        "a" * 288 + "@example.com",  # 300 characters
        "",
        "ana@example",  # no dot in the domain
        "ana@@example.com",
    ],
)
def test_bad_email_is_refused_and_nothing_is_written(
    deps: Dependencies, store: FakeWriteStore, email: str
) -> None:
    """GIVEN an email that is not an address WHEN a customer registers with it
    THEN ValidationError, and the store is untouched."""
    before = snapshot(store)

    with pytest.raises(ValidationError):
        handle(RegisterCustomer(email=email, name="Ana"), deps)

    assert snapshot(store) == before


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   \t\n",
        "\u200b\u200b",  # zero-width spaces only
        "\u200b\ufeff\u200d",  # zero-width space, BOM, zero-width joiner
        "x" * 201,
        42,
        None,
    ],
)
def test_bad_name_is_refused_and_nothing_is_written(
    deps: Dependencies, store: FakeWriteStore, name: Any
) -> None:
    """GIVEN an empty, invisible, too long or non-string name WHEN a customer registers
    THEN ValidationError, and the store is untouched."""
    before = snapshot(store)

    with pytest.raises(ValidationError):
        handle(RegisterCustomer(email="ana@example.com", name=name), deps)

    assert snapshot(store) == before


def test_email_already_registered_in_other_case_is_refused(
    deps: Dependencies, store: FakeWriteStore
) -> None:
    """GIVEN Ana registered as Ana@Example.com
    WHEN someone registers ana@example.com THEN ValidationError naming the email,
    and no second customer is stored."""
    handle(RegisterCustomer(email="Ana@Example.com", name="Ana", customer_id="ana"), deps)
    before = snapshot(store)

    with pytest.raises(ValidationError) as raised:
        handle(RegisterCustomer(email="ana@example.com", name="Imposter", customer_id="x"), deps)

    assert raised.value.info == {"email": "ana@example.com"}
    assert snapshot(store) == before
    assert store.load("CUSTOMER", "x") is None


def test_email_is_kept_as_typed(deps: Dependencies) -> None:
    """GIVEN a mixed-case email WHEN registered THEN it is kept as the customer typed it."""
    customer = handle(RegisterCustomer(email="Ana@Example.com", name="Ana"), deps)

    assert customer.email == "Ana@Example.com"


def test_registering_an_existing_id_again_is_refused(
    deps: Dependencies, store: FakeWriteStore
) -> None:
    """GIVEN customer "ana" registered WHEN "ana" registers again with another email
    THEN ValidationError naming the id; the first registration stands and the other
    email stays free."""
    first = handle(ANA, deps)
    before = snapshot(store)

    with pytest.raises(ValidationError) as raised:
        handle(RegisterCustomer(email="other@example.com", name="Ana 2", customer_id="ana"), deps)

    assert raised.value.info == {"id": "ana"}
    assert snapshot(store) == before
    assert Customer.from_data(store.load("CUSTOMER", "ana") or {}) == first
    # The failed attempt left no claim behind, so the email can still be registered.
    handle(RegisterCustomer(email="other@example.com", name="Other"), deps)


@pytest.mark.parametrize("customer_id", ["", " ana", "-ana", "a/b", "x" * 129])
def test_bad_id_is_refused_and_nothing_is_written(
    deps: Dependencies, store: FakeWriteStore, customer_id: str
) -> None:
    """GIVEN an id that is empty, too long or has characters outside the id alphabet
    WHEN a customer registers with it THEN ValidationError, and nothing is written."""
    before = snapshot(store)

    with pytest.raises(ValidationError):
        handle(RegisterCustomer(email="ana@example.com", name="Ana", customer_id=customer_id), deps)

    assert snapshot(store) == before
