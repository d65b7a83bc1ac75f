"""The cost report: one self-contained HTML page over the gold tables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pipelines.report.figures import ReportFigures, gather
from pipelines.report.html import render
from pipelines.storage import TableReader

__all__ = ["ReportFigures", "build_report", "gather", "render"]


def build_report(
    store: TableReader, currency: str, workspace_names: Mapping[str, str] | None = None, now: datetime | None = None
) -> str:
    """The report page for the tables as they are now, workspaces named as configured."""
    return render(gather(store, currency, workspace_names, now))
