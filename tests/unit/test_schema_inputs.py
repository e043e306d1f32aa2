"""`gateway schema` on bad input: each problem located (file:line:column), never a trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from schema import export
from tests.unit.test_schema_gate import Ran, run_schema_command

RELEASED = export.SCHEMA_FILE.read_text()
PRODUCT_QUERY = "query One($id: ID!) {\n  product(id: $id) {\n    id\n    name\n  }\n}\n"


def check(tmp_path: Path, schema: str | bytes, baseline: str | bytes = RELEASED) -> Ran:
    """`gateway schema check` of ``schema`` against ``baseline``, both written to files."""
    files = {"schema.graphql": schema, "baseline.graphql": baseline}
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return run_schema_command(
        [
            "check",
            "--schema",
            str(tmp_path / "schema.graphql"),
            "--baseline",
            str(tmp_path / "baseline.graphql"),
            "--changelog",
            str(tmp_path / "CHANGELOG.md"),
        ]
    )


def validate(folder: Path, schema: Path = export.SCHEMA_FILE) -> Ran:
    return run_schema_command(["validate", str(folder), "--schema", str(schema)])


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def assert_clean(ran: Ran) -> None:
    """What a person reads: no Python trace, no internals."""
    for marker in ("Traceback", 'File "', "Error(", "GraphQLError"):
        assert marker not in ran.out + ran.err, ran


@pytest.mark.parametrize(
    ("sdl", "message"),
    [
        ("type Query {\n  product: Product\n  broken(: Int\n}\n", "3:10: Syntax Error"),
        ("type Query {\n  product: Prodct\n}\n", "2:12: Unknown type 'Prodct'."),
        ("", "1:1: Syntax Error: Unexpected <EOF>."),
        ("type Query {\n  a: Int\n}\nscalar AWSDateTime\n", "4:8: There can be only one type"),
        ("query { a }\n", "Query root type must be provided."),
    ],
    ids=["syntax", "unknown type", "empty", "AppSync scalar declared again", "no query type"],
)
def test_an_invalid_schema_is_refused_with_its_location(
    tmp_path: Path, sdl: str, message: str
) -> None:
    """GIVEN SDL that cannot be built WHEN checked THEN exit 2, and stderr says where in
    the schema file the problem is."""
    ran = check(tmp_path, sdl)

    assert ran.code == 2
    assert f"{tmp_path / 'schema.graphql'}" in ran.err
    assert message in ran.err
    assert_clean(ran)


def test_a_redeclared_appsync_scalar_says_to_leave_it_out(tmp_path: Path) -> None:
    """GIVEN a schema that declares AWSDateTime itself THEN the message points at the
    reader's own line first, and says AppSync declares it."""
    ran = check(tmp_path, RELEASED + "\nscalar AWSDateTime\n")

    assert ran.code == 2
    assert "AppSync declares it itself, so leave it out" in ran.err
    assert ran.err.index("schema.graphql:") < ran.err.index("schema/appsync.graphql")


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        (RELEASED.replace("type Product @aws_lambda", "type Product @@aws_lambda"), "Syntax"),
        (b"schema {\n  query: Query\n}\n\xff\xfe", "4:1: not UTF-8 text (byte 0xff)"),
        (RELEASED.replace("  region: RegionInfo!", "  region: Regions!"), "Unknown type"),
    ],
    ids=["syntax", "binary", "unknown type"],
)
def test_a_baseline_that_does_not_parse_is_refused_with_its_location(
    tmp_path: Path, baseline: str | bytes, message: str
) -> None:
    """GIVEN a damaged baseline THEN exit 2, naming the baseline file and the place."""
    ran = check(tmp_path, RELEASED, baseline)

    assert ran.code == 2
    assert f"{tmp_path / 'baseline.graphql'}:" in ran.err
    assert message in ran.err
    assert_clean(ran)


def test_a_missing_baseline_is_named(tmp_path: Path) -> None:
    """GIVEN no baseline file THEN exit 2: the file is named, and the reason."""
    ran = run_schema_command(
        ["check", "--schema", str(export.SCHEMA_FILE), "--baseline", str(tmp_path / "none")]
    )

    assert ran.code == 2
    assert f"{tmp_path / 'none'}: no such file" in ran.err


def test_client_operations_that_fit_the_schema_pass(tmp_path: Path) -> None:
    """GIVEN a query in one file spreading a fragment from another, and a subscription
    WHEN validated THEN exit 0, counting each kind."""
    folder = write(
        tmp_path / "ops",
        {
            "fragments/product.graphql": "fragment Card on Product { id name priceCents }\n",
            "screens/catalogue.graphql": "query Catalogue { products { items { ...Card } } }\n",
            "live.gql": "subscription Live { onProductChanged { ...Card } }\n",
        },
    )

    ran = validate(folder)

    assert ran.code == 0, ran.out + ran.err
    assert "3 files (query: 1, mutation: 0, subscription: 1), all valid" in ran.out


