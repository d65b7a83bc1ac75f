"""spark-submit entry point of the ingest stage (all sources to bronze): `spark-submit jobs/ingest.py --config ...`."""

from __future__ import annotations

import sys

from pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
