"""Refresh silver `contracted_prices` and `discount_rules`: rebuilt only when their input changed.

Each commit records what it consumed (`inputs`, `fingerprint`) and which usage dates the change touches
(`changed.price_ranges`), so gold recomputes only those dates. Without an account-prices source or without
discount rules, a table that was never written stays unwritten (reads give an empty frame with its schema);
one written before is emptied once, and the dates its old rows covered are recorded as changed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pipelines.config import DiscountRule, fingerprint_of
from pipelines.incremental import plan
from pipelines.logs import fields, progress
from pipelines.silver.contracted import (
    CONTRACTED_VALUES,
    RULE_WINDOW,
    changed_rules,
    discount_rules_frame,
    rule_ranges,
    to_contracted_prices,
)
from pipelines.silver.refresh import write_price_windows
from pipelines.storage import Replace, TableStore
from pipelines.tables import ACCOUNT_PRICES, CONTRACTED_PRICES, DISCOUNT_RULES

log = logging.getLogger(__name__)


def _log_ranges(table: object, ranges: list[list[str | None]]) -> None:
    if ranges:
        affected = ", ".join(f"{start}..{end}" if end else f"{start} onwards" for start, end in ranges)
        log.info("changed %s apply to usage dates %s", table, affected, extra=fields(ranges=ranges))


def refresh_contracted_prices(store: TableStore, configured: bool) -> int | None:
    """Rebuild silver contracted prices when bronze account prices changed (or the source was switched on or off)."""
    fingerprint = "contracted-prices-v1-" + ("on" if configured else "off")
    if not configured and store.version(CONTRACTED_PRICES) is None:
        return None  # no account prices, and none ever written: nothing to say
    todo = plan(store, CONTRACTED_PRICES, [ACCOUNT_PRICES], fingerprint=fingerprint)
    if todo.scope.is_empty() and store.version(CONTRACTED_PRICES) is not None:
        log.info("%s is up to date: account prices unchanged since it was built", CONTRACTED_PRICES)
        return None
    log.info("rebuilding %s because %s", CONTRACTED_PRICES, "; ".join(todo.reasons), extra=fields(reasons=todo.reasons))
    bronze = store.read(ACCOUNT_PRICES) if configured else store.empty(ACCOUNT_PRICES)
    new = store.conform(CONTRACTED_PRICES, to_contracted_prices(bronze))
    return write_price_windows(store, CONTRACTED_PRICES, new, CONTRACTED_VALUES, todo, fingerprint)


def refresh_discount_rules(store: TableStore, rules: Sequence[DiscountRule]) -> int | None:
    """Rewrite silver discount rules when the configured rules changed; record the windows of the rules that did."""
    fingerprint = "discount-rules-v1-" + fingerprint_of(sorted(rules, key=lambda rule: rule.name))  # order is moot
    if not rules and store.version(DISCOUNT_RULES) is None:
        return None  # no rules, and none ever written
    todo = plan(store, DISCOUNT_RULES, [], fingerprint=fingerprint)
    if not todo.inputs_moved:
        log.info("%s is up to date: the configured rules are the ones it holds", DISCOUNT_RULES)
        return None
    new = store.conform(DISCOUNT_RULES, discount_rules_frame(store.spark, rules))
    differing = changed_rules(store.read(DISCOUNT_RULES), new).select(*RULE_WINDOW).collect()
    ranges = rule_ranges((row.rule_start_time, row.rule_end_time) for row in differing)
    _log_ranges(DISCOUNT_RULES, ranges)
    metadata = {"inputs": todo.versions, "fingerprint": fingerprint, "changed": {"price_ranges": ranges}}
    version = store.write(DISCOUNT_RULES, new, Replace.all(), metadata)
    progress(f"{DISCOUNT_RULES}: written as version {version}", table=str(DISCOUNT_RULES), version=version)
    return version
