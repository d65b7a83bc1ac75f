"""Render the report's figures as one self-contained HTML page: inline CSS and SVG, no scripts, no network."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from html import escape

from pipelines.report.figures import ReportFigures

PALETTE = ("#2f6fdf", "#e8743b", "#19a979", "#ed4a7b", "#945ecf", "#13a4b4", "#525df4", "#bf399e", "#6c8893", "#ee6868")
MAX_SERIES = 8  # products drawn separately in the daily chart; the rest are summed into "other"
WIDTH, HEIGHT, MARGIN = 960, 320, 60

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .85rem; }
th, td { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.legend span { display: inline-block; margin-right: 1rem; font-size: .8rem; }
.legend i { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: middle; }
.kpi { font-size: 1.3rem; font-weight: 600; }
details { margin: .4rem 0 1rem; }
"""


def money(value: Decimal | None) -> str:
    """Rounded for display only (the tables keep the exact amount)."""
    return "-" if value is None else f"{value:,.2f}"


def _table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if i in numeric else ''}>{escape(c)}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body or '<tr><td>none</td></tr>'}</tbody></table>"


def _behind(header: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    return f"<details><summary>the rows behind it</summary>{_table(header, rows, numeric)}</details>"


def stacked_daily_chart(daily: list[tuple[date, str, Decimal]], currency: str) -> str:
    """Cost per day stacked by SKU, the biggest SKUs drawn separately and the rest as `other`."""
    if not daily:
        return "<p>No priced usage yet.</p>"
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for _, product, cost in daily:
        totals[product] += cost
    shown = [p for p, _ in sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:MAX_SERIES]]
    by_day: dict[date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for day, product, cost in daily:
        by_day[day][product if product in shown else "other"] += cost
    series = shown + (["other"] if len(totals) > len(shown) else [])
    days = sorted(by_day)
    peak = max(sum(by_day[d].values()) for d in days) or Decimal(1)
    plot_w, plot_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN
    bar = plot_w / len(days)
    shapes = []
    for index, day in enumerate(days):
        y = float(HEIGHT - MARGIN)
        for number, product in enumerate(series):
            cost = by_day[day].get(product, Decimal(0))
            if cost <= 0:
                continue
            height = float(cost / peak) * plot_h
            y -= height
            title = f"{day} {product}: {money(cost)} {currency}"
            shapes.append(
                f'<rect x="{MARGIN + index * bar:.1f}" y="{y:.1f}" width="{max(bar - 1, 1):.1f}" height="{height:.1f}"'
                f' fill="{PALETTE[number % len(PALETTE)]}"><title>{escape(title)}</title></rect>'
            )
    axis = (
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" y2="{HEIGHT - MARGIN}" stroke="#888"/>'
        f'<text x="{MARGIN}" y="{MARGIN - 10}" font-size="12">{escape(money(peak))} {escape(currency)}</text>'
        f'<text x="{MARGIN}" y="{HEIGHT - MARGIN + 18}" font-size="12">{days[0]}</text>'
        f'<text x="{WIDTH - MARGIN}" y="{HEIGHT - MARGIN + 18}" font-size="12" text-anchor="end">{days[-1]}</text>'
    )
    legend = "".join(
        f'<span><i style="background:{PALETTE[n % len(PALETTE)]}"></i>{escape(p)}</span>' for n, p in enumerate(series)
    )
    svg = f'<svg width="{WIDTH}" height="{HEIGHT}" role="img">{axis}{"".join(shapes)}</svg>'
    return f'{svg}<div class="legend">{legend}</div>'


def bar_chart(items: list[tuple[str, Decimal]], currency: str) -> str:
    """Horizontal bars, one per labelled amount."""
    if not items:
        return "<p>None.</p>"
    peak = max(value for _, value in items) or Decimal(1)
    row_h, label_w = 24, 320
    rows = []
    for index, (label, value) in enumerate(items):
        width = float(value / peak) * (WIDTH - label_w - 140) if value > 0 else 0
        y = index * row_h
        rows.append(
            f'<text x="{label_w - 8}" y="{y + 16}" font-size="12" text-anchor="end">{escape(label[:48])}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{width:.1f}" height="{row_h - 8}" fill="{PALETTE[0]}"/>'
            f'<text x="{label_w + width + 6:.1f}" y="{y + 16}" font-size="12">'
            f"{escape(money(value))} {escape(currency)}</text>"
        )
    height = row_h * len(items)
    return f'<svg width="{WIDTH}" height="{height}" role="img">{"".join(rows)}</svg>'


def _headline(figures: ReportFigures) -> str:
    """The three totals, each saying what it is: only contracted cost approaches what the account pays."""
    c = escape(figures.currency)
    totals = [
        (
            "contracted-cost",
            "Contracted cost",
            figures.contracted_total,
            "what this account pays: its account prices, else configured discounts, else list",
        ),
        (
            "total-cost",
            "Effective cost",
            figures.total_cost,
            "Databricks' effective list price, before negotiated prices and discounts",
        ),
        ("list-cost", "List cost", figures.list_total, "at list price"),
    ]
    items = "".join(
        f'<li>{label}: <span class="kpi" id="{ident}">{money(value)} {c}</span> ({escape(why)})</li>'
        for ident, label, value, why in totals
    )
    return (
        f"<ul>{items}</ul><p>Totals of priced usage only, rounded for display. The charts and tables below show"
        " <b>effective cost</b>, not what this account pays; contracted cost is invoiced spend only as far as"
        " its account prices and discounts are configured.</p>"
    )


def render(figures: ReportFigures, title: str = "billing-lakehouse cost report") -> str:
    """The whole page."""
    c = figures.currency
    daily_rows = [[str(d), p, money(v)] for d, p, v in sorted(figures.daily_by_product)]
    workload_items = [(f"{kind} {name or ident}", cost) for kind, ident, name, cost in figures.top_workloads]
    tag_items = [(f"{key}={value}", cost) for key, value, cost in figures.cost_by_tag]
    sections = [
        f"<h1>{escape(title)}</h1>",
        _headline(figures),
        "<h2>Daily cost by SKU</h2>",
        stacked_daily_chart(figures.daily_by_product, c),
        _behind(["usage date", "SKU", f"effective cost ({c})"], daily_rows, {2}),
        "<h2>Month to date against the previous month</h2>",
        bar_chart(figures.month_to_date, c),
        _behind(["period", f"effective cost ({c})"], [[p, money(v)] for p, v in figures.month_to_date], {1}),
        "<h2>Top workloads</h2>",
        bar_chart(workload_items, c),
        _behind(
            ["type", "id", "name", f"effective cost ({c})"],
            [[k, i, n, money(v)] for k, i, n, v in figures.top_workloads],
            {3},
        ),
        "<h2>Cost by tag</h2>",
        "<p>A record counts under each of its tags: compare values of one key, never add keys together.</p>",
        bar_chart(tag_items, c),
        _behind(
            ["tag key", "tag value", f"effective cost ({c})"],
            [[k, v, money(x)] for k, v, x in figures.cost_by_tag],
            {2},
        ),
        "<h2>Unpriced usage</h2>",
        _table(["reason", "SKU", "records"], [[r, s, f"{n:,}"] for r, s, n in figures.unpriced], {2}),
        "<h2>Quarantined records</h2>",
        _table(["source", "reason", "records"], [[s, r, f"{n:,}"] for s, r, n in figures.quarantined], {2}),
        "<h2>Data freshness per source</h2>",
        _table(
            ["ingest source", "last ingest (UTC)", "last status", "feeds gold source", "newest usage date in gold"],
            [
                [
                    f["source"],
                    f"{f['last_ingest']:%Y-%m-%d %H:%M}",
                    f["last_status"],
                    f["gold_source"],
                    "-" if f["newest_usage_date"] is None else str(f["newest_usage_date"]),
                ]
                for f in figures.freshness
            ],
        ),
        "<h2>Tables read</h2>",
        _table(
            ["table", "location", "version"],
            [[t, location, "-" if v is None else str(v)] for t, location, v in figures.tables],
            {2},
        ),
    ]
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
