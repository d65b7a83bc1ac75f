"""Deterministic synthetic Databricks legacy billable-usage CSV deliveries plus a list-prices export.

Usage: python benchmarks/generate.py --out DIR [--rows 20000] [--months 3] [--start-month 2024-01]
       [--workspaces 4] [--malformed 5] [--seed 7]
"""

from __future__ import annotations

import argparse
import calendar
import csv
import functools
import hashlib
import itertools
import json
import random
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from pipelines.config import Workspace
from pipelines.tables import LEGACY_CSV_COLUMNS

WORKSPACES: tuple[Workspace, ...] = (
    Workspace("1111111111111111", "AWS", "PREMIUM", "us-east-1"),
    Workspace("2222222222222222", "AWS", "ENTERPRISE", "us-west-2"),
    Workspace("3333333333333333", "AWS", "STANDARD", "eu-west-1"),
    Workspace("4444444444444444", "AWS", "PREMIUM", "ap-southeast-2"),
    Workspace("5555555555555555", "AWS", "ENTERPRISE", "us-east-1"),
    Workspace("6666666666666666", "AWS", "PREMIUM", "eu-west-1"),
    Workspace("7777777777777777", "AWS", "STANDARD", "us-west-2"),
    Workspace("8888888888888888", "AWS", "ENTERPRISE", "ap-southeast-2"),
)

REGION_SUFFIX = {
    "us-east-1": "US_EAST_N_VIRGINIA",
    "us-west-2": "US_WEST_OREGON",
    "eu-west-1": "EUROPE_IRELAND",
    "ap-southeast-2": "AP_SYDNEY",
}

HEADER = list(LEGACY_CSV_COLUMNS)
LIST_PRICES_HEADER = [
    "price_start_time",
    "price_end_time",
    "account_id",
    "sku_name",
    "cloud",
    "currency_code",
    "usage_unit",
    "pricing",
]
ACCOUNT_ID = "3f2a9c1e-8b4d-4e6f-9a7b-2c5d8e1f0a3b"
UNPRICED_SKU = "AWS_ENHANCED_SECURITY_AND_COMPLIANCE"
DEPRECATED_SHARE = 0.03
MALFORMED_KINDS = ("too_few_fields", "too_many_fields", "bad_timestamp", "dbus_comma", "dbus_text")

_CLUSTER_NAMES = (
    "etl, nightly",
    'Müller "prod" Cluster',
    "数据-分析",
    "shared-analytics",
    "ml-training",
    "adhoc",
    "Ana's sandbox",
    "reporting, daily",
    "streaming-ingest",
    "café-bi",
    'job "orders" backfill',
    "feature-store",
)
_WAREHOUSE_NAMES = ("Starter Warehouse", "BI, finance", 'Serverless "gold"', "仓库-报表", "dashboards")
_NODE_TYPES = (
    ("m5.xlarge", 750),
    ("m5.2xlarge", 1500),
    ("i3.xlarge", 1000),
    ("i3.2xlarge", 2000),
    ("r5.4xlarge", 3600),
    ("c5.2xlarge", 1200),
)
_USERS = ("ana.silva", "bob.jones", "chen.wei", "dara.okafor", "erik.muller", "fatima.khan", "jose.nunez", "li.na")
_WORDS = ("brawl", "cab", "dew", "fern", "gust", "haze", "jolt", "kiln", "lair", "mesa", "nook", "oath", "pyre")
_TAG_CHOICES: tuple[dict[str, str], ...] = (
    {},
    {"dept": "mktg", "op_phase": "dev"},
    {"dept": "mktg", "cost_center": "CC-1, shared", "owner": 'José "JJ" Núñez'},
    {"dept": "finance", "cost_center": "CC-2"},
    {"dept": "data-eng", "project": "湖仓", "op_phase": "prod"},
    {"team": "ml", "note": 'says "hi", twice'},
)


