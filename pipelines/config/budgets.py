"""Configured budgets: a monthly amount for the cost a scope spends, on one cost basis, with alert thresholds.

A budget's scope is the account (nothing given), or the usage of some workspaces, of one tag `key=value`,
of SKUs matching a glob, or all of them together (every dimension given must match). Its amount is a
quoted decimal in its currency (the config's by default); spend is measured on `list`, `effective` or
`contracted` cost (the default: negotiated prices where the account has them). `alert_thresholds` are
the percentages of the amount whose crossing `billing-lakehouse alerts` reports once each month.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from pipelines.config.reader import YamlReader

COST_BASES = ("list", "effective", "contracted")
DEFAULT_THRESHOLDS = (50, 80, 100)
MAX_AMOUNT = Decimal(10) ** 18  # decimal(38,18) keeps 20 digits before the point; an amount is far below
BUDGET_KEYS = {"name", "amount", "currency", "cost_basis", "scope", "alert_thresholds"}
SCOPE_KEYS = {"workspaces", "tag", "sku"}


@dataclass(frozen=True)
class Budget:
    """A monthly `amount` in `currency` for the cost (on `cost_basis`) of usage matching every scope part given."""

    name: str
    amount: Decimal
    currency: str
    cost_basis: str = "contracted"
    workspaces: tuple[str, ...] | None = None  # None: every workspace
    tag_key: str | None = None
    tag_value: str | None = None
    sku: str | None = None  # glob on the SKU name: `*` any run, `?` one character
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS  # percent of the amount, ascending


def _amount(reader: YamlReader, budget: dict[str, object], key: str) -> Decimal:
    value = budget.get("amount")
    expected = 'a quoted decimal amount above 0, such as "25000" or "1250.50"'
    amount = reader.quoted_decimal(value, key, expected)
    if not 0 < amount < MAX_AMOUNT:
        raise reader.fail(key, expected, value)
    if amount != round(amount, 18):
        raise reader.fail(key, "an amount with at most 18 decimals", value)
    return amount


def _thresholds(reader: YamlReader, budget: dict[str, object], key: str) -> tuple[int, ...]:
    value = budget.get("alert_thresholds", list(DEFAULT_THRESHOLDS))
    expected = "a non-empty list of whole percentages from 1 to 1000, such as [50, 80, 100]"
    if not isinstance(value, list) or not value:
        raise reader.fail(key, expected, value)
    for item in value:
        if not isinstance(item, int) or isinstance(item, bool) or not 1 <= item <= 1000:
            raise reader.fail(key, expected, item)
    if len(set(value)) != len(value):
        raise reader.fail(key, "percentages each given once", value)
    return tuple(sorted(value))


def _tag(reader: YamlReader, scope: dict[str, object], key: str) -> tuple[str | None, str | None]:
    if scope.get("tag") is None:
        return None, None
    text = reader.string(scope, "tag", key)
    tag_key, equals, tag_value = text.partition("=")
    if not equals or not tag_key.strip():
        raise reader.fail(key, "a tag as key=value, such as team=data-platform", text)
    return tag_key.strip(), tag_value.strip()


Scope = tuple[tuple[str, ...] | None, str | None, str | None, str | None]


def _scope(reader: YamlReader, raw: object, key: str) -> Scope:
    """(workspaces, tag key, tag value, SKU glob); an absent or empty scope is the whole account."""
    if raw is None:
        return None, None, None, None
    scope = reader.mapping(raw, key)
    reader.unknown_keys(scope, SCOPE_KEYS, key)
    tag_key, tag_value = _tag(reader, scope, f"{key}.tag")
    sku = reader.string(scope, "sku", f"{key}.sku") if scope.get("sku") is not None else None
    return reader.workspace_ids(scope, "workspaces", f"{key}.workspaces"), tag_key, tag_value, sku


def _budget(reader: YamlReader, raw: object, key: str, currency: str) -> Budget:
    budget = reader.mapping(raw, key)
    reader.unknown_keys(budget, BUDGET_KEYS, key)
    budget_currency = reader.string(budget, "currency", f"{key}.currency", currency)
    if not re.fullmatch(r"[A-Z]{2,3}", budget_currency):
        raise reader.fail(f"{key}.currency", "an upper-case currency code such as USD", budget_currency)
    workspaces, tag_key, tag_value, sku = _scope(reader, budget.get("scope"), f"{key}.scope")
    return Budget(
        name=reader.string(budget, "name", f"{key}.name"),
        amount=_amount(reader, budget, f"{key}.amount"),
        currency=budget_currency,
        cost_basis=reader.choice(budget, "cost_basis", f"{key}.cost_basis", COST_BASES, "contracted"),
        workspaces=workspaces,
        tag_key=tag_key,
        tag_value=tag_value,
        sku=sku,
        thresholds=_thresholds(reader, budget, f"{key}.alert_thresholds"),
    )


def load_budgets(reader: YamlReader, raw: object, currency: str) -> tuple[Budget, ...]:
    """The `budgets:` list: each budget checked, names unique; `currency` is the default currency."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise reader.fail("budgets", "a list of budgets (name, amount, scope, ...)", raw)
    budgets: list[Budget] = []
    for index, item in enumerate(raw):
        key = f"budgets[{index}]"
        budget = _budget(reader, item, key, currency)
        if any(earlier.name == budget.name for earlier in budgets):
            raise reader.fail(f"{key}.name", "a name no earlier budget has (budget names are unique)", budget.name)
        budgets.append(budget)
    return tuple(budgets)
