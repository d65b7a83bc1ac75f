"""Refresh silver `budgets`: rewritten only when the configured budgets or the account's landed ones changed.

The commit records the configured budgets' fingerprint (with whether the account budgets source is on)
and the bronze version it read, so a run where neither moved writes nothing. With no budgets configured,
no account source and none ever written, the table stays unwritten (reads give an empty frame).
"""

from __future__ import annotations

import logging

from pipelines.config import PipelineConfig, fingerprint_of
from pipelines.incremental import plan
from pipelines.logs import fields, progress
from pipelines.silver.budgets import account_budget_rows, budgets_frame, config_budget_rows
from pipelines.storage import Replace, TableStore
from pipelines.tables import ACCOUNT_BUDGETS, BUDGETS

log = logging.getLogger(__name__)


def refresh_budgets(store: TableStore, config: PipelineConfig) -> int | None:
    """Rewrite silver budgets when their inputs changed; returns the new version, or None when up to date."""
    account_on = config.account_budgets is not None
    fingerprint = "budgets-v1-" + fingerprint_of({"budgets": config.budgets, "account": account_on})
    if not config.budgets and not account_on and store.version(BUDGETS) is None:
        return None  # no budgets, and none ever written
    todo = plan(store, BUDGETS, [ACCOUNT_BUDGETS] if account_on else [], fingerprint=fingerprint)
    if not todo.inputs_moved:
        log.info("%s is up to date: the configured and account budgets are the ones it holds", BUDGETS)
        return None
    log.info("rewriting %s because %s", BUDGETS, "; ".join(todo.reasons), extra=fields(reasons=todo.reasons))
    rows = config_budget_rows(config.budgets)
    if account_on and store.version(ACCOUNT_BUDGETS) is not None:
        delivered = [
            (row["budget_configuration_id"], row["display_name"], row["configuration_json"])
            for row in store.read_rows(ACCOUNT_BUDGETS)
        ]
        account_rows, warnings = account_budget_rows(sorted(delivered))
        for warning in warnings:
            log.warning("%s", warning)
        rows += account_rows
    metadata = {"inputs": todo.versions, "fingerprint": fingerprint, "changed": {"everything": True}}
    version = store.write(BUDGETS, budgets_frame(store.spark, rows), Replace.all(), metadata)
    progress(f"{BUDGETS}: {len(rows)} budgets written as version {version}", table=str(BUDGETS), version=version)
    return version