@pytest.mark.parametrize(
    ("files", "problems"),
    [
        (
            {"a.graphql": PRODUCT_QUERY.replace("    name\n", "    name\n    colour\n")},
            ["a.graphql:5:5: Cannot query field 'colour' on type 'Product'."],
        ),
        (
            {"a.graphql": "query Broken {\n  region {\n    name\n"},
            ["a.graphql:4:1: Syntax Error: Expected Name, found <EOF>."],
        ),
        (
            {"a.graphql": "query { region { ...Gone } }\n"},
            ["a.graphql:1:21: Unknown fragment 'Gone'."],
        ),
        (
            {"a.graphql": PRODUCT_QUERY, "b/c.graphql": PRODUCT_QUERY},
            ['b/c.graphql:1:1: There can be only one operation named "One" in the set.'],
        ),
        (
            {
                "a.graphql": "query($first: Int) { products(first: $first) { items { id } } }\n"
                "subscription Two { onProductChanged { id } region { name } }\n"
            },
            [
                "a.graphql:1:1: This anonymous operation must be the only defined operation.",
                "a.graphql:2:44: Subscription 'Two' must select only one top level field.",
            ],
        ),
        (
            {"logo.graphql": b"\x89PNG\r\n\x1a\n\x00\x00"},
            ["logo.graphql:1:1: not UTF-8 text (byte 0x89); is this a GraphQL file?"],
        ),
        ({"empty.graphql": ""}, ["empty.graphql:1:1: Syntax Error: Unexpected <EOF>."]),
        (
            {"a.graphql": 'query { product(id: "1") { placedAt } }\n'},
            ["a.graphql:1:28: Cannot query field 'placedAt' on type 'Product'."],
        ),
    ],
    ids=[
        "unknown field",
        "syntax error",
        "unknown fragment",
        "duplicate name across files",
        "anonymous beside a named one",
        "binary file",
        "empty file",
        "field of another type",
    ],
)
def test_each_bad_operation_is_reported_with_file_line_and_column(
    tmp_path: Path, files: dict[str, str | bytes], problems: list[str]
) -> None:
    """GIVEN a folder with a broken operation document WHEN validated THEN exit 1, and
    each problem starts with the file, line and column to open."""
    folder = write(tmp_path / "ops", files)

    ran = validate(folder)

    assert ran.code == 1
    for problem in problems:
        assert f"{folder.as_posix()}/{problem}" in ran.out, ran.out
    assert "gateway schema validate:" in ran.err
    assert_clean(ran)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root / "missing", "no such folder"),
        (lambda root: write(root / "empty", {"notes.txt": "{ region { name } }"}), "no .graphql"),
        (lambda root: write(root, {"one.graphql": PRODUCT_QUERY}) / "one.graphql", "not a folder"),
    ],
    ids=["nonexistent", "no operation files", "a file, not a folder"],
)
def test_a_folder_without_operations_is_refused(tmp_path: Path, make: object, message: str) -> None:
    """GIVEN OPS_DIR that holds nothing to check THEN exit 2 with the reason, not a pass."""
    folder = make(tmp_path)  # type: ignore[operator]

    ran = validate(folder)

    assert ran.code == 2
    assert f"{folder}: {message}" in ran.err


def test_validating_against_a_schema_that_does_not_parse_is_refused(tmp_path: Path) -> None:
    """GIVEN --schema pointing at broken SDL THEN exit 2 with the schema's location."""
    folder = write(tmp_path / "ops", {"a.graphql": PRODUCT_QUERY})
    broken = write(tmp_path, {"schema.graphql": "type Query {\n  a: Int\n"}) / "schema.graphql"

    ran = validate(folder, broken)

    assert ran.code == 2
    assert f"{broken}:3:1: Syntax Error: Expected Name, found <EOF>." in ran.err


def test_a_changelog_that_is_not_text_is_refused_with_its_location(tmp_path: Path) -> None:
    """GIVEN a CHANGELOG.md that is not UTF-8 THEN exit 2 naming it and the bad byte's
    place: the gate never guesses whether a change was recorded."""
    (tmp_path / "CHANGELOG.md").write_bytes(b"# Changelog\n\n## Unreleased \xff\n")

    ran = check(tmp_path, RELEASED)

    assert ran.code == 2
    assert f"{tmp_path / 'CHANGELOG.md'}:3:15: not UTF-8 text (byte 0xff)" in ran.err