def _tier_skus(ws: Workspace) -> list[tuple[str, int]]:
    """Current SKU names (with relative weights) a workspace produces."""
    t, r = ws.tier, REGION_SUFFIX[ws.region]
    skus = [
        (f"{t}_JOBS_COMPUTE", 25),
        (f"{t}_ALL_PURPOSE_COMPUTE", 20),
        (f"{t}_ALL_PURPOSE_COMPUTE_(PHOTON)", 8),
        (f"{t}_JOBS_COMPUTE_(PHOTON)", 10),
        (f"{t}_DLT_CORE_COMPUTE", 4),
        (f"{t}_JOBS_LIGHT_COMPUTE", 5),
    ]
    if t != "STANDARD":
        skus += [
            (f"{t}_DLT_PRO_COMPUTE", 3),
            (f"{t}_DLT_ADVANCED_COMPUTE", 3),
            (f"{t}_SQL_COMPUTE", 5),
            (f"{t}_SQL_PRO_COMPUTE_{r}", 6),
            (f"{t}_SERVERLESS_SQL_COMPUTE_{r}", 6),
            (UNPRICED_SKU, 1),
        ]
    return skus


def _deprecated_skus(ws: Workspace) -> list[str]:
    """Deprecated SKU names a workspace occasionally produces."""
    names = [
        "LIGHT_AUTOMATED_NON_OPSEC",
        "LIGHT_AUTOMATED_OPSEC",
        "STANDARD_AUTOMATED_NON_OPSEC",
        "STANDARD_AUTOMATED_OPSEC",
        "STANDARD_INTERACTIVE_NON_OPSEC",
        "STANDARD_INTERACTIVE_OPSEC",
        f"{ws.tier}_ALL_PURPOSE_COMPUTE_(DLT)",
    ]
    return names + ([f"{ws.tier}_SERVERLESS_SQL_COMPUTE"] if ws.tier != "STANDARD" else [])


def priced_skus(workspaces: Iterable[Workspace]) -> list[str]:
    """Sorted current SKU names that get list-price rows (everything produced except the unpriced one)."""
    return sorted({s for ws in workspaces for s, _ in _tier_skus(ws)} - {UNPRICED_SKU})


@functools.cache
def _pool(ws: Workspace) -> tuple[list[tuple], list[tuple]]:
    """Stable (seed-independent) pools of 40 clusters and 10 SQL warehouses for a workspace."""
    rng = random.Random(f"pool:{ws.workspace_id}")
    users = [(f"{rng.randrange(10**13, 10**14)}", f"{u}@example.com") for u in _USERS]

    def entry(cid: str, name: str, node: str, rate: int) -> tuple:
        uid, email = rng.choice(users)
        custom = rng.choice(_TAG_CHOICES)
        tags = {**custom, "Vendor": "Databricks", "ClusterId": cid, "Creator": email, "ClusterName": name}
        dump = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
        return cid, name, node, uid, dump(custom), email, dump(tags), rate

    clusters = []
    for i in range(40):
        cid = (
            f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}-"
            f"{rng.randrange(24):02d}{rng.randrange(60):02d}{rng.randrange(60):02d}-"
            f"{rng.choice(_WORDS)}{rng.randrange(1000):03d}"
        )
        node, rate = rng.choice(_NODE_TYPES)
        name = _CLUSTER_NAMES[i % len(_CLUSTER_NAMES)] if i < 24 else f"job-{rng.randrange(10**6)}-run-{i}"
        clusters.append(entry(cid, name, node, rate))
    warehouses = [
        entry(f"{rng.getrandbits(64):016x}", _WAREHOUSE_NAMES[i % 5], "db.xlarge", 2000 + 1000 * (i % 4))
        for i in range(10)
    ]
    return clusters, warehouses


def _dec(micro: int, rng: random.Random) -> str:
    """Render micro-units as decimal text with up to 6 decimals (sometimes rounded to 1 or 0 decimals)."""
    roll = rng.random()
    if roll < 0.05:
        micro = max(10**6, round(micro, -6))
    elif roll < 0.15:
        micro = max(10**5, round(micro, -5))
    whole, frac = divmod(micro, 10**6)
    return f"{whole}.{frac:06d}".rstrip("0").rstrip(".")


def file_rng(seed: int, workspace: Workspace, month: str) -> random.Random:
    """Per-file RNG derived from (seed, workspace, month)."""
    return random.Random(f"{seed}:{workspace.workspace_id}:{month}")


