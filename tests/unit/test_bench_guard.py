"""The benchmarks' regression guard: reading BENCHMARKS.md back, and judging each ratio."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import guard, report, run
from benchmarks.report import Row

OLD_FORMAT = "\n".join(
    [
        "| part | figure | against | ratio | limit | verdict | command |",
        "|---|---|---|---|---|---|---|",
        "| cold-start | import resolver handler: 210 ms (min 178, max 290) | boto3: 184 ms "
        "| 1.14x | 1.2x | within | `python -m benchmarks.run --only cold-start` |",
        "| freshness | p50 80 ms | --replication-lag-ms 0 | n/a (recorded, no limit set) "
        "| record | recorded | `x` |",
    ]
)


def _row(part: str, key: str, ratio: float | None, better: report.Better = "lower") -> Row:
    return Row(part, key, f"{key}: figure", "against", ratio, better=better)


def test_a_written_table_reads_back_row_by_row() -> None:
    """GIVEN rows with pipes and arrows in their cells WHEN they are written as a table and
    parsed THEN every part, key, ratio and direction comes back."""
    rows = [
        _row("resolver-overhead", "product(id)", 0.18),
        _row("projection", "product events", 0.12, "higher"),
        Row("requests", "a | b", "x | y", "z", None),
    ]

    parsed = report.parse("\n".join(report.table(rows)))

    assert [(r.part, r.key, r.ratio, r.better) for r in parsed] == [
        ("resolver-overhead", "product(id)", 0.18, "lower"),
        ("projection", "product events", 0.12, "higher"),
        ("requests", "a | b", None, "lower"),
    ]
    assert parsed[2].figure == "x | y"


def test_the_format_before_the_row_column_is_keyed_by_its_figure() -> None:
    """GIVEN the committed file's older table (no row column, ratios like 1.14x) WHEN it is
    parsed THEN each row is keyed by its figure up to the first colon."""
    parsed = report.parse(OLD_FORMAT)

    assert [(r.part, r.key, r.ratio) for r in parsed] == [
        ("cold-start", "import resolver handler", 1.14),
        ("freshness", "p50 80 ms", None),
    ]


def test_ratio_cells_are_read_up_to_their_number() -> None:
    assert report.ratio_of("1.14x") == 1.14
    assert report.ratio_of("0.0023 ↓") == 0.0023
    assert report.ratio_of("n/a") is None


def test_worse_is_measured_in_each_rows_own_direction() -> None:
    """GIVEN the same change of a ratio WHEN lower or higher is better THEN one direction
    calls it worse and the other better; from 0, any worsening is infinite."""
    assert guard.worse_by(1.3, 1.0, "lower") == pytest.approx(0.3)
    assert guard.worse_by(1.3, 1.0, "higher") == pytest.approx(-0.3)
    assert guard.worse_by(0.7, 1.0, "higher") == pytest.approx(0.3)
    assert guard.worse_by(0.5, 0.0, "lower") == math.inf
    assert guard.worse_by(0.0, 0.0, "lower") == 0.0


def test_only_a_change_past_twenty_percent_regresses() -> None:
    """GIVEN committed ratios WHEN new ones are 19% and 21% worse, or better THEN only the
    21% one is flagged, and its verdict says what it was."""
    committed = [
        _row("p", "slower", 1.0),
        _row("p", "slightly", 1.0),
        _row("p", "throughput", 0.5, "higher"),
        _row("p", "faster", 1.0),
    ]
    new = [
        _row("p", "slower", 1.21),
        _row("p", "slightly", 1.19),
        _row("p", "throughput", 0.39, "higher"),
        _row("p", "faster", 0.5),
        _row("p", "new row", 3.0),
    ]

    comparisons = guard.compare(new, committed)

    assert [c.row.key for c in comparisons if c.regressed] == ["slower", "throughput"]
    flagged = {row.key: row.verdict for row in guard.flagged(comparisons)}
    assert flagged["slower"] == "recorded; REGRESSED: was 1.00, 21% worse"
    assert flagged["faster"] == "recorded; was 1.00"
    assert flagged["new row"] == "recorded"


def test_rows_are_matched_by_part_and_key_not_by_position() -> None:
    committed = [_row("a", "k", 1.0), _row("b", "k", 10.0)]

    comparisons = guard.compare([_row("b", "k", 10.5), _row("a", "k", 1.5)], committed)

    assert [(c.row.part, c.regressed) for c in comparisons] == [("b", False), ("a", True)]


def test_the_committed_rows_come_from_the_file_outside_a_repository(tmp_path: Path) -> None:
    """GIVEN a BENCHMARKS.md in a folder git does not track WHEN the committed rows are
    read THEN they are the file's own."""
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(OLD_FORMAT)

    assert [row.key for row in guard.committed_rows(path)] == [
        "import resolver handler",
        "p50 80 ms",
    ]


def test_a_rendered_file_flags_regressions_and_reads_back() -> None:
    """GIVEN a run with one regression WHEN BENCHMARKS.md is rendered THEN it names the
    regression at the top, and parsing it gives back every row, the separate requests
    table included."""
    rows = [
        _row("cold-start", "import resolver handler", 1.5),
        _row("requests", "product(id)", 1.0),
    ]
    comparisons = guard.compare(rows, [_row("cold-start", "import resolver handler", 1.0)])

    text = run.render(guard.flagged(comparisons), [c for c in comparisons if c.regressed], "x")

    assert "* cold-start / import resolver handler: REGRESSED: was 1.00, 50% worse" in text
    assert "## DynamoDB requests per operation" in text
    assert [(r.part, r.key) for r in report.parse(text)] == [(r.part, r.key) for r in rows]
