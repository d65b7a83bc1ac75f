"""Configuration of the usage APIs (Databricks Account API, Dremio Cloud) and of rate cards."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from pipelines.config.reader import YamlReader, resolve_path

CLOUDS = ("AWS", "AZURE", "GCP")
DREMIO_FREQUENCIES = ("HOURLY", "DAILY")
DREMIO_GROUPINGS = ("PROJECT", "ENGINE")
DREMIO_MAX_DAYS_BACK = 365  # the usage API serves at most one year of history


@dataclass(frozen=True)
class AccountApiSource:
    """Legacy billable usage downloaded month by month through the Databricks Account API.

    Each month's download is split into `workspaceId=<id>-usageMonth=<yyyy-mm>.csv` files in `landing`,
    which then land exactly like delivered files. Credentials are whatever the Databricks SDK finds in
    its environment variables or profile; `host` falls back to DATABRICKS_HOST, then the AWS account host.
    """

    landing: str
    start_month: str
    end_month: str | None = None  # None: the current month
    refresh_months: int = 2  # the newest months are downloaded again every run (they grow month to date)
    personal_data: bool = False
    host: str | None = None
    timeout_seconds: int = 300


@dataclass(frozen=True)
class AccountBudgetsSource:
    """The account's own budgets, read whole each run through the Databricks SDK (`AccountClient.budgets`).

    Credentials are what the SDK finds in its environment variables or profile, as for `account_api`;
    `host` falls back to DATABRICKS_HOST, then the AWS account host (`--set sources.account_budgets.host=` given
    empty switches the source off).
    """

    host: str | None = None
    timeout_seconds: int = 300  # how long the SDK may keep retrying 429/503


@dataclass(frozen=True)
class DremioSource:
    """Dremio Cloud DCU usage from `GET /v0/usage`, at one grain (frequency and grouping) per config."""

    base_url: str = "https://api.dremio.cloud"
    token_variable: str = "DREMIO_TOKEN"
    frequency: str = "HOURLY"
    group_by: str = "PROJECT"
    backfill_days: int = 30  # how far back the first run fetches
    refetch_hours: int = 24  # each run fetches again from this long before the last fetched hour (late usage)
    page_size: int = 100
    max_pages: int = 1000  # per request window; more is an error rather than an endless loop
    timeout_seconds: int = 300  # total time one request may spend retrying 429/503
    sku_name: str = "DREMIO_DCU"
    cloud: str = "AWS"

    @property
    def grain(self) -> str:
        return f"{self.group_by}/{self.frequency}"


@dataclass(frozen=True)
class RateWindow:
    """One price of a rate card, valid in [start, end) (end None: open)."""

    start: datetime
    end: datetime | None
    list_price: Decimal
    effective_price: Decimal


@dataclass(frozen=True)
class RateCard:
    """Prices for usage the Databricks list prices do not cover, such as Dremio DCUs."""

    sku_name: str
    cloud: str
    usage_unit: str
    currency_code: str
    windows: tuple[RateWindow, ...]


def is_variable_name(value: str) -> bool:
    """An environment variable's name, not a token pasted in its place (`dapi...`, long random letters and digits)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) or re.match(r"(?i)(dapi|dose|dkea|dsapi|eyJ)", value):
        return False
    # names are words joined by underscores; a token is one long run of letters and digits, or many digits
    longest_word = max(len(word) for word in value.split("_"))
    return longest_word < 20 and sum(c.isdigit() for c in value) < 6


def account_api_source(reader: YamlReader, raw: object, base: Path, warehouse: str) -> AccountApiSource | None:
    if raw is None:
        return None
    key = "sources.account_api"
    settings = reader.mapping(raw, key)
    allowed = {"landing", "start_month", "end_month", "refresh_months", "personal_data", "host", "timeout_seconds"}
    reader.unknown_keys(settings, allowed, key)
    start = reader.month(settings, "start_month", f"{key}.start_month")
    if start is None:
        raise reader.fail(f"{key}.start_month", "the first month to download, quoted YYYY-MM")
    end = reader.month(settings, "end_month", f"{key}.end_month")
    if end is not None and end < start:
        raise reader.fail(f"{key}.end_month", f"a month not before start_month {start}", end)
    host = reader.url(settings, "host", f"{key}.host", "https://accounts.cloud.databricks.com")
    default_landing = str(Path(warehouse) / "_landing" / "account_api") if "://" not in warehouse else None
    landing = settings.get("landing", default_landing)
    if landing is None:
        raise reader.fail(f"{key}.landing", "a folder for the downloaded month files (the warehouse is not local)")
    return AccountApiSource(
        landing=resolve_path(base, reader.string({"landing": landing}, "landing", f"{key}.landing")),
        start_month=start,
        end_month=end,
        refresh_months=reader.integer(
            settings, "refresh_months", f"{key}.refresh_months", 2, 0 if end is not None else 1, 24
        ),
        personal_data=reader.boolean(settings, "personal_data", f"{key}.personal_data", False),
        host=host,
        timeout_seconds=reader.integer(settings, "timeout_seconds", f"{key}.timeout_seconds", 300, 1, 3600),
    )


def account_budgets_source(reader: YamlReader, raw: object) -> AccountBudgetsSource | None:
    if raw is None:
        return None
    key = "sources.account_budgets"
    settings = reader.mapping(raw, key)
    defaults = AccountBudgetsSource()
    reader.unknown_keys(settings, {"host", "timeout_seconds"}, key)
    return AccountBudgetsSource(
        host=reader.url(settings, "host", f"{key}.host", "https://accounts.cloud.databricks.com"),
        timeout_seconds=reader.integer(
            settings, "timeout_seconds", f"{key}.timeout_seconds", defaults.timeout_seconds, 1, 3600
        ),
    )


