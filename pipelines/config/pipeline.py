"""Typed, validated pipeline configuration.

`load_config` reads `pipeline.yml` (and the SKU catalog it names) into frozen dataclasses and
checks every value before anything is written. A bad value raises `ConfigError` naming the file,
the key and what was expected. Relative paths are resolved against the config file's folder, so
a scheduled job behaves the same whatever its working directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipelines.config.anomalies import AnomalySettings, load_anomalies
from pipelines.config.apis import (
    CLOUDS,
    AccountApiSource,
    AccountBudgetsSource,
    DremioSource,
    RateCard,
    account_api_source,
    account_budgets_source,
    dremio_source,
    load_rate_cards,
)
from pipelines.config.budgets import Budget, load_budgets
from pipelines.config.discounts import DiscountRule, load_discounts
from pipelines.config.focus import FocusSettings, load_focus
from pipelines.config.reader import YamlReader, resolve_path

log = logging.getLogger(__name__)

STORAGE_BACKENDS = ("auto", "delta-rs", "delta-spark")
TIERS = ("STANDARD", "PREMIUM", "ENTERPRISE")
EXPORT_FORMATS = ("parquet", "csv", "json")
DEFAULT_LOOKBACK_DAYS = 3
# How long a run waits for another run on the same warehouse to finish before it gives up.
DEFAULT_LEASE_WAIT_SECONDS = 300
# The longest record a delivered file may hold; a file with a longer one is rejected, never read into memory.
DEFAULT_MAX_RECORD_BYTES = 1024 * 1024
_TEMPLATE_FIELD = re.compile(r"{(\w*)}")
# The key that switches each optional source on. Given empty (`--set sources.dremio.base_url=`), the source is off
# whatever its other keys say: a scheduler that passes every setting of a source (a bundle's variables) leaves it
# out by leaving one value unset.
SOURCE_SWITCHES = {
    "legacy_csv": "path",
    "account_api": "start_month",
    "dremio": "base_url",
    "account_prices": "table",
    "account_budgets": "host",
}


@dataclass(frozen=True)
class Workspace:
    """What a legacy CSV row does not say about its workspace."""

    workspace_id: str
    cloud: str
    tier: str
    region: str


@dataclass(frozen=True)
class SkuCatalog:
    """Deprecated SKU names with their current-name templates, and region SKU suffixes."""

    deprecated: dict[str, str]
    regions: dict[str, str]

    def current_name(self, delivered: str, workspace: Workspace) -> str | None:
        """The current SKU name for a deprecated one in this workspace; None if not deprecated."""
        template = self.deprecated.get(delivered)
        if template is None:
            return None
        return template.format(tier=workspace.tier, region=self.regions[workspace.region])


@dataclass(frozen=True)
class LegacyCsvSource:
    """Where legacy billable-usage CSV deliveries are: a local folder or an s3:// prefix."""

    path: str


@dataclass(frozen=True)
class ListPricesSource:
    """A price table read whole: `system.billing.list_prices` (or `account_prices`), or an export of it."""

    path: str | None
    format: str
    table: str | None = None


@dataclass(frozen=True)
class SystemUsageSource:
    """`system.billing.usage`: the table itself (read by Spark), or exports of it in a landing folder.

    A table is read incrementally by `ingestion_date`, starting `lookback_days` before the newest
    ingestion date already landed, because records for old usage dates keep arriving.
    """

    path: str | None
    format: str
    table: str | None = None
    lookback_days: int = DEFAULT_LOOKBACK_DAYS


