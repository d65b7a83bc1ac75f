"""Inline SVG charts with readable axes: amounts along y (rounded ticks and gridlines), dates along x.

No scripts and no fonts: each chart is one `<svg>` the page carries itself. Shapes carry a `<title>`, which a
browser shows on hover, with the exact amount rounded to the cent.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from html import escape

PALETTE = ("#2f6fdf", "#e8743b", "#19a979", "#ed4a7b", "#945ecf", "#13a4b4", "#525df4", "#bf399e", "#6c8893", "#ee6868")
MAX_SERIES = 8  # products drawn separately in the daily chart; the rest are summed into "other"
WIDTH = 960
LEFT, RIGHT, TOP, BOTTOM = 84, 24, 28, 44  # plot margins: y labels on the left, dates below
ANOMALY = "#d62728"
FONT = 'font-size="11" fill="#444"'


def money(value: Decimal | None) -> str:
    """Rounded for display only (the tables keep the exact amount)."""
    return "-" if value is None else f"{value:,.2f}"


def nice_ticks(peak: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2, 2.5 or 5 times a power of ten) up to at least `peak`."""
    if peak <= 0:
        return [0.0, 1.0]
    raw = peak / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [step * i for i in range(math.ceil(peak / step - 1e-9) + 1)]


def _tick_label(value: float, step: float) -> str:
    return f"{value:,.0f}" if step >= 1 else f"{value:,.2f}"


def date_ticks(first: date, last: date, most: int = 10) -> list[tuple[date, str]]:
    """Dates to label along x: every day, 2 days, week or fortnight while that stays under `most` labels,
    else the first of each month (every month, or every few months)."""
    span = (last - first).days + 1
    for step in (1, 2, 7, 14):
        if span / step <= most:
            return [(first + timedelta(days=i), f"{first + timedelta(days=i):%Y-%m-%d}") for i in range(0, span, step)]
    months = []
    day = first.replace(day=1)
    while day <= last:
        if day >= first:
            months.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    every = max(1, math.ceil(len(months) / most))
    return [(m, f"{m:%Y-%m}") for m in months[::every]]


@dataclass(frozen=True)
class Frame:
    """A plot area: maps a day and an amount to pixels, and draws its own axes."""

    first: date
    last: date
    ticks: list[float]
    height: int = 320
    right: int = RIGHT

    @property
    def top_value(self) -> float:
        return self.ticks[-1]

    @property
    def plot_width(self) -> float:
        return WIDTH - LEFT - self.right

    @property
    def slot(self) -> float:
        """The width of one day."""
        return self.plot_width / ((self.last - self.first).days + 1)

    def x(self, day: date, centre: bool = True) -> float:
        return LEFT + ((day - self.first).days + (0.5 if centre else 0)) * self.slot

    def y(self, value: float | Decimal) -> float:
        return TOP + (1 - float(value) / self.top_value) * (self.height - TOP - BOTTOM)

    def axes(self, currency: str) -> str:
        """Gridlines with amounts on the left, the x axis with dates below, the currency above the y axis."""
        step = self.ticks[1] - self.ticks[0]
        parts = []
        for value in self.ticks:
            y = self.y(value)
            parts.append(
                f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - self.right}" y2="{y:.1f}" stroke="#e4e4e4"/>'
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" {FONT}>{_tick_label(value, step)}</text>'
            )
        base = self.y(0)
        parts.append(f'<line x1="{LEFT}" y1="{base:.1f}" x2="{WIDTH - self.right}" y2="{base:.1f}" stroke="#888"/>')
        parts.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base:.1f}" stroke="#888"/>')
        for day, label in date_ticks(self.first, self.last):
            x = self.x(day)
            parts.append(
                f'<line x1="{x:.1f}" y1="{base:.1f}" x2="{x:.1f}" y2="{base + 5:.1f}" stroke="#888"/>'
                f'<text x="{x:.1f}" y="{base + 18:.1f}" text-anchor="middle" {FONT}>{label}</text>'
            )
        parts.append(f'<text x="{LEFT - 6}" y="{TOP - 12}" text-anchor="end" {FONT}>{escape(currency)}</text>')
        return "".join(parts)

    def svg(self, body: str, label: str) -> str:
        return f'<svg width="{WIDTH}" height="{self.height}" role="img" aria-label="{escape(label)}">{body}</svg>'


