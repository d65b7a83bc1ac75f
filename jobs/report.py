"""spark-submit entry point of the report stage: `spark-submit jobs/report.py --config ... --out report.html`."""

from __future__ import annotations

import sys

from pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