@dataclass(frozen=True)
class PipelineConfig:
    """Everything one run needs to know."""

    source_file: str
    warehouse: str
    storage: str
    currency: str
    account_id: str | None
    legacy_csv: LegacyCsvSource | None
    list_prices: ListPricesSource | None
    system_usage: SystemUsageSource | None
    workspaces: dict[str, Workspace]
    skus: SkuCatalog
    account_api: AccountApiSource | None = None
    dremio: DremioSource | None = None
    rate_cards: tuple[RateCard, ...] = ()
    catalog: str | None = None
    schemas: dict[str, str] = field(default_factory=dict)
    spark_conf: dict[str, str] = field(default_factory=dict)
    lease_wait_seconds: int = DEFAULT_LEASE_WAIT_SECONDS
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    workspace_names: dict[str, str] = field(default_factory=dict)  # workspace id -> name, for display only
    account_prices: ListPricesSource | None = None  # the account's contracted prices, same shapes as list prices
    discounts: tuple[DiscountRule, ...] = ()
    focus: FocusSettings = field(default_factory=FocusSettings)
    anomalies: AnomalySettings = field(default_factory=AnomalySettings)
    budgets: tuple[Budget, ...] = ()
    account_budgets: AccountBudgetsSource | None = None  # the account's own budgets (AccountClient.budgets)

    @property
    def dremio_grain(self) -> tuple[str, str, str, str] | None:
        """What shapes silver's Dremio rows: frequency, grouping, SKU name and cloud."""
        if self.dremio is None:
            return None
        return (self.dremio.frequency, self.dremio.group_by, self.dremio.sku_name, self.dremio.cloud)

    @property
    def uses_s3(self) -> bool:
        """True when the warehouse or a delivery location is on S3 (local Spark then loads the S3A connector)."""
        sources = (self.legacy_csv, self.system_usage, self.list_prices, self.account_prices)
        locations = [self.warehouse, *(s.path for s in sources if s)]
        if self.account_api is not None:
            locations.append(self.account_api.landing)
        return any(str(path).startswith(("s3://", "s3a://")) for path in locations if path)

    def fingerprint(self, *parts: str) -> str:
        """A short hash of the named settings, so a table knows when its inputs' meaning changed."""
        return fingerprint_of({name: getattr(self, name) for name in parts})