def legend(series: Sequence[tuple[str, str]]) -> str:
    """(label, colour) pairs as a line of swatches."""
    items = "".join(f'<span><i style="background:{colour}"></i>{escape(label)}</span>' for label, colour in series)
    return f'<div class="legend">{items}</div>'


def stacked_daily_chart(
    daily: list[tuple[date, str, Decimal]], currency: str, markers: Sequence[tuple[date, str]] = ()
) -> str:
    """Cost per day stacked by SKU (the biggest drawn separately, the rest as `other`), with numbered markers
    (`markers`: day and what to say about it, such as an anomaly and its top contributor) above the days named."""
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
    marked = [(day, note) for day, note in markers if min(by_day) <= day <= max(by_day)]
    day_totals = {d: sum(v.values(), Decimal(0)) for d, v in by_day.items()}
    frame = Frame(min(by_day), max(by_day), nice_ticks(float(max(day_totals.values())) * (1.12 if marked else 1)))
    bar = max(frame.slot - 1, 1)
    shapes = []
    for day in sorted(by_day):
        y = frame.y(0)
        for number, product in enumerate(series):
            cost = by_day[day].get(product, Decimal(0))
            if cost <= 0:
                continue
            height = frame.y(0) - frame.y(cost)
            y -= height
            title = f"{day} {product}: {money(cost)} {currency}"
            shapes.append(
                f'<rect x="{frame.x(day, centre=False) + 0.5:.1f}" y="{y:.1f}" width="{bar:.1f}"'
                f' height="{height:.1f}" fill="{PALETTE[number % len(PALETTE)]}"><title>{escape(title)}</title></rect>'
            )
    for number, (day, note) in enumerate(marked, start=1):
        x, y = frame.x(day), frame.y(day_totals.get(day, Decimal(0))) - 12
        shapes.append(
            f'<g class="anomaly-marker"><title>{escape(f"{number}: {day} {note}")}</title>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="8" fill="{ANOMALY}"/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-size="10" fill="#fff">{number}</text></g>'
        )
    colours = [(p, PALETTE[n % len(PALETTE)]) for n, p in enumerate(series)]
    if marked:
        colours.append(("anomaly (numbered below)", ANOMALY))
    svg = frame.svg(frame.axes(currency) + "".join(shapes), f"daily cost in {currency}")
    return svg + legend(colours)


