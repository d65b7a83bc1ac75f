"""spark-submit entry point of the report stage: `spark-submit jobs/report.py --config ... --out report.html`."""

from __future__ import annotations

import sys

from pipelines.cli import entry_point

if __name__ == "__main__":
    entry_point(["report", *sys.argv[1:]])  # a non-zero exit raises SystemExit: the task fails