def fingerprint_of(value: Any) -> str:
    """A short, stable hash of settings (dataclasses, mappings, sequences, decimals, instants)."""
    return hashlib.sha256(json.dumps(_jsonable(value), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _jsonable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    return value


def load_skus(path: Path) -> SkuCatalog:
    """Load and check the deprecated-SKU catalog."""
    reader = YamlReader(path)
    reader.unknown_keys(reader.data, {"version", "regions", "deprecated"}, "")
    regions = reader.mapping(reader.data.get("regions", {}), "regions")
    deprecated = reader.mapping(reader.data.get("deprecated", {}), "deprecated")
    for region, suffix in regions.items():
        reader.string(regions, region, f"regions.{region}")
        if not re.fullmatch(r"[A-Z0-9_]+", str(suffix)):
            raise reader.fail(f"regions.{region}", "an upper-case SKU suffix such as US_EAST_N_VIRGINIA", suffix)
    for name, template in deprecated.items():
        reader.string(deprecated, name, f"deprecated.{name}")
        fields = set(_TEMPLATE_FIELD.findall(str(template)))
        if not fields <= {"tier", "region"}:
            raise reader.fail(f"deprecated.{name}", "a SKU name that uses only {tier} and {region}", template)
    return SkuCatalog(
        deprecated={str(k): str(v) for k, v in deprecated.items()},
        regions={str(k): str(v) for k, v in regions.items()},
    )


def _workspaces(reader: YamlReader, raw: object, skus: SkuCatalog, skus_file: str) -> dict[str, Workspace]:
    workspaces: dict[str, Workspace] = {}
    for workspace_id, settings in reader.mapping(raw or {}, "workspaces").items():
        key = f"workspaces.{workspace_id}"
        if not re.fullmatch(r"\d+", str(workspace_id)):
            raise reader.fail(key, "a numeric workspace id as the key (quote it in YAML)", workspace_id)
        settings = reader.mapping(settings, key)
        reader.unknown_keys(settings, {"cloud", "tier", "region"}, key)
        region = reader.string(settings, "region", f"{key}.region")
        if region not in skus.regions:
            raise reader.fail(f"{key}.region", f"a region listed in {skus_file} (regions)", region)
        workspaces[str(workspace_id)] = Workspace(
            workspace_id=str(workspace_id),
            cloud=reader.choice(settings, "cloud", f"{key}.cloud", CLOUDS, "AWS"),
            tier=reader.choice(settings, "tier", f"{key}.tier", TIERS, "PREMIUM"),
            region=region,
        )
    return workspaces


def _workspace_names(reader: YamlReader, raw: object) -> dict[str, str]:
    """Names shown beside workspace ids (notebooks); any workspace, whatever its source."""
    names = reader.mapping(raw or {}, "workspace_names")
    for workspace_id in names:
        if not re.fullmatch(r"\d+", str(workspace_id)):
            raise reader.fail(f"workspace_names.{workspace_id}", "a numeric workspace id as the key (quote it)")
    return {str(k): reader.string(names, k, f"workspace_names.{k}") for k in names}


def _table_or_export(reader: YamlReader, raw: object, base: Path, key: str) -> tuple[str | None, str | None, str]:
    """(path, table, format) of a source given either as `table:` or as `path:` (+ `format:`)."""
    settings = reader.mapping(raw, key)
    reader.unknown_keys(settings, {"path", "format", "table", "lookback_days"}, key)
    if ("path" in settings) == ("table" in settings):
        raise reader.fail(key, "exactly one of `path` (an export) or `table` (a table Spark can read)", settings)
    if "table" in settings:
        table = reader.string(settings, "table", f"{key}.table")
        if not re.fullmatch(r"[\w`.-]+", table):
            raise reader.fail(f"{key}.table", "a table name such as system.billing.usage", table)
        return None, table, "table"
    path = reader.string(settings, "path", f"{key}.path")
    guessed = Path(path).suffix.lstrip(".").lower()
    default_format = guessed if guessed in EXPORT_FORMATS else "parquet"
    fmt = reader.choice(settings, "format", f"{key}.format", EXPORT_FORMATS, default_format)
    return resolve_path(base, path), None, fmt


def _price_table(reader: YamlReader, raw: object, base: Path, key: str) -> ListPricesSource | None:
    """`sources.list_prices` or `sources.account_prices`: a price table or its export, read whole."""
    if raw is None:
        return None
    if "lookback_days" in reader.mapping(raw, key):
        raise reader.fail(f"{key}.lookback_days", "no lookback_days (price tables are read whole)", "set")
    path, table, fmt = _table_or_export(reader, raw, base, key)
    return ListPricesSource(path=path, format=fmt, table=table)


def _system_usage(reader: YamlReader, raw: object, base: Path) -> SystemUsageSource | None:
    if raw is None:
        return None
    key = "sources.system_usage"
    path, table, fmt = _table_or_export(reader, raw, base, key)
    lookback = reader.mapping(raw, key).get("lookback_days", DEFAULT_LOOKBACK_DAYS)
    if not isinstance(lookback, int) or isinstance(lookback, bool) or not 0 <= lookback <= 365:
        raise reader.fail(f"{key}.lookback_days", "a whole number of days from 0 to 365", lookback)
    return SystemUsageSource(path=path, format=fmt, table=table, lookback_days=lookback)


def switched_on(sources: dict[str, Any]) -> dict[str, Any]:
    """The configured sources without those whose switch key (SOURCE_SWITCHES) is given empty."""
    on = {}
    for name, settings in sources.items():
        switch = SOURCE_SWITCHES.get(name)
        if switch and isinstance(settings, dict) and switch in settings and _empty(settings[switch]):
            log.debug("sources.%s is off: %s is empty", name, switch)
            continue
        on[name] = settings
    return on


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _on_object_store(location: str) -> bool:
    """True for a URI other than `file:` (s3://, s3a://, abfss://, dbfs:): not a local or mounted file system."""
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", location) is not None and not location.startswith("file:")


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> PipelineConfig:
    """Load `pipeline.yml` with `key=value` overrides applied, the SKU catalog it names, and check both."""
    file = Path(path)
    reader = YamlReader(file, overrides)
    data, base = reader.data, file.resolve().parent
    allowed = {"version", "warehouse", "storage", "currency", "account_id", "sources", "workspaces", "skus"}
    optional = {"rate_cards", "catalog", "schemas", "spark_conf", "lease_wait_seconds", "max_record_bytes"}
    optional |= {"anomalies"}
    optional |= {"workspace_names", "discounts", "focus", "budgets"}
    reader.unknown_keys(data, allowed | optional, "")

    skus_file = resolve_path(base, reader.string(data, "skus", "skus", "skus.yml"))
    skus = load_skus(Path(skus_file))

    sources = reader.mapping(data.get("sources") or {}, "sources")
    known_sources = {"legacy_csv", "list_prices", "account_prices", "system_usage", "account_api", "dremio"}
    known_sources |= {"account_budgets"}
    reader.unknown_keys(sources, known_sources, "sources")
    sources = switched_on(sources)
    legacy_csv = None
    if sources.get("legacy_csv") is not None:
        legacy = reader.mapping(sources["legacy_csv"], "sources.legacy_csv")
        reader.unknown_keys(legacy, {"path"}, "sources.legacy_csv")
        legacy_csv = LegacyCsvSource(path=resolve_path(base, reader.string(legacy, "path", "sources.legacy_csv.path")))

    currency = reader.string(data, "currency", "currency", "USD")
    if not re.fullmatch(r"[A-Z]{2,3}", currency):
        raise reader.fail("currency", "an upper-case currency code such as USD", currency)
    schemas = reader.mapping(data.get("schemas") or {}, "schemas")
    reader.unknown_keys(schemas, {"bronze", "silver", "gold"}, "schemas")
    spark_conf = reader.mapping(data.get("spark_conf") or {}, "spark_conf")
    account_id = None if _empty(data.get("account_id")) else data["account_id"]  # `--set account_id=`: none
    catalog = data.get("catalog")
    storage = reader.choice(data, "storage", "storage", STORAGE_BACKENDS, "auto")
    if catalog is not None and storage == "delta-rs":  # delta-rs writes paths only: the catalog would be ignored
        raise reader.fail("storage", "delta-spark or auto when catalog is set (Spark writes catalog tables)", storage)
    warehouse = resolve_path(base, reader.string(data, "warehouse", "warehouse"))
    if storage == "delta-rs" and _on_object_store(warehouse):  # refused before a session starts or a file is written
        raise reader.fail(
            "storage",
            f"delta-spark or auto for the warehouse {warehouse} (delta-rs writes to a local or mounted file system)",
            storage,
        )
    account_api = account_api_source(reader, sources.get("account_api"), base, warehouse)
    if account_api is not None and legacy_csv is not None:
        raise reader.fail(
            "sources.account_api",
            "either sources.legacy_csv or sources.account_api (both deliver the same legacy usage)",
            "both are set",
        )
    if account_api is not None and account_id is None:
        raise reader.fail("account_id", "the Databricks account id (sources.account_api downloads for it)")
    account_budgets = account_budgets_source(reader, sources.get("account_budgets"))
    if account_budgets is not None and account_id is None:
        raise reader.fail("account_id", "the Databricks account id (sources.account_budgets reads its budgets)")
    rate_cards: tuple[RateCard, ...] = ()
    if data.get("rate_cards") is not None:
        rate_cards = load_rate_cards(Path(resolve_path(base, reader.string(data, "rate_cards", "rate_cards"))))

    dremio = dremio_source(reader, sources.get("dremio"))
    if dremio is not None and not any(
        (c.sku_name, c.cloud, c.usage_unit, c.currency_code) == (dremio.sku_name, dremio.cloud, "DCU", currency)
        for c in rate_cards
    ):
        log.warning(
            "%s: no rate card prices %s on %s in DCU and %s: Dremio usage will be unpriced",
            file,
            dremio.sku_name,
            dremio.cloud,
            currency,
        )

    return PipelineConfig(
        source_file=str(file),
        warehouse=warehouse,
        storage=storage,
        currency=currency,
        account_id=None if account_id is None else reader.string(data, "account_id", "account_id"),
        legacy_csv=legacy_csv,
        list_prices=_price_table(reader, sources.get("list_prices"), base, "sources.list_prices"),
        account_prices=_price_table(reader, sources.get("account_prices"), base, "sources.account_prices"),
        system_usage=_system_usage(reader, sources.get("system_usage"), base),
        workspaces=_workspaces(reader, data.get("workspaces"), skus, skus_file),
        skus=skus,
        catalog=None if catalog is None else reader.string(data, "catalog", "catalog"),
        schemas={layer: reader.string(schemas, layer, f"schemas.{layer}") for layer in schemas},
        spark_conf={str(k): str(v) for k, v in spark_conf.items()},
        account_api=account_api,
        dremio=dremio,
        rate_cards=rate_cards,
        lease_wait_seconds=reader.integer(
            data, "lease_wait_seconds", "lease_wait_seconds", DEFAULT_LEASE_WAIT_SECONDS, 0, 24 * 3600
        ),
        max_record_bytes=reader.integer(
            data, "max_record_bytes", "max_record_bytes", DEFAULT_MAX_RECORD_BYTES, 1024, 1024**3
        ),
        workspace_names=_workspace_names(reader, data.get("workspace_names")),
        discounts=load_discounts(reader, data.get("discounts")),
        focus=load_focus(reader, data.get("focus")),
        anomalies=load_anomalies(reader, data.get("anomalies")),
        budgets=load_budgets(reader, data.get("budgets"), currency),
        account_budgets=account_budgets,
    )
