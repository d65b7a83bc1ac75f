"""spark-submit entry point of the ingest stage (all sources to bronze): `spark-submit jobs/ingest.py --config ...`."""

from __future__ import annotations

import sys

from pipelines.cli import entry_point

if __name__ == "__main__":
    entry_point(["ingest", *sys.argv[1:]])  # a non-zero exit raises SystemExit: the task fails
