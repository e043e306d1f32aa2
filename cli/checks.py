"""What a check of ``gateway smoke`` ends in: passed, failed or skipped, and what it saw."""

from __future__ import annotations

from typing import NamedTuple


class Failed(Exception):
    """The check failed; the message says what was seen."""


class Skipped(Exception):
    """The check could not run: the deployment lacks the part, or what it needs failed."""


class Result(NamedTuple):
    name: str
    status: str  # PASS, FAIL or SKIP
    ms: int
    detail: str

    def line(self) -> str:
        return f"{self.status}  {self.ms:>6} ms  {self.name}: {self.detail}"
