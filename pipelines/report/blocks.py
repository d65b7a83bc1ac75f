"""HTML building blocks of the report: a table of rows, and the rows behind a chart folded away."""

from __future__ import annotations

from decimal import Decimal
from html import escape


def table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None, ident: str = "") -> str:
    """Rows as an HTML table (`numeric` columns right-aligned), with `id=ident` where given."""
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if i in numeric else ''}>{escape(c)}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    attribute = f' id="{ident}"' if ident else ""
    return f"<table{attribute}><thead><tr>{head}</tr></thead><tbody>{body or '<tr><td>none</td></tr>'}</tbody></table>"


def behind(header: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    """The rows behind a chart, folded away under it."""
    return f"<details><summary>the rows behind it</summary>{table(header, rows, numeric)}</details>"


def percent(value: Decimal | None) -> str:
    """A percentage stored as a number of percent (83.25 -> `83.3%`), `-` where there is none."""
    return "-" if value is None else f"{value:,.1f}%"
