"""Cost anomalies: days whose netted contracted cost for a scope departs from what its own history expects.

Scopes: the account, each workspace, each SKU group (`billing_origin_product`) and each custom tag value
(`key=value`, for the configured tag keys), per currency. Silver has already netted RETRACTION/RESTATEMENT
corrections, so a restatement that moves cost to another day or tag is compared as the corrected usage.

Expected value of day d: the median of the same weekday in each of the `weeks` weeks before d (d-7, d-14, ...),
a day of the scope without cost counting as 0. Only earlier days are read, the weekday carries the weekly
pattern, and a median of four weeks ignores one earlier anomaly. A day is evaluated only when the account had
usage (in that currency) on d and on each of those earlier days, so the first weeks of data and a day not
delivered yet raise nothing. It is flagged when |actual - expected| exceeds `threshold_percent` of |expected|
and is at least `min_change`.

Contributors compare the day's cost of each workload (job, pipeline, notebook, warehouse, endpoint, app,
cluster), tag value and identity inside the scope with its own baseline, computed the same way (a job new
that day has expected 0, so all its cost is change). Tag scopes are explained by the jobs and notebooks of
gold.cost_by_tag. Within each family (workloads, tag values, identities), contributors that moved in the
anomaly's direction are kept largest first until they explain 80% of the deviation. The family that needs the
fewest contributors for that comes first (workloads, then tag values, then identities on ties), largest change
first within a family, and the first `top_contributors` are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipelines.tables import CONTRIBUTOR

COST_BASIS = "contracted"
# Contributors of one family are kept until they explain this share of the deviation.
EXPLAINED_SHARE = 0.8
FAMILIES = {"workload": 0, "tag": 1, "identity": 2}
MONEY = "decimal(38,18)"


@dataclass(frozen=True)
class Detection:
    """What the transform needs from the config: thresholds, history, tag keys and display names."""

    threshold_percent: Decimal
    min_change: Decimal
    weeks: int
    top_contributors: int
    tag_keys: tuple[str, ...] | None = None  # None: every key
    account_name: str = "account"
    workspace_names: dict[str, str] = field(default_factory=dict)


def history_dates(dates: Iterable[date], weeks: int) -> list[date]:
    """The dates `dates` read: each day and the same weekday in each of the `weeks` weeks before it."""
    return sorted({day - timedelta(days=7 * lag) for day in dates for lag in range(weeks + 1)})


def dependent_dates(dates: Iterable[date], weeks: int) -> list[date]:
    """The dates whose anomalies read one of `dates`: each day and the same weekday `weeks` weeks after it."""
    return sorted({day + timedelta(days=7 * lag) for day in dates for lag in range(weeks + 1)})


def _in_scopes(rows: DataFrame) -> DataFrame:
    """Each row once per scope it counts in: the account, its workspace and its SKU group."""
    scopes = F.array(
        F.struct(F.lit("account").alias("scope_type"), F.lit("account").alias("scope_id")),
        F.struct(F.lit("workspace").alias("scope_type"), F.col("workspace_id").alias("scope_id")),
        F.struct(F.lit("sku_group").alias("scope_type"), F.col("billing_origin_product").alias("scope_id")),
    )
    exploded = rows.select("*", F.explode(scopes).alias("scope"))
    return exploded.select("*", "scope.scope_type", "scope.scope_id").drop("scope").where(F.col("scope_id").isNotNull())


def _tagged(tags: DataFrame, tag_keys: tuple[str, ...] | None) -> DataFrame:
    """Rows of gold.cost_by_tag for the configured keys, with `tag` as `key=value`."""
    chosen = tags if tag_keys is None else tags.where(F.col("tag_key").isin(list(tag_keys)))
    return chosen.withColumn("tag", F.concat_ws("=", "tag_key", "tag_value"))


def scope_costs(workload: DataFrame, tags: DataFrame, tag_keys: tuple[str, ...] | None) -> DataFrame:
    """Contracted cost per day, currency and scope (account, workspace, sku_group from every record; tag values)."""
    keys = ("usage_date", "currency_code", "scope_type", "scope_id")
    by_scope = _in_scopes(workload).groupBy(*keys).agg(F.sum("contracted_cost").alias("cost"))
    tagged = _tagged(tags, tag_keys).select(
        "usage_date",
        "currency_code",
        F.lit("tag").alias("scope_type"),
        F.col("tag").alias("scope_id"),
        "contracted_cost",
    )
    by_tag = tagged.groupBy(*keys).agg(F.sum("contracted_cost").alias("cost"))
    return by_scope.unionByName(by_tag)


def contributor_costs(
    workload: DataFrame, tags: DataFrame, identity: DataFrame, tag_keys: tuple[str, ...] | None
) -> DataFrame:
    """Contracted cost per day, currency, scope and contributor (family, kind, id, name)."""
    keys = ("usage_date", "currency_code", "scope_type", "scope_id", "family", "kind", "id", "name")

    def contributor(rows: DataFrame, family: str, kind: Column, ident: Column, name: Column) -> DataFrame:
        labelled = rows.select(
            "usage_date",
            "currency_code",
            "scope_type",
            "scope_id",
            F.lit(family).alias("family"),
            kind.alias("kind"),
            ident.alias("id"),
            name.alias("name"),
            "contracted_cost",
        )
        return labelled.where(F.col("id").isNotNull()).groupBy(*keys).agg(F.sum("contracted_cost").alias("cost"))

    tagged = _tagged(tags, tag_keys)
    in_tag_scope = tagged.withColumn("scope_type", F.lit("tag")).withColumn("scope_id", F.col("tag"))
    job = F.col("job_id").isNotNull()
    return (
        contributor(
            _in_scopes(workload), "workload", F.col("workload_type"), F.col("workload_id"), F.col("workload_name")
        )
        .unionByName(contributor(_in_scopes(tagged), "tag", F.lit("tag"), F.col("tag"), F.lit(None).cast("string")))
        .unionByName(
            contributor(_in_scopes(identity), "identity", F.lit("identity"), F.col("identity"), F.col("identity"))
        )
        .unionByName(
            contributor(
                in_tag_scope,
                "workload",
                F.when(job, F.lit("job")).when(F.col("notebook_id").isNotNull(), F.lit("notebook")),
                F.coalesce("job_id", "notebook_id"),
                F.when(job, F.col("job_name")).otherwise(F.col("notebook_path")),
            )
        )
    )


def _median(values: Sequence[Column]) -> Column:
    ordered = F.array_sort(F.array(*values))
    middle = len(values) // 2
    if len(values) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _cents(value: Column) -> Column:
    return F.round(value, 2).cast(MONEY)


def baseline(daily: DataFrame, keys: Sequence[str], weeks: int) -> DataFrame:
    """`actual_cost` and `expected_cost` of each (keys, day) from the same weekday of the previous weeks.

    Every row is seen from the days whose baseline it belongs to (`lag` weeks later), so a scope without
    cost on the day itself still gets a row (actual 0) when its history had some: a drop to nothing.
    """
    lagged = daily.select(*keys, "usage_date", "cost", F.explode(F.sequence(F.lit(0), F.lit(weeks))).alias("lag"))
    lagged = lagged.withColumn("usage_date", F.date_add("usage_date", F.col("lag") * 7))
    zero = F.lit(0).cast(MONEY)

    def on(lag: int) -> Column:
        return F.coalesce(F.sum(F.when(F.col("lag") == lag, F.col("cost"))), zero)

    sums = lagged.groupBy(*keys, "usage_date").agg(
        on(0).alias("actual_cost"), *[on(lag).alias(f"lag_{lag}") for lag in range(1, weeks + 1)]
    )
    expected = _cents(_median([F.col(f"lag_{lag}") for lag in range(1, weeks + 1)]))
    return sums.select(*keys, "usage_date", "actual_cost", expected.alias("expected_cost"))


def evaluated_days(workload: DataFrame, weeks: int) -> DataFrame:
    """(currency_code, usage_date) with account usage on the day and on the same weekday of each earlier week."""
    days = workload.select("usage_date", "currency_code").distinct()
    lagged = days.select("currency_code", F.explode(F.sequence(F.lit(0), F.lit(weeks))).alias("lag"), "usage_date")
    lagged = lagged.withColumn("usage_date", F.date_add("usage_date", F.col("lag") * 7))
    seen = lagged.groupBy("currency_code", "usage_date").agg(F.count_distinct("lag").alias("weeks_seen"))
    return seen.where(F.col("weeks_seen") == weeks + 1).drop("weeks_seen")


def flag(scored: DataFrame, detection: Detection) -> DataFrame:
    """Rows whose deviation exceeds both thresholds, with deviation, percent and direction."""
    deviation = F.col("actual_cost") - F.col("expected_cost")
    beyond = F.abs(deviation) > F.abs(F.col("expected_cost")) * F.lit(detection.threshold_percent / 100)
    large = F.abs(deviation) >= F.lit(detection.min_change)
    percent = F.when(F.col("expected_cost") != 0, deviation * 100 / F.abs(F.col("expected_cost")))
    return scored.where(beyond & large).select(
        "*",
        deviation.cast(MONEY).alias("deviation"),
        F.round(percent, 6).cast("decimal(38,6)").alias("deviation_percent"),
        F.when(deviation > 0, F.lit("spike")).otherwise(F.lit("drop")).alias("direction"),
    )


def top_contributors(flagged: DataFrame, contributors: DataFrame, detection: Detection) -> DataFrame:
    """Per anomaly, the contributors that moved in its direction and explain most of its deviation."""
    anomaly = ("usage_date", "currency_code", "scope_type", "scope_id")
    weeks = detection.weeks
    wanted = flagged.select(*anomaly, "deviation")
    # Only the contributor rows an anomaly reads: its day and the same weekday of the earlier weeks.
    reads = wanted.select(*anomaly, F.explode(F.sequence(F.lit(0), F.lit(weeks))).alias("lag")).withColumn(
        "source_date", F.date_sub("usage_date", F.col("lag") * 7)
    )
    needed = contributors.join(
        reads.select(F.col("source_date").alias("usage_date"), "currency_code", "scope_type", "scope_id").distinct(),
        ["usage_date", "currency_code", "scope_type", "scope_id"],
    )
    names = needed.groupBy(*anomaly[1:], "family", "kind", "id").agg(F.max("name").alias("name"))
    scored = baseline(needed.drop("name"), [*anomaly[1:], "family", "kind", "id"], weeks)
    scored = scored.join(wanted, list(anomaly)).join(names, [*anomaly[1:], "family", "kind", "id"])
    change = F.col("actual_cost") - F.col("expected_cost")
    moved = scored.select("*", change.alias("change")).where(F.signum("change") == F.signum("deviation"))
    by_size = F.abs(F.col("change")).desc()
    in_family = Window.partitionBy(*anomaly, "family").orderBy(by_size, "kind", "id")
    explained_before = F.coalesce(
        F.sum("change").over(in_family.rowsBetween(Window.unboundedPreceding, -1)), F.lit(0)
    ) / F.col("deviation")
    kept = moved.select("*", explained_before.alias("explained_before")).where(
        F.col("explained_before") < EXPLAINED_SHARE
    )
    # The family that explains the change with the fewest contributors comes first (workloads on ties): a spike of
    # one job reads "that job", not its team's tag or the service principal that runs every job.
    family_size = F.count(F.lit(1)).over(Window.partitionBy(*anomaly, "family"))
    family_order = F.create_map(*[F.lit(x) for pair in FAMILIES.items() for x in pair])[F.col("family")]
    overall = Window.partitionBy(*anomaly).orderBy("needed", family_order, by_size, "kind", "id")
    ranked = (
        kept.select("*", family_size.alias("needed"))
        .select("*", F.row_number().over(overall).alias("rank"))
        .where(F.col("rank") <= detection.top_contributors)
    )
    entry = F.struct(
        F.col("kind"),
        F.col("id"),
        F.col("name"),
        F.col("actual_cost").cast(MONEY).alias("actual_cost"),
        F.col("expected_cost").cast(MONEY).alias("expected_cost"),
        F.col("change").cast(MONEY).alias("change"),
        F.round(F.col("change") / F.col("deviation"), 6).cast("decimal(38,6)").alias("share_of_change"),
    )
    listed = ranked.groupBy(*anomaly).agg(F.array_sort(F.collect_list(F.struct("rank", entry.alias("c")))).alias("c"))
    return listed.select(*anomaly, F.transform("c", lambda item: item["c"]).alias("top_contributors"))


def cost_anomalies(
    workload: DataFrame,
    tags: DataFrame,
    identity: DataFrame,
    detection: Detection,
    dates: Sequence[date] | None = None,
) -> DataFrame:
    """gold.cost_anomalies of `dates` (every evaluated day when None) from the three gold aggregates.

    The aggregates must hold each of those dates and the same weekday of the `weeks` weeks before it.
    """
    days = evaluated_days(workload, detection.weeks)
    if dates is not None:
        days = days.where(F.col("usage_date").isin(list(dates)))
    scope = ["currency_code", "scope_type", "scope_id"]
    scored = baseline(scope_costs(workload, tags, detection.tag_keys), scope, detection.weeks)
    flagged = flag(scored.join(days, ["currency_code", "usage_date"]), detection)
    contributors = contributor_costs(workload, tags, identity, detection.tag_keys)
    explained = top_contributors(flagged, contributors, detection)
    names = F.create_map(*[F.lit(x) for pair in detection.workspace_names.items() for x in pair])
    scope_name = (
        F.when(F.col("scope_type") == "account", F.lit(detection.account_name))
        .when(F.col("scope_type") == "workspace", F.coalesce(names[F.col("scope_id")], F.col("scope_id")))
        .otherwise(F.col("scope_id"))
        if detection.workspace_names
        else F.when(F.col("scope_type") == "account", F.lit(detection.account_name)).otherwise(F.col("scope_id"))
    )
    identity_of = F.concat_ws(
        "|", F.col("usage_date").cast("string"), "scope_type", "scope_id", F.lit(COST_BASIS), "currency_code"
    )
    return flagged.join(explained, ["usage_date", *scope], "left").select(
        F.sha2(identity_of, 256).substr(1, 32).alias("anomaly_id"),
        "usage_date",
        "scope_type",
        "scope_id",
        scope_name.alias("scope_name"),
        "currency_code",
        F.lit(COST_BASIS).alias("cost_basis"),
        F.col("actual_cost").cast(MONEY).alias("actual_cost"),
        "expected_cost",
        "deviation",
        "deviation_percent",
        "direction",
        F.coalesce("top_contributors", F.array().cast(f"array<{CONTRIBUTOR}>")).alias("top_contributors"),
    )
