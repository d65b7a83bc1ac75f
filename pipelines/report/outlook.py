"""What lies ahead and what went wrong, read from gold for the report and `summary`: the month-end forecasts
(gold.cost_forecast), the budgets' status (gold.budget_status, with each budget's scope from silver.budgets) and
the cost anomalies (gold.cost_anomalies).

Other stages write these tables; a warehouse built before them has none, so each part says whether its table
exists (`*_built`) and the pages say "not built yet" instead of failing. The tables are small (a row per scope
and day of the month, per budget and month, per anomaly) and are read as Arrow like the rest of the report.
Amounts stay `Decimal` as stored (forecasts are stored rounded to cents).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pipelines.storage import TableReader
from pipelines.tables import BUDGET_STATUS, BUDGETS, COST_ANOMALIES, COST_FORECAST

# The cost basis a chart shows when several are forecast: what the account pays first.
BASIS_PREFERENCE = ("contracted", "effective", "list")


@dataclass(frozen=True)
class ForecastDay:
    """One day of a month's forecast: actual to `as_of_date`, then the model's expectation."""

    usage_date: date
    actual_cost: Decimal | None
    cumulative_cost: Decimal | None
    cumulative_lower: Decimal | None
    cumulative_upper: Decimal | None


@dataclass(frozen=True)
class Forecast:
    """The month-end projection of one scope on one cost basis, in one currency."""

    month: date
    scope_type: str
    scope_id: str
    scope_name: str
    currency: str
    cost_basis: str
    as_of_date: date
    spend_to_date: Decimal
    month_end: Decimal | None
    month_end_lower: Decimal | None
    month_end_upper: Decimal | None
    model: str
    days: list[ForecastDay] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.scope_name or self.scope_id


@dataclass(frozen=True)
class Budget:
    """A budget's month: spend to date on its cost basis against its amount, and where the forecast lands."""

    month: date
    name: str
    source: str
    scope: str  # "account", or the workspaces / tag / SKU pattern it covers
    currency: str
    cost_basis: str
    amount: Decimal
    as_of_date: date | None
    spend_to_date: Decimal
    percent_used: Decimal | None
    forecast: Decimal | None
    forecast_lower: Decimal | None
    forecast_upper: Decimal | None
    forecast_percent: Decimal | None
    breach_date: date | None
    thresholds: list[int]
    thresholds_crossed: list[int]
    status: str

    @property
    def account_wide(self) -> bool:
        return self.scope == "account"


@dataclass(frozen=True)
class Contributor:
    kind: str
    id: str
    name: str
    actual_cost: Decimal | None
    expected_cost: Decimal | None
    change: Decimal | None
    share_of_change: Decimal | None

    @property
    def label(self) -> str:
        """`job nightly etl`, `tag team=ml`: the kind, then the name where there is one, else the id."""
        return f"{self.kind} {self.name or self.id}"


@dataclass(frozen=True)
class Anomaly:
    anomaly_id: str
    usage_date: date
    scope_type: str
    scope_id: str
    scope_name: str
    currency: str
    cost_basis: str
    actual_cost: Decimal
    expected_cost: Decimal
    deviation: Decimal
    deviation_percent: Decimal | None
    direction: str
    contributors: list[Contributor]

    @property
    def scope(self) -> str:
        name = self.scope_name or self.scope_id
        return self.scope_type if self.scope_type == "account" else f"{self.scope_type} {name}"

    @property
    def top_contributor(self) -> Contributor | None:
        return self.contributors[0] if self.contributors else None


@dataclass
class Outlook:
    """The forecasts of the latest month, each budget's latest month and every anomaly, newest first."""

    forecasts_built: bool = False
    budgets_built: bool = False
    anomalies_built: bool = False
    forecasts: list[Forecast] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)

    def account_forecast(self, currency: str, basis: str | None = None) -> Forecast | None:
        """The account's forecast in `currency`: on `basis` where given and forecast, else the preferred basis."""
        found = {f.cost_basis: f for f in self.forecasts if f.scope_type == "account" and f.currency == currency}
        order = ([basis] if basis else []) + [b for b in BASIS_PREFERENCE if b != basis] + sorted(found)
        return next((found[b] for b in order if b in found), None)

    def scope_forecasts(self, scope_type: str, currency: str, basis: str) -> dict[str, Forecast]:
        """scope id -> forecast, for one kind of scope, currency and cost basis."""
        return {
            f.scope_id: f
            for f in self.forecasts
            if (f.scope_type, f.currency, f.cost_basis) == (scope_type, currency, basis)
        }


