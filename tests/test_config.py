from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.errors import ConfigError
from tests.conftest import REPO, write_config


def test_example_config_loads_with_paths_relative_to_the_file() -> None:
    config = load_config(REPO / "conf" / "pipeline.yml")
    assert config.warehouse == str(REPO / "warehouse")
    assert config.legacy_csv is not None and config.legacy_csv.path == str(REPO / "data" / "billable-usage" / "csv")
    assert config.workspaces["3333333333333333"].tier == "STANDARD"
    assert config.skus.regions["eu-west-1"] == "EUROPE_IRELAND"


@pytest.mark.parametrize(
    ("extra", "key", "expected"),
    [
        ("storage: parquet\n", "storage", "one of auto, delta-rs, delta-spark"),
        ("currency: dollars\n", "currency", "upper-case currency code"),
        ("bogus: 1\n", "bogus", "one of the known keys"),
    ],
)
def test_config_errors_name_file_key_and_expected_value(tmp_path: Path, extra: str, key: str, expected: str) -> None:
    path = write_config(tmp_path, tmp_path / "csv", None)
    lines = [line for line in path.read_text().splitlines() if not line.startswith(key + ":")]
    path.write_text("\n".join(lines) + "\n" + extra)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}: {key}: expected")
    assert expected in message


def test_workspace_with_unknown_tier_or_region_is_rejected(tmp_path: Path) -> None:
    bad_tier = '  "1": {cloud: AWS, tier: GOLD, region: us-east-1}\n'
    with pytest.raises(ConfigError, match=r"workspaces\.1\.tier: expected one of STANDARD, PREMIUM, ENTERPRISE"):
        load_config(write_config(tmp_path, tmp_path / "csv", None, workspaces=bad_tier))
    bad_region = '  "1": {cloud: AWS, tier: PREMIUM, region: mars-1}\n'
    with pytest.raises(ConfigError, match=r"workspaces\.1\.region: expected a region listed in"):
        load_config(write_config(tmp_path, tmp_path / "csv", None, workspaces=bad_region))


def test_missing_version_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yml"
    path.write_text("warehouse: x\n")
    with pytest.raises(ConfigError, match="version: expected 1"):
        load_config(path)


def _rate_cards(tmp_path: Path, window: str) -> Path:
    (tmp_path / "rate_cards.yml").write_text(
        "version: 1\nrate_cards:\n  - {sku_name: DREMIO_DCU, usage_unit: DCU, windows: [" + window + "]}\n"
    )
    return write_config(tmp_path, None, None, extra="rate_cards: rate_cards.yml\n")


def test_rate_cards_load_exact_prices_and_reject_floats_and_backward_windows(tmp_path: Path) -> None:
    config = load_config(_rate_cards(tmp_path, '{start: 2024-01-01, price: "0.39", effective_price: "0.35"}'))
    window = config.rate_cards[0].windows[0]
    assert (str(window.list_price), str(window.effective_price), window.end) == ("0.39", "0.35", None)
    assert window.start.isoformat() == "2024-01-01T00:00:00+00:00"
    with pytest.raises(ConfigError, match=r"rate_cards\[0\]\.windows\[0\]\.price: expected a quoted decimal"):
        load_config(_rate_cards(tmp_path, "{start: 2024-01-01, price: 0.39}"))
    with pytest.raises(ConfigError, match=r"windows\[0\]\.end: expected an instant after start"):
        load_config(_rate_cards(tmp_path, '{start: 2024-02-01, end: 2024-01-01, price: "1"}'))
    with pytest.raises(
        ConfigError, match=r"rate_cards: expected windows of DREMIO_DCU/AWS/DCU/USD that do not overlap"
    ):
        load_config(_rate_cards(tmp_path, '{start: 2024-01-01, price: "1"}, {start: 2024-03-01, price: "2"}'))
    with pytest.raises(ConfigError, match=r"price: expected a non-negative decimal below"):
        load_config(_rate_cards(tmp_path, '{start: 2024-01-01, price: "10000000000"}'))


