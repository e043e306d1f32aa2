"""BENCHMARKS.md rows: what a part measures, how a row is written, and how it is read back.

Every part returns :class:`Row` values. The driver stamps each with its command and
date and writes them as markdown tables; :func:`parse` reads any such table back (the
regression guard compares against the committed file), including the older tables
that had no ``row`` column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from benchmarks.stats import ratio_text

Better = Literal["lower", "higher"]
COLUMNS = ("part", "row", "figure", "against", "ratio", "limit", "verdict", "command", "date")
ARROWS: dict[Better, str] = {"lower": "↓", "higher": "↑"}
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE]-?\d+)?")


@dataclass(frozen=True)
class Row:
    """One figure beside what it is measured against.

    Attributes
    ----------
    part
        The part that measured it: ``python -m benchmarks.run --only <part>``.
    key
        Names the row within its part, the same from run to run: the guard matches
        rows by ``(part, key)``.
    ratio
        The figure over what it is measured against, or None where no ratio is
        meaningful (the figure is then a distribution beside its limit).
    better
        Which way the ratio improves; the guard flags a change the other way.
    ratio_cell
        The ratio as written, when it was read back from a file.
    """

    part: str
    key: str
    figure: str
    against: str
    ratio: float | None
    limit: str = "record"
    verdict: str = "recorded"
    better: Better = "lower"
    command: str = ""
    date: str = ""
    ratio_cell: str | None = None

    def ratio_text(self) -> str:
        if self.ratio_cell is not None:
            return self.ratio_cell
        if self.ratio is None:
            return "n/a"
        return f"{ratio_text(self.ratio)} {ARROWS[self.better]}"

    def cells(self) -> tuple[str, ...]:
        command = f"`{self.command}`" if self.command and "`" not in self.command else self.command
        return (
            self.part,
            self.key,
            self.figure,
            self.against,
            self.ratio_text(),
            self.limit,
            self.verdict,
            command,
            self.date,
        )


def limit_text(limit: float, better: Better) -> str:
    """``"≤ 1.0"`` when lower is better, ``"≥ 0.5"`` when higher is."""
    return f"{'≤' if better == 'lower' else '≥'} {limit:g}"


def judged(ratio: float, limit: float, better: Better) -> str:
    """``within`` or ``OVER`` the limit, in the ratio's own direction, judged as the ratio
    is written (two decimals), so that a row never reads 1.20 over a limit of 1.2."""
    shown = round(ratio, 2)
    inside = shown <= limit if better == "lower" else shown >= limit
    return "within" if inside else "OVER"


def table(rows: list[Row]) -> list[str]:
    """Markdown lines of one table holding ``rows``."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(_escape(cell) for cell in row.cells()) + " |")
    return lines


def parse(text: str) -> list[Row]:
    """Every row of every benchmark table in ``text``: a table whose header names at
    least ``part``, ``figure`` and ``ratio``. Rows without a ``row`` column (the
    format before the guard existed) are keyed by their figure up to its first colon."""
    rows: list[Row] = []
    header: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("|"):
            header = None
            continue
        cells = _cells(stripped)
        if header is None:
            if {"part", "figure", "ratio"} <= set(cells):
                header = cells
            continue
        if all(set(cell) <= set("-: ") for cell in cells):
            continue  # the separator line
        named = dict(zip(header, cells, strict=False))
        rows.append(_row(named))
    return rows


def ratio_of(cell: str) -> float | None:
    """The number a ratio cell starts with (``"1.14x"``, ``"0.42 ↓"``), or None."""
    match = _NUMBER.match(cell.strip())
    return float(match.group()) if match else None


def _row(named: dict[str, str]) -> Row:
    figure = named.get("figure", "")
    key = named.get("row") or figure.split(":", 1)[0].strip()
    ratio_cell = named.get("ratio", "")
    better: Better = "higher" if ARROWS["higher"] in ratio_cell else "lower"
    return Row(
        part=named.get("part", ""),
        key=key,
        figure=figure,
        against=named.get("against", ""),
        ratio=ratio_of(ratio_cell),
        limit=named.get("limit", ""),
        verdict=named.get("verdict", ""),
        better=better,
        command=named.get("command", ""),
        date=named.get("date", ""),
        ratio_cell=ratio_cell,
    )


def _cells(line: str) -> list[str]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(inner)]


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")