def dremio_source(reader: YamlReader, raw: object) -> DremioSource | None:
    if raw is None:
        return None
    key = "sources.dremio"
    settings = reader.mapping(raw, key)
    defaults = DremioSource()
    reader.unknown_keys(settings, set(defaults.__dataclass_fields__), key)
    base_url = reader.url(settings, "base_url", f"{key}.base_url", "https://api.dremio.cloud", defaults.base_url)
    token_variable = reader.string(settings, "token_variable", f"{key}.token_variable", defaults.token_variable)
    if not is_variable_name(token_variable):
        raise reader.fail(
            f"{key}.token_variable",
            "the NAME of an environment variable holding the token, such as DREMIO_TOKEN (the value given"
            " looks like a token itself, so it is not shown: put the token in the environment, not the file)",
        )
    return DremioSource(
        base_url=str(base_url),
        token_variable=token_variable,
        frequency=reader.choice(settings, "frequency", f"{key}.frequency", DREMIO_FREQUENCIES, defaults.frequency),
        group_by=reader.choice(settings, "group_by", f"{key}.group_by", DREMIO_GROUPINGS, defaults.group_by),
        backfill_days=reader.integer(
            settings, "backfill_days", f"{key}.backfill_days", defaults.backfill_days, 1, DREMIO_MAX_DAYS_BACK
        ),
        refetch_hours=reader.integer(
            settings, "refetch_hours", f"{key}.refetch_hours", defaults.refetch_hours, 0, 24 * 90
        ),
        page_size=reader.integer(settings, "page_size", f"{key}.page_size", defaults.page_size, 1, 10_000),
        max_pages=reader.integer(settings, "max_pages", f"{key}.max_pages", defaults.max_pages, 1, 1_000_000),
        timeout_seconds=reader.integer(
            settings, "timeout_seconds", f"{key}.timeout_seconds", defaults.timeout_seconds, 1, 3600
        ),
        sku_name=reader.string(settings, "sku_name", f"{key}.sku_name", defaults.sku_name),
        cloud=reader.choice(settings, "cloud", f"{key}.cloud", CLOUDS, defaults.cloud),
    )


def load_rate_cards(path: Path) -> tuple[RateCard, ...]:
    """Load and check rate cards: exact prices, and windows that start before they end."""
    reader = YamlReader(path)
    reader.unknown_keys(reader.data, {"version", "rate_cards"}, "")
    cards = reader.data.get("rate_cards") or []
    if not isinstance(cards, list):
        raise reader.fail("rate_cards", "a list of rate cards", cards)
    loaded = []
    for index, card in enumerate(cards):
        key = f"rate_cards[{index}]"
        card = reader.mapping(card, key)
        reader.unknown_keys(card, {"sku_name", "cloud", "usage_unit", "currency_code", "windows"}, key)
        windows = card.get("windows")
        if not isinstance(windows, list) or not windows:
            raise reader.fail(f"{key}.windows", "a non-empty list of {start, end, price} windows", windows)
        parsed = []
        for number, window in enumerate(windows):
            where = f"{key}.windows[{number}]"
            window = reader.mapping(window, where)
            reader.unknown_keys(window, {"start", "end", "price", "effective_price"}, where)
            start, end = (
                reader.instant(window, "start", f"{where}.start"),
                reader.instant(window, "end", f"{where}.end"),
            )
            if start is None:
                raise reader.fail(f"{where}.start", "the instant the price starts, such as 2024-01-01T00:00:00Z")
            if end is not None and end <= start:
                raise reader.fail(f"{where}.end", f"an instant after start {start.isoformat()}", end.isoformat())
            price = reader.price(window, "price", f"{where}.price")
            if price is None:
                raise reader.fail(f"{where}.price", 'the list price per unit, quoted, such as "0.39"')
            effective = reader.price(window, "effective_price", f"{where}.effective_price")
            parsed.append(RateWindow(start, end, price, price if effective is None else effective))
        currency = reader.string(card, "currency_code", f"{key}.currency_code", "USD")
        if not re.fullmatch(r"[A-Z]{2,3}", currency):
            raise reader.fail(f"{key}.currency_code", "an upper-case currency code such as USD", currency)
        loaded.append(
            RateCard(
                sku_name=reader.string(card, "sku_name", f"{key}.sku_name"),
                cloud=reader.choice(card, "cloud", f"{key}.cloud", CLOUDS, "AWS"),
                usage_unit=reader.string(card, "usage_unit", f"{key}.usage_unit"),
                currency_code=currency,
                windows=tuple(parsed),
            )
        )
    _check_no_overlaps(reader, loaded)
    return tuple(loaded)


def _check_no_overlaps(reader: YamlReader, cards: list[RateCard]) -> None:
    """Two windows of one SKU, cloud, unit and currency must not share time (usage would be priced twice)."""
    by_key: dict[tuple[str, str, str, str], list[RateWindow]] = {}
    for card in cards:
        by_key.setdefault((card.sku_name, card.cloud, card.usage_unit, card.currency_code), []).extend(card.windows)
    for key, windows in by_key.items():
        ordered = sorted(windows, key=lambda w: w.start)
        for before, after in itertools.pairwise(ordered):
            if before.end is None or before.end > after.start:
                raise reader.fail(
                    "rate_cards",
                    f"windows of {'/'.join(key)} that do not overlap",
                    f"one from {before.start.isoformat()} overlaps one from {after.start.isoformat()}",
                )
