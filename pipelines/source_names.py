"""Names of the sources, in one place every layer may import.

Ingest sources name what bronze landed (`_source`, `ingest_log.source`, `quarantine.source`); usage
sources are the `source` column of silver usage and gold, which several ingest sources may feed.
"""

from __future__ import annotations

# Ingest sources.
LEGACY_CSV = "legacy_csv"
ACCOUNT_API = "account_api"
SYSTEM_USAGE = "system_usage"
LIST_PRICES = "list_prices"
ACCOUNT_PRICES = "account_prices"
DREMIO = "dremio"
ACCOUNT_BUDGETS = "account_budgets"  # budget configurations, not usage

# Usage sources (silver and gold `source`).
USAGE_LEGACY_CSV = "legacy_csv"
USAGE_SYSTEM_TABLES = "system_tables"
USAGE_DREMIO = "dremio"

# The usage source each ingest source feeds (price sources feed none).
USAGE_SOURCE_OF = {
    LEGACY_CSV: USAGE_LEGACY_CSV,
    ACCOUNT_API: USAGE_LEGACY_CSV,
    SYSTEM_USAGE: USAGE_SYSTEM_TABLES,
    DREMIO: USAGE_DREMIO,
}
