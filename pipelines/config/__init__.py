"""Typed, validated configuration: `pipeline.yml` (`pipeline`), the usage APIs and rate cards (`apis`), and the
YAML reading every part shares (`reader`)."""

from __future__ import annotations

from pipelines.config.apis import AccountApiSource, DremioSource, RateCard, RateWindow
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
    "DremioSource",
    "ListPricesSource",
    "PipelineConfig",
    "RateCard",
    "RateWindow",
    "SystemUsageSource",
    "Workspace",
    "fingerprint_of",
    "load_config",
]
