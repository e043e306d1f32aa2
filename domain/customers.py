"""The customer aggregate.

Write-table keys: state at ``CUSTOMER#<id>`` / ``STATE``, events at
``CUSTOMER#<id>`` / ``EVENT#<version>``; the email is claimed at ``EMAIL#<email>`` /
``STATE`` so that two customers never share one.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from domain import rules
from domain.data import from_data, to_data
from domain.errors import ValidationError

MAX_NAME = 200
MAX_EMAIL = 254
MAX_ID = 128
# Deliberately loose: one @, no spaces, a dot in the domain. Delivery proves the rest.
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]*")


class Customer(NamedTuple):
    id: str
    email: str
    name: str
    version: int
    created_at: str

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = to_data(self)
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Customer:
        return from_data(cls, data)


def new_customer(*, customer_id: str, email: str, name: str, now: str) -> Customer:
    """Check every rule for a new customer and build its first version."""
    customer_id = rules.bounded_text("id", customer_id, MAX_ID)
    if not ID_PATTERN.fullmatch(customer_id):
        raise ValidationError("id must be letters, digits and . _ : @ -, starting alphanumeric.")
    email = rules.bounded_text("email", email, MAX_EMAIL)
    if not EMAIL_PATTERN.fullmatch(email):
        raise ValidationError("email must look like name@example.com.")
    return Customer(
        id=customer_id,
        email=email,
        name=rules.visible_text("name", name, MAX_NAME),
        version=1,
        created_at=now,
    )
