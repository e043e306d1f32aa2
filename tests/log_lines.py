"""The JSON lines a Lambda's powertools Logger writes, captured as Lambda would print them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger


class LogLines:
    """Every line logged under one service name since capture began, parsed."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._buffer = buffer

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._buffer.getvalue().splitlines()]

    def where(self, **keys: Any) -> list[dict[str, Any]]:
        """The lines that carry every one of ``keys`` with that value."""
        return [line for line in self.all() if all(line.get(k) == v for k, v in keys.items())]


@contextmanager
def captured(service: str) -> Iterator[LogLines]:
    """Format with the service's own powertools formatter, at the time of logging (the
    per-invocation keys live only that long), into a buffer of our own."""
    formatter = Logger(service=service).registered_formatter
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(formatter)
    logging.getLogger(service).addHandler(handler)
    try:
        yield LogLines(buffer)
    finally:
        logging.getLogger(service).removeHandler(handler)
