"""Render the report's figures as one self-contained HTML page: inline CSS and SVG, no scripts, no network."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from pipelines.report.blocks import behind, percent, table
from pipelines.report.charts import bar_chart, grouped_bar_chart, money, stacked_daily_chart
from pipelines.report.figures import ReportFigures
from pipelines.report.outlook_html import anomaly_markers, anomaly_section, budget_section, forecast_section

__all__ = ["money", "render"]

TOP_WORKSPACES = 15

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .85rem; }
th, td { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.legend span { display: inline-block; margin-right: 1rem; font-size: .8rem; }
.legend i { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: middle; }
.kpi { font-size: 1.3rem; font-weight: 600; }
.period { color: #555; margin-top: -.6rem; }
.note { color: #666; font-style: italic; }
ol.markers { font-size: .85rem; }
#budgets, #forecasts { font-size: .8rem; }
details { margin: .4rem 0 1rem; }
"""


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


def _period(figures: ReportFigures) -> str:
    """The reporting period (first to last usage date in gold) and when the page was generated."""
    period = "no usage yet" if figures.period is None else f"{figures.period[0]} .. {figures.period[1]}"
    generated = f"{figures.generated_at:%Y-%m-%d %H:%M} UTC"
    return (
        f'<p class="period">Usage from <span id="period">{period}</span> (first to last usage date in gold);'
        f' generated <span id="generated-at">{generated}</span>.</p>'
    )


def untagged_share(figures: ReportFigures) -> Decimal | None:
    """The share of effective cost without the best-covering tag key: an upper bound of the share carrying no
    custom tag at all (exact when one key is on every tagged record); 100% where nothing is tagged."""
    if not figures.total_cost:
        return None
    shares = [share for _, _, share in figures.untagged() if share is not None]
    return min(shares, default=Decimal(1))


def _untagged(figures: ReportFigures) -> str:
    c = figures.currency
    rows = [
        [key, money(figures.total_cost - without), money(without), percent(None if share is None else share * 100)]
        for key, without, share in figures.untagged()
    ]
    return (
        "<p>Effective cost of records without a tag key = total effective cost minus gold.cost_by_tag's cost for"
        " that key (exact: a record carries a key at most once). The headline's untagged share is the share"
        " without the key that covers the most cost: no record without any custom tag is left out of it, so it"
        " is at most that share.</p>"
        + table(["tag key", f"with the key ({c})", f"without it ({c})", "share without"], rows, {1, 2, 3}, "untagged")
    )


def _workspaces(figures: ReportFigures) -> str:
    c = figures.currency
    items = [(name or ident or "(no workspace)", contracted) for ident, name, _, _, contracted in figures.per_workspace]
    rows = [
        [name or "-", ident, money(lst), money(eff), money(con)] for ident, name, lst, eff, con in figures.per_workspace
    ]
    header = ["workspace", "id", f"list ({c})", f"effective ({c})", f"contracted ({c})"]
    return (
        "<p>Contracted cost per workspace (names from the config's <code>workspace_names</code>).</p>"
        + bar_chart(items[:TOP_WORKSPACES], c)
        + table(header, rows, {2, 3, 4}, "workspaces")
    )


def render(figures: ReportFigures, title: str = "billing-lakehouse cost report") -> str:
    """The whole page."""
    c = figures.currency
    outlook = figures.outlook
    share = untagged_share(figures)
    untagged = percent(None if share is None else share * 100)
    per_month = [(month, (lst, eff, con)) for month, lst, eff, con in figures.per_month]
    daily_rows = [[str(d), p, money(v)] for d, p, v in sorted(figures.daily_by_product)]
    workload_items = [(f"{kind} {name or ident}", cost) for kind, ident, name, cost in figures.top_workloads]
    tag_items = [(f"{key}={value}", cost) for key, value, cost in figures.cost_by_tag]
    sections = [
        f"<h1>{escape(title)}</h1>",
        _period(figures),
        _headline(figures),
        f'<p>Untagged share of effective cost: <span class="kpi" id="untagged-share">{untagged}</span>'
        " (at most this share carries no custom tag; see <i>Untagged cost</i>).</p>",
        "<h2>Month to date and month-end forecast</h2>",
        forecast_section(outlook, c),
        "<h2>Budgets</h2>",
        budget_section(outlook),
        "<h2>Daily cost by SKU</h2>",
        stacked_daily_chart(figures.daily_by_product, c, anomaly_markers(outlook, c)),
        behind(["usage date", "SKU", f"effective cost ({c})"], daily_rows, {2}),
        "<h2>Cost anomalies</h2>",
        anomaly_section(outlook, c),
        "<h2>List, effective and contracted cost per month</h2>",
        grouped_bar_chart(per_month, ["list", "effective", "contracted"], c),
        table(
            ["month", f"list ({c})", f"effective ({c})", f"contracted ({c})"],
            [[m, money(lst), money(eff), money(con)] for m, lst, eff, con in figures.per_month],
            {1, 2, 3},
            "per-month",
        ),
        "<h2>Per workspace</h2>",
        _workspaces(figures),
        "<h2>Month to date against the previous month</h2>",
        bar_chart(figures.month_to_date, c),
        behind(["period", f"effective cost ({c})"], [[p, money(v)] for p, v in figures.month_to_date], {1}),
        "<h2>Top workloads</h2>",
        bar_chart(workload_items, c),
        behind(
            ["type", "id", "name", f"effective cost ({c})"],
            [[k, i, n, money(v)] for k, i, n, v in figures.top_workloads],
            {3},
        ),
        "<h2>Cost by tag</h2>",
        "<p>A record counts under each of its tags: compare values of one key, never add keys together.</p>",
        bar_chart(tag_items, c),
        behind(
            ["tag key", "tag value", f"effective cost ({c})"],
            [[k, v, money(x)] for k, v, x in figures.cost_by_tag],
            {2},
        ),
        "<h2>Untagged cost</h2>",
        _untagged(figures),
        "<h2>Unpriced usage</h2>",
        table(["reason", "SKU", "records"], [[r, s, f"{n:,}"] for r, s, n in figures.unpriced], {2}),
        "<h2>Quarantined records</h2>",
        table(["source", "reason", "records"], [[s, r, f"{n:,}"] for s, r, n in figures.quarantined], {2}),
        "<h2>Data freshness per source</h2>",
        table(
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
        table(
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
