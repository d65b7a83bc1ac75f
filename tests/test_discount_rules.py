"""Discount rules: loaded exactly and refused when they could discount one usage record twice; sku glob overlap."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.config import DiscountRule, globs_intersect, load_config
from pipelines.errors import ConfigError
from tests.conftest import write_config

JOBS = '{name: jobs, percent_off: "12.5", sku: "*JOBS*", start: 2024-01-01T00:00:00Z, end: 2025-01-01T00:00:00Z}'


def _config(tmp_path: Path, *rules: str) -> Path:
    listed = "".join(f"  - {rule}\n" for rule in rules)
    return write_config(tmp_path, None, None, extra=f"discounts:\n{listed}")


def _refusal(tmp_path: Path, *rules: str) -> str:
    path = _config(tmp_path, *rules)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}: discounts")
    return str(error.value)


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("*JOBS*", "*ALL_PURPOSE*", True),  # ALL_PURPOSE_JOBS matches both
        ("PREMIUM_*", "STANDARD_*", False),
        ("A?C", "AB*", True),  # ABC
        ("A?C", "AB", False),
        ("A?C", "ABCD", False),
        ("*", "", True),
        ("?", "", False),
        ("a*b", "*c", False),
        ("a*", "*b", True),
        ("PREMIUM_JOBS_COMPUTE", "PREMIUM_JOBS_COMPUTE", True),
        ("PREMIUM_JOBS_COMPUTE", "PREMIUM_JOBS_COMPUTE_PHOTON", False),
        ("**", "?", True),
        ("??", "*?*?*?", False),
        ("*_SERVERLESS_*", "*_US_EAST_*", True),
        ("x*y*z", "*y", False),
        ("[A]*", "A*", False),  # brackets are plain characters
    ],
)
def test_globs_intersect_when_some_name_matches_both(first: str, second: str, expected: bool) -> None:
    assert globs_intersect(first, second) is expected
    assert globs_intersect(second, first) is expected


def test_discount_rules_load_exact_percentages_utc_windows_and_match_dimensions(tmp_path: Path) -> None:
    sql = (
        '{name: sql, percent_off: "7.25", billing_origin_product: SQL, cloud: AWS,'
        ' workspaces: ["2222222222222222", "1111111111111111"], start: 2025-01-01}'
    )
    config = load_config(_config(tmp_path, JOBS, sql))
    assert config.discounts == (
        DiscountRule(
            name="jobs",
            percent_off=Decimal("12.5"),
            start=datetime(2024, 1, 1, tzinfo=UTC),
            end=datetime(2025, 1, 1, tzinfo=UTC),
            sku="*JOBS*",
        ),
        DiscountRule(
            name="sql",
            percent_off=Decimal("7.25"),
            start=datetime(2025, 1, 1, tzinfo=UTC),
            billing_origin_product="SQL",
            cloud="AWS",
            workspaces=("1111111111111111", "2222222222222222"),
        ),
    )
    assert load_config(write_config(tmp_path, None, None)).discounts == ()


def test_discount_rules_change_the_config_fingerprint(tmp_path: Path) -> None:
    one = load_config(_config(tmp_path, JOBS))
    other = load_config(_config(tmp_path, JOBS.replace('"12.5"', '"12.50"')))
    assert one.fingerprint("discounts") != load_config(write_config(tmp_path, None, None)).fingerprint("discounts")
    assert one.fingerprint("discounts") != other.fingerprint("discounts")


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        ("12.5", "quote it: unquoted YAML numbers are not exact"),
        ("10", "quote it: unquoted YAML numbers are not exact"),
        ('"0"', "above 0 and at most 100"),
        ('"100.01"', "above 0 and at most 100"),
        ('"-5"', "above 0 and at most 100"),
        ('"ten"', "a quoted decimal percentage"),
        ('"NaN"', "a quoted decimal percentage"),
        ('"12.1234567"', "at most 6 decimals"),
    ],
)
def test_a_percent_off_must_be_a_quoted_decimal_above_0_and_at_most_100(
    tmp_path: Path, percent: str, expected: str
) -> None:
    message = _refusal(tmp_path, JOBS.replace('"12.5"', percent))
    assert "discounts[0].percent_off: expected a" in message and expected in message


def test_a_percent_off_of_100_is_allowed(tmp_path: Path) -> None:
    assert load_config(_config(tmp_path, JOBS.replace('"12.5"', '"100"'))).discounts[0].percent_off == 100


@pytest.mark.parametrize(
    ("rule", "key", "expected"),
    [
        (JOBS.replace("sku:", "skus:"), "discounts[0].skus", "one of the known keys"),
        (JOBS.replace("start: 2024-01-01T00:00:00Z, ", ""), "discounts[0].start", "the instant the discount starts"),
        (JOBS.replace("2025-01-01", "2023-01-01"), "discounts[0].end", "an instant after start"),
        (JOBS.replace("name: jobs, ", ""), "discounts[0].name", "a value (it is required)"),
        (JOBS.replace('sku: "*JOBS*"', "cloud: MARS"), "discounts[0].cloud", "one of AWS, AZURE, GCP"),
        (JOBS.replace('sku: "*JOBS*"', "workspaces: [1111]"), "discounts[0].workspaces", "quoted numeric workspace"),
        (JOBS.replace('sku: "*JOBS*"', "workspaces: []"), "discounts[0].workspaces", "a non-empty list"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_key(tmp_path: Path, rule: str, key: str, expected: str) -> None:
    message = _refusal(tmp_path, rule)
    assert f": {key}: expected" in message and expected in message


def test_discounts_must_be_a_list(tmp_path: Path) -> None:
    path = write_config(tmp_path, None, None, extra="discounts: {jobs: 10}\n")
    with pytest.raises(ConfigError, match=r"discounts: expected a list of discount rules"):
        load_config(path)


def test_two_rules_with_one_name_are_refused(tmp_path: Path) -> None:
    later = JOBS.replace('"*JOBS*"', '"*SQL*"')
    message = _refusal(tmp_path, JOBS, later)
    assert "discounts[1].name: expected a name no earlier rule has" in message and "'jobs'" in message


def test_overlapping_rules_are_refused_with_the_key_and_both_names(tmp_path: Path) -> None:
    sql = '{name: sql, percent_off: "5", sku: "PREMIUM_SQL_COMPUTE", start: 2024-01-01}'
    all_purpose = '{name: all-purpose, percent_off: "10", sku: "*ALL_PURPOSE*", start: 2024-06-01}'
    message = _refusal(tmp_path, sql, JOBS, all_purpose)  # PREMIUM_ALL_PURPOSE_JOBS... would match both
    assert ": discounts[2]: expected a rule that cannot match the same usage as another" in message
    assert "'all-purpose' overlaps 'jobs'" in message


@pytest.mark.parametrize(
    "other",
    [
        '{name: later, percent_off: "10", start: 2025-01-01}',  # starts where jobs ends: [start, end) windows
        '{name: before, percent_off: "10", start: 2023-01-01, end: 2024-01-01}',
        '{name: premium, percent_off: "10", sku: "PREMIUM_*", cloud: AZURE, start: 2024-01-01}',
        '{name: other-sku, percent_off: "10", sku: "PREMIUM_SQL_COMPUTE", start: 2024-01-01}',
    ],
)
def test_rules_that_cannot_match_one_record_load(tmp_path: Path, other: str) -> None:
    jobs_on_aws = JOBS.replace("sku:", "cloud: AWS, sku:")
    assert len(load_config(_config(tmp_path, jobs_on_aws, other)).discounts) == 2


@pytest.mark.parametrize(
    "other",
    [
        '{name: everything, percent_off: "10", start: 2024-12-31T23:00:00Z}',  # no dimension: matches anything
        '{name: product, percent_off: "10", billing_origin_product: JOBS, start: 2024-06-01, end: 2024-07-01}',
        '{name: ws, percent_off: "10", sku: "PREMIUM_?OBS*", workspaces: ["1"], start: 2020-01-01}',
    ],
)
def test_rules_that_could_match_one_record_are_refused(tmp_path: Path, other: str) -> None:
    assert "overlaps 'jobs'" in _refusal(tmp_path, JOBS, other)


def test_rules_on_disjoint_workspaces_load_and_rules_sharing_a_workspace_are_refused(tmp_path: Path) -> None:
    first = '{name: a, percent_off: "10", workspaces: ["1", "2"], start: 2024-01-01}'
    second = '{name: b, percent_off: "10", workspaces: ["3"], start: 2024-01-01}'
    third = '{name: c, percent_off: "10", workspaces: ["2", "4"], billing_origin_product: SQL, start: 2024-01-01}'
    assert len(load_config(_config(tmp_path, first, second)).discounts) == 2
    assert "'c' overlaps 'a'" in _refusal(tmp_path, first, second, third)
