"""`gateway schema check` and `release`: no breaking change reaches clients unrecorded."""

from __future__ import annotations

import argparse
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from cli import schema_commands
from cli.schema_gate import (
    breaking_section,
    compare,
    load_schema_text,
    unrecorded,
)
from schema import export

RELEASED = export.SCHEMA_FILE.read_text()
TODAY = date(2026, 11, 23)
CHANGELOG = "# Changelog\n\n## Unreleased\n\n## 0.1.0 - 2026-11-23\n\n- First release.\n"
PRODUCT_DESCRIPTION = '  """Longer text for the product page."""\n  description: String!\n'
PRODUCT_STOCK = '  """Units in stock; never negative."""\n  stock: Int!\n'
PRODUCTS_FIRST = "    first: Int\n"


@dataclass
class Ran:
    code: int
    out: str
    err: str


@dataclass
class Project:
    """A project folder: the schema as changed, the released baseline, a changelog."""

    root: Path

    @property
    def schema(self) -> Path:
        return self.root / "schema.graphql"

    @property
    def baseline(self) -> Path:
        return self.root / "baseline.graphql"

    @property
    def changelog(self) -> Path:
        return self.root / "CHANGELOG.md"

    def gate(self, *action: str) -> Ran:
        """Run `gateway schema ACTION` on this folder's files."""
        files = ["--schema", str(self.schema), "--baseline", str(self.baseline)]
        files += ["--changelog", str(self.changelog)]
        return run_schema_command([*action, *files])


