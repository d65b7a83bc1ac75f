"""The one interface every layer uses to read and write Delta tables."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.tables import TableSpec

# A set of partitions as a disjunction of conjunctions: [{"workspace_id": "1", "usage_month": "2024-01"}, ...].
Partitions = Sequence[Mapping[str, str]]

METADATA_APP = "billing-lakehouse"
# Every write carries a Delta application transaction (txnAppId/txnVersion) under this id.
TRANSACTION_APP = METADATA_APP
RECENT_COMMITS = 20  # how far back to look for this project's last commit


@dataclass(frozen=True)
class Commit:
    """One committed table version and what this project recorded about it."""

    version: int
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Replace:
    """Which existing rows a write replaces: none (append), all, or the named partitions."""

    everything: bool = False
    partitions: Partitions | None = None

    @staticmethod
    def nothing() -> Replace:
        return Replace()

    @staticmethod
    def all() -> Replace:
        return Replace(everything=True)

    @staticmethod
    def where(partitions: Partitions) -> Replace:
        return Replace(partitions=list(partitions))

    def sql_predicate(self) -> str | None:
        """The replaced partitions as a SQL predicate (for Delta's replaceWhere)."""
        if not self.partitions:
            return None
        terms = [
            "(" + " AND ".join(f"`{column}` = '{_sql_string(value)}'" for column, value in sorted(part.items())) + ")"
            for part in self.partitions
        ]
        return " OR ".join(terms)


def _sql_string(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


def encode_metadata(metadata: Mapping[str, Any]) -> str:
    """The commit's user metadata as stored in the Delta log."""
    return json.dumps({"app": METADATA_APP, **metadata}, sort_keys=True, default=str)


def decode_metadata(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        decoded = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(decoded, dict) or decoded.get("app") != METADATA_APP:
        return {}
    return decoded


def partition_filter(partitions: Partitions) -> Any:
    """A Column predicate selecting the given partitions (for backends that prune on filters).

    Partitions of one column become one `IN` list; others an OR of terms nested as a balanced tree. A chain of
    one OR per partition nests as deep as there are partitions, and Spark Connect refuses an expression nested
    deeper than its protobuf limit (about a hundred): a read of a few months of dates would fail there.
    """
    parts = list(partitions)
    if not parts:
        return F.lit(False)
    columns = {tuple(sorted(part)) for part in parts}
    if len(columns) == 1 and len(next(iter(columns))) == 1:
        (column,) = next(iter(columns))
        return F.col(column).cast("string").isin([part[column] for part in parts])
    terms = []
    for part in parts:
        term = F.lit(True)
        for column, value in part.items():
            term = term & (F.col(column).cast("string") == F.lit(value))
        terms.append(term)
    while len(terms) > 1:
        pairs = [terms[i] | terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = pairs + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0]


class TableStore(ABC):
    """Read a table, append or atomically replace partitions, and inspect versions and history.

    Every write carries metadata (a JSON object stored as the commit's userMetadata): which input
    versions it consumed and what it changed. Incremental runs are planned from that table state.
    """

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._first_seen: dict[str, int] = {}

    def begin(self) -> None:
        """Start a unit of work (an ingest or a transform): its writes are checked against what it reads from now on.

        Each write carries the Delta application transaction (`TRANSACTION_APP`, one more than the table
        version this unit first saw). A table another run committed to since then already holds that
        transaction version, so the write is skipped: two runs planned from the same table state never
        both commit (no row appended twice), whichever commits first wins.
        """
        self._first_seen.clear()

    def _observe(self, table: TableSpec, version: int | None) -> None:
        """Remember the first version of a table this unit of work saw (-1: it did not exist)."""
        self._first_seen.setdefault(table.key, -1 if version is None else version)

    def transaction_version(self, table: TableSpec, current: int | None) -> int:
        """The application transaction version a write of `table` carries (see `begin`)."""
        self._observe(table, current)
        return self._first_seen[table.key] + 1

    def _committed(self, table: TableSpec, version: int) -> None:
        """This unit's own commit: its later writes of the table build on it."""
        self._first_seen[table.key] = version

    @abstractmethod
    def location(self, table: TableSpec) -> str:
        """Path or catalog name of a table."""

    @abstractmethod
    def version(self, table: TableSpec) -> int | None:
        """Current version, or None if the table does not exist yet."""

    @abstractmethod
    def read(self, table: TableSpec, partitions: Partitions | None = None) -> DataFrame:
        """The table's current rows (only the given partitions, if named); empty if it does not exist."""

    @abstractmethod
    def read_rows(self, table: TableSpec) -> list[dict[str, Any]]:
        """All rows as Python values, for small bookkeeping tables only (the ingest log); never usage data."""

    @abstractmethod
    def read_arrow(self, table: TableSpec, columns: Sequence[str] | None = None) -> pa.Table:
        """The current rows of a small table (gold aggregates, the ingest log) as Arrow, only `columns` if named.

        A table that does not exist reads as an empty table with its contract's columns. The read-only
        commands compute from these, so one code path serves both backends (see `TableReader`).
        """

    @abstractmethod
    def write(
        self,
        table: TableSpec,
        data: DataFrame,
        replace: Replace,
        metadata: Mapping[str, Any],
    ) -> int:
        """Commit `data` in one transaction, replacing what `replace` names; returns the new version."""

    def append_rows(self, table: TableSpec, rows: Sequence[tuple[Any, ...]], metadata: Mapping[str, Any]) -> int:
        """Append a few rows built on the driver, in the table's column order (bookkeeping tables only)."""
        data = self.spark.createDataFrame(list(rows), table.schema())
        return self.write(table, data, Replace.nothing(), metadata)

    @abstractmethod
    def _commits(self, table: TableSpec, limit: int | None) -> list[Commit]:
        """The newest `limit` commits (all when None), oldest first; empty if the table does not exist."""

    def history(self, table: TableSpec, since_version: int) -> list[Commit] | None:
        """Commits after `since_version`, oldest first; None if the log no longer reaches back that far."""
        current = self.version(table)
        if current is None:
            return None
        if current <= since_version:
            return []
        commits = [c for c in self._commits(table, current - since_version) if c.version > since_version]
        if [c.version for c in commits] != list(range(since_version + 1, current + 1)):
            return None
        return commits

    def last_commit(self, table: TableSpec) -> Commit | None:
        """The newest commit this project wrote (another tool's commit carries none of our metadata)."""
        commits = self._commits(table, RECENT_COMMITS)
        own = [c for c in commits if c.metadata]
        return max(own or commits, key=lambda c: c.version) if commits else None

    @abstractmethod
    def partition_values(self, table: TableSpec) -> list[dict[str, str | None]]:
        """Distinct partition values present in the current version, read from the log alone."""

    @abstractmethod
    def row_count(self, table: TableSpec) -> int:
        """Rows in the current version (from file statistics where the backend has them)."""

    def empty(self, table: TableSpec) -> DataFrame:
        return self.spark.createDataFrame([], table.schema())

    def conform(self, table: TableSpec, data: DataFrame) -> DataFrame:
        """Select and cast `data` to the table's contract, so every writer stores the same schema."""
        # One expression list in one call: building Column objects field by field costs a JVM round trip each.
        return data.selectExpr(
            *[f"CAST(`{f.name}` AS {f.dataType.simpleString()}) AS `{f.name}`" for f in table.schema().fields]
        )


class TableReader(Protocol):
    """What the read-only commands (status, summary, report) use: every `TableStore` is one.

    Nothing here returns a DataFrame, so a reader of local delta-rs tables needs no SparkSession
    (`pipelines.storage.open_reader`).
    """

    def location(self, table: TableSpec) -> str: ...

    def version(self, table: TableSpec) -> int | None: ...

    def row_count(self, table: TableSpec) -> int: ...

    def read_arrow(self, table: TableSpec, columns: Sequence[str] | None = None) -> pa.Table: ...
