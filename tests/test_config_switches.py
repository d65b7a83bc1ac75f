"""Optional sources are switched off by an empty switch key, so a scheduler can pass every setting of a source.

A bundle passes `--set sources.dremio.base_url=${var.dremio_base_url}` whether or not Dremio is used; the
variable left empty must leave Dremio out entirely, with its other keys (`frequency`, `token_variable`) ignored.
"""

from __future__ import annotations

import pytest

from pipelines.config import ListPricesSource, load_config
from pipelines.errors import ConfigError
from tests.conftest import write_config

SYSTEM_TABLES = (
    "  system_usage:\n    table: system.billing.usage\n  list_prices:\n    table: system.billing.list_prices\n"
)


def test_an_empty_switch_leaves_each_optional_source_out(tmp_path):
    config = load_config(
        write_config(tmp_path, None, None, sources=SYSTEM_TABLES),
        [
            "sources.legacy_csv.path=",
            "sources.account_api.start_month=",
            "account_id=",
            "sources.dremio.base_url=",
            "sources.dremio.frequency=DAILY",
            "sources.dremio.token_variable=DREMIO_TOKEN",
        ],
    )
    assert (config.legacy_csv, config.account_api, config.dremio, config.account_id) == (None, None, None, None)
    assert config.system_usage is not None and config.system_usage.table == "system.billing.usage"
    assert config.list_prices is not None and config.list_prices.table == "system.billing.list_prices"


def test_an_empty_switch_turns_off_a_source_the_file_configures(tmp_path):
    config = write_config(
        tmp_path, tmp_path / "csv", None, sources="  dremio:\n    base_url: https://api.dremio.cloud\n"
    )
    assert load_config(config).legacy_csv is not None and load_config(config).dremio is not None
    off = load_config(config, ["sources.legacy_csv.path=", 'sources.dremio.base_url=""'])
    assert off.legacy_csv is None and off.dremio is None


def test_a_set_switch_turns_each_optional_source_on(tmp_path):
    config = load_config(
        write_config(tmp_path, None, None, sources=SYSTEM_TABLES),
        [
            "sources.legacy_csv.path=s3://billing/usage/csv",
            "sources.dremio.base_url=https://api.eu.dremio.cloud",
            "sources.dremio.frequency=DAILY",
        ],
    )
    assert config.legacy_csv is not None and config.legacy_csv.path == "s3://billing/usage/csv"
    assert config.dremio is not None and (config.dremio.base_url, config.dremio.frequency) == (
        "https://api.eu.dremio.cloud",
        "DAILY",
    )


def test_the_account_api_is_switched_on_by_its_start_month(tmp_path):
    config = load_config(
        write_config(tmp_path, None, None),
        ["account_id=1234", "sources.account_api.start_month=2024-01", "sources.account_api.landing=/tmp/landing"],
    )
    assert config.account_api is not None and config.account_api.start_month == "2024-01"
    assert config.account_id == "1234"


def test_account_prices_are_switched_by_their_table_and_checked_like_list_prices(tmp_path):
    path = write_config(tmp_path, None, None, sources=SYSTEM_TABLES)
    assert load_config(path).account_prices is None  # absent: list prices only
    on = load_config(path, ["sources.account_prices.table=system.billing.account_prices"])
    assert on.account_prices == ListPricesSource(None, "table", "system.billing.account_prices")
    assert load_config(path, ["sources.account_prices.table="]).account_prices is None
    export = load_config(path, [f"sources.account_prices.path={tmp_path / 'prices.csv'}"]).account_prices
    assert export == ListPricesSource(str(tmp_path / "prices.csv"), "csv")
    with pytest.raises(ConfigError, match=r"sources\.account_prices: expected exactly one of `path`"):
        load_config(path, ["sources.account_prices={table: t, path: p}"])
    with pytest.raises(ConfigError, match=r"sources\.account_prices\.lookback_days: expected no lookback_days"):
        load_config(path, ["sources.account_prices={table: t, lookback_days: 3}"])
    with pytest.raises(ConfigError, match=r"sources\.account_prices\.format: expected one of parquet, csv, json"):
        load_config(path, ["sources.account_prices={path: p, format: xml}"])


def test_a_source_without_its_switch_key_is_still_checked(tmp_path):
    """Only an explicitly empty switch turns a source off: a block that lacks it is a mistake, reported."""
    with pytest.raises(ConfigError, match=r"sources\.legacy_csv\.path: expected a value"):
        load_config(write_config(tmp_path, None, None), ["sources.legacy_csv={}"])


def test_workspace_names_are_optional_and_keyed_by_workspace_id(tmp_path):
    path = write_config(tmp_path, None, None)
    assert load_config(path).workspace_names == {}
    named = load_config(path, ['workspace_names={"1111111111111111": prod, "2222222222222222": "data science"}'])
    assert named.workspace_names == {"1111111111111111": "prod", "2222222222222222": "data science"}
    with pytest.raises(ConfigError, match=r"workspace_names\.prod: expected a numeric workspace id"):
        load_config(path, ["workspace_names={prod: x}"])