def _rows(ws: Workspace, month: str, rows: int, rng: random.Random, malformed: int, offset: int) -> Iterator[list]:
    year, mon = (int(p) for p in month.split("-"))
    days = calendar.monthrange(year, mon)[1]
    current = _tier_skus(ws)
    names, cum = [s for s, _ in current], list(itertools.accumulate(w for _, w in current))
    deprecated = _deprecated_skus(ws)
    clusters, warehouses = _pool(ws)
    kinds = MALFORMED_KINDS
    bad = {(j + 1) * rows // (malformed + 1): kinds[(offset + j) % len(kinds)] for j in range(malformed)}
    for i in range(rows):
        sku = rng.choice(deprecated) if rng.random() < DEPRECATED_SHARE else rng.choices(names, cum_weights=cum)[0]
        cid, name, node, uid, custom, email, tags, rate = rng.choice(warehouses if "SQL" in sku else clusters)
        mh = rng.randrange(1_000, 8_000_000)
        ts = f"{month}-{rng.randint(1, days):02d}T{rng.randrange(24):02d}:59:59.999Z"
        dbus = _dec(mh * rate // 1000, rng)
        row = [ws.workspace_id, ts, cid, name, node, uid, custom, sku, dbus, _dec(mh, rng), email, tags]
        kind = bad.get(i)
        if kind == "too_few_fields":
            row = row[:-2]
        elif kind == "too_many_fields":
            row.append("extra")
        elif kind == "bad_timestamp":
            row[1] = "not-a-time"
        elif kind == "dbus_comma":
            row[8] = "12,5"  # the csv writer quotes it, so the row keeps 12 fields
        elif kind == "dbus_text":
            row[8] = "abc"
        yield row


def write_month_file(
    path: Path,
    workspace: Workspace,
    month: str,
    rows: int,
    rng: random.Random,
    malformed: int = 0,
    *,
    malformed_offset: int = 0,
) -> int:
    """Write one delivery file with `rows` data rows (of which `malformed` are broken); return rows written.

    Malformed kinds cycle through MALFORMED_KINDS starting at `malformed_offset`.
    """
    if not 0 <= malformed <= rows:
        raise ValueError("need 0 <= malformed <= rows")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, doublequote=True, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(_rows(workspace, month, rows, rng, malformed, malformed_offset))
    return rows


def append_day(path: Path, workspace: Workspace, day: str, rows: int, rng: random.Random) -> int:
    """Append `rows` rows of usage on `day` (yyyy-mm-dd) to a delivery file, as the next month-to-date
    delivery adds the rest of a day's usage (the day may already have rows); return rows appended."""
    with Path(path).open("a", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, doublequote=True, lineterminator="\n")
        for row in _rows(workspace, day[:7], rows, rng, 0, 0):
            row[1] = day + row[1][len(day) :]
            writer.writerow(row)
    return rows


def _months(start_month: str, months: int) -> list[str]:
    year, mon = (int(p) for p in start_month.split("-"))
    out = []
    for k in range(months):
        y, m = divmod(mon - 1 + k, 12)
        out.append(f"{year + y:04d}-{m + 1:02d}")
    return out


def _ts(day: str) -> str:
    return f"{day}T00:00:00.000Z"


def _pricing(micro: int, effective: int) -> str:
    d, e = (f"{m // 10**6}.{m % 10**6:06d}" for m in (micro, effective))
    doc = {"default": d, "promotional": {"default": e}, "effective_list": {"default": e}}
    return json.dumps(doc, separators=(",", ":"))


def _list_prices_of(sku: str) -> tuple[int, int, int]:
    """A SKU's list price before and after the change, and its later effective price, in micro-dollars."""
    h = int.from_bytes(hashlib.sha256(sku.encode()).digest()[:8], "big")
    old = 70_000 + (h % 881) * 1000  # 0.070000 .. 0.950000
    bucket = (h >> 20) % 3
    new = old * 11 // 10 if bucket == 1 else old  # ~1/3 get a 10% list increase
    eff = new * 9 // 10 if bucket == 0 else new  # ~1/3 get a 10% promotional/effective discount
    return old, new, eff


def write_list_prices(path: Path, workspaces: Sequence[Workspace], start_month: str, months: int) -> Path:
    """Write a system.billing.list_prices-style CSV with two price windows per priced SKU."""
    ms = _months(start_month, months)
    change = _ts(f"{ms[1] if months > 1 else ms[0]}-15")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, doublequote=True, lineterminator="\n")
        writer.writerow(LIST_PRICES_HEADER)
        for sku in priced_skus(workspaces):
            old, new, eff = _list_prices_of(sku)
            common = [ACCOUNT_ID, sku, "AWS", "USD", "DBU"]
            writer.writerow([_ts("2023-01-01"), change, *common, _pricing(old, old)])
            writer.writerow([change, "", *common, _pricing(new, eff)])
    return path


# The demo account's negotiated prices: all-purpose SKUs 15% below their later list price (jobs SKUs are
# left to conf/pipeline.yml's discount rule, every other SKU stays at list).
ACCOUNT_PRICE_MARKERS = ("ALL_PURPOSE",)
ACCOUNT_DISCOUNT_PERCENT = 15


def write_account_prices(path: Path, workspaces: Sequence[Workspace], start_month: str, months: int) -> Path:
    """Write a system.billing.account_prices-style CSV (the list-prices shape, the negotiated price as
    pricing.default): one open window from 2024-01-01 for the priced SKUs that ACCOUNT_PRICE_MARKERS name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, doublequote=True, lineterminator="\n")
        writer.writerow(LIST_PRICES_HEADER)
        for sku in priced_skus(workspaces):
            if "JOBS" in sku or not any(marker in sku for marker in ACCOUNT_PRICE_MARKERS):
                continue
            _, new, _ = _list_prices_of(sku)  # the later list price write_list_prices gives the SKU
            contracted = new * (100 - ACCOUNT_DISCOUNT_PERCENT) // 100
            writer.writerow(
                [_ts("2024-01-01"), "", ACCOUNT_ID, sku, "AWS", "USD", "DBU", _pricing(contracted, contracted)]
            )
    return path


def generate(
    out_dir: Path,
    rows: int,
    months: int = 3,
    start_month: str = "2024-01",
    workspaces: int = 4,
    malformed: int = 5,
    seed: int = 7,
) -> dict:
    """Write all delivery files plus the list-prices export; return the JSON summary dict."""
    if not 1 <= workspaces <= len(WORKSPACES) or months < 1 or not 0 <= malformed <= rows:
        raise ValueError("need 1 <= workspaces <= 8, months >= 1 and 0 <= malformed <= rows")
    out_dir = Path(out_dir)
    wss = WORKSPACES[:workspaces]
    targets = [(ws, m) for ws in wss for m in _months(start_month, months)]
    n = len(targets)
    sizes = [rows // n + (1 if i < rows % n else 0) for i in range(n)]
    bad = [0] * n
    for k in range(malformed):  # round-robin over files that still have room
        i = k % n
        while bad[i] >= sizes[i]:
            i = (i + 1) % n
        bad[i] += 1
    files, written, offset = [], 0, 0
    for (ws, month), size, nbad in zip(targets, sizes, bad, strict=True):
        path = out_dir / "billable-usage" / "csv" / f"workspaceId={ws.workspace_id}-usageMonth={month}.csv"
        written += write_month_file(path, ws, month, size, file_rng(seed, ws, month), nbad, malformed_offset=offset)
        offset += nbad
        files.append(str(path))
    prices = write_list_prices(out_dir / "list_prices" / "list_prices.csv", wss, start_month, months)
    account = write_account_prices(out_dir / "account_prices" / "account_prices.csv", wss, start_month, months)
    return {
        "rows": written,
        "malformed": malformed,
        "files": files,
        "list_prices": str(prices),
        "account_prices": str(account),
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: generate and print a one-line JSON summary."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--months", type=int, default=3)
    p.add_argument("--start-month", default="2024-01")
    p.add_argument("--workspaces", type=int, default=4)
    p.add_argument("--malformed", type=int, default=5)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    summary = generate(a.out, a.rows, a.months, a.start_month, a.workspaces, a.malformed, a.seed)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
