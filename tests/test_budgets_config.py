"""Budgets in pipeline.yml: loaded exactly with their defaults, refused with the file and key named."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.config import AccountBudgetsSource, Budget, load_config
from pipelines.errors import ConfigError
from tests.conftest import write_config


def _config(tmp_path: Path, *budgets: str, extra: str = "", sources: str = "") -> Path:
    listed = "".join(f"  - {budget}\n" for budget in budgets)
    return write_config(tmp_path, None, None, extra=f"budgets:\n{listed}{extra}", sources=sources)


def _refusal(tmp_path: Path, *budgets: str) -> str:
    path = _config(tmp_path, *budgets)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}: budgets")
    return str(error.value)


def test_budgets_load_exactly_with_their_defaults(tmp_path: Path) -> None:
    config = load_config(
        _config(
            tmp_path,
            '{name: account, amount: "25000.50"}',
            '{name: team, amount: "900", currency: EUR, cost_basis: list, alert_thresholds: [90, 75],'
            ' scope: {workspaces: ["2222222222222222", "1111111111111111"], tag: "team = data", sku: "*JOBS*"}}',
        )
    )
    assert config.budgets == (
        Budget(name="account", amount=Decimal("25000.50"), currency="USD"),
        Budget(
            name="team",
            amount=Decimal("900"),
            currency="EUR",
            cost_basis="list",
            workspaces=("1111111111111111", "2222222222222222"),
            tag_key="team",
            tag_value="data",
            sku="*JOBS*",
            thresholds=(75, 90),
        ),
    )
    assert config.budgets[0].cost_basis == "contracted" and config.budgets[0].thresholds == (50, 80, 100)
    assert config.account_budgets is None


def test_no_budgets_is_an_empty_tuple(tmp_path: Path) -> None:
    assert load_config(write_config(tmp_path, None, None)).budgets == ()


@pytest.mark.parametrize(
    ("budget", "key", "says"),
    [
        ("{name: a, amount: 100}", "budgets[0].amount", "quote it"),
        ("{name: a, amount: 100.5}", "budgets[0].amount", "quote it"),
        ('{name: a, amount: "0"}', "budgets[0].amount", "above 0"),
        ('{name: a, amount: "-5"}', "budgets[0].amount", "above 0"),
        ('{name: a, amount: "lots"}', "budgets[0].amount", "quoted decimal"),
        ('{name: a, amount: "NaN"}', "budgets[0].amount", "quoted decimal"),
        ("{name: a}", "budgets[0].amount", "quoted decimal"),
        ('{amount: "5"}', "budgets[0].name", "required"),
        ('{name: a, amount: "5", cost_basis: net}', "budgets[0].cost_basis", "list, effective, contracted"),
        ('{name: a, amount: "5", currency: usd}', "budgets[0].currency", "upper-case currency"),
        ('{name: a, amount: "5", alert_thresholds: []}', "budgets[0].alert_thresholds", "non-empty list"),
        ('{name: a, amount: "5", alert_thresholds: [50.5]}', "budgets[0].alert_thresholds", "whole percentages"),
        ('{name: a, amount: "5", alert_thresholds: [0]}', "budgets[0].alert_thresholds", "from 1 to 1000"),
        ('{name: a, amount: "5", alert_thresholds: [80, 80]}', "budgets[0].alert_thresholds", "each given once"),
        ('{name: a, amount: "5", scope: {tag: team}}', "budgets[0].scope.tag", "key=value"),
        ('{name: a, amount: "5", scope: {tag: "=x"}}', "budgets[0].scope.tag", "key=value"),
        ('{name: a, amount: "5", scope: {workspaces: [1111]}}', "budgets[0].scope.workspaces", "quoted numeric"),
        ('{name: a, amount: "5", scope: {workspaces: []}}', "budgets[0].scope.workspaces", "non-empty list"),
        ('{name: a, amount: "5", scope: {cloud: AWS}}', "budgets[0].scope.cloud", "unknown key"),
        ('{name: a, amount: "5", limit: "9"}', "budgets[0].limit", "unknown key"),
    ],
)
def test_a_bad_budget_is_refused_naming_its_key(tmp_path: Path, budget: str, key: str, says: str) -> None:
    message = _refusal(tmp_path, budget)
    assert message.startswith(f"{_config(tmp_path, budget)}: {key}:")
    assert says in message


def test_budget_names_are_unique(tmp_path: Path) -> None:
    message = _refusal(tmp_path, '{name: a, amount: "5"}', '{name: a, amount: "6"}')
    assert "budgets[1].name" in message and "unique" in message


def test_budgets_must_be_a_list(tmp_path: Path) -> None:
    path = write_config(tmp_path, None, None, extra='budgets: {name: a, amount: "5"}\n')
    with pytest.raises(ConfigError, match=r": budgets: expected a list of budgets"):
        load_config(path)


def test_the_account_budgets_source_needs_an_account_id_and_switches_off_when_its_host_is_empty(
    tmp_path: Path,
) -> None:
    sources = "  account_budgets:\n    host: https://accounts.example.com\n    timeout_seconds: 30\n"
    path = write_config(tmp_path, None, None, sources=sources)
    with pytest.raises(ConfigError, match=r": account_id: expected the Databricks account id"):
        load_config(path)
    path = write_config(tmp_path, None, None, sources=sources, extra="account_id: acc-1\n")
    assert load_config(path).account_budgets == AccountBudgetsSource("https://accounts.example.com", 30)
    assert load_config(path, ["sources.account_budgets.host="]).account_budgets is None
    with pytest.raises(ConfigError, match=r"sources.account_budgets.host: expected a URL without a user"):
        load_config(path, ["sources.account_budgets.host=https://me:secret@accounts.example.com"])
