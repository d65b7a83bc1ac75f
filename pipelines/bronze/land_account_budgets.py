"""Land the account's budget configurations in bronze: a full snapshot, replaced only when it changed.

Each run lists every configuration; when the set differs from what bronze holds (a budget added, changed
or deleted), bronze is replaced by the new snapshot and the listing logged. An unchanged listing writes
nothing. A failed listing is logged as failed and leaves bronze as it was.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

from pipelines import source_names
from pipelines.bronze.ingest_log import FAILED, LANDED, LandingResult, LogEntry, Run, append_entries
from pipelines.config import AccountBudgetsSource
from pipelines.errors import SourceApiError
from pipelines.logs import progress
from pipelines.sources.account_budgets import BudgetConfiguration, fetch_budget_configurations
from pipelines.storage import Replace, TableStore
from pipelines.tables import ACCOUNT_BUDGETS

SOURCE = source_names.ACCOUNT_BUDGETS


def _digest(configurations: list[BudgetConfiguration]) -> str:
    text = "\n".join(f"{c.budget_configuration_id}\t{c.configuration_json}" for c in configurations)
    return hashlib.sha256(text.encode()).hexdigest()


def _landed(store: TableStore) -> list[BudgetConfiguration]:
    rows = store.read_rows(ACCOUNT_BUDGETS) if store.version(ACCOUNT_BUDGETS) is not None else []
    landed = [
        BudgetConfiguration(r["budget_configuration_id"], r["display_name"], r["configuration_json"]) for r in rows
    ]
    return sorted(landed, key=lambda budget: budget.budget_configuration_id)


def land_account_budgets(store: TableStore, source: AccountBudgetsSource, account_id: str, run: Run) -> LandingResult:
    """List the budgets and replace bronze when they changed. Raises SourceApiError after logging the failure."""
    entry = LogEntry(SOURCE, f"{SOURCE}:{account_id}", "", 0, int(run.started_at.timestamp() * 1000), None, LANDED)
    try:
        url, configurations = fetch_budget_configurations(account_id, source.host, source.timeout_seconds)
    except SourceApiError as error:
        append_entries(store, run, [replace(entry, status=FAILED, error=str(error))])
        raise
    result = LandingResult()
    digest = _digest(configurations)
    if store.version(ACCOUNT_BUDGETS) is not None and _digest(_landed(store)) == digest:
        result.unchanged = 1
        return result
    rows = [
        (c.budget_configuration_id, c.display_name, c.configuration_json, SOURCE, url, digest, run.started_at)
        for c in configurations
    ]
    data = store.spark.createDataFrame(rows, ACCOUNT_BUDGETS.schema())
    metadata = {"run_id": run.run_id, "changed": {"everything": True}}
    version = store.write(ACCOUNT_BUDGETS, data, Replace.all(), metadata)
    size = sum(len(c.configuration_json) for c in configurations)
    entry = replace(entry, path=url, size=size, sha256=digest, table_version=version, modified_ms=_now_ms())
    entry = entry.with_counts(len(rows), len(rows), 0)
    append_entries(store, run, [entry])
    result.landed.append(entry)
    result.bronze_version = version
    progress(
        f"{SOURCE}: landed {len(rows)} budget configurations as version {version}",
        source=SOURCE,
        rows_read=len(rows),
        version=version,
    )
    return result


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
