"""The cost report: one self-contained HTML page over the gold tables."""

from __future__ import annotations

from pipelines.report.figures import ReportFigures, gather
from pipelines.report.html import render
from pipelines.storage import TableReader

__all__ = ["ReportFigures", "build_report", "gather", "render"]


def build_report(store: TableReader, currency: str) -> str:
    """The report page for the tables as they are now."""
    return render(gather(store, currency))