def cumulative_chart(
    days: Sequence[tuple[date, Decimal | None, Decimal | None, Decimal | None]],
    as_of: date,
    lines: Sequence[tuple[str, Decimal]],
    currency: str,
) -> str:
    """A month's cumulative cost: actual to `as_of` (solid), then the projection (dashed) in its 80% band,
    with horizontal `lines` (label, amount) such as budgets. `days`: (day, cumulative, lower, upper)."""
    values = [float(v) for _, c, lo, up in days for v in (c, lo, up) if v is not None]
    values += [float(amount) for _, amount in lines]
    first = days[0][0]
    last = max(days[-1][0], (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1))
    frame = Frame(first, last, nice_ticks(max(values, default=0.0)), height=340, right=180)

    def path(points: list[tuple[date, Decimal]]) -> str:
        return " ".join(f"{'M' if i == 0 else 'L'}{frame.x(d):.1f},{frame.y(v):.1f}" for i, (d, v) in enumerate(points))

    actual = [(d, c) for d, c, _, _ in days if d <= as_of and c is not None]
    ahead = [(d, c) for d, c, _, _ in days if d >= as_of and c is not None]
    band = [(d, lo, up) for d, c, lo, up in days if d >= as_of and lo is not None and up is not None]
    shapes = []
    if band:
        upper = " ".join(f"{frame.x(d):.1f},{frame.y(up):.1f}" for d, _, up in band)
        lower = " ".join(f"{frame.x(d):.1f},{frame.y(lo):.1f}" for d, lo, _ in reversed(band))
        end = band[-1]
        shapes.append(
            f'<polygon class="forecast-band" points="{upper} {lower}" fill="{PALETTE[0]}" fill-opacity="0.18">'
            f"<title>80% interval at month end: {money(end[1])} to {money(end[2])} {escape(currency)}</title>"
            "</polygon>"
        )
    if len(ahead) > 1:
        shapes.append(
            f'<path class="forecast-line" d="{path(ahead)}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"'
            f' stroke-dasharray="6 4"><title>forecast: {money(ahead[-1][1])} {escape(currency)} at month end'
            "</title></path>"
        )
    if actual:
        shapes.append(
            f'<path class="actual-line" d="{path(actual)}" fill="none" stroke="#222" stroke-width="2.5">'
            f"<title>spend to {actual[-1][0]}: {money(actual[-1][1])} {escape(currency)}</title></path>"
        )
    label_ys: list[float] = []
    for number, (label, amount) in sorted(enumerate(lines), key=lambda item: -item[1][1]):
        y = frame.y(amount)
        text_y = max([y + 4, *(prev + 14 for prev in label_ys)])  # labels never overlap: each below the last
        label_ys.append(text_y)
        colour = PALETTE[(number + 1) % len(PALETTE)]
        shapes.append(
            f'<g class="budget-line"><line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - frame.right}" y2="{y:.1f}"'
            f' stroke="{colour}" stroke-width="1.5" stroke-dasharray="2 3"/>'
            f'<text x="{WIDTH - frame.right + 6}" y="{text_y:.1f}" {FONT}>{escape(label)}</text></g>'
        )
    series = [("spend to date", "#222"), ("forecast, 80% interval shaded", PALETTE[0])]
    svg = frame.svg(frame.axes(currency) + "".join(shapes), f"month to date and forecast in {currency}")
    return svg + legend(series)


def grouped_bar_chart(
    groups: Sequence[tuple[str, Sequence[Decimal | None]]], series: Sequence[str], currency: str
) -> str:
    """Vertical bars side by side per group (a month): one per series (list, effective, contracted cost)."""
    if not groups:
        return "<p>None.</p>"
    peak = max((float(v) for _, values in groups for v in values if v is not None), default=0.0)
    ticks = nice_ticks(peak)
    height = 300
    plot_h = height - TOP - BOTTOM
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / len(groups)
    bar = min(40.0, slot * 0.8 / len(series))
    parts = []
    step = ticks[1] - ticks[0]
    for tick in ticks:
        y = TOP + (1 - tick / ticks[-1]) * plot_h
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#e4e4e4"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" {FONT}>{_tick_label(tick, step)}</text>'
        )
    base = TOP + plot_h
    parts.append(f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#888"/>')
    parts.append(f'<text x="{LEFT - 6}" y="{TOP - 12}" text-anchor="end" {FONT}>{escape(currency)}</text>')
    for index, (label, values) in enumerate(groups):
        centre = LEFT + (index + 0.5) * slot
        start = centre - bar * len(series) / 2
        for number, value in enumerate(values):
            if not value or value <= 0:
                continue
            h = float(value) / ticks[-1] * plot_h
            parts.append(
                f'<rect x="{start + number * bar:.1f}" y="{base - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}"'
                f' fill="{PALETTE[number % len(PALETTE)]}">'
                f"<title>{escape(f'{label} {series[number]}: {money(value)} {currency}')}</title></rect>"
            )
        parts.append(f'<text x="{centre:.1f}" y="{base + 18}" text-anchor="middle" {FONT}>{escape(label)}</text>')
    svg = f'<svg width="{WIDTH}" height="{height}" role="img">{"".join(parts)}</svg>'
    return svg + legend([(s, PALETTE[n % len(PALETTE)]) for n, s in enumerate(series)])


def bar_chart(items: list[tuple[str, Decimal]], currency: str) -> str:
    """Horizontal bars, one per labelled amount, each with its amount written beside it."""
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