@pytest.mark.parametrize(
    ("sources", "extra", "message"),
    [
        ("  account_api: {start_month: '2024-01'}\n", "", "account_id: expected the Databricks account id"),
        ("  account_api: {start_month: '2024-1'}\n", "account_id: a\n", "start_month: expected a quoted month"),
        (
            "  account_api: {start_month: '2024-03', end_month: '2024-01'}\n",
            "account_id: a\n",
            "not before start_month",
        ),
        ("  account_api: {start_month: '2024-03', refresh_months: 0}\n", "account_id: a\n", "from 1 to 24"),
        ("  dremio: {frequency: WEEKLY}\n", "", "sources.dremio.frequency: expected one of HOURLY, DAILY"),
        ("  dremio: {group_by: [PROJECT, ENGINE]}\n", "", "sources.dremio.group_by: expected a non-empty string"),
        ("  dremio: {backfill_days: 400}\n", "", "sources.dremio.backfill_days: expected a whole number from 1 to 365"),
        ("  dremio: {token_variable: dremio-abc123}\n", "", "the NAME of an environment variable"),
    ],
)
def test_api_source_settings_are_checked(tmp_path: Path, sources: str, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write_config(tmp_path, None, None, extra=extra, sources=sources))


def test_account_api_and_delivered_files_are_one_or_the_other(tmp_path: Path) -> None:
    sources = "  account_api: {start_month: '2024-01'}\n"
    with pytest.raises(ConfigError, match=r"either sources\.legacy_csv or sources\.account_api"):
        load_config(write_config(tmp_path, tmp_path / "csv", None, extra="account_id: a\n", sources=sources))


def test_set_overrides_config_values_before_they_are_checked(tmp_path: Path) -> None:
    path = write_config(tmp_path, tmp_path / "csv", None)
    config = load_config(path, ["currency=EUR", "schemas.gold=finance_gold", "sources.legacy_csv.path=s3://b/csv"])
    assert (config.currency, config.schemas, config.legacy_csv.path) == (  # type: ignore[union-attr]
        "EUR",
        {"gold": "finance_gold"},
        "s3://b/csv",
    )
    with pytest.raises(ConfigError, match="currency: expected an upper-case currency code"):
        load_config(path, ["currency=euros"])
    with pytest.raises(ConfigError, match="--set currency: expected KEY=VALUE"):
        load_config(path, ["currency"])


@pytest.mark.parametrize(
    ("sources", "key"),
    [
        ("  account_api: {start_month: '2024-01', host: 'http://ana:s3cr3t-pass@accounts.example.com'}\n", "host"),
        ("  account_api: {start_month: '2024-01', host: 'ftp://ana:s3cr3t-pass@accounts.example.com'}\n", "host"),
        ("  dremio: {base_url: 'https://ana:s3cr3t-pass@api.dremio.cloud/'}\n", "base_url"),
        ("  dremio: {base_url: 'https://s3cr3t-pass@api.dremio.cloud'}\n", "base_url"),
    ],
)
def test_a_url_with_credentials_is_refused_without_repeating_them(tmp_path: Path, sources: str, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, None, None, extra="account_id: a\n", sources=sources))
    message = str(error.value)
    assert f".{key}: expected a URL without a user or password" in message
    assert "s3cr3t-pass" not in message and "ana:" not in message


@pytest.mark.parametrize(
    "token",
    [
        "dapi0123456789abcdef0123456789abcdef",
        "DAPI0123456789ABCDEF0123456789ABCDEF",
        "Xk29fPq81LmZ0vB7TnR4wYc6",  # long and random-looking, though a valid name
        "MY_TOKEN_20240115093011",  # many digits
        "dremio-abc123",
        "0123abcd0123abcd",
    ],
)
def test_a_token_given_as_token_variable_is_refused_without_echoing_it(tmp_path: Path, token: str) -> None:
    sources = f"  dremio: {{token_variable: '{token}'}}\n"
    with pytest.raises(ConfigError, match="token_variable: expected the NAME of an environment variable") as error:
        load_config(write_config(tmp_path, None, None, sources=sources))
    assert token not in str(error.value) and token[:8] not in str(error.value)


def test_api_urls_and_token_variable_names_that_are_fine_load(tmp_path: Path) -> None:
    sources = (
        "  account_api: {start_month: '2024-01', host: 'https://accounts.cloud.databricks.com/'}\n"
        "  dremio: {base_url: 'https://api.eu.dremio.cloud', token_variable: prod_dremio_TOKEN_2}\n"
    )
    config = load_config(write_config(tmp_path, None, None, extra="account_id: a\n", sources=sources))
    assert config.account_api is not None and config.account_api.host == "https://accounts.cloud.databricks.com"
    assert config.dremio is not None and config.dremio.base_url == "https://api.eu.dremio.cloud"
    assert config.dremio.token_variable == "prod_dremio_TOKEN_2"
