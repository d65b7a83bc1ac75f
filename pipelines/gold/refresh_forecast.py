"""Refresh gold.cost_forecast and gold.budget_status: only the scopes whose recent daily cost changed.

gold.cost_forecast holds the month of the latest usage date; earlier months keep their last forecast.
A run whose inputs (gold.cost_by_workload, gold.cost_by_tag, silver.budgets) did not move writes nothing.
When they moved, every scope's series over the model's lookback window is read (small: scopes x 56 days)
and fingerprinted; the commit records the fingerprints, so the next run recomputes only the scopes whose
fingerprint changed (or that are new) and carries the other scopes' rows over unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

from pyspark.sql import functions as F

from pipelines.config import PipelineConfig, fingerprint_of
from pipelines.forecast.model import forecast_month
from pipelines.gold import forecast
from pipelines.gold.budget_status import budget_status_row
from pipelines.incremental import date_partitions, plan
from pipelines.logs import fields, progress
from pipelines.storage import Replace, TableStore
from pipelines.tables import BUDGET_STATUS, BUDGETS, COST_BY_TAG, COST_BY_WORKLOAD, COST_FORECAST

log = logging.getLogger(__name__)

FORECAST_VERSION = "cost-forecast-v1"
BUDGET_STATUS_VERSION = "budget-status-v1"
MONTH_COLUMN = "month"


def latest_usage_date(store: TableStore) -> date | None:
    """The latest usage date in gold.cost_by_workload, from its log's partition values alone."""
    values = [p.get("usage_date") for p in store.partition_values(COST_BY_WORKLOAD)]
    return max((date.fromisoformat(v) for v in values if v), default=None)


def read_budgets(store: TableStore) -> list[dict[str, Any]]:
    """silver.budgets as Python rows (few); a table never written means no budgets."""
    if store.version(BUDGETS) is None:
        return []
    return [row.asDict() for row in store.read(BUDGETS).collect()]


def _month_partition(month: date) -> list[dict[str, str]]:
    return [{MONTH_COLUMN: month.isoformat()}]


def refresh_forecast(store: TableStore, config: PipelineConfig) -> int | None:
    """Recompute the month-end forecast of the scopes whose daily cost in the lookback window changed."""
    fingerprint = fingerprint_of({"workspace_names": config.workspace_names, "model": FORECAST_VERSION})
    todo = plan(store, COST_FORECAST, [COST_BY_WORKLOAD, COST_BY_TAG, BUDGETS], fingerprint)
    if not todo.inputs_moved:
        log.info("%s is up to date: its inputs are at the versions it last consumed %s", COST_FORECAST, todo.versions)
        return None
    as_of = latest_usage_date(store)
    if as_of is None:
        log.info("%s: no usage yet, nothing to forecast", COST_FORECAST)
        return None
    month = as_of.replace(day=1)
    budgets = read_budgets(store)
    window = date_partitions(forecast.window_dates(as_of))
    series = forecast.all_series(
        store.read(COST_BY_WORKLOAD, window), store.read(COST_BY_TAG, window), budgets, config.workspace_names
    )
    histories = forecast.histories((row.asDict() for row in series.collect()), budgets)
    fingerprints = {scope.key: forecast.series_fingerprint(history, as_of) for scope, history in histories.items()}

    last = store.last_commit(COST_FORECAST)
    previous: Mapping[str, str] = {}
    if (
        last is not None
        and last.metadata.get("fingerprint") == fingerprint
        and last.metadata.get("month") == month.isoformat()
    ):
        previous = last.metadata.get("scopes") or {}
    changed = sorted(scope for scope in histories if previous.get(scope.key) != fingerprints[scope.key])
    removed = sorted(set(previous) - set(fingerprints))
    metadata: dict[str, Any] = {
        "inputs": todo.versions,
        "fingerprint": fingerprint,
        "month": month.isoformat(),
        "as_of": as_of.isoformat(),
        "scopes": fingerprints,
        "changed": {"usage_months": [month.isoformat()[:7]], "scopes": [s.key for s in changed], "removed": removed},
    }
    why = "; ".join(todo.reasons)
    if not changed and not removed:
        log.info("%s: no scope's daily cost changed in the lookback window (%s)", COST_FORECAST, why)
        return store.write(
            COST_FORECAST, store.empty(COST_FORECAST), Replace.where([]), {**metadata, "changed": {"usage_dates": []}}
        )
    names = ", ".join(scope.describe() for scope in changed)
    progress(
        f"{COST_FORECAST}: forecasting {len(changed)} of {len(histories)} scopes as of {as_of}",
        table=str(COST_FORECAST),
        scopes=len(changed),
    )
    log.info(
        "forecasting %s as of %s for %d of %d scopes (%s)%s because %s",
        COST_FORECAST,
        as_of,
        len(changed),
        len(histories),
        names,
        f", dropping {', '.join(removed)}" if removed else "",
        why,
        extra=fields(table=str(COST_FORECAST), scopes=[s.key for s in changed], removed=removed, reasons=todo.reasons),
    )
    rows = [row for scope in changed for row in forecast.forecast_rows(scope, forecast_month(histories[scope], as_of))]
    kept = {scope.key for scope in histories if scope not in changed}
    if kept:
        key = F.concat_ws("|", "scope_type", "scope_id", "currency_code", "cost_basis")
        carried = store.read(COST_FORECAST, _month_partition(month)).where(key.isin(sorted(kept)))
        rows += [tuple(row) for row in store.conform(COST_FORECAST, carried).collect()]
    data = store.spark.createDataFrame(rows, COST_FORECAST.schema())
    version = store.write(COST_FORECAST, data, Replace.where(_month_partition(month)), metadata)
    progress(f"{COST_FORECAST}: written as version {version}", table=str(COST_FORECAST), version=version)
    return version


def refresh_budget_status(store: TableStore, config: PipelineConfig) -> int | None:
    """Rebuild the budget status of the forecast's month when the forecast or the budgets moved."""
    todo = plan(store, BUDGET_STATUS, [COST_FORECAST, BUDGETS], BUDGET_STATUS_VERSION)
    if not todo.inputs_moved:
        log.info("%s is up to date: its inputs are at the versions it last consumed %s", BUDGET_STATUS, todo.versions)
        return None
    last = store.last_commit(COST_FORECAST)
    month_text = None if last is None else last.metadata.get("month")
    if month_text is None:
        return None
    month = date.fromisoformat(month_text)
    budgets = read_budgets(store)
    forecast_rows = store.read(COST_FORECAST, _month_partition(month)).where(F.col("scope_type") == "budget").collect()
    by_scope: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in forecast_rows:
        by_scope.setdefault((row["scope_id"], row["currency_code"], row["cost_basis"]), []).append(row.asDict())
    rows = []
    for budget in budgets:
        status = budget_status_row(
            budget, by_scope.get((budget["budget_name"], budget["currency_code"], budget["cost_basis"]), [])
        )
        if status is not None:
            rows.append(status)
    log.info(
        "rebuilding %s for %s: %d budgets because %s", BUDGET_STATUS, month_text[:7], len(rows), "; ".join(todo.reasons)
    )
    metadata = {
        "inputs": todo.versions,
        "fingerprint": BUDGET_STATUS_VERSION,
        "month": month.isoformat(),
        "changed": {"usage_months": [month_text[:7]]},
    }
    data = store.spark.createDataFrame(rows, BUDGET_STATUS.schema())
    return store.write(BUDGET_STATUS, data, Replace.where(_month_partition(month)), metadata)