def gather_outlook(store: TableReader) -> Outlook:
    """The forecast, budget and anomaly figures, with which of their tables exist."""
    outlook = Outlook(
        forecasts_built=store.version(COST_FORECAST) is not None,
        budgets_built=store.version(BUDGET_STATUS) is not None,
        anomalies_built=store.version(COST_ANOMALIES) is not None,
    )
    if outlook.forecasts_built:
        outlook.forecasts = _forecasts(store.read_arrow(COST_FORECAST).to_pylist())
    if outlook.budgets_built:
        scopes = {r["budget_name"]: budget_scope(r) for r in store.read_arrow(BUDGETS).to_pylist()}
        outlook.budgets = _budgets(store.read_arrow(BUDGET_STATUS).to_pylist(), scopes)
    if outlook.anomalies_built:
        rows = store.read_arrow(COST_ANOMALIES).to_pylist()
        outlook.anomalies = sorted(
            (_anomaly(r) for r in rows), key=lambda a: (a.usage_date, abs(a.deviation), a.anomaly_id), reverse=True
        )
    return outlook


def budget_scope(row: dict[str, Any]) -> str:
    """What a silver.budgets row covers, in words: `account` when it is not narrowed at all."""
    parts = []
    if row.get("workspace_ids"):
        parts.append("workspaces " + ", ".join(row["workspace_ids"]))
    if row.get("tag_key"):
        parts.append(f"tag {row['tag_key']}={row.get('tag_value') or '*'}")
    if row.get("sku_pattern"):
        parts.append(f"SKU {row['sku_pattern']}")
    return "; ".join(parts) or "account"


def _forecasts(rows: Sequence[dict[str, Any]]) -> list[Forecast]:
    """The latest month's projection per scope, basis and currency, its days in order."""
    if not rows:
        return []
    latest = max(r["month"] for r in rows)
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["month"] == latest:
            groups.setdefault((r["scope_type"], r["scope_id"], r["currency_code"], r["cost_basis"]), []).append(r)
    forecasts = []
    for (scope_type, scope_id, currency, basis), days in sorted(groups.items()):
        days.sort(key=lambda r: r["usage_date"])
        first = days[0]
        as_of = first["as_of_date"]
        to_date = [r for r in days if r["usage_date"] <= as_of]
        spend = to_date[-1]["cumulative_cost"] if to_date else None
        forecasts.append(
            Forecast(
                month=latest,
                scope_type=scope_type,
                scope_id=scope_id,
                scope_name=first["scope_name"] or "",
                currency=currency,
                cost_basis=basis,
                as_of_date=as_of,
                spend_to_date=spend if spend is not None else Decimal(0),
                month_end=first["month_end_forecast"],
                month_end_lower=first["month_end_lower"],
                month_end_upper=first["month_end_upper"],
                model=first["model"] or "",
                days=[
                    ForecastDay(
                        r["usage_date"],
                        r["actual_cost"],
                        r["cumulative_cost"],
                        r["cumulative_lower"],
                        r["cumulative_upper"],
                    )
                    for r in days
                ],
            )
        )
    return forecasts


def _budgets(rows: Sequence[dict[str, Any]], scopes: dict[str, str]) -> list[Budget]:
    """Each budget's latest month (a budget with no usage this month keeps its last month's row)."""
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["budget_name"] not in latest or r["month"] > latest[r["budget_name"]]["month"]:
            latest[r["budget_name"]] = r
    return [
        Budget(
            month=r["month"],
            name=name,
            source=r["budget_source"] or "",
            scope=scopes.get(name, "account"),
            currency=r["currency_code"],
            cost_basis=r["cost_basis"],
            amount=r["amount"],
            as_of_date=r["as_of_date"],
            spend_to_date=r["spend_to_date"] if r["spend_to_date"] is not None else Decimal(0),
            percent_used=r["percent_used"],
            forecast=r["forecast_month_end"],
            forecast_lower=r["forecast_lower"],
            forecast_upper=r["forecast_upper"],
            forecast_percent=r["forecast_percent"],
            breach_date=r["projected_breach_date"],
            thresholds=list(r["thresholds"] or []),
            thresholds_crossed=list(r["thresholds_crossed"] or []),
            status=r["status"] or "",
        )
        for name, r in sorted(latest.items())
    ]


def _anomaly(r: dict[str, Any]) -> Anomaly:
    contributors = [
        Contributor(
            c["kind"] or "",
            c["id"] or "",
            c["name"] or "",
            c["actual_cost"],
            c["expected_cost"],
            c["change"],
            c["share_of_change"],
        )
        for c in r["top_contributors"] or []
    ]
    return Anomaly(
        anomaly_id=r["anomaly_id"],
        usage_date=r["usage_date"],
        scope_type=r["scope_type"],
        scope_id=r["scope_id"] or "",
        scope_name=r["scope_name"] or "",
        currency=r["currency_code"],
        cost_basis=r["cost_basis"],
        actual_cost=r["actual_cost"],
        expected_cost=r["expected_cost"],
        deviation=r["deviation"],
        deviation_percent=r["deviation_percent"],
        direction=r["direction"] or "",
        contributors=contributors,
    )