def run_schema_command(argv: list[str]) -> Ran:
    """`gateway schema ARGV`, in this process, with what it printed."""
    parser = argparse.ArgumentParser(prog="gateway")
    schema_commands.add_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["schema", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = schema_commands.run(args, out, err, today=TODAY)
    return Ran(code, out.getvalue(), err.getvalue())


@pytest.fixture
def project(tmp_path: Path) -> Project:
    made = Project(tmp_path)
    made.schema.write_text(RELEASED)
    made.baseline.write_text(RELEASED)
    made.changelog.write_text(CHANGELOG)
    return made


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


BREAKING_EDITS = {
    "a removed field": (
        PRODUCT_DESCRIPTION,
        "",
        "field removed: Field Product.description was removed.",
        "Product.description",
    ),
    "a field's type changed": (
        PRODUCT_STOCK,
        PRODUCT_STOCK.replace("Int!", "String!"),
        "field changed kind: Field Product.stock changed type from Int! to String!.",
        "Product.stock",
    ),
    "an argument made required": (
        PRODUCTS_FIRST,
        "    first: Int!\n",
        "arg changed kind: Argument Query.products(first:) has changed type from Int to Int!.",
        "Query.products(first:)",
    ),
}


@pytest.mark.parametrize("edit", list(BREAKING_EDITS), ids=list(BREAKING_EDITS))
def test_a_breaking_change_fails_the_gate_and_is_named(project: Project, edit: str) -> None:
    """GIVEN the released schema with one breaking edit WHEN `gateway schema check` runs
    THEN it exits 1, names the change in plain words, and says how to record it."""
    old, new, plain, coordinate = BREAKING_EDITS[edit]
    project.schema.write_text(_edit(RELEASED, old, new))

    ran = project.gate("check")

    assert ran.code == 1
    assert f"breaking changes (1):\n  {plain}  [NOT RECORDED]\n" in ran.out
    assert f"    - `{coordinate}`\n" in ran.err
    assert '"### Breaking"' in ran.err and "gateway schema release VERSION" in ran.err


def test_adding_an_optional_field_passes(project: Project) -> None:
    """GIVEN a new nullable field on Product WHEN checked THEN nothing breaks: exit 0."""
    rating = '  """Average review, 1 to 5; null before the first."""\n  rating: Float\n'
    project.schema.write_text(_edit(RELEASED, PRODUCT_STOCK, PRODUCT_STOCK + "\n" + rating))

    ran = project.gate("check")

    assert ran.code == 0, ran.err
    assert "no breaking or dangerous changes" in ran.out


def test_a_dangerous_change_is_listed_but_passes(project: Project) -> None:
    """GIVEN a new enum value (a client's exhaustive switch may not know it) THEN it is
    listed as dangerous, and the gate still passes."""
    returned = '  """Sent back; stock returned."""\n  RETURNED\n'
    project.schema.write_text(_edit(RELEASED, "  CANCELLED\n}", "  CANCELLED\n\n" + returned + "}"))

    ran = project.gate("check")

    assert ran.code == 0, ran.err
    assert "dangerous changes (1):" in ran.out
    assert "value added to enum: Enum value OrderStatus.RETURNED was added." in ran.out


def test_a_change_named_under_unreleased_breaking_passes(project: Project) -> None:
    """GIVEN a removed field, recorded by its coordinate under Unreleased > Breaking
    WHEN checked THEN it is listed as recorded, and the gate passes."""
    project.schema.write_text(_edit(RELEASED, PRODUCT_DESCRIPTION, ""))
    project.changelog.write_text(
        _edit(
            CHANGELOG,
            "## Unreleased\n",
            "## Unreleased\n\n### Breaking\n\n- `Product.description` is gone: show `name`.\n",
        )
    )

    ran = project.gate("check")

    assert ran.code == 0, ran.err
    assert "field removed: Field Product.description was removed.  [recorded]" in ran.out


@pytest.mark.parametrize(
    "changelog",
    [
        CHANGELOG.replace("- First release.", "### Breaking\n\n- `Product.description` gone."),
        CHANGELOG.replace("## Unreleased\n", "## Unreleased\n\n- `Product.description` gone.\n"),
        CHANGELOG.replace(
            "## Unreleased\n", "## Unreleased\n\n### Breaking\n\n- `Product.descriptionHtml`\n"
        ),
    ],
    ids=["under a past release", "not under Breaking", "a longer name"],
)
def test_a_change_recorded_anywhere_else_still_fails(project: Project, changelog: str) -> None:
    """GIVEN a removed field, mentioned in the changelog but not as the Unreleased
    Breaking entry for it THEN the gate still fails."""
    project.schema.write_text(_edit(RELEASED, PRODUCT_DESCRIPTION, ""))
    project.changelog.write_text(changelog)

    assert project.gate("check").code == 1


def test_without_a_changelog_a_breaking_change_fails(project: Project) -> None:
    """GIVEN no CHANGELOG.md THEN a breaking change cannot be recorded: exit 1."""
    project.schema.write_text(_edit(RELEASED, PRODUCT_DESCRIPTION, ""))
    project.changelog.unlink()

    assert project.gate("check").code == 1


def test_release_moves_the_baseline_and_dates_the_section(project: Project) -> None:
    """GIVEN a recorded breaking change WHEN `gateway schema release 0.2.0` runs THEN the
    baseline is the new schema, the Unreleased section is titled 0.2.0 under a new empty
    one, and the next check has nothing to say."""
    changed = _edit(RELEASED, PRODUCT_DESCRIPTION, "")
    project.schema.write_text(changed)
    entry = "### Breaking\n\n- `Product.description` is gone.\n"
    project.changelog.write_text(_edit(CHANGELOG, "## Unreleased\n", f"## Unreleased\n\n{entry}"))

    ran = project.gate("release", "0.2.0")

    assert ran.code == 0, ran.err
    assert project.baseline.read_text() == changed
    assert project.changelog.read_text().startswith(
        f"# Changelog\n\n## Unreleased\n\n## 0.2.0 - 2026-11-23\n\n{entry}"
    )
    assert project.gate("check").out.startswith(f"{project.schema}: no breaking")


def test_a_later_break_of_a_released_coordinate_needs_a_new_entry(project: Project) -> None:
    """GIVEN `Product.description` recorded and released WHEN Product.sku is removed too
    THEN the released entry does not cover it: the gate fails again."""
    project.schema.write_text(_edit(RELEASED, PRODUCT_DESCRIPTION, ""))
    entry = "### Breaking\n\n- `Product.description` and `Product.sku` are going.\n"
    project.changelog.write_text(_edit(CHANGELOG, "## Unreleased\n", f"## Unreleased\n\n{entry}"))
    assert project.gate("release", "0.2.0").code == 0

    sku = '  """Stock-keeping unit; unique, and fixed once created."""\n  sku: String!\n'
    project.schema.write_text(_edit(project.schema.read_text(), sku, ""))

    assert project.gate("check").code == 1


def test_release_is_refused_while_the_gate_fails(project: Project) -> None:
    """GIVEN an unrecorded breaking change WHEN released THEN exit 1, nothing moves."""
    project.schema.write_text(_edit(RELEASED, PRODUCT_DESCRIPTION, ""))

    ran = project.gate("release", "0.2.0")

    assert ran.code == 1
    assert project.baseline.read_text() == RELEASED
    assert project.changelog.read_text() == CHANGELOG


@pytest.mark.parametrize(
    ("version", "changelog", "complaint"),
    [
        ("next", CHANGELOG, "not a version number"),
        ("0.1.0", CHANGELOG, "already has a release 0.1.0"),
        ("0.2.0", CHANGELOG, "section of CHANGELOG.md is empty"),
        ("0.2.0", "# Changelog\n", 'no "## Unreleased" section'),
    ],
)
def test_release_refuses_what_cannot_be_recorded(
    project: Project, version: str, changelog: str, complaint: str
) -> None:
    """GIVEN a safe change, and a version or changelog that cannot take it THEN exit 1
    with the reason, and the baseline stays."""
    rating = '  """Average review."""\n  rating: Float\n'
    project.schema.write_text(_edit(RELEASED, PRODUCT_STOCK, PRODUCT_STOCK + rating))
    project.changelog.write_text(changelog)

    ran = project.gate("release", version)

    assert ran.code == 1
    assert complaint in ran.err
    assert project.baseline.read_text() == RELEASED


def test_release_with_nothing_changed_is_refused(project: Project) -> None:
    """GIVEN the schema equal to the baseline THEN there is nothing to release."""
    ran = project.gate("release", "0.2.0")

    assert ran.code == 1
    assert "is the baseline already" in ran.err


def test_taking_an_auth_mode_off_a_field_is_breaking() -> None:
    """GIVEN Query.region without @aws_lambda THEN public front ends lose it: breaking,
    although graphql-core sees no change in the types."""
    narrowed = _edit(
        RELEASED,
        "region: RegionInfo! @aws_lambda @aws_cognito_user_pools",
        'region: RegionInfo! @aws_cognito_user_pools(cognito_groups: ["staff"])',
    )
    changes = compare(load_schema_text(RELEASED, "a"), load_schema_text(narrowed, "b"))

    assert [(change.coordinate, change.description) for change in changes] == [
        ("Query.region", "Query.region no longer allows AWS_LAMBDA callers."),
        (
            "Query.region",
            "Query.region no longer allows AMAZON_COGNITO_USER_POOLS callers outside "
            "the groups staff.",
        ),
    ]


def test_trading_the_api_key_for_the_client_token_is_breaking() -> None:
    """GIVEN a released field open to @aws_api_key that now takes @aws_lambda instead
    THEN clients holding the API key lose it: breaking, so the changelog must say how
    to move to the client token."""
    released = _edit(
        RELEASED,
        "region: RegionInfo! @aws_lambda @aws_cognito_user_pools",
        "region: RegionInfo! @aws_api_key @aws_cognito_user_pools",
    )
    changes = compare(load_schema_text(released, "a"), load_schema_text(RELEASED, "b"))

    assert [(change.coordinate, change.description) for change in changes] == [
        ("Query.region", "Query.region no longer allows API_KEY callers."),
    ]


@pytest.mark.parametrize(
    ("old", "new", "coordinate"),
    [
        ("OrderStatus", "Status", "OrderStatus"),
        ('  """Sent; final."""\n  SHIPPED\n\n', "", "OrderStatus.SHIPPED"),
        (
            "    minVersion: Int\n  ): Product",
            "    atLeast: Int\n  ): Product",
            "Query.product(minVersion:)",
        ),
    ],
    ids=["type removed", "enum value removed", "argument removed"],
)
def test_each_breaking_change_has_the_coordinate_a_changelog_names(
    old: str, new: str, coordinate: str
) -> None:
    """GIVEN a breaking edit THEN the change names the most precise schema coordinate,
    and an Unreleased Breaking entry with it records exactly that change."""
    edited = RELEASED.replace(old, new)
    changes = compare(load_schema_text(RELEASED, "a"), load_schema_text(edited, "b"))
    breaking = [change for change in changes if change.breaking]

    assert coordinate in {change.coordinate for change in breaking}
    changelog = f"## Unreleased\n### Breaking\n- `{coordinate}`: see the migration notes.\n"
    left = unrecorded(breaking, changelog)
    assert [change for change in left if change.coordinate == coordinate] == []


def test_the_breaking_section_ends_at_the_next_heading() -> None:
    """GIVEN Breaking followed by Added, then a release THEN only Breaking's lines count."""
    changelog = (
        "# Changelog\n## [Unreleased]\n### Breaking\n- `A.b`\n### Added\n- `C.d`\n"
        "## 1.0.0\n### Breaking\n- `E.f`\n"
    )

    assert breaking_section(changelog) == "- `A.b`"
