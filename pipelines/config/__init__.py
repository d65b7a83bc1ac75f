"""Typed, validated configuration: `pipeline.yml` (`pipeline`), the usage APIs and rate cards (`apis`), and the
YAML reading every part shares (`reader`)."""

from __future__ import annotations

from pipelines.config.apis import AccountApiSource, AccountBudgetsSource, DremioSource, RateCard, RateWindow
from pipelines.config.budgets import Budget
from pipelines.config.discounts import DiscountRule, globs_intersect
from pipelines.config.focus import FocusSettings
from pipelines.config.pipeline import (
    ListPricesSource,
    PipelineConfig,
    SystemUsageSource,
    Workspace,
    fingerprint_of,
    load_config,
)

__all__ = [
    "AccountApiSource",
    "AccountBudgetsSource",
    "Budget",
    "DiscountRule",
    "DremioSource",
    "FocusSettings",
    "ListPricesSource",
    "PipelineConfig",
    "RateCard",
    "RateWindow",
    "SystemUsageSource",
    "Workspace",
    "fingerprint_of",
    "globs_intersect",
    "load_config",
]
